"""The render cache: each question body's HTML, each page's front matter and the digest of each
page's JSON twin, kept between site builds, so that a change of template or site code
re-renders every question page without running Markdown, parsing YAML or writing a twin again.

Reads and writes one SQLite file beside the site folder (for `build/site`,
`build/site.render-cache.sqlite`: outside the published folder, and one file a site folder so
that two sites built side by side never prune each other's entries). A body is keyed by the
digest of the renderer's version (Python-Markdown's and nh3's versions, the Markdown extensions
and settings, the tags kept, the code of `render_markdown` and the cleaning rules of
`clean.py`) and the body's Markdown text, so a renderer change simply misses every entry. A
front matter (as JSON) is keyed likewise by PyYAML's version, the code that parses it and its
YAML text; one that JSON cannot hold as it is (a date YAML read as a date) is not kept. A twin's
digest is keyed by both those versions, the code that writes twins and the page's whole text: a
twin depends on nothing else, and its file is kept when it still holds those bytes. The parts
of a question page (site.QUESTION_PARTS: its heading, timeline, citation…) are one entry, keyed
by the digest of everything the page is rendered from, that holds each part's HTML with the
part's version (the site code, its templates and the settings, as the site stage names them): a
change to one part's template renders that part again on every page, and the others come from
the cache. Front matters and parts are JSON written and read by orjson: a template change reads
every page's, and the json module took up to three times as long to parse them.

The main process `prepare`s the file before the render workers start (it replaces a corrupt
one, and starts a new run); each worker `open`s its own connection, looks up the entries of a
chunk of pages in one query a table (`prefetch`), and writes new entries, and the run's mark on
each entry it made or used (in a table of marks apart from the entries), in one transaction a
chunk (WAL mode lets the other worker read meanwhile). After a build that rendered every question page,
`prune` drops the entries that build did not use, so the file never grows beyond one archive's
bodies plus those of the pages changed since.

It is only a cache: any failure to read or write it costs speed, never a page. A file that is
not a cache is replaced, and an error in a worker turns the cache off for the rest of its run.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import sqlite3
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import orjson

from . import clean, pages, render

SUFFIX = ".render-cache.sqlite"
FORMAT = "3"  # the layout of the file; a file of another layout is replaced
BATCH = 500  # pending entries that make a worker write before its chunk ends
BUSY_MS = 20_000  # how long a worker waits for the other one's write before giving up on its own
TABLES = """
create table if not exists bodies (
    key blob primary key,  -- sha256 of the renderer's version and the Markdown text
    html text not null
) without rowid;
create table if not exists fronts (
    key blob primary key,  -- sha256 of the front matter reader's version and the YAML text
    meta blob not null  -- the front matter's mapping, as JSON (orjson's bytes)
) without rowid;
create table if not exists twins (
    key blob primary key,  -- sha256 of the twin's version and the page's text
    digest text not null  -- sha256 of the JSON twin's bytes
) without rowid;
create table if not exists parts (
    key blob primary key,  -- sha256 of the digest of the page's inputs
    parts blob not null  -- {part name: [part version, HTML]}, as JSON (orjson's bytes)
) without rowid;
-- The last run that used each entry, apart from the entries: marking a used entry then
-- rewrites a short row, not a row that holds a whole part of a page.
create table if not exists marks (
    key blob primary key,  -- an entry's key, in whichever table
    run integer not null
) without rowid;
create table if not exists facts (name text primary key, value text not null);
"""


# The renderer's code as its module defines it (a wrapper put in its place, to count calls, say,
# renders the same HTML and must not count as a new renderer).
RENDERER_CODE = (render.render_markdown, render.wrap_tables)
FRONT_MATTER_CODE = pages.parse_front_matter
ENTRY_COLUMNS = {"bodies": "html", "fronts": "meta", "twins": "digest", "parts": "parts"}  # table: its value
LOOKUP_BATCH = 500  # keys a query: below SQLite's limit on parameters
PARTS_KEY = "page parts"  # what a page's parts entry is keyed by besides the page's digest


def cache_path(site_dir: Path) -> Path:
    "The cache of a site folder: beside it, never inside what is published."
    site_dir = Path(site_dir)
    return site_dir.with_name(site_dir.name + SUFFIX)


def renderer_version() -> str:
    "A digest of everything besides the Markdown text that decides `render_markdown`'s output."
    digest = hashlib.sha256(f"{FORMAT}\0{sys.version}\0".encode())
    for package in ("Markdown", "nh3"):
        digest.update(f"{package}=={metadata.version(package)}\0".encode())
    digest.update(repr((render.MARKDOWN_EXTENSIONS, render.MARKDOWN_OUTPUT_FORMAT,
                        sorted(render.RENDER_TAGS))).encode())
    for function in RENDERER_CODE:
        digest.update(inspect.getsource(function).encode())
    digest.update(Path(clean.__file__).read_bytes())
    return digest.hexdigest()


def front_matter_version() -> str:
    "A digest of everything besides the YAML text that decides `pages.parse_front_matter`'s output."
    digest = hashlib.sha256(f"{FORMAT}\0{sys.version}\0PyYAML=={metadata.version('PyYAML')}\0".encode())
    digest.update(f"{pages.Loader.__name__}\0".encode())
    digest.update(inspect.getsource(FRONT_MATTER_CODE).encode())
    return digest.hexdigest()


def twin_version(twin_code: tuple) -> str:
    """A digest of everything besides a page's text that decides its JSON twin: the body's
    renderer, the front matter's reader and the code (`twin_code`) that writes the twin."""
    digest = hashlib.sha256(f"{FORMAT}\0{renderer_version()}\0{front_matter_version()}\0".encode())
    for function in twin_code:
        digest.update(inspect.getsource(function).encode())
    return digest.hexdigest()


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_MS / 1000, isolation_level=None)
    # A cache may lose its last writes in a power cut (it is then found corrupt and replaced);
    # it must not make every build wait for the disk.
    connection.execute("pragma synchronous = off")
    return connection


