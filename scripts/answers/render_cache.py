"""The render cache: what each question page was made of, kept between site builds, so that a
change of template or site code re-renders every question page without running Markdown, parsing
front matter or writing a twin again.

Reads and writes one SQLite file beside the site folder (for `build/site`,
`build/site.render-cache.sqlite`: outside the published folder, and one file a site folder so
that two sites built side by side never prune each other's entries). Each page has one entry,
keyed by the digest of everything the page is rendered from (its text and its neighbours) and the
page version (the renderer's, the front matter reader's and the twin writer's: see below), that
holds its front matter, its body's HTML, the digest of its JSON twin as written and its parts
(site.QUESTION_PARTS: its heading, timeline, citation…), each with the part's version (the site
code, its templates and the settings, as the site stage names them): a template change reads one
entry a page, and a change to one part's template renders that part again on every page while
the others come from the entry. A page refused (page_shape.py: front matter of the wrong shape,
or that JSON cannot hold as it is, a date YAML read as a date, say) has no entry, nor has one
whose front matter orjson cannot write (an integer beyond 64 bits). Bodies' HTML is kept apart
too, keyed by the renderer's version (Python-Markdown's and nh3's versions, the Markdown
extensions and settings, the tags kept, the code of `render_markdown`, the cleaning rules of
`clean.py` and the shortcut of `plain_text.py`) and the Markdown text, for the pages whose
entry misses while their body does not (a neighbour moved, a member's name changed); a page's
entry names its body's, so that using the one marks the other. A renderer change simply misses
every entry. Entries are JSON written and read by orjson: the json module took up to three
times as long to parse them.

The main process `prepare`s the file before the render workers start (it replaces a corrupt
one, and starts a new run); each worker `open`s its own connection, looks up the entries of a
chunk of pages in one query (`prefetch`), and writes new entries, each with its mark (in a
table of marks apart from the entries, which lists them without reading them), in one
transaction a chunk (WAL mode lets the other worker read meanwhile); in a run that began with
no entry at all (a first build), it looks nothing up. An entry it uses is only
remembered (`take_used`): after a template change every entry is used, and marking each one
again rewrote 112,000 rows a build. After a build that rendered every question page, `prune`
drops the entries that build neither made nor used, so the file never grows beyond one archive's
pages plus those changed since.

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

from . import clean, page_shape, pages, render

SUFFIX = ".render-cache.sqlite"
FORMAT = "5"  # the layout of the file; a file of another layout is replaced
BATCH = 500  # pending entries that make a worker write before its chunk ends
BUSY_MS = 20_000  # how long a worker waits for the other one's write before giving up on its own
# The entries are rowid tables, their keys in an index beside: in a table without rowids, whose
# interior pages hold whole rows, entries of a few kilobytes made a tree eight levels deep,
# every level spilling onto overflow pages (35 reads of the file to find one page's entry).
TABLES = """
create table if not exists bodies (
    key blob primary key,  -- sha256 of the renderer's version and the Markdown text
    html text not null
);
create table if not exists pages (
    key blob primary key,  -- sha256 of the page version and the digest of the page's inputs
    page blob not null  -- {meta, html, body, twin, parts: {part name: [part version, HTML]}}, as JSON (orjson's bytes)
);
-- Each entry's key and the run that made it, apart from the entries: `prune` lists the entries
-- here without reading half a gigabyte of pages.
create table if not exists marks (
    key blob primary key,  -- an entry's key, in whichever table
    run integer not null
) without rowid;
create table if not exists facts (name text primary key, value text not null);
"""


# The renderer's code as its module defines it (a wrapper put in its place, to count calls, say,
# renders the same HTML and must not count as a new renderer).
RENDERER_CODE = (render.render_markdown, render.markdown_converter, render.wrap_tables)
FRONT_MATTER_CODE = (pages.parse_front_matter, pages.load_yaml_without_aliases)
# What a front matter may hold (page_shape.py): a page refused is never kept, and one kept was
# checked by the rules of its version.
FRONT_MATTER_SHAPE = Path(page_shape.__file__)
ENTRY_COLUMNS = {"bodies": "html", "pages": "page"}  # table: its value
LOOKUP_BATCH = 500  # keys a query: below SQLite's limit on parameters


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
    digest.update(render.MARKDOWN_SHORTCUT.read_bytes())
    return digest.hexdigest()


def front_matter_version() -> str:
    "A digest of everything besides the front matter's text that decides `page_shape.read_front_matter`'s output."
    digest = hashlib.sha256(f"{FORMAT}\0{sys.version}\0".encode())
    for package in ("orjson", "PyYAML"):  # JSON as the pages stage writes it; YAML edited by hand
        digest.update(f"{package}=={metadata.version(package)}\0".encode())
    digest.update(f"{pages.yaml_loader().__name__}\0".encode())
    for function in FRONT_MATTER_CODE:
        digest.update(inspect.getsource(function).encode())
    digest.update(FRONT_MATTER_SHAPE.read_bytes())
    return digest.hexdigest()


def page_version(twin_code: tuple) -> str:
    """A digest of everything besides a page's inputs that decides a page's entry (all of it but its
    parts, which carry versions of their own): the body's renderer, the front matter's reader and
    the code (`twin_code`) that writes the JSON twin."""
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
        # A run that begins with no entry finds none of its own pages' (each worker keeps what
        # it made itself): its workers look nothing up, where a first build asked the cache
        # once a page for a body it could not hold.
        empty = connection.execute("select not exists (select 1 from marks)").fetchone()[0]
        connection.execute("insert or replace into facts values ('empty_at_run', ?)",
                           (str(run) if empty else "",))
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


def prune(path: Path, used: set[bytes]) -> int:
    """After a build that rendered every question page: drop the entries it neither made nor used
    (`used`: their keys, from each worker's `take_used`), and give their space back. Returns how
    many were dropped. Every entry is written with its mark, in one transaction, and loses it
    only here, in the same transaction as the entry itself."""
    try:
        with contextlib.closing(connect(path)) as connection:
            with connection:
                connection.execute("begin immediate")
                unused = [(key,) for (key,) in connection.execute("select key from marks") if key not in used]
                dropped = sum(connection.executemany(f"delete from {table} where key = ?", unused).rowcount
                              for table in ENTRY_COLUMNS)
                connection.executemany("delete from marks where key = ?", unused)
            connection.execute("pragma incremental_vacuum")
            connection.execute("pragma wal_checkpoint(truncate)")
            return dropped
    except (sqlite3.DatabaseError, ValueError, OSError):
        return 0


def current_run(connection: sqlite3.Connection) -> tuple[int, bool]:
    "The run `prepare` started, and whether the cache held no entry when it did."
    facts = dict(connection.execute("select name, value from facts where name in ('run', 'empty_at_run')"))
    if "run" not in facts:
        raise sqlite3.DatabaseError("the render cache has no run: it was not prepared")
    return int(facts["run"]), facts.get("empty_at_run") == facts["run"]


class Entries:
    """One table's entries as a worker sees them: those looked up for this chunk and those made
    since the last flush."""

    def __init__(self, table: str, column: str, version: str):
        self.table, self.column = table, column
        self.version = version.encode()
        self.found: dict[bytes, str | bytes | None] = {}  # looked up: None when the cache has none
        self.new: dict[bytes, str | bytes] = {}

    def key(self, text: str) -> bytes:
        return hashlib.sha256(self.version + b"\0" + text.encode("utf-8")).digest()

    def pending(self) -> int:
        return len(self.new)


class PageCache:
    """A worker's view of the cache. `page(page_digest)` is the entry of the page whose inputs have
    this digest (`CachedPage`); `html(markdown_text)` is `render.render_markdown`'s output, from
    the cache when it holds it. `prefetch` looks up a chunk's pages at once; `flush` writes what
    this worker made; `take_used` gives the keys of the entries it made or used."""

    def __init__(self, path: Path | None, twin_code: tuple = (), part_versions: dict[str, str] | None = None):
        self.path = path
        self.bodies = Entries("bodies", "html", renderer_version())
        self.pages = Entries("pages", "page", page_version(twin_code))
        self.part_versions = part_versions or {}
        self.tables = (self.bodies, self.pages)
        self.used: set[bytes] = set()  # entries made or used since `take_used`, in either table
        self.page_keys: dict[str, bytes] = {}  # the keys of the pages `prefetch` looked up, by digest
        self.connection = self.run = None
        self.began_empty = False  # then nothing is looked up: there is nothing to find
        if path is not None:
            self.guard(self.open)

    def open(self) -> None:
        if not self.path.exists():  # never prepared: no cache for this build
            return
        self.connection = connect(self.path)
        self.run, self.began_empty = current_run(self.connection)

    def prefetch(self, page_digests: list[str]) -> None:
        "Look up the entries of the pages of these digests: one query a batch."
        self.pages.found = {}  # the last chunk's entries are not this one's
        # Kept for `page`, which would hash each digest again.
        self.page_keys = {digest: self.pages.key(digest) for digest in page_digests}
        if self.connection and not self.began_empty:
            self.guard(self.look_up, self.pages, set(self.page_keys.values()))

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
        return self.guard(self.lookup, entries, key) if self.connection and not self.began_empty else None

    def page(self, page_digest: str) -> CachedPage:
        key = self.page_keys.get(page_digest) or self.pages.key(page_digest)
        held = self.cached(self.pages, key)
        return CachedPage(self, key, orjson.loads(held) if held is not None else None)

    def html(self, markdown_text: str) -> tuple[str, bytes]:
        "The body's HTML, and the key of its entry."
        key = self.bodies.key(markdown_text)
        cached = self.cached(self.bodies, key)
        if cached is not None:
            self.use(key)
            return cached, key
        html = render.render_markdown(markdown_text)
        self.keep(self.bodies, key, html)
        return html, key

    def keep(self, entries: Entries, key: bytes, value: str | bytes) -> None:
        self.use(key)
        if self.connection:
            entries.new[key] = value
        if sum(table.pending() for table in self.tables) >= BATCH:
            self.flush()

    def use(self, key: bytes) -> None:
        self.used.add(key)

    def take_used(self) -> set[bytes]:
        "The keys of the entries made or used since the last call, for `prune`."
        used, self.used = self.used, set()
        return used

    def lookup(self, entries: Entries, key: bytes) -> str | bytes | None:
        row = self.connection.execute(f"select {entries.column} from {entries.table} where key = ?",
                                      (key,)).fetchone()
        return row[0] if row else None

    def flush(self) -> None:
        "Write the new entries, each with its mark, in one transaction."
        if self.connection and any(table.pending() for table in self.tables):
            self.guard(self.write)
        for entries in self.tables:
            entries.new = {}

    def write(self) -> None:
        with self.connection:
            self.connection.execute("begin immediate")
            for entries in self.tables:
                self.connection.executemany(f"insert or replace into {entries.table} values (?, ?)",
                                            entries.new.items())
                self.connection.executemany("insert or replace into marks values (?, ?)",
                                            [(key, self.run) for key in entries.new])

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


class CachedPage:
    """One page's pieces, each from its entry in the cache (`held`) when there is one, else made:
    `front_matter(header)` is `page_shape.read_front_matter`'s output, `body(markdown_text)` the
    body's HTML, `parts(renders)` the page's parts (each from the entry where it holds the part's
    version, else `renders[name]()`'s), `twin_digest` the digest of its JSON twin as last written;
    `held_pieces()` both first ones of a held entry, the page's text unread.
    `done(twin_digest)` then keeps the entry, or marks it used when nothing in it was made."""

    def __init__(self, cache: PageCache, key: bytes, held: dict | None):
        self.cache, self.key, self.held = cache, key, held
        self.entry: dict = {}
        self.made = held is None  # whether anything was made, not taken from the entry
        self.keepable = True  # whether orjson can keep the front matter

    def held_pieces(self) -> tuple[dict, str]:
        "The front matter and the body's HTML of a held entry: what its page's text would give."
        return self.front_matter(""), self.body("")

    def front_matter(self, header: str) -> dict:
        if self.held is not None:
            meta = self.entry["meta"] = self.held["meta"]
            return meta
        # Refused when JSON would not give it back as it is (a date YAML read as a date, a key
        # that is not text): kept, it would come back from the entry otherwise than it was read.
        meta = self.entry["meta"] = page_shape.read_front_matter(header)
        try:
            orjson.dumps(meta)
        except TypeError:  # an integer beyond 64 bits, which orjson cannot write
            self.keepable = False
        return meta

    def body(self, markdown_text: str) -> str:
        if self.held is not None:
            self.entry["html"], self.entry["body"] = self.held["html"], self.held["body"]
        else:
            html, key = self.cache.html(markdown_text)
            self.entry["html"], self.entry["body"] = html, key.hex()
        return self.entry["html"]

    def parts(self, renders: dict[str, Callable[[], str]]) -> dict[str, str]:
        kept = self.held["parts"] if self.held is not None else {}
        versions = self.cache.part_versions
        parts = self.entry["parts"] = {}
        for name, make in renders.items():
            version, html = kept.get(name, (None, None))
            if version != versions[name]:
                version, html, self.made = versions[name], make(), True
            parts[name] = [version, html]
        self.made = self.made or len(parts) != len(kept)  # a part no longer placed: the entry changes
        return {name: html for name, (_, html) in parts.items()}

    def makes_page_alone(self, url: str) -> bool:
        """Whether the held entry makes the page at `url` with nothing besides: it gives that url,
        and every part at the part's current version, so that no part is rendered."""
        if self.held is None or self.held["meta"].get("url") != url:
            return False
        kept = self.held["parts"]
        return all(kept.get(name, (None,))[0] == version for name, version in self.cache.part_versions.items())

    @property
    def twin_digest(self) -> str | None:
        return self.held["twin"] if self.held is not None else None

    def done(self, twin_digest: str) -> None:
        "Keep this page's entry as made, with its twin's digest; or mark it used, and its body's."
        self.made = self.made or twin_digest != self.twin_digest
        if self.held is not None:  # the body's entry was not looked up: it is used all the same
            self.cache.use(bytes.fromhex(self.entry["body"]))
        if not self.made:
            self.cache.use(self.key)
        elif self.keepable:
            self.entry["twin"] = twin_digest
            self.cache.keep(self.cache.pages, self.key, orjson.dumps(self.entry))
