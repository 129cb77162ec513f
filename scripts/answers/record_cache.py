"""The search records kept between builds: each question's record HTML (search.py's
`records`), so that re-indexing a bundle renders only the questions whose row changed.

Reads and writes one SQLite file beside the site folder (for `build/site`,
`build/site.search-records.sqlite`: outside the published folder). An entry is keyed by the
question's URL and holds the digest of what its record was made from (the record code's
version and the question's row) with the record: a row or code that differs misses, and the
record is rendered and stored again. A build that checks every bundle drops the entries of
questions no longer in the archive, so the file holds one archive's records plus those of
questions removed since.

It is only a cache: a file that cannot be read or written is replaced or left alone, and
costs speed, never a record.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import orjson

SUFFIX = ".search-records.sqlite"
FORMAT = "2"  # the layout of the file; a file of another layout is replaced
# A rowid table, its URLs in an index beside: without rowids, records of a kilobyte and more
# filled the tree's interior pages too (the archive's records took 262 MB, not 95 MB, and
# finding a bundle's took three times as long).
TABLE = """
create table if not exists records (
    url text primary key,
    digest text not null,  -- sha256 of the record code's version and the question's row
    html text not null
);
create table if not exists facts (name text primary key, value text not null);
"""


def cache_path(site_dir: Path) -> Path:
    "The records of a site folder: beside it, never inside what is published."
    site_dir = Path(site_dir)
    return site_dir.with_name(site_dir.name + SUFFIX)


def row_digest(version: str, row: dict) -> str:
    """What a record is made from: the record code's version and its question's row, as
    compact JSON with sorted keys. Written by orjson, whose bytes are json.dumps's for a row's
    text, integers and nulls (the same digests over the whole corpus, in a third of the time)."""
    try:
        text = orjson.dumps(row, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits, which json writes
        text = json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(f"{version}\0".encode() + text).hexdigest()


class RecordCache:
    "The kept records of one site folder, opened for one indexing."

    def __init__(self, site_dir: Path):
        self.path = cache_path(site_dir)
        self.connection = self.open()

    def open(self) -> sqlite3.Connection | None:
        "The cache's connection, a file of another layout or a corrupt one replaced; None if neither."
        for _attempt in range(2):
            try:
                connection = sqlite3.connect(self.path, isolation_level=None)
                # A cache may lose its last writes in a power cut; builds need not wait for the disk.
                connection.execute("pragma synchronous = off")
                connection.executescript(TABLE)
                found = connection.execute("select value from facts where name = 'format'").fetchone()
                if found is None:
                    connection.execute("insert into facts values ('format', ?)", [FORMAT])
                elif found[0] != FORMAT:
                    raise sqlite3.DatabaseError("another layout")
                return connection
            except sqlite3.Error:
                if "connection" in locals():
                    connection.close()
                self.path.unlink(missing_ok=True)
        return None

    def kept(self, urls: list[str]) -> dict[str, tuple[str, str]]:
        "url -> (digest, record HTML) of the kept records among these URLs."
        if self.connection is None:
            return {}
        try:
            rows = self.connection.execute(
                "select url, digest, html from records where url in (select value from json_each(?))",
                [json.dumps(urls)])
            return {url: (digest, html) for url, digest, html in rows}
        except sqlite3.Error:
            self.close()
            return {}

    def keep(self, entries: list[tuple[str, str, str]]) -> None:
        "Store (url, digest, record HTML) entries, in one transaction."
        if self.connection is None or not entries:
            return
        try:
            with self.connection:
                self.connection.execute("begin")
                self.connection.executemany(
                    "insert or replace into records (url, digest, html) values (?, ?, ?)", entries)
        except sqlite3.Error:
            self.close()

    def keep_only(self, urls: list[str]) -> None:
        "Drop the entries of every URL but these (those of the whole archive)."
        if self.connection is None:
            return
        try:
            with self.connection:
                self.connection.execute("begin")
                self.connection.execute(
                    "delete from records where url not in (select value from json_each(?))",
                    [json.dumps(urls)])
        except sqlite3.Error:
            self.close()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
