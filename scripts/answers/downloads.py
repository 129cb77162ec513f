"""The downloads stage: the database -> `downloads/` in the static archive, the data whole,
described and versioned.

Reads `answers.db` and the column descriptions in `metadata.yml` (their single source). Writes
into the site's `downloads/` folder:

- `answers.db.gz`, the database;
- `questions-<year>.csv.gz` and `questions-<year>.ndjson.gz`, the questions tabled in each year
  with their answers (`questions-no-date-tabled.*` for those without a date tabled);
- `<table>.csv` and `<table>.ndjson` for each reference table in `TABLES`;
- `datapackage.json` (a Frictionless Data Package: every file, its fields, types and
  descriptions, licences, sources, the build date and the schema version), `SHA256SUMS`
  and `index.html`, the page that explains them.

Incremental: one pass of SQL over the rows gives a digest of each file's rows; a manifest
(`downloads/.manifest.json`) keeps it with the digest and size of the files made from them.
Files whose rows have the same digest, and which have kept their size and not been modified
since the manifest was saved, are neither made nor read again. The compressed files are
gzip members end to end (`answers.db.gz` one per 256 KiB of the database, a year's files one
per block of rows, cut where the keys say); the manifest keeps each member's digest and length,
so that a change compresses again only the pieces and blocks it touched and copies the rest
from the files the last build left. gzip output carries no time and no file name, so the same rows
always give the same bytes.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import functools
import hashlib
import io
import json
import os
import sqlite3
import stat
import zlib
from contextlib import ExitStack, closing
from dataclasses import astuple, dataclass, field
from pathlib import Path
from urllib.parse import quote

import blake3
from zlib_ng import gzip_ng, zlib_ng

from . import changes
from .atomic import new_temporary_file, put_in_place
from .manifest import MANIFEST_NAME, Manifest
from .output import Output, bytes_digest, file_digest, stage_code_digest
from .render import ROOT

# The version of the downloads' layout: file names, their columns and the columns' types.
# Semantic versioning, for the people whose code reads these files:
#   MAJOR: a column or file is renamed or removed, or a column's type changes (readers break);
#   MINOR: a column, table or file is added (readers keep working);
#   PATCH: only descriptions, licences or sources change.
# tests/test_downloads.py pins the columns of every version: a change of columns fails there
# until this is bumped and the new column set is pinned beside the old.
SCHEMA_VERSION = "1.1.0"

FOLDER = "downloads/"
METADATA = ROOT / "metadata.yml"
DATABASE_FILE = "answers.db.gz"
# By zlib-ng, one below zlib's default: a fresh build compresses the whole database, and over
# the corpus's (281 MB, in pieces of 256 KiB) level 5 took 1.63 s where 6 took 2.04 s, for files
# 0.3% larger (all the downloads: 3.8-4.0 s of CPU against 4.3-4.5 s, 83.8 MB against 83.5 MB).
# Level 4 makes them 2.6% larger for little more speed; 9 makes the database 1% smaller in 2.5 times
# the time; ISA-L's fastest levels are eight times as fast, but make files 7-12% larger.
COMPRESS_LEVEL = 5
# answers.db.gz is one gzip member per piece of this size of the database, so that a change
# recompresses only the pieces it touched, and one change touches pages all through the file
# (its table, indexes and change log). Each member starts with an empty window: pieces of
# 256 KiB make the file 1% larger than pieces of 1 MiB (128 KiB: 2.4%) for a quarter of the
# work a change costs.
CHUNK_SIZE = 256 * 1024
# A compressed export's files are likewise one member per block of rows (in key order), and a
# block ends after a row whose key's CRC-32 is a multiple of BLOCK_ROWS: about that many rows a
# block, and bounds set by the keys themselves, so a new row changes only the block it joins.
BLOCK_ROWS = 256
CSV_HEADER = "header"  # the member of a CSV file that holds its header row
NO_DATE_TABLED = "no-date-tabled"
# The year a question was tabled; always four digits or NO_DATE_TABLED, so safe in a file name.
YEAR_TABLED = ("case when date_tabled glob '[0-9][0-9][0-9][0-9]-*' "
               f"then substr(date_tabled, 1, 4) else '{NO_DATE_TABLED}' end")

OPEN_PARLIAMENT_LICENCE = {
    "name": "OPL-3.0", "title": "Open Parliament Licence v3.0",
    "path": "https://www.parliament.uk/site-information/copyright-parliament/open-parliament-licence/",
}
CC_BY = {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0 International",
         "path": "https://creativecommons.org/licenses/by/4.0/"}
SOURCES = [
    {"title": "UK Parliament Written Questions API",
     "path": "https://questions-statements.parliament.uk/written-questions"},
    {"title": "mySociety, uk-parl-written-questions (API snapshots and longform full texts; "
              "CC BY 4.0, mySociety and UK Parliament)",
     "path": "https://github.com/mysociety/uk-parl-written-questions"},
    {"title": "TheyWorkForYou parlparse (written answers XML, members and ministers)",
     "path": "https://github.com/mysociety/parlparse"},
    {"title": "data.parliament.uk answered questions, as archived by pq-tool",
     "path": "https://github.com/moj-analytical-services/pq-tool"},
    {"title": "Institute for Government Ministers Database (CC BY 4.0)",
     "path": "https://github.com/instituteforgov/ifg-ministers-database-public"},
    {"title": "House of Commons Library election results (psephology)",
     "path": "https://github.com/ukparliament/psephology"},
]


@dataclass(frozen=True)
class Export:
    """A table written as CSV and NDJSON: whole, or one pair of files for each value of `by`
    (an SQL expression over its rows). Adding a table to the downloads is one line in TABLES."""

    table: str
    description: str | None = None  # what a file holds; else the table's in metadata.yml
    by: str | None = None
    compressed: bool = False


QUESTIONS = Export("questions", "Questions tabled in {value}, with their answers: one row a "
                   "question, every column of the questions table.",
                   by=YEAR_TABLED, compressed=True)
TABLES = (
    Export("members"),
    Export("answering_bodies"),
    Export("member_posts"),
    Export("citations"),
)


@dataclass
class Block:
    "Rows of a group, consecutive in key order, that make one gzip member of each of its files."

    first: object  # the first row's key, and the last's
    last: object = None
    rows: int = 0
    digest: str = ""


@dataclass
class Group:
    "The rows of one export that go into one CSV file and one NDJSON file."

    export: Export
    value: str | None
    rows: int = 0
    digest: str = ""
    blocks: list[Block] = field(default_factory=list)  # a compressed export's, in key order

    @property
    def stem(self) -> str:
        return f"{self.export.table}-{self.value}" if self.value else self.export.table

    @property
    def files(self) -> dict[str, str]:
        "File name -> format."
        suffix = ".gz" if self.export.compressed else ""
        return {f"{self.stem}.csv{suffix}": "csv", f"{self.stem}.ndjson{suffix}": "ndjson"}


@dataclass
class DownloadsReport:
    files: int = 0
    written: list[str] = field(default_factory=list)  # names in the downloads folder
    removed: list[str] = field(default_factory=list)
    skipped: int = 0  # data files whose rows had not changed: neither made nor read again
    unchanged: int = 0  # files made again that held the same bytes, so not rewritten


# -- reading the database ------------------------------------------------------------------


def open_read_only(db_path: Path) -> sqlite3.Connection:
    "The database, read only (quoted: a path may hold '?', '#' or '%')."
    return sqlite3.connect(f"file:{quote(str(Path(db_path).resolve()))}?mode=ro", uri=True)


def table_columns(db: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    "(name, declared type) of each column, in table order."
    return [(row[1], row[2]) for row in db.execute(f"pragma table_info([{table}])")]


def primary_key(db: sqlite3.Connection, table: str) -> list[str]:
    rows = sorted((row[5], row[1]) for row in db.execute(f"pragma table_info([{table}])"))
    return [name for position, name in rows if position]


def quoted(names: list[str]) -> str:
    return ", ".join(f"[{name}]" for name in names)


def survey(db: sqlite3.Connection, export: Export, names: list[str]) -> list[Group]:
    """Count and digest the rows of each group of an export, in one pass of SQL over the table,
    in the order its files hold them (`file_order`; a compressed export's groups are also cut
    into `Block`s and digested by them). Not in storage order: the db stage writes a changed
    question's citations again, as new rows, and the same rows must give the same digest."""
    by = export.by or "null"
    key = block_key(db, export)
    groups: dict[str | None, Group] = {}
    digests: dict[str | None, object] = {}
    header = json.dumps(names).encode("utf-8")
    blocks = BlockCutter(header)
    for value, key_value, row in db.execute(
            f"select {by}, {f'[{key}]' if key else 'null'}, json_array({quoted(names)}) "
            f"from [{export.table}] order by {file_order(db, export.table, names)}"):
        if value not in groups:
            groups[value] = Group(export, value)
            digests[value] = hashlib.sha256(header)
        groups[value].rows += 1
        line = row.encode("utf-8") + b"\n"
        if key:
            blocks.add(groups[value], key_value, line)
        else:
            digests[value].update(line)
    blocks.close_all()
    for value, group in groups.items():
        group.digest = blocks_digest(header, group.blocks) if key else digests[value].hexdigest()
    if export.by is None and not groups:  # a whole table is written even when empty
        groups[None] = Group(export, None, 0, hashlib.sha256(header).hexdigest())
    return sorted(groups.values(), key=lambda group: group.stem)


