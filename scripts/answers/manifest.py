"""The manifests: what each page of an output folder was made from, as the last complete build
recorded it, so that a build can skip making the pages whose inputs and code are the same as
last time.

`PageManifest` (SQLite, beside the output folder) serves the pages and the site, one entry a
page; `Manifest` (one JSON file inside the folder) the few files of the downloads. Both are
withdrawn before a build's first change to the folder and saved only when it completes.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .atomic import replace_if_changed
from .output import Output, bytes_digest

MANIFEST_NAME = ".manifest.json"  # hidden: no stage or tool takes it for a page


@dataclass
class Manifest:
    """The downloads' manifest, a JSON file inside their folder: about thirty entries, read and
    written whole at no cost worth a database, and its stage dates its files by the file's time
    of change. The manifests the size of the archive are `PageManifest`s, which follow the same
    contract (`take`, `previous`, `current`, `state`, `save`) entry by entry.

    Each page's key -> the digest of everything its files were rendered from, as the last
    complete build recorded them under the same code `version`. `previous` is what that build
    recorded (empty when there was none, it was unreadable or the code differs); `current` is
    what this build records. `state` is what the last complete build recorded about its inputs
    as a whole (changes.py: the database it was made from), None likewise.

    The file holds two lines: a header (version, state and the digest of the entries) and the
    entries, so that a build can learn that nothing changed from the header alone; the entries,
    the bulk of the file, are parsed only when `previous` is first read."""

    path: Path | None
    version: str
    current: dict = field(default_factory=dict)
    state: dict | None = None
    valid_entry: Callable[[object], bool] = lambda entry: True
    entries_text: bytes = b""  # the entries as read, parsed only when first wanted
    parsed: dict | None = None
    withdrawn: bool = False
    # What a complete build under other code recorded about its inputs, and that code's version:
    # with the same inputs now, only the code changed (a template, say), and a stage may redo
    # only what that code makes.
    other_code_state: dict | None = None
    other_code_version: str | None = None
    # That build's entries, parsed only when `written_before` first wants them: they no longer
    # say what a page is rendered from, but still what its files held when written.
    other_code_entries_text: bytes = b""
    other_code_parsed: dict | None = None

    @property
    def previous(self) -> dict:
        if self.parsed is None:
            try:
                entries = parse_entries(self.entries_text)
            except ValueError:  # damaged: as if there were none
                entries = {}
            valid = isinstance(entries, dict) and all(map(self.valid_entry, entries.values()))
            self.parsed = entries if valid else {}
            if not valid:
                self.state = None  # what it says of its inputs no longer stands for any page
            self.entries_text = b""
        return self.parsed

    def written_before(self) -> dict:
        """The last complete build's entries, under this code or another (empty when there was
        none): what each page's files held when it wrote them, unless changed by hand since."""
        if self.previous or self.other_code_parsed is not None:
            return self.previous or self.other_code_parsed
        try:
            entries = parse_entries(self.other_code_entries_text)
        except ValueError:
            entries = {}
        valid = isinstance(entries, dict) and all(map(self.valid_entry, entries.values()))
        self.other_code_parsed, self.other_code_entries_text = entries if valid else {}, b""
        return self.other_code_parsed

    @classmethod
    def take(cls, output: Output, version: str, valid_entry: Callable[[object], bool]) -> Manifest:
        """Read the last build's manifest from the output folder; it is deleted as soon as this
        build changes a file there. Until this build saves its own there is none, so a build
        stopped half way cannot leave entries that vouch for files it changed since: the next
        build renders everything. A build that changes nothing leaves it as it was."""
        manifest = cls(output.root / MANIFEST_NAME, version, valid_entry=valid_entry)
        output.before_first_change.append(manifest.withdraw)
        try:
            # Bytes, not text: orjson parses UTF-8 itself, and the entries are the archive's size.
            header_line, _, manifest.entries_text = manifest.path.read_bytes().partition(b"\n")
            header = json.loads(header_line)
        except (OSError, ValueError):  # missing, unreadable or not JSON: as if there were none
            header = None
        whole = isinstance(header, dict) and header.get("entries") == bytes_digest(manifest.entries_text)
        state = header.get("state") if whole and isinstance(header.get("state"), dict) else None
        if not (whole and header.get("version") == version):
            if whole:
                manifest.other_code_entries_text = manifest.entries_text
            manifest.entries_text, manifest.parsed = b"", {}  # damaged or other code: none
            if state is not None:
                manifest.other_code_state, manifest.other_code_version = state, str(header.get("version"))
        else:
            manifest.state = state
        return manifest

    @classmethod
    def read(cls, folder: Path, version: str, valid_entry: Callable[[object], bool]) -> Manifest:
        "Another stage's manifest, to read only: what its last complete build recorded."
        return cls.take(Output(folder), version, valid_entry)

    def holds_entries(self) -> bool:
        "Whether the last build's entries could be read (parsing them if not done yet)."
        return bool(self.previous) or self.state is not None

    def carry_over(self) -> None:
        "Start this build's entries from the last build's: it changes only some of them."
        self.current = dict(self.previous)

    def withdraw(self) -> None:
        self.path.unlink(missing_ok=True)
        self.withdrawn = True

    def unchanged(self, state: dict | None) -> bool:
        "Whether this build records what the last one did, still on disk (nothing to save)."
        return not self.withdrawn and state == self.state and self.current == self.previous

    def save(self, state: dict | None = None) -> None:
        """Write what this build recorded, if it differs: beside the manifest, then rename.
        The entries are the size of the archive: orjson writes them (compact, keys in order)
        eight times as fast as the json module."""
        entries = orjson.dumps(self.current, option=orjson.OPT_SORT_KEYS)
        header = json.dumps({"version": self.version, "state": state,
                             "entries": bytes_digest(entries)}, sort_keys=True, separators=(",", ":"))
        replace_if_changed(self.path, header.encode() + b"\n" + entries)