def discard(path: Path) -> None:
    "Remove a cache file and its WAL companions."
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def start_run(connection: sqlite3.Connection) -> int:
    connection.executescript(TABLES)
    for table, column in ENTRY_COLUMNS.items():
        columns = [row[1] for row in connection.execute(f"pragma table_info({table})")]
        if columns != ["key", column]:
            raise sqlite3.DatabaseError(f"a {table} table with columns {columns}: not a render cache")
    with connection:
        connection.execute("begin immediate")
        row = connection.execute("select value from facts where name = 'format'").fetchone()
        if row is not None and row[0] != FORMAT:
            raise sqlite3.DatabaseError(f"a render cache of format {row[0]}, not {FORMAT}")
        connection.execute("insert or replace into facts values ('format', ?)", (FORMAT,))
        row = connection.execute("select value from facts where name = 'run'").fetchone()
        run = int(row[0]) + 1 if row else 1
        connection.execute("insert or replace into facts values ('run', ?)", (str(run),))
    return run


def prepare(path: Path) -> int | None:
    """Before the workers start: make sure `path` is a usable cache (replacing a file that is
    not one) and start a new run; returns its number, or None when no cache can be had here."""
    for _ in range(2):
        try:
            with contextlib.closing(connect(path)) as connection:
                # A new file gives the space of pruned entries back without a whole VACUUM.
                connection.execute("pragma auto_vacuum = incremental")
                if connection.execute("pragma journal_mode = wal").fetchone()[0] != "wal":
                    raise sqlite3.DatabaseError("the render cache cannot use WAL mode")
                return start_run(connection)
        except (sqlite3.DatabaseError, ValueError):
            discard(path)  # corrupt, of another format, or not SQLite at all: start afresh
        except OSError:
            return None
    return None