def blocks_digest(header: bytes, blocks: list[Block]) -> str:
    "A compressed group's digest: of its blocks' digests, so that it is known from them alone."
    digest = hashlib.sha256(header)
    for block in blocks:
        digest.update(f"{block.digest}\n".encode())
    return digest.hexdigest()


def survey_changes(db: sqlite3.Connection, export: Export, names: list[str], previous: dict,
                   changed: list[str]) -> list[Group] | None:
    """A compressed export's groups as `survey` finds them, from the blocks the last build
    recorded (`previous`: its manifest entries), reading again only the blocks that may hold
    one of the `changed` keys: every row the table changed since that build. None when those
    blocks cannot be carried forward: a group the last build did not record, or a count of
    rows that the blocks do not add up to (a row that left its group unlogged)."""
    header = json.dumps(names).encode("utf-8")
    by, key = export.by or "null", block_key(db, export)
    counts = dict(db.execute(f"select {by}, count(*) from [{export.table}] group by 1"))
    touched: dict = {}
    for key_value, value in db.execute(
            f"select [{key}], {by} from [{export.table}] where [{key}] in (select value from json_each(?))",
            [json.dumps(changed)]):
        touched.setdefault(value, []).append(key_value)
    groups = []
    for value, count in counts.items():
        group = Group(export, value)
        entry = previous.get(group.stem)
        if entry is None and value not in touched or entry is not None and "blocks" not in entry:
            return None
        blocks = [Block(*block) for block in (entry or {}).get("blocks", [])]
        group.blocks = BlockReader(db, group, names, key, header).recut(blocks, sorted(touched.get(value, [])))
        group.rows = sum(block.rows for block in group.blocks)
        if group.rows != count:
            return None
        group.digest = blocks_digest(header, group.blocks)
        groups.append(group)
    return sorted(groups, key=lambda group: group.stem)