def parse_entries(text: bytes):
    """A manifest's entries (JSON), parsed by orjson with the cyclic garbage collector paused:
    tens of thousands of small lists would otherwise set off collections that walk every object
    the build holds, which cost more than the parse."""
    if not text:
        return {}
    with gc_paused():
        return orjson.loads(text)


@contextlib.contextmanager
def gc_paused():
    "The cyclic garbage collector paused while many small objects are made at once."
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


# -- the pages' and the site's manifests ----------------------------------------------------

PAGE_MANIFEST_SUFFIX = ".manifest.sqlite"
# In the header: a file without it (another program's, another layout) is no manifest.
PAGE_MANIFEST_FORMAT = "page manifest 1"
PAGE_MANIFEST_SCHEMA = """
create table header (format text not null, version text not null, state text, complete integer not null);
create table entries (key text primary key, entry text not null) without rowid;
"""
# A build that looks up more entries than this one by one is checking them all: they are read
# at once instead (one query, not tens of thousands).
LOOKUPS_BEFORE_READING_ALL = 2000
_MISSING = object()


def page_manifest_path(folder: Path) -> Path:
    """Where the manifest of an output folder lives: beside it, never inside what is published
    (the archive's server hands out every file of the site folder, hidden ones too)."""
    folder = Path(folder).resolve()
    return folder.with_name(folder.name + PAGE_MANIFEST_SUFFIX)


def part_expression(part: int) -> str:
    "The SQL of an entry's part at this position: the same text in the index and the queries."
    return f"json_extract(entry, '$[{int(part)}]')"


def decode_entry(text: str):
    try:
        return orjson.loads(text)
    except ValueError:
        return _MISSING