def prune(path: Path) -> int:
    """After a build that rendered every question page: drop the entries it did not use, and
    give their space back. Returns how many were dropped."""
    try:
        with contextlib.closing(connect(path)) as connection:
            run = current_run(connection)
            connection.execute("delete from marks where run != ?", (run,))
            dropped = sum(connection.execute(f"delete from {table} where key not in (select key from marks)").rowcount
                          for table in ENTRY_COLUMNS)
            connection.execute("pragma incremental_vacuum")
            connection.execute("pragma wal_checkpoint(truncate)")
            return dropped
    except (sqlite3.DatabaseError, ValueError, OSError):
        return 0


def current_run(connection: sqlite3.Connection) -> int:
    row = connection.execute("select value from facts where name = 'run'").fetchone()
    if row is None:
        raise sqlite3.DatabaseError("the render cache has no run: it was not prepared")
    return int(row[0])


class Entries:
    """One table's entries as a worker sees them: those looked up for this chunk, those made
    since the last flush, and those used (to be marked with this run)."""

    def __init__(self, table: str, column: str, version: str):
        self.table, self.column = table, column
        self.version = version.encode()
        self.found: dict[bytes, str | bytes | None] = {}  # looked up: None when the cache has none
        self.new: dict[bytes, str | bytes] = {}
        self.used: list[bytes] = []
        # The keys `prefetch` worked out for this chunk, by text: a page's pieces are looked up
        # again when it is rendered, and hashing them once more cost as much as the lookup.
        self.known: dict[str, bytes] = {}

    def key(self, text: str) -> bytes:
        known = self.known.get(text)
        return known if known is not None else hashlib.sha256(self.version + b"\0" + text.encode("utf-8")).digest()

    def pending(self) -> int:
        return len(self.new) + len(self.used)