@dataclass
class BlockReader:
    "Reads the rows of one compressed group between two keys and cuts them into blocks."

    db: sqlite3.Connection
    group: Group
    names: list[str]
    key: str
    header: bytes

    def recut(self, blocks: list[Block], keys: list[str]) -> list[Block]:
        """The group's blocks, `blocks` (as the last build cut them) with those that may hold
        one of `keys` read again and cut afresh. A block holds the keys after the end of the
        one before it up to its own end; the last, every key after. A run read again that no
        longer ends where a block ended (its last key is gone) takes in the next block."""
        if not blocks:
            return self.cut(None, None)
        ends = [block.last for block in blocks]
        hit = sorted({min(bisect.bisect_left(ends, key_value), len(blocks) - 1) for key_value in keys})
        result, done = [], 0
        for start in hit:
            if start < done:
                continue  # read with the run before
            result += blocks[done:start]
            end = start
            while True:
                high = ends[end] if end < len(blocks) - 1 else None
                made = self.cut(ends[start - 1] if start else None, high)
                if high is None or not made or is_block_end(made[-1].last):
                    break
                end += 1
            result += made
            done = end + 1
        return result + blocks[done:]

    def cut(self, low: str | None, high: str | None) -> list[Block]:
        "The group's rows with keys above `low` and up to `high` (None: no bound), as blocks."
        conditions, parameters = [f"{self.group.export.by} = ?"], [self.group.value]
        for bound, operator in ((low, ">"), (high, "<=")):
            if bound is not None:
                conditions.append(f"[{self.key}] {operator} ?")
                parameters.append(bound)
        part, cutter = Group(self.group.export, self.group.value), BlockCutter(self.header)
        for key_value, row in self.db.execute(
                f"select [{self.key}], json_array({quoted(self.names)}) from [{self.group.export.table}] "
                f"where {' and '.join(conditions)} order by [{self.key}]", parameters):
            cutter.add(part, key_value, row.encode("utf-8") + b"\n")
        cutter.close_all()
        return part.blocks


def block_key(db: sqlite3.Connection, export: Export) -> str | None:
    "The column a compressed export's rows are cut into blocks by: its one-column primary key."
    key = primary_key(db, export.table)
    if export.compressed and len(key) != 1:
        raise ValueError(f"a compressed export needs a one-column primary key: {export.table}")
    return key[0] if export.compressed else None


class BlockCutter:
    "Cuts each group's rows, given in key order, into blocks, digesting each block's rows."

    def __init__(self, header: bytes):
        self.header = header
        self.open: dict[int, tuple[Block, object]] = {}  # id(group) -> its open block, digest

    def add(self, group: Group, key_value, line: bytes) -> None:
        if id(group) not in self.open:
            block = Block(first=key_value)
            group.blocks.append(block)
            self.open[id(group)] = block, hashlib.sha256(self.header)
        block, digest = self.open[id(group)]
        block.last, block.rows = key_value, block.rows + 1
        digest.update(line)
        if is_block_end(key_value):
            self.close(id(group))

    def close(self, group_id: int) -> None:
        block, digest = self.open.pop(group_id)
        block.digest = digest.hexdigest()

    def close_all(self) -> None:
        for group_id in list(self.open):
            self.close(group_id)


def is_block_end(key_value) -> bool:
    "Whether a block ends after the row of this key (about one key in BLOCK_ROWS)."
    return zlib.crc32(str(key_value).encode("utf-8")) % BLOCK_ROWS == 0


def file_order(db: sqlite3.Connection, table: str, names: list[str]) -> str:
    "The order of a table's rows in its files: its primary key's, else all its columns'."
    return quoted(primary_key(db, table) or names)


def group_rows(db: sqlite3.Connection, group: Group, names: list[str]):
    "The group's rows, in the order of their files."
    order = file_order(db, group.export.table, names)
    where, parameters = ("", ()) if group.export.by is None else (f"where {group.export.by} = ?",
                                                                  (group.value,))
    return db.execute(f"select {quoted(names)} from [{group.export.table}] {where} "
                      f"order by {order}", parameters)


def block_rows(db: sqlite3.Connection, group: Group, block: Block, names: list[str]):
    "The rows of one block, in key order."
    key = block_key(db, group.export)
    where, parameters = "", [block.first, block.last]
    if group.export.by is not None:
        where, parameters = f"and {group.export.by} = ?", [*parameters, group.value]
    return db.execute(f"select {quoted(names)} from [{group.export.table}] where [{key}] "
                      f"between ? and ? {where} order by [{key}]", parameters).fetchall()


def database_digest(db: sqlite3.Connection, groups: list[Group]) -> str:
    """What the database holds, as far as a reader of its copy can tell: the rows exported (by
    their digests), the schema, the source files it was built from and its build version.
    Cheap, unlike hashing the file, whose bytes change on every build even when nothing else
    does."""
    digest = hashlib.sha256()
    for group in groups:
        digest.update(f"{group.stem}\0{group.digest}\n".encode())
    for query in ("select type, name, sql from sqlite_master order by type, name",
                  "select * from sources order by path", "select * from meta order by name"):
        try:
            digest.update(json.dumps(db.execute(query).fetchall()).encode("utf-8"))
        except sqlite3.OperationalError:  # a table the database lacks
            digest.update(query.encode("utf-8"))
    return digest.hexdigest()