class StoredEntries(Mapping):
    """The entries of a manifest file, each read when it is looked up: a build that changes a
    few pages looks up a few of the archive's 56,000. An entry that is not valid is as if
    missing (its page is made again); iterating gives every key the file holds. Without a
    connection, none."""

    def __init__(self, connection: sqlite3.Connection | None = None,
                 valid_entry: Callable[[object], bool] = lambda entry: True, indexed_part: int | None = None):
        self.connection, self.valid_entry, self.indexed_part = connection, valid_entry, indexed_part
        self.lookups = 0
        self.everything: dict | None = None  # every entry, once read at once

    def get(self, key, default=None):
        if self.everything is not None:
            return self.everything.get(key, default)
        if self.connection is None:
            return default
        self.lookups += 1
        if self.lookups > LOOKUPS_BEFORE_READING_ALL:
            return self.all().get(key, default)
        row = self.connection.execute("select entry from entries where key = ?", (key,)).fetchone()
        entry = decode_entry(row[0]) if row else _MISSING
        return entry if entry is not _MISSING and self.valid_entry(entry) else default

    def __getitem__(self, key):
        entry = self.get(key, _MISSING)
        if entry is _MISSING:
            raise KeyError(key)
        return entry

    def __contains__(self, key) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def __iter__(self) -> Iterator[str]:
        rows = self.connection.execute("select key from entries order by key") if self.connection else ()
        return (key for (key,) in rows)

    def __len__(self) -> int:
        return self.connection.execute("select count(*) from entries").fetchone()[0] if self.connection else 0

    def __bool__(self) -> bool:
        return bool(self.connection and self.connection.execute("select exists (select 1 from entries)").fetchone()[0])

    def holds(self, key: str) -> bool:
        "Whether the file holds an entry under this key, valid or not."
        return bool(self.connection and self.connection.execute(
            "select exists (select 1 from entries where key = ?)", (key,)).fetchone()[0])

    def items(self):
        return self.all().items()

    def all(self) -> dict:
        "Every valid entry, read at once (and kept: the file does not change under a build)."
        if self.everything is None:
            rows = self.connection.execute("select key, entry from entries order by key") if self.connection else ()
            with gc_paused():
                decoded = ((key, decode_entry(text)) for key, text in rows)
                self.everything = {key: entry for key, entry in decoded
                                   if entry is not _MISSING and self.valid_entry(entry)}
        return self.everything

    def batch(self, keys: list[str]) -> dict:
        "The valid entries of these keys, by key, read in one query (or from every entry, once read)."
        if self.everything is not None:
            return {key: self.everything[key] for key in keys if key in self.everything}
        if self.connection is None or not keys:
            return {}
        rows = self.connection.execute("select key, entry from entries where key in (select value from json_each(?))",
                                       (json.dumps(keys),))
        decoded = ((key, decode_entry(text)) for key, text in rows)
        return {key: entry for key, entry in decoded if entry is not _MISSING and self.valid_entry(entry)}

    def with_part(self, values: set[str] | list[str]) -> dict:
        """The entries whose indexed part (see `PageManifest`) is one of `values`, by key, valid
        or not: they are asked for what the file holds (a page to remove), not what to trust."""
        if self.connection is None or self.indexed_part is None:
            return {}
        rows = self.connection.execute(
            f"select key, entry from entries where {part_expression(self.indexed_part)} "
            "in (select value from json_each(?)) order by key", (json.dumps(sorted(values)),))
        return {key: decode_entry(text) for key, text in rows}


class RecordedEntries(MutableMapping):
    """What a build records: the entries it set, over the last build's entries when it carries
    them over (`carried`), less those it deleted; saving writes only those it set or deleted."""

    def __init__(self, carried: StoredEntries | None = None):
        self.carried = carried
        self.set_here: dict = {}
        self.deleted: set = set()

    def __getitem__(self, key):
        if key in self.set_here:
            return self.set_here[key]
        if self.carried is None or key in self.deleted:
            raise KeyError(key)
        return self.carried[key]

    def __setitem__(self, key, entry) -> None:
        self.set_here[key] = entry
        self.deleted.discard(key)

    def __delitem__(self, key) -> None:
        # An entry that is not valid is still the file's to delete.
        carried = self.carried is not None and key not in self.deleted and self.carried.holds(key)
        if key not in self.set_here and not carried:
            raise KeyError(key)
        self.set_here.pop(key, None)
        self.deleted.add(key)

    def __iter__(self) -> Iterator:
        if self.carried is not None:
            yield from (key for key in self.carried if key not in self.deleted and key not in self.set_here)
        yield from self.set_here

    def __len__(self) -> int:
        if self.carried is None:
            return len(self.set_here)
        kept = len(self.carried) - sum(self.carried.holds(key) for key in self.deleted)
        return kept + sum(not self.carried.holds(key) for key in self.set_here)


