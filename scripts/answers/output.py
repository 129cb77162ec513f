"""Writing files into an output folder: never outside it, never the same file twice in a
build, and never a file whose bytes have not changed (so that builds are incremental and
timestamps mean something).

A manifest records what each page was made from, so that a build can skip rendering the pages
whose inputs and code are the same as last time: `PageManifest` (SQLite, beside the output
folder) for the pages and the site, one entry a page; `Manifest` (one JSON file) for the few
files of the downloads.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import os
import sqlite3
import stat
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from fnmatch import fnmatch
from importlib import metadata
from pathlib import Path

import orjson

from .atomic import replace_if_changed, temporary_files, write_atomically, write_replacing

MANIFEST_NAME = ".manifest.json"  # hidden: no stage or tool takes it for a page
# Where files are written before they are renamed into place: one folder, so that what a killed
# build left half written is found without walking the output. Hidden, and swept at the end of
# every build (`remove_leftovers`).
SCRATCH_NAME = ".writing"


class OutsideOutputError(ValueError):
    "A path that resolves outside the output folder."


class DuplicateOutputError(ValueError):
    "A file written twice in one build: two things claim the same path."


@dataclass
class Output:
    root: Path
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    seen: set[str] = field(default_factory=set)
    # Run once, just before the first file is written or removed: what vouches for the files
    # as they were (a manifest, the listings' record) is withdrawn then, and only then,
    # so that a build which changes nothing writes nothing.
    before_first_change: list[Callable[[], None]] = field(default_factory=list)
    # Folders below the root that `write_page` found to be real folders (not links), by relative path.
    checked_folders: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.scratch = self.root / SCRATCH_NAME
        if self.scratch.is_symlink():  # written through, it would put every file outside first
            self.scratch.unlink()

    def path_for(self, relative_path: str) -> Path:
        "The absolute path of a file in the output folder; refuses anything outside it."
        path = (self.root / relative_path).resolve()
        if path == self.root or not path.is_relative_to(self.root):
            raise OutsideOutputError(f"refusing to write outside {self.root}: {relative_path}")
        return path

    def write(self, relative_path: str, content: str | bytes) -> bool:
        "Write a file unless it already holds these bytes. Returns whether it was written."
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = self.path_for(relative_path)
        self.claim(str(path), relative_path)
        try:
            if path.read_bytes() == data:
                self.unchanged += 1
                return False
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.changing()
        write_atomically(path, data, scratch=self.scratch)  # a killed build never leaves half a page
        self.written.append(relative_path)
        return True

    def write_page(self, relative_path: str, content: str | bytes, changed: bool = False) -> bool:
        """`write`, lean, for the many files of the question pages: each folder on the way is
        checked once (a real folder below the root, not a link) instead of resolving every
        path, the old bytes are read without following a link, and the new ones replace them
        through `write_replacing`. A path of any other shape takes `write` and its checks.
        `changed`: the caller knows the bytes differ from those last written there (by their
        digests), so the old ones are not read (after a template change, none would match)."""
        folder, _, name = relative_path.rpartition("/")
        directory = self.plain_path(relative_path) and self.checked_folder(folder)
        if directory is None:
            return self.write(relative_path, content)
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = os.path.join(directory, name)
        self.claim(path, relative_path)
        if not changed and read_unless_link(path) == data:
            self.unchanged += 1
            return False
        self.changing()
        write_replacing(path, data, str(self.scratch))
        self.written.append(relative_path)
        return True

    def checked_folder(self, folder: str) -> str | None:
        """The absolute path of a folder below the root ('' is the root; its path made of plain
        names), made if missing, if it and every folder above it are real folders; else None."""
        if folder in self.checked_folders:
            return self.checked_folders[folder]
        if folder == "":
            return str(self.root)
        parent_folder, _, name = folder.rpartition("/")
        parent = self.checked_folder(parent_folder)
        if parent is None:
            return None
        path = os.path.join(parent, name)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path)
        if not stat.S_ISDIR(os.lstat(path).st_mode):  # a link, or a file: `write` decides
            return None
        self.checked_folders[folder] = path
        return path

    def changing(self) -> None:
        "Say that a file is about to change: the first time, run `before_first_change`."
        hooks, self.before_first_change = self.before_first_change, []
        for hook in hooks:
            hook()

    def claim(self, key: str, relative_path: str) -> None:
        "Mark a file (its absolute path) as part of this build; a second claim is an error."
        if key in self.seen:
            raise DuplicateOutputError(f"written twice in one build: {relative_path}")
        self.seen.add(key)

    def confirm_unchanged(self, files: dict[str, str]) -> bool:
        """Claim files that this build knows to be up to date without rendering them, if all
        of them are there and still hold what was written (`files` maps each path to the
        sha256 of its bytes as written), and count them unchanged. Returns whether they were; if not, none
        is claimed, so that the caller can render and `write` them all.

        Nothing is written here, so instead of resolving links (which costs more than the
        rest of a skipped page) only a plain path to a regular file is accepted, the way
        `remove_stale` sees it: anything else ('..', a file that is a link) is left to
        `write` and its checks."""
        relative_paths = list(files)
        paths = [self.plain_path(relative) for relative in relative_paths]
        if not all(path and is_regular_file(path) and file_digest(path) == files[relative]
                   for path, relative in zip(paths, relative_paths, strict=True)):
            return False
        for path, relative in zip(paths, relative_paths, strict=True):
            self.claim(path, relative)
        self.unchanged += len(paths)
        return True

    def plain_path(self, relative_path: str) -> str | None:
        "The absolute path of a relative path made of plain names only; else None."
        parts = relative_path.split("/")
        if any(part in ("", ".", "..") for part in parts):
            return None
        return os.path.join(self.root, *parts)

    def remove_stale(self, names: tuple[str, ...], spare_folders: tuple[str, ...] = ()) -> list[str]:
        """Delete the files whose names match any of `names` (glob patterns) that this build
        did not write or confirm, leaving alone the top-level folders named in `spare_folders`; then
        the folders that removal left empty, and those found empty (a build killed between
        removing a file and its folder left them). Returns the removed paths, relative."""
        removed, empty = [], []
        for folder, subfolders, files in os.walk(self.root):
            here = Path(folder)
            if here == self.root:
                subfolders[:] = [name for name in subfolders if name not in spare_folders]
            elif not subfolders and not files:
                empty.append(here)
            subfolders.sort()
            for name in sorted(files):
                path = here / name
                if any(fnmatch(name, pattern) for pattern in names) and str(path) not in self.seen:
                    self.changing()
                    path.unlink()
                    removed.append(path.relative_to(self.root).as_posix())
        self.prune_empty_folders(removed, empty)
        return removed

    def remove(self, relative_paths: list[str]) -> list[str]:
        """Delete these files (those there are), then the folders that removal left empty.
        Returns the paths removed."""
        removed = []
        for relative in relative_paths:
            path = self.path_for(relative)
            if path.is_file() or path.is_symlink():
                self.changing()
                path.unlink()
                removed.append(relative)
        self.prune_empty_folders(removed)
        return removed

    def remove_leftovers(self, names: tuple[str, ...]) -> list[str]:
        """Delete what killed builds left, without walking the folders below: the scratch
        folder's files (half-written files), then the folder, and the files directly in the
        output folder whose names match `names` (a manifest half saved). Call it when no one
        else writes here."""
        scratch = [] if self.scratch.is_symlink() else temporary_files(self.scratch)
        removed = self.remove([f"{SCRATCH_NAME}/{path.name}" for path in scratch])
        with contextlib.suppress(FileNotFoundError, OSError):
            self.scratch.rmdir()
        return removed + self.remove([path.name for path in temporary_files(self.root)
                                      if any(fnmatch(path.name, name) for name in names)])

    def prune_empty_folders(self, removed: list[str], empty: list[Path] = ()) -> None:
        """Remove the folders that held removed files, or the `empty` folders, and the folders
        above them that are now empty, deepest first."""
        held = [folder for path in removed for folder in (self.root / path).parents]
        held += [folder for path in empty for folder in (path, *path.parents)]
        folders = {folder for folder in held if folder.is_relative_to(self.root) and folder != self.root}
        for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def read_unless_link(path: str) -> bytes | None:
    "A regular file's bytes; None for a missing file, a link or a folder."
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with open(handle, "rb") as file:
        try:
            return file.read()
        except IsADirectoryError:
            return None


def file_digest(path) -> str:
    "sha256 of a file's bytes."
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


def bytes_digest(content: str | bytes) -> str:
    "sha256 of what a build writes, as `file_digest` will find it on disk."
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()


def is_regular_file(path: str) -> bool:
    "A file, and not a link to one."
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


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
    other_code_entries: dict | None = None  # read when `written_before` first wants them

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

    def written_before(self) -> dict:
        """The last complete build's entries, under this code or another (empty when there was
        none): what each page's files held when it wrote them, unless changed by hand since."""
        if self.previous:
            return self.previous
        if self.other_code_entries is None:
            other = StoredEntries(self.connection if self.other_code else None, self.valid_entry)
            self.other_code_entries = other.all()
        return self.other_code_entries

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


def stage_code_digest(files: list[Path], packages: tuple[str, ...], *settings: str) -> str:
    """A digest of the source files, library versions and settings that decide a stage's
    output: when any of them changes, no page's manifest entry holds and all are rendered."""
    # The Python version too: both stages lean on its html.parser.
    digest = hashlib.sha256(sys.version.encode("utf-8"))
    for path in files:
        data = Path(path).read_bytes()
        digest.update(f"{Path(path).name}\0{len(data)}\0".encode() + data)
    for name in packages:
        digest.update(f"{name}=={package_version(name)}\0".encode())
    for setting in settings:
        digest.update(f"{len(setting)}\0{setting}".encode())
    return digest.hexdigest()


@functools.cache
def package_version(name: str) -> str:
    """An installed package's version ("missing" if it is not), looked up once a process: a
    build works out a dozen stage versions, and each lookup searches the installed packages."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def inputs_digest(*inputs) -> str:
    "A digest of a page's inputs (JSON data), stable across runs."
    text = json.dumps(inputs, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