def build_time(db_path: Path) -> str:
    """When the database was last written (UTC), to the second; or, where SOURCE_DATE_EPOCH is
    set (the reproducible-builds convention), that time, so that two builds can be compared."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    seconds = int(epoch) if epoch.isdigit() else int(os.stat(db_path).st_mtime)
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- making the files ----------------------------------------------------------------------


def compressed(data: bytes) -> bytes:
    "gzip with no time and no file name in its header: the same data, the same bytes."
    return gzip_ng.compress(data, compresslevel=COMPRESS_LEVEL, mtime=0)


def piece_digest(piece: bytes) -> str:
    """What a piece of the database holds, to find the pieces a build changed. Every build
    hashes the whole database so: BLAKE3 does it three times as fast as SHA-256 (the digests
    stay in the manifest; the published ones are the files' SHA-256)."""
    return blake3.blake3(piece).hexdigest()


def csv_bytes(names: list[str], rows, header: bool = True) -> bytes:
    "RFC 4180 CSV (quoted where needed, CRLF) with a header row; NULL is an empty cell."
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    if header:
        writer.writerow(names)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return text.getvalue().encode("utf-8")


def ndjson_bytes(names: list[str], rows, header: bool = True) -> bytes:
    "One JSON object a line, keys in column order; NULL is null (no header: `header` is moot)."
    return "".join(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) + "\n"
                   for row in rows).encode("utf-8")


FORMATTERS = {"csv": csv_bytes, "ndjson": ndjson_bytes}


def file_record(output: Output, relative_path: str, digest: str) -> list:
    "[sha256, size] of a file as written, for the manifest and the descriptions."
    return [digest, os.stat(output.path_for(relative_path)).st_size]


def write_group(db: sqlite3.Connection, group: Group, names: list[str], output: Output) -> dict:
    "Make and write an uncompressed group's files; returns their manifest records."
    rows = group_rows(db, group, names).fetchall()
    records = {}
    for name, format_name in group.files.items():
        data = FORMATTERS[format_name](names, rows)
        output.write(name, data)
        records[name] = file_record(output, name, bytes_digest(data))
    return {"files": records}


def write_blocks(db: sqlite3.Connection, group: Group, names: list[str], output: Output,
                 previous: dict[str, PreviousFile]) -> dict:
    """Make and write a compressed group's files, one gzip member per block (and, for CSV,
    one for the header row first). A block the last build compressed is copied from its file
    as it left it (`previous`: name -> that file); only the others are read from the database
    and compressed. Returns the manifest entry's files and members."""
    try:
        return write_block_files(db, group, names, output, previous)
    except PreviousFileDamaged:
        return write_block_files(db, group, names, output, {})


def write_block_files(db: sqlite3.Connection, group: Group, names: list[str], output: Output,
                      previous: dict[str, PreviousFile]) -> dict:
    with ExitStack() as stack:
        files = {name: stack.enter_context(MemberFile(output, name, previous.get(name)))
                 for name in group.files}
        for name, format_name in group.files.items():
            if format_name == "csv":
                files[name].add(CSV_HEADER, lambda: compressed(csv_bytes(names, [])))
        for block in group.blocks:
            rows = functools.cache(functools.partial(block_rows, db, group, block, names))  # read once
            for name, format_name in group.files.items():
                files[name].add(block.digest, functools.partial(block_member, format_name, names, rows))
        for members in files.values():  # every file copied from checked before any is put in place
            members.complete()
        records = {name: members.finish() for name, members in files.items()}
    return {"files": records, "members": {name: files[name].listed for name in files}}


def block_member(format_name: str, names: list[str], rows) -> bytes:
    "A block's member of a file: its rows (`rows()`) in the file's format, compressed."
    return compressed(FORMATTERS[format_name](names, rows(), header=False))


@dataclass(frozen=True)
class PreviousFile:
    """A file of gzip members as the last build left it, by its time and size: its path,
    SHA-256 and size, and the [digest, length] of each of its members, in order. Whether it
    still holds those bytes is known once it has been copied from (`CheckedSource`)."""

    path: str
    digest: str
    size: int
    members: list


# Bytes copied at a time from the last build's file into the new one.
COPY_BUFFER = 1024 * 1024


class PreviousFileDamaged(OSError):
    """The file the last build left does not hold the bytes it recorded: what was copied from
    it cannot be trusted, and the file is made afresh."""