@dataclass
class PageManifest:
    """The manifest of the pages or the site: each page's key -> the digest of everything its
    files were made from (and what they held), as the last complete build recorded them under
    the same code `version`, with `state`, what it recorded about its inputs as a whole
    (changes.py: the database it was made from). The contract is `Manifest`'s; the storage is a
    SQLite file beside the output folder (`page_manifest_path`): one header row (format,
    version, state, whether the build that wrote it completed) and one row an entry, so that a
    build that changes a few pages reads only the entries it looks up (`previous`) and writes
    only those it set or deleted (`current`), in one transaction when it saves.

    `indexed_part`: the position of an entry's part that `previous.with_part` finds entries by
    (the question's key, for the pages), indexed when the file is made."""

    path: Path | None
    version: str
    valid_entry: Callable[[object], bool] = lambda entry: True
    indexed_part: int | None = None
    state: dict | None = None
    # What a complete build under other code recorded about its inputs, and that code's version:
    # with the same inputs now, only the code changed (a template, say), and a stage may redo
    # only what that code makes.
    other_code_state: dict | None = None
    other_code_version: str | None = None
    previous: StoredEntries = field(default_factory=StoredEntries)
    current: RecordedEntries = field(default_factory=RecordedEntries)
    withdrawn: bool = False
    connection: sqlite3.Connection | None = None  # open on a file that is a manifest
    unusable: bool = False  # a file is there that is no manifest (damaged, or another's)
    other_code: bool = False  # the file holds a complete build's entries under other code

    @classmethod
    def take(cls, output: Output, version: str, valid_entry: Callable[[object], bool],
             indexed_part: int | None = None) -> PageManifest:
        """Open the last build's manifest of the output folder. As soon as this build changes a
        file there, the manifest is marked incomplete (`withdraw`), and until this build saves
        its own entries it vouches for none: a build stopped half way cannot leave entries that
        vouch for files it changed since, and the next build renders everything. A build that
        changes nothing leaves the file as it was, not even opened for writing."""
        manifest = cls(page_manifest_path(output.root), version, valid_entry, indexed_part)
        output.before_first_change.append(manifest.withdraw)
        # Where the manifest was kept before it moved beside the folder: a build that changes
        # something removes it, as it would be published with the site.
        earlier = output.root / MANIFEST_NAME
        if earlier.is_file():
            output.before_first_change.append(functools.partial(earlier.unlink, missing_ok=True))
        manifest.open()
        return manifest

    @classmethod
    def read(cls, folder: Path, version: str, valid_entry: Callable[[object], bool]) -> PageManifest:
        "Another stage's manifest, its header only: what its last complete build recorded."
        manifest = cls(page_manifest_path(folder), version, valid_entry)
        manifest.open()
        manifest.close()
        return manifest

    def __enter__(self) -> PageManifest:
        return self

    def __exit__(self, *exception) -> None:
        self.close()

    def open(self) -> None:
        "Read the header; damaged, another's, or left by a build stopped half way: no entries."
        if self.path is None or not self.path.exists():  # opening would make it
            return
        try:
            self.connection = connect_manifest(self.path, make=False)
            version, state, complete = read_header(self.connection)
        except (sqlite3.Error, ValueError):
            self.close()
            self.unusable = True
            return
        if not complete:
            return
        if version == self.version:
            self.state = state
            self.previous = StoredEntries(self.connection, self.valid_entry, self.indexed_part)
        else:
            self.other_code = True
            if state is not None:
                self.other_code_state, self.other_code_version = state, version

    def written_before(self) -> StoredEntries:
        """The last complete build's entries, under this code or another (none when there was
        none): what each page's files held when it wrote them, unless changed by hand since.
        Each read when it is looked up, or a batch at a time (`StoredEntries.batch`)."""
        if self.previous.connection is not None:
            return self.previous
        return StoredEntries(self.connection if self.other_code else None, self.valid_entry)

    def holds_entries(self) -> bool:
        "Whether the last build's entries could be read."
        return bool(self.previous) or self.state is not None

    def carry_over(self) -> None:
        "Start this build's entries from the last build's: it changes only some of them."
        self.current = RecordedEntries(self.previous if self.previous.connection else None)

    def withdraw(self) -> None:
        """Mark the manifest incomplete, committed before this build changes its first file
        (a file there that is no manifest is deleted instead)."""
        self.withdrawn = True
        if self.connection is not None:
            self.connection.execute("update header set complete = 0")
            self.connection.commit()
        elif self.unusable:
            remove_manifest_files(self.path)
            self.unusable = False

    def unchanged(self, state: dict | None) -> bool:
        "Whether this build records what the last one did, still on disk (nothing to save)."
        if self.withdrawn or state != self.state:
            return False
        recorded = self.current
        if recorded.carried is None:  # a whole record: the stored entries, no more, no fewer
            return recorded.set_here == self.previous.all()
        return (not any(self.previous.holds(key) for key in recorded.deleted)
                and all(self.previous.get(key) == entry for key, entry in recorded.set_here.items()))

    def save(self, state: dict | None = None) -> None:
        """Write what this build recorded, in one transaction that marks the manifest complete
        again: only the entries set or deleted when the last build's were carried over, else
        every entry in place of those stored. Closes the file."""
        if self.connection is None:
            self.connection = make_manifest(self.path, self.indexed_part)
        connection, recorded = self.connection, self.current
        try:
            if recorded.carried is None:
                connection.execute("delete from entries")
            connection.executemany("delete from entries where key = ?", [(key,) for key in recorded.deleted])
            connection.executemany("insert or replace into entries (key, entry) values (?, ?)",
                                   [(key, orjson.dumps(entry).decode()) for key, entry in recorded.set_here.items()])
            connection.execute("delete from header")
            connection.execute("insert into header (format, version, state, complete) values (?, ?, ?, 1)",
                               (PAGE_MANIFEST_FORMAT, self.version, json.dumps(state, sort_keys=True)))
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            self.close()

    def close(self) -> None:
        "Close the file (no journal stays beside it); the entries are not read after."
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        self.previous = StoredEntries(None, self.valid_entry, self.indexed_part)


