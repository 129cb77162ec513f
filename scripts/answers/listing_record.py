"""What the listings stage wrote last time, so that a build given the questions that changed
rewrites only the listing pages that show them.

Reads and writes one SQLite file beside the output folder (`build/site.listings.sqlite` for
`build/site`): not in it, where it would be published and where a rebuild must give the same
bytes; not in answers.db, which is the db stage's. It holds:
- `listed`: each question's url, the listings it appeared in ('day:2024-07-17',
  'body:Home Office', 'member:4399', 'heading:schools-finance'), the day they filed it
  under, who asked and who answered it and its heading as sources spelled it, so that the
  listings a question leaves (it moved day, body, member or heading, or was removed) are
  known without scanning every listing, and where it stood in them: the pages older than its
  place, before and after a change, are as they were; where it stood in every respect as
  before (a corrected answer's text), no index counts it differently;
- `pages`: every page the stage wrote, the part of the archive that owns it (a listing as
  above, or 'month:2024-07', 'letter:s', 'home', …), a digest of what it was rendered from
  and whether the sitemap lists it; so that a page whose inputs are unchanged is not rendered
  again, and a page its owner no longer makes is removed;
- `timeliness`: each question's values of the columns the timeliness figures read, so that a
  change that leaves them as they were (a corrected answer's text) leaves the figures, kept in
  `meta`, as they were, and another works out again only the figures of the bodies and months
  its questions were and are in (the archive's from tallies by month, kept in `meta` too);
- `heading_slugs`: the slug of every heading a build has listed, under the code version in
  `meta` (`slugs`): slugging tens of thousands of headings costs more than reading them, and a
  heading's slug depends on nothing else; and by slug, the spellings that share a heading's
  page, so that a build that counts no index of headings counts only its own headings' questions;
- `headings`: the headings' index as the last build counted it (each slug's name and how many
  questions it holds), so that a change counts again only the headings its questions had and
  have, not every question's;
- `meta`: the code version the record was made under. It is deleted before the first change
  and written back with the record, so that a build stopped half way leaves no record and the
  next build renders every listing.
Without a record that is whole and of this code (`holds_pages`), the site stage checks every
file: only the record names the listing pages no longer made. A damaged file counts as none.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import orjson

from . import queries
from .manifest import remove_manifest_files


def record_path(output_root: Path) -> Path:
    "The record of the listings written into `output_root`: beside it."
    return output_root.parent / f"{output_root.name}.listings.sqlite"


def holds_pages(output_root: Path, version: str) -> bool:
    """Whether the record beside `output_root` vouches for the listing pages there: it is there,
    complete, and made by this code (`version`). Without it nothing says which listing pages the
    last build wrote, nor so which of them are no longer made. Read only: a missing file is not made."""
    path = record_path(output_root)
    if not path.is_file():
        return False
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as connection:
            row = connection.execute("select value from meta where name = 'version'").fetchone()
    except sqlite3.Error:  # damaged, or not a record at all
        return False
    return row is not None and row[0] == version


def sitemap_urls(path: Path) -> list[str]:
    """Every page the sitemap lists, in url order, as the record at `path` holds them (read on
    a connection of its own, once the listings have saved and closed it)."""
    with closing(sqlite3.connect(path)) as connection:
        return [url for (url,) in connection.execute("select url from pages where in_sitemap order by url")]


SCHEMA = """
create table if not exists meta (name text primary key, value text);
drop table if exists shown;  -- older layouts of `listed`: without the day,
drop table if exists placed;  -- and without the members and the heading
create table if not exists listed (key text primary key, url text, owners text, day text,
                                   asker text, answerer text, heading text);