class CheckedSource:
    """The file the last build left, read once from front to back as members are copied from
    it, every byte hashed on the way, whether copied or passed over: once the file is made,
    `check` reads what is left and compares the whole with the digest the last build recorded.
    (Reading it whole first, to check it, then again to copy from it, read and hashed the
    67 MB of the archive's answers.db.gz twice a build.) A member copied from further back (a
    piece repeated, as runs of empty pages are) is read again, and counts in the digest where
    the file holds it."""

    def __init__(self, previous: PreviousFile):
        self.previous = previous
        self.file = open(previous.path, "rb", buffering=0)
        self.buffer = memoryview(bytearray(COPY_BUFFER))
        self.position = 0  # how far the file has been read (and hashed)
        self.digest = hashlib.sha256()

    def close(self) -> None:
        self.file.close()

    def copy(self, offset: int, length: int, write) -> None:
        "Give `write` the `length` bytes at `offset`, a buffer at a time."
        if offset < self.position:
            self.file.seek(offset)
            self.read(length, write, hashed=False)
            self.file.seek(self.position)
            return
        self.read(offset - self.position, lambda data: None, hashed=True)
        self.read(length, write, hashed=True)

    def read(self, length: int, write, hashed: bool) -> None:
        while length:
            count = self.file.readinto(self.buffer[:min(length, COPY_BUFFER)])
            if not count:
                raise PreviousFileDamaged(f"{self.previous.path} is shorter than the last build recorded")
            data = self.buffer[:count]
            if hashed:
                self.digest.update(data)
                self.position += count
            write(data)
            length -= count

    def check(self) -> None:
        "Read the rest; raise PreviousFileDamaged unless the whole holds what was recorded."
        self.read(self.previous.size - self.position, lambda data: None, hashed=True)
        if self.file.read(1) or self.digest.hexdigest() != self.previous.digest:
            raise PreviousFileDamaged(f"{self.previous.path} does not hold what the last build recorded")


class MemberFile:
    """One file of gzip members being made, in a temporary file: each member copied from the
    file the last build left (`previous`: `Build.previous_files`), where it made the same
    member, else made. The bytes are hashed as they are written, so the new file is not read
    again; the old one is read once, and checked whole before the new file is put in place
    (`CheckedSource`). `finish` puts the file in place, unless it holds what the last build
    recorded there; it raises PreviousFileDamaged, having put nothing in place, if the file
    copied from did not hold what was recorded: the caller makes the file again without it."""

    def __init__(self, output: Output, relative_path: str, previous: PreviousFile | None):
        self.output, self.relative_path, self.previous = output, relative_path, previous
        self.path = output.path_for(relative_path)
        self.places = member_places(previous.members) if previous else {}
        self.handle = new_temporary_file(self.path, output.scratch)
        self.source: CheckedSource | None = None  # the previous file, opened on the first copy
        self.run = (0, 0)  # offset and length of the bytes of `previous` still to be copied
        self.whole = hashlib.sha256()
        self.size = 0
        self.listed: list[list] = []  # [digest, length] of each member

    def __enter__(self) -> MemberFile:
        return self

    def __exit__(self, *exception) -> None:
        "Close both files and remove the temporary file unless it was put in place."
        self.handle.close()
        if self.source:
            self.source.close()
        Path(self.handle.name).unlink(missing_ok=True)

    def add(self, digest: str, make) -> None:
        "The member of this digest: the previous file's, else `make()`'s bytes."
        place = self.places.get(digest)
        if place is None:
            self.copy_run()
            member = make()
            self.write(member)
            length = len(member)
        else:
            offset, length = place
            if offset != sum(self.run):  # not where the run so far ends: copy that first
                self.copy_run()
                self.run = (offset, 0)
            self.run = (self.run[0], self.run[1] + length)
        self.listed.append([digest, length])

    def write(self, data) -> None:
        self.handle.write(data)
        self.whole.update(data)
        self.size += len(data)

    def copy_run(self) -> None:
        "Copy the run of members taken from the previous file, through one reused buffer."
        offset, length = self.run
        self.run = (0, 0)
        if not length:
            return
        if self.source is None:
            self.source = CheckedSource(self.previous)
        self.source.copy(offset, length, self.write)

    def complete(self) -> None:
        """Copy what is left to copy and close the new file; check the file copied from
        (PreviousFileDamaged if it did not hold what was recorded)."""
        if self.handle.closed:
            return
        self.copy_run()
        self.handle.close()
        if self.source is not None:
            self.source.check()

    def finish(self) -> list:
        """Put the file in place, unless the file there already holds these bytes: by the
        previous file's recorded digest, or (none trusted) by reading it. Returns its record."""
        self.complete()
        self.output.claim(str(self.path), self.relative_path)
        digest = self.whole.hexdigest()
        if self.holds_already(digest):
            self.output.unchanged += 1
        else:
            self.output.changing()
            put_in_place(self.handle.name, self.path)
            self.output.written.append(self.relative_path)
        return [digest, self.size]

    def holds_already(self, digest: str) -> bool:
        if self.previous:
            return (self.previous.digest, self.previous.size) == (digest, self.size)
        return (self.path.is_file() and self.path.stat().st_size == self.size
                and file_digest(self.path) == digest)


def database_chunks(db_path: Path):
    "The database's bytes in pieces of CHUNK_SIZE (one empty piece for an empty file)."
    with open(db_path, "rb") as source:
        chunk = source.read(CHUNK_SIZE)
        yield chunk
        while chunk := source.read(CHUNK_SIZE):
            yield chunk


def member_places(members: list) -> dict[str, tuple[int, int]]:
    "Piece digest -> (offset, length) of its gzip member, in the file `members` describes."
    places, offset = {}, 0
    for digest, length in members:
        places.setdefault(digest, (offset, length))
        offset += length
    return places


def write_database(db_path: Path, output: Output, previous: PreviousFile | None) -> dict:
    """Write answers.db.gz as one gzip member per piece of the database (gzip, zcat and
    Python read them as one stream). A piece the last build compressed is copied from
    `previous`, the file as it left it, so one change recompresses only the pieces it touched;
    each member is made the same way whichever build makes it, so the bytes do not depend on
    what was there before. Every piece is read and hashed (BLAKE3) to know which changed.
    Returns the manifest entry's files and members."""
    try:
        return write_database_file(db_path, output, previous)
    except PreviousFileDamaged:
        return write_database_file(db_path, output, None)