class BodyRenderer:
    """A worker's view of the cache: `html(markdown_text)` is `render.render_markdown`'s output
    and `front_matter(yaml_text)` is `pages.parse_front_matter`'s, from the cache when it holds
    them; `twin_digest(page_text)` is the digest of the page's JSON twin as `twin_code` last
    wrote it; `parts(page_digest, renders)` are a page's parts, each from the cache when it
    holds the part's version (`part_versions[name]`). `prefetch` looks up a chunk's pages at
    once; `flush` writes what this worker made or used."""

    def __init__(self, path: Path | None, twin_code: tuple = (), part_versions: dict[str, str] | None = None):
        self.path = path
        self.bodies = Entries("bodies", "html", renderer_version())
        self.fronts = Entries("fronts", "meta", front_matter_version())
        self.twins = Entries("twins", "digest", twin_version(twin_code))
        self.page_parts = Entries("parts", "parts", PARTS_KEY)
        self.part_versions = part_versions or {}
        self.tables = (self.bodies, self.fronts, self.twins, self.page_parts)
        self.hits = self.misses = 0
        self.connection = self.run = None
        if path is not None:
            self.guard(self.open)

    def open(self) -> None:
        if not self.path.exists():  # never prepared: no cache for this build
            return
        self.connection = connect(self.path)
        self.run = current_run(self.connection)

    def prefetch(self, page_texts: list[str], page_digests: list[str] = ()) -> None:
        """Look up the front matters, bodies and twins of these pages, and the parts of the pages
        of these digests: one query a table and batch."""
        split = []
        for text in page_texts:
            try:
                split.append(pages.split_page_text(text))
            except pages.PageError:  # rendering the page reports it
                continue
        for entries, texts in ((self.fronts, [header for header, _ in split]),
                               (self.bodies, [body for _, body in split]), (self.twins, page_texts),
                               (self.page_parts, page_digests)):
            entries.found, entries.known = {}, {}  # the last chunk's keys are not this one's
            entries.known = {text: entries.key(text) for text in texts}
            if self.connection:
                self.guard(self.look_up, entries, set(entries.known.values()))

    def look_up(self, entries: Entries, keys: set[bytes]) -> None:
        keys = sorted(keys)
        entries.found = dict.fromkeys(keys)
        for start in range(0, len(keys), LOOKUP_BATCH):
            batch = keys[start:start + LOOKUP_BATCH]
            entries.found.update(self.connection.execute(
                f"select key, {entries.column} from {entries.table} where key in ({', '.join('?' * len(batch))})",
                batch).fetchall())

    def cached(self, entries: Entries, key: bytes) -> str | bytes | None:
        if key in entries.new:
            return entries.new[key]
        if key in entries.found:
            return entries.found[key]
        return self.guard(self.lookup, entries, key) if self.connection else None

    def html(self, markdown_text: str) -> str:
        key = self.bodies.key(markdown_text)
        cached = self.cached(self.bodies, key)
        if cached is not None:
            self.hits += 1
            self.bodies.used.append(key)
            return cached
        self.misses += 1
        html = render.render_markdown(markdown_text)
        self.keep(self.bodies, key, html)
        return html

    def front_matter(self, yaml_text: str) -> dict:
        key = self.fronts.key(yaml_text)
        cached = self.cached(self.fronts, key)
        if cached is not None:
            self.fronts.used.append(key)
            return orjson.loads(cached)
        meta = pages.parse_front_matter(yaml_text)
        try:
            kept = orjson.dumps(meta)
        except TypeError:  # keys that are not text, an integer beyond 64 bits: JSON cannot hold it
            return meta
        if orjson.loads(kept) == meta:  # nothing JSON would change (a date YAML read as a date)
            self.keep(self.fronts, key, kept)
        return meta

    def parts(self, page_digest: str, renders: dict[str, Callable[[], str]]) -> dict[str, str]:
        """The HTML of each part named in `renders` of the page whose inputs have this digest: the
        cache's where it holds that part's version, else `renders[name]()`'s. The page's entry
        then holds these parts alone."""
        key = self.page_parts.key(page_digest)
        cached = self.cached(self.page_parts, key)
        kept = orjson.loads(cached) if cached is not None else {}
        parts = {}
        for name, make in renders.items():
            version, html = kept.get(name, (None, None))
            parts[name] = [self.part_versions[name], html if version == self.part_versions[name] else make()]
        if parts == kept:
            self.page_parts.used.append(key)
        else:
            self.keep(self.page_parts, key, orjson.dumps(parts))
        return {name: html for name, (_, html) in parts.items()}

    def twin_digest(self, page_text: str) -> str | None:
        key = self.twins.key(page_text)
        found = self.cached(self.twins, key)
        if found is not None:
            self.twins.used.append(key)
        return found

    def keep_twin_digest(self, page_text: str, digest: str) -> None:
        self.keep(self.twins, self.twins.key(page_text), digest)

    def keep(self, entries: Entries, key: bytes, value: str | bytes) -> None:
        if self.connection:
            entries.new[key] = value
        if sum(table.pending() for table in self.tables) >= BATCH:
            self.flush()

    def lookup(self, entries: Entries, key: bytes) -> str | bytes | None:
        row = self.connection.execute(f"select {entries.column} from {entries.table} where key = ?",
                                      (key,)).fetchone()
        return row[0] if row else None

    def flush(self) -> None:
        "Write the new entries and mark the used ones with this run, in one transaction."
        if self.connection and any(table.pending() for table in self.tables):
            self.guard(self.write)
        for entries in self.tables:
            entries.new, entries.used = {}, []

    def write(self) -> None:
        with self.connection:
            self.connection.execute("begin immediate")
            for entries in self.tables:
                self.connection.executemany(f"insert or replace into {entries.table} values (?, ?)",
                                            entries.new.items())
                self.connection.executemany("insert or replace into marks values (?, ?)",
                                            [(key, self.run) for key in (*entries.new, *entries.used)])

    def guard(self, action, *args):
        """Run a cache action; on any failure turn the cache off for this worker (the pages
        are rendered all the same) and, when the file is damaged, remove it so that the next
        build starts a new one."""
        try:
            return action(*args)
        except sqlite3.OperationalError:  # locked for too long, a missing table, a full disk
            self.close()
        except (sqlite3.DatabaseError, ValueError):  # not a database, or a damaged one
            self.close()
            discard(self.path)
        return None

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self.connection.close()
        self.connection = None