create table if not exists pages (url text primary key, owner text, digest text, in_sitemap integer);
create index if not exists pages_owner on pages (owner);
create table if not exists timeliness (key text primary key, inputs text);
create table if not exists heading_slugs (heading text primary key, slug text);
create index if not exists heading_slugs_slug on heading_slugs (slug);
create table if not exists headings (slug text primary key, name text, count integer);
"""


# Up to this many headings (a change's) are looked up one by one; for more, reading the whole
# table of slugs costs less.
FEW_HEADINGS = 1000


@dataclass(frozen=True)
class Placed:
    """Where a question was listed: its url, the listings that showed it, the day they filed it
    under; and what decides its place within them besides: a member's listing files it under
    each role the member had (asked, answered), and a heading's is titled by the spelling that
    most of its questions carry."""
    url: str
    owners: list[str]
    day: str | None
    asker: str | None
    answerer: str | None
    heading: str | None

    def sort_key(self, key: str) -> tuple[str, str]:
        "Where it stands in a listing, oldest first (listings show the newest first)."
        return (self.day or "", key)


@dataclass(frozen=True)
class PageEntry:
    owner: str
    digest: str
    in_sitemap: bool


class ListingRecord:
    def __init__(self, path: Path, version: str) -> None:
        self.path = path
        self.version = version
        self.connection = sqlite3.connect(path)
        try:
            self.connection.executescript(SCHEMA)
        except sqlite3.DatabaseError:  # damaged, or no SQLite file at all: it counts as none
            self.connection.close()
            remove_manifest_files(path)
            self.connection = sqlite3.connect(path)
            self.connection.executescript(SCHEMA)

    def close(self) -> None:
        self.connection.close()

    def is_current(self) -> bool:
        "Whether the record is complete and was made by the same code (else: render everything)."
        row = self.connection.execute("select value from meta where name = 'version'").fetchone()
        return row is not None and row[0] == self.version

    def meta(self, name: str) -> str | None:
        row = self.connection.execute("select value from meta where name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, values: dict) -> None:
        "Record facts about the last build (JSON values) beside the code version, those that differ."
        changed = {name: value for name, value in values.items() if self.meta(name) != value}
        if changed:
            with self.connection:
                self.connection.executemany("insert or replace into meta values (?, ?)",
                                            ((name, json.dumps(value)) for name, value in changed.items()))

    def withdraw(self) -> None:
        "Say the record no longer vouches for the output (a file is about to change)."
        with self.connection:
            self.connection.execute("delete from meta where name = 'version'")

    # -- reading ---------------------------------------------------------------------------

    def shown(self, keys: Iterable[str]) -> dict[str, Placed]:
        "Key -> where it was listed, for those of `keys` that the record holds."
        rows = self.connection.execute(
            "select key, url, owners, day, asker, answerer, heading from listed"
            " where key in (select value from json_each(?))", (json.dumps(sorted(keys)),))
        return {key: Placed(url, json.loads(owners), *rest) for key, url, owners, *rest in rows}

    def timeliness_inputs(self, keys: Iterable[str]) -> dict[str, list]:
        "Key -> what the timeliness figures read of it, for those of `keys` that the record holds."
        rows = self.connection.execute(
            "select key, inputs from timeliness where key in (select value from json_each(?))",
            (json.dumps(sorted(keys)),))
        return {key: json.loads(inputs) for key, inputs in rows}

    def page(self, url: str) -> PageEntry | None:
        row = self.connection.execute(
            "select owner, digest, in_sitemap from pages where url = ?", (url,)).fetchone()
        return PageEntry(row[0], row[1], bool(row[2])) if row else None

    def pages_of(self, owners: Iterable[str] | None) -> dict[str, PageEntry]:
        "Url -> entry of every page the named owners had (of every page, when `owners` is None)."
        # Two statements, not one with 'where ? is null or …': SQLite would then read every page
        # of the archive's listings to find a few owners', where the index on owners finds them.
        if owners is None:
            rows = self.connection.execute("select url, owner, digest, in_sitemap from pages")
        else:
            rows = self.connection.execute(
                "select url, owner, digest, in_sitemap from pages where owner in (select value from json_each(?))",
                (json.dumps(sorted(owners)),))
        return {url: PageEntry(owner, digest, bool(in_sitemap))
                for url, owner, digest, in_sitemap in rows}

    def owners_with_prefix(self, prefix: str) -> set[str]:
        "The owners of pages whose names start with `prefix` ('letter:')."
        return {owner for (owner,) in self.connection.execute(
            "select distinct owner from pages where substr(owner, 1, length(?)) = ?", (prefix, prefix))}

    def sitemap_count(self) -> int:
        "How many pages the sitemap lists."
        return self.connection.execute("select count(*) from pages where in_sitemap").fetchone()[0]

    def heading_slugs(self, headings: list[str], slug: Callable[[str], str]) -> dict[str, str]:
        """Heading -> `slug(heading)`, for each of `headings`: read from the record where it was
        kept under this code version, else worked out and kept (all of them, under other code).
        Every heading a build lists is kept so: `headings_slugged` finds a slug's spellings."""
        with self.connection as connection:
            if self.meta("slugs") != self.version:
                connection.execute("delete from heading_slugs")
                connection.execute("insert or replace into meta values ('slugs', ?)", (json.dumps(self.version),))
            few = "where heading in (select value from json_each(?))" if len(headings) < FEW_HEADINGS else ""
            kept = queries.one_step_dict(connection, f"select heading as value, slug as n from heading_slugs {few}",
                                         (json.dumps(headings),) if few else ())
            new = {heading: slug(heading) for heading in headings if heading not in kept}
            connection.executemany("insert into heading_slugs values (?, ?)", new.items())
        return {heading: kept.get(heading) or new[heading] for heading in headings}

    def heading_index(self) -> dict[str, dict]:
        "Slug -> the heading's name and count, as the last build counted them (`headings`)."
        [(found,)] = self.connection.execute(
            "select json_group_object(slug, json_object('name', name, 'count', count)) from headings").fetchall()
        return orjson.loads(found)

    def headings_slugged(self, slugs: Iterable[str]) -> dict[str, str]:
        """Heading -> slug, of every heading kept (`heading_slugs`) with one of these slugs: some
        may no longer be any question's."""
        return queries.one_step_dict(
            self.connection, "select heading as value, slug as n from heading_slugs"
            " where slug in (select value from json_each(?))", (json.dumps(sorted(slugs)),))

    # -- writing ---------------------------------------------------------------------------

    def write_pages(self, connection: sqlite3.Connection, pages: dict[str, PageEntry]) -> None:
        "Within a transaction: these pages' entries, and the version that makes the record current."
        connection.executemany(
            "insert or replace into pages values (?, ?, ?, ?)",
            ((url, e.owner, e.digest, int(e.in_sitemap)) for url, e in pages.items()))
        connection.execute("insert or replace into meta values ('version', ?)", (self.version,))

    def save_pages(self, pages: dict[str, PageEntry]) -> None:
        """Record these pages alone, each the only page of its owner (the About page), as a
        build that changed no question wrote them; the record vouches for the output again."""
        with self.connection as connection:
            self.write_pages(connection, pages)

    def save(self, shown: Iterable[tuple[str, Placed]], forget: Iterable[str],
             pages: dict[str, PageEntry], owners: Iterable[str] | None,
             timeliness_inputs: Iterable[tuple[str, list]], figures: list[dict], tallies: dict[str, list],
             headings: dict[str, dict | None]) -> None:
        """Record what this build showed and wrote, in one transaction: `shown` and
        `timeliness_inputs` (pairs of a key and its entry, read as they are saved) replace the
        entries of their keys and `forget` drops keys no longer in the archive; `pages` replaces
        every page of `owners` (all pages, and all questions, when `owners` is None: a full
        build); `figures` are the timeliness figures shown and
        `tallies` what the archive's were made from (saved with them: each vouches for the other);
        `headings` replace the index entries of their slugs (None: the slug has no questions)."""
        forgotten = (json.dumps(sorted(forget)),)
        with self.connection as connection:
            if owners is None:
                for table in ("pages", "listed", "timeliness", "headings"):
                    connection.execute(f"delete from {table}")
            else:
                connection.execute("delete from pages where owner in (select value from json_each(?))",
                                   (json.dumps(sorted(owners)),))
            for table in ("listed", "timeliness"):
                connection.execute(f"delete from {table} where key in (select value from json_each(?))",
                                   forgotten)
            connection.executemany(
                "insert or replace into timeliness values (?, ?)",
                ((key, json.dumps(inputs)) for key, inputs in timeliness_inputs))
            connection.executemany("insert or replace into meta values (?, ?)",
                                   [("figures", json.dumps(figures)), ("tallies", json.dumps(tallies))])
            connection.executemany(
                "insert or replace into listed values (?, ?, ?, ?, ?, ?, ?)",
                ((key, place.url, json.dumps(sorted(place.owners)), place.day, place.asker, place.answerer,
                  place.heading) for key, place in shown))
            connection.executemany("delete from headings where slug = ?",
                                   ((slug,) for slug, entry in headings.items() if entry is None))
            connection.executemany("insert or replace into headings values (?, ?, ?)",
                                   ((slug, entry["name"], entry["count"]) for slug, entry in headings.items() if entry))
            self.write_pages(connection, pages)