def write_database_file(db_path: Path, output: Output, previous: PreviousFile | None) -> dict:
    with MemberFile(output, DATABASE_FILE, previous) as members:
        for chunk in database_chunks(db_path):
            members.add(piece_digest(chunk), lambda chunk=chunk: compressed(chunk))
        record = members.finish()
    return {"files": {DATABASE_FILE: record}, "members": {DATABASE_FILE: members.listed}}


def as_written(path: str | None, size: int, saved_ns: int | None) -> bool:
    """Whether a file is still as the last build wrote it, checked without reading it: a
    regular file of the size it recorded, not modified since it saved its manifest."""
    try:
        status = os.lstat(path) if path and saved_ns is not None else None
    except OSError:
        return False
    return bool(status and stat.S_ISREG(status.st_mode) and status.st_size == size
                and status.st_mtime_ns <= saved_ns)


def trusted(path: str | None, record: list, saved_ns: int | None, check_all: bool) -> bool:
    """Whether a file is still as the last build recorded it ([sha256, size]): `as_written`,
    as the rest of a build trusts its files; and, when `check_all` asks (`answers verify`,
    which is there to find files edited by hand), holding the bytes of that digest."""
    return as_written(path, record[1], saved_ns) and (not check_all or file_digest(path) == record[0])


def keep(output: Output, entry, digest: str, saved_ns: int | None, check_all: bool = False) -> bool:
    """Whether the last build made these files from the same rows and they are still as it
    wrote them (`trusted`, at `saved_ns`). If so, they are claimed for this build. (The
    manifest holds no times, so that an incremental build and a fresh one write the same
    bytes.)"""
    if not entry or entry["digest"] != digest or saved_ns is None:
        return False
    paths = {name: output.plain_path(name) for name in entry["files"]}
    if not all(trusted(path, entry["files"][name], saved_ns, check_all) for name, path in paths.items()):
        return False
    for name, path in paths.items():
        output.claim(path, name)
    output.unchanged += len(paths)
    return True