def connect_manifest(path: Path, make: bool) -> sqlite3.Connection:
    """A connection to a manifest file (made if `make`), in SQLite's default rollback-journal
    mode: the journal is deleted when each transaction ends, and a build killed in one leaves a
    journal that the next connection rolls back. Without syncing to disk: a killed process loses
    nothing written; a power cut may leave a damaged file, which counts as none."""
    connection = sqlite3.connect(f"{path.as_uri()}?mode={'rwc' if make else 'rw'}", uri=True,
                                 check_same_thread=False)  # any thread of the build may withdraw it
    connection.execute("pragma synchronous = off")
    return connection


def read_header(connection: sqlite3.Connection) -> tuple[str, dict | None, bool]:
    "(version, state, complete) of a manifest file; ValueError if it is not one."
    rows = connection.execute("select format, version, state, complete from header").fetchall()
    connection.execute("select key, entry from entries limit 1").fetchall()
    if len(rows) != 1 or rows[0][0] != PAGE_MANIFEST_FORMAT:
        raise ValueError("not a page manifest")
    _, version, state_text, complete = rows[0]
    state = json.loads(state_text) if state_text else None
    return str(version), state if isinstance(state, dict) else None, complete == 1


def make_manifest(path: Path, indexed_part: int | None) -> sqlite3.Connection:
    "A new, empty manifest file in place of whatever was there (and its journals)."
    remove_manifest_files(path)
    connection = connect_manifest(path, make=True)
    index = (f"create index entries_by_part on entries ({part_expression(indexed_part)});"
             if indexed_part is not None else "")
    connection.executescript(PAGE_MANIFEST_SCHEMA + index)
    return connection


def remove_manifest_files(path: Path) -> None:
    for name in (path.name, f"{path.name}-journal", f"{path.name}-wal", f"{path.name}-shm"):
        path.with_name(name).unlink(missing_ok=True)


def page_manifest_contents(folder: Path) -> dict | None:
    """What the manifest of an output folder records, whatever the file's layout: for comparing
    two builds (SQLite lays out the same rows differently in a file written in place)."""
    path = page_manifest_path(folder)
    if not path.exists():
        return None
    with contextlib.closing(connect_manifest(path, make=False)) as connection:
        version, state, complete = read_header(connection)
        entries = dict(connection.execute("select key, entry from entries order by key"))
    return {"version": version, "state": state, "complete": complete, "entries": entries}