def modified_ns(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def is_manifest_entry(entry) -> bool:
    """{digest of the rows, rows, files: {name: [sha256, size]}}, and for the
    database the build date it was first seen with, `created`; for a file made of gzip
    members, `members`: {name: [[digest of what it holds, length], …]}; for a compressed
    export's group, `blocks`: [[first key, last key, rows, digest], …] in key order."""
    return (isinstance(entry, dict) and isinstance(entry.get("digest"), str)
            and isinstance(entry.get("blocks", []), list) and all(map(is_block, entry.get("blocks", [])))
            and isinstance(entry.get("created", ""), str)
            and isinstance(entry.get("rows"), int) and isinstance(entry.get("files"), dict)
            and all(is_record(record) for record in entry["files"].values())
            and isinstance(entry.get("members", {}), dict)
            and all(isinstance(members, list) and all(is_record(record) for record in members)
                    for members in entry.get("members", {}).values()))


def is_block(block) -> bool:
    "[first key, last key, rows, digest]."
    return (isinstance(block, list) and len(block) == 4 and isinstance(block[0], str)
            and isinstance(block[1], str) and isinstance(block[2], int) and isinstance(block[3], str))


def is_record(record) -> bool:
    "[a digest, a size]."
    return (isinstance(record, list) and len(record) == 2 and isinstance(record[0], str)
            and isinstance(record[1], int))


def downloads_code_version() -> str:
    "What besides the rows decides the data files' bytes: this code, zlib-ng and its level."
    return stage_code_digest([Path(__file__)], ("zlib-ng", "blake3"), zlib_ng.ZLIBNG_VERSION, str(COMPRESS_LEVEL))


# -- describing them -----------------------------------------------------------------------


def load_metadata() -> dict:
    "The tables of metadata.yml: descriptions of every table and column of the database."
    import yaml  # here: a build whose database has not changed makes no download

    with open(METADATA, encoding="utf-8") as file:
        # LibYAML's loader where PyYAML was built with it: the pure-Python one takes ten times as long.
        return yaml.load(file, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["databases"]["answers"]["tables"]


FIELD_TYPES = {"INTEGER": "integer", "TEXT": "string", "REAL": "number", "FLOAT": "number"}


def field_type(name: str, declared: str) -> str:
    "Table Schema type: ISO dates are stored as text and named date_* or *_date."
    if name.startswith("date_") or name.endswith("_date"):
        return "date"
    return FIELD_TYPES.get(declared.upper(), "any")


def table_schema(columns: list[tuple[str, str]], key: list[str], described: dict) -> dict:
    fields = [{"name": name, "type": field_type(name, declared),
               "description": described.get(name, "")} for name, declared in columns]
    schema = {"fields": fields}
    if key:
        schema["primaryKey"] = key
    return schema


def table_resource(name: str, format_name: str, group: Group, schema: dict, record: list,
                   table_meta: dict) -> dict:
    resource = {
        "name": name.lower().replace("_", "-"), "type": "table", "path": name,
        "title": f"{group.stem} ({format_name.upper()})",
        "description": group_description(group, table_meta),
        "format": format_name, "encoding": "utf-8",
        "mediatype": "text/csv" if format_name == "csv" else "application/x-ndjson",
        "bytes": record[1], "hash": "sha256:" + record[0], "rows": group.rows,
        "schema": schema,
    }
    if group.export.compressed:
        resource["compression"] = "gz"
    if table_meta.get("license_url"):
        resource["licenses"] = [{"title": table_meta["license"],
                                 "path": table_meta["license_url"]}]
    if table_meta.get("source_url"):
        resource["sources"] = [{"title": table_meta["source"], "path": table_meta["source_url"]}]
    return resource


def group_description(group: Group, table_meta: dict) -> str:
    "What a group's files hold: the export's own words, else metadata.yml's for the table."
    if group.export.description is None:
        return table_meta.get("description", "")
    value = "no year (they have no date tabled)" if group.value == NO_DATE_TABLED else group.value
    return group.export.description.format(value=value)


def database_resource(record: list) -> dict:
    return {
        "name": DATABASE_FILE.replace("_", "-"), "type": "file", "path": DATABASE_FILE,
        "title": "The whole database (SQLite)",
        "description": "The SQLite database every other file is made from, with all its tables "
                       "(described in metadata.yml and on Datasette's pages), compressed.",
        "format": "sqlite", "mediatype": "application/vnd.sqlite3", "compression": "gz",
        "bytes": record[1], "hash": "sha256:" + record[0],
    }


def datapackage(resources: list[dict], created: str, homepage: str) -> dict:
    return {
        "name": "written-answers-archive",
        "title": "Written Answers Archive",
        "description": "UK Parliament written questions and their answers, with the members who "
                       "asked and answered them, the answering bodies and the posts ministers "
                       "held. Question and answer text: Open Parliament Licence v3.0. The "
                       "mySociety dataset of the Written Questions API and the Institute for "
                       "Government Ministers Database: CC BY 4.0. `version` is the version of "
                       "the files' layout (semantic versioning: a renamed or removed column is "
                       "a new major version); `created` is when the database was built with "
                       "these rows.",
        "version": SCHEMA_VERSION,
        "created": created,
        "homepage": homepage,
        "licenses": [OPEN_PARLIAMENT_LICENCE, CC_BY],
        "sources": SOURCES,
        "resources": resources,
    }


def sha256sums(digests: dict[str, str]) -> str:
    "The `sha256sum --check` format: digest, two spaces, file name."
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(digests.items()))


# -- the stage -----------------------------------------------------------------------------


@dataclass
class Build:
    "What one build of the downloads has gathered so far."

    output: Output
    manifest: Manifest
    manifest_saved_ns: int | None  # when the last build saved its manifest, if it did
    groups: list[Group] = field(default_factory=list)
    resources: list[dict] = field(default_factory=list)
    page_files: list[dict] = field(default_factory=list)
    skipped: int = 0
    changed: list[str] | None = None  # the questions changed since the last build; None: unknown
    check_all: bool = False  # read every file the last build left, to trust it (`trusted`)

    def reuse_or_make(self, key: str, digest: str, make) -> dict:
        """The manifest entry of a file group: the last build's, if its files were made from
        rows with this digest and are still as written; else `make()`'s, which writes them."""
        entry = self.manifest.previous.get(key)
        if keep(self.output, entry, digest, self.manifest_saved_ns, self.check_all):
            self.skipped += len(entry["files"])
        else:
            entry = make()
        self.manifest.current[key] = entry
        return entry

    def write_group(self, db: sqlite3.Connection, group: Group, names: list[str]) -> dict:
        if group.export.compressed:
            return write_blocks(db, group, names, self.output, self.previous_files(group.stem))
        return write_group(db, group, names, self.output)

    def export_table(self, db: sqlite3.Connection, export: Export, table_meta: dict) -> None:
        "Write the files of an export whose rows changed; describe them all."
        columns = table_columns(db, export.table)
        names = [name for name, _ in columns]
        schema = table_schema(columns, primary_key(db, export.table), table_meta.get("columns", {}))
        for group in self.survey(db, export, names):
            entry = self.reuse_or_make(group.stem, group.digest, lambda group=group: {
                "digest": group.digest, "rows": group.rows, **self.write_group(db, group, names),
                **({"blocks": [astuple(block) for block in group.blocks]} if export.compressed else {})})
            self.groups.append(group)
            for name, format_name in group.files.items():
                self.resources.append(table_resource(name, format_name, group, schema,
                                                     entry["files"][name], table_meta))
            self.page_files.append(page_entry(group, entry, table_meta))

    def survey(self, db: sqlite3.Connection, export: Export, names: list[str]) -> list[Group]:
        """The export's groups: for a compressed one, from the blocks the last build recorded
        and the rows changed since (`changed`), where it can; else from every row."""
        if export.compressed and self.changed is not None:
            groups = survey_changes(db, export, names, self.manifest.previous, self.changed)
            if groups is not None:
                return groups
        return survey(db, export, names)

    def previous_files(self, key: str) -> dict[str, PreviousFile]:
        """The files of a group as the last build wrote them, with their members: those of
        the time and size it recorded (`trusted`) whose members add up to their size; the
        others are made afresh. Trusted by their time alone, a file damaged since could be
        copied from, and the damage recorded as right in the new file's digest, where `answers
        verify` could never find it: so each is hashed whole as it is copied from, and the new
        file is put in place only if the old one held what was recorded (`CheckedSource`)."""
        entry = self.manifest.previous.get(key) or {}
        found = {}
        for name, members in entry.get("members", {}).items():
            if name not in entry["files"]:
                continue
            digest, size = entry["files"][name]
            path = self.output.plain_path(name)
            if (sum(length for _, length in members) == size
                    and trusted(path, entry["files"][name], self.manifest_saved_ns, self.check_all)):
                found[name] = PreviousFile(path, digest, size, members)
        return found

    def export_database(self, db: sqlite3.Connection, db_path: Path) -> dict:
        """Compress the database if what it holds changed. The entry keeps `created`: the
        database's modification time at the first build that saw it so, which a later build
        that rewrote the database with the same rows (or a copy of it) does not move on."""
        digest = database_digest(db, self.groups)
        entry = self.reuse_or_make(DATABASE_FILE, digest, lambda: {
            "digest": digest, "rows": 0, "created": build_time(db_path),
            **write_database(db_path, self.output, self.previous_files(DATABASE_FILE).get(DATABASE_FILE))})
        entry.setdefault("created", build_time(db_path))  # a manifest edited by hand
        self.resources.insert(0, database_resource(entry["files"][DATABASE_FILE]))
        return entry


def write_downloads(db_path: Path, folder: Path, env, config, check_all: bool = False) -> DownloadsReport:
    """Write the downloads folder (`downloads/` in the site): the data files whose rows
    changed, then the descriptions of them all; remove the files of groups that no longer
    exist. The folder is this stage's alone: the site stage leaves it be. `check_all` reads
    every file the last build left before trusting it, to find and repair edits by hand."""
    output = Output(folder)
    saved_ns = modified_ns(output.root / MANIFEST_NAME)
    build = Build(output, Manifest.take(output, downloads_code_version(), is_manifest_entry),
                  saved_ns, check_all=check_all)
    metadata = load_metadata()
    with closing(open_read_only(db_path)) as db:
        position = changes.position(db)
        build.changed = changed_since(db, build.manifest.state, position)
        for export in (QUESTIONS, *TABLES):
            if table_columns(db, export.table):  # a database built without members has no posts
                build.export_table(db, export, metadata.get(export.table, {}))
        database = build.export_database(db, db_path)
    digests = write_descriptions(build, database, env, config)
    removed = remove_unclaimed(output)
    build.manifest.save(position)
    return DownloadsReport(files=len(digests), written=output.written, removed=removed,
                           skipped=build.skipped, unchanged=output.unchanged - build.skipped)


def changed_since(db: sqlite3.Connection, recorded: dict | None, position: dict) -> list[str] | None:
    """The keys of the questions changed since the database was at `recorded` (the position the
    last build saved), from its change log; None when that is not the same database built on
    since by the db stage (another lineage, or not a later generation: a database written in
    place by other means logs its changes under the generation it had)."""
    if not (isinstance(recorded, dict) and recorded.get("lineage") == position["lineage"]
            and isinstance(recorded.get("generation"), int)
            and recorded["generation"] < position["generation"]):
        return None
    return sorted(changes.changed_keys(db, recorded["generation"]))


def write_descriptions(build: Build, database: dict, env, config) -> dict[str, str]:
    """datapackage.json, the page and SHA256SUMS (which covers the other two); returns the
    digest of every file."""
    created = database["created"]
    package = json.dumps(datapackage(build.resources, created, config.absolute(FOLDER)),
                         ensure_ascii=False, indent=1) + "\n"
    digests = {resource["path"]: resource["hash"].removeprefix("sha256:")
               for resource in build.resources}
    digests["datapackage.json"] = bytes_digest(package)
    page = env.get_template("downloads.html").render(
        page_url=FOLDER, title="Downloads", created=created, schema_version=SCHEMA_VERSION,
        database_size=file_size(database["files"][DATABASE_FILE][1]),
        question_count=sum(group.rows for group in build.groups if group.export is QUESTIONS),
        groups=build.page_files, package_size=len(package.encode("utf-8")),
        sums_size=len(sha256sums(dict.fromkeys([*digests, "index.html"], "0" * 64))),
        example=example_files(build.page_files))
    digests["index.html"] = bytes_digest(page)
    sums = sha256sums(digests)
    build.output.write("datapackage.json", package)
    build.output.write("index.html", page)
    build.output.write("SHA256SUMS", sums)
    digests["SHA256SUMS"] = bytes_digest(sums)
    return digests


def page_entry(group: Group, entry: dict, table_meta: dict) -> dict:
    "What the downloads page shows of a group: its files with their sizes, and its rows."
    return {
        "table": group.export.table, "value": group.value, "rows": entry["rows"],
        "description": group_description(group, table_meta),
        "files": [{"name": name, "format": format_name, "size": file_size(entry["files"][name][1])}
                  for name, format_name in group.files.items()],
    }


def example_files(page_files: list[dict]) -> dict:
    "The latest year's question files, for the examples on the page."
    years = [group for group in page_files if group["table"] == QUESTIONS.table
             and group["value"] != NO_DATE_TABLED]
    if not years:
        return {}
    files = {item["format"]: item["name"] for item in years[-1]["files"]}
    return {"year": years[-1]["value"], **files}


def file_size(size: int) -> str:
    "1536 -> '1.5 KB' (powers of 1,000, as file managers show them)."
    for unit in ("bytes", "KB", "MB"):
        if size < 1000:
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def remove_unclaimed(output: Output) -> list[str]:
    """Delete the files in the downloads folder that this build did not write or keep (a year
    that no longer has questions, a table no longer exported, what a killed build left)."""
    removed = []
    for path in sorted(output.root.iterdir()):
        if path.is_file() and path.name != MANIFEST_NAME and str(path) not in output.seen:
            output.changing()
            path.unlink()
            removed.append(path.name)
    return removed + output.remove_leftovers(())
