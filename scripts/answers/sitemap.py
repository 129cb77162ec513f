"""The sitemap: every listing page and question page, for search engines.

Reads the questions' urls and dates from answers.db and the listing urls from the listings'
report; writes `sitemap.xml` into the site's `Output`. While the archive has at most 50,000
pages that one file lists them all; beyond, it is an index of parts, each of at most 50,000
urls: one for the listings and one for each house and month in the questions' urls
(`sitemap-commons-2024-08.xml`, split in numbered chunks if one outgrows the limit). A
question's url never changes, so a new question enters the part of its month and shifts no
other part: a build given the changed questions rewrites only their parts (and the listings'
part when listing pages came or went), each a few thousand urls.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from . import queries, urls
from .listings import ListingsReport
from .output import Output
from .render import real_date

SITEMAP_LIMIT = 50_000  # URLs per sitemap file (the sitemaps protocol's limit)
LISTINGS = "listings"  # the part that lists the listing pages


@dataclass(frozen=True)
class Part:
    group: str  # LISTINGS, a house and month ('commons/2024-08'), or 'other'
    chunk: int  # 0-based slice of the group's urls, in url order
    chunks: int

    @property
    def name(self) -> str:
        name = self.group.replace("/", "-")
        return urls.sitemap_part(name if self.chunks == 1 else f"{name}-{self.chunk + 1}")


def plan(listing_count: int, part_sizes: dict[str, int]) -> list[Part]:
    "The parts: each group cut in as few chunks as the limit allows."
    sizes = {LISTINGS: listing_count, **part_sizes}
    return [Part(group, chunk, chunks)
            for group, size in sorted(sizes.items()) if size
            for chunks in [-(-size // SITEMAP_LIMIT)]
            for chunk in range(chunks)]


def listing_entries(listing_urls: list[str]) -> list[tuple[str, str | None]]:
    "(url, None) for each listing page, in url order: listings carry no date."
    return [(url, None) for url in sorted(listing_urls)]


def question_entries(db: sqlite_utils.Database, group: str | None = None) -> list[tuple[str, str | None]]:
    "(url, the day it last changed) for each question (of one part), in url order."
    return [(row["url"], real_date(row["lastmod"])) for row in queries.sitemap_rows(db, group)]


def write_sitemaps(output: Output, env, db: sqlite_utils.Database, listed: ListingsReport,
                   changed_rows: set[str] | None = None) -> list[str]:
    """Write the sitemap of the listings in `listed` and every question: every part after a
    full listings build, else the parts that list a question that changed, the listings' part
    if listing pages came or went, the parts not there yet, and the index. Returns the files of
    parts no longer needed, removed. `changed_rows`, where known: the questions whose rows
    changed, of all those the listings were given: only these can have come or changed their
    date (a question whose page changed for what it shows of another keeps its entry)."""
    part_sizes = queries.sitemap_part_sizes(db)
    if listed.count + sum(part_sizes.values()) <= SITEMAP_LIMIT:
        parts: list[Part] = []
        render(output, env, urls.SITEMAP, listing_entries(listed.urls) + question_entries(db))
    else:
        parts = plan(listed.count, part_sizes)
        changed = None if listed.question_urls is None else changed_groups(db, listed, changed_rows)
        for part in parts:
            if changed is None or part.group in changed or not output.path_for(part.name).is_file():
                render(output, env, part.name, part_entries(db, listed, part))
        output.write(urls.SITEMAP, env.get_template("sitemap_index.xml").render(
            page_url=urls.HOME, sitemaps=[part.name for part in parts]))
    wanted = {part.name for part in parts}
    return output.remove(sorted(path.name for path in output.root.glob(urls.sitemap_part("*"))
                                if path.name not in wanted))


def changed_groups(db: sqlite_utils.Database, listed: ListingsReport, changed_rows: set[str] | None) -> set[str]:
    """The groups whose parts list a question that changed, and the listings' if listings came
    or went. A changed row that is no longer stored leaves only the listings' urls to go by."""
    question_urls = listed.question_urls
    found = queries.urls_of(db, changed_rows) if changed_rows is not None else {}
    if changed_rows is not None and len(found) == len(changed_rows):
        question_urls = sorted(found.values())
    return (queries.sitemap_parts_of(db, question_urls)
            | ({LISTINGS} if listed.urls_changed else set()))


def part_entries(db, listed: ListingsReport, part: Part) -> list[dict]:
    entries = (listing_entries(listed.urls) if part.group == LISTINGS
               else question_entries(db, part.group))
    return entries[part.chunk * SITEMAP_LIMIT:(part.chunk + 1) * SITEMAP_LIMIT]


def render(output: Output, env, name: str, entries: list[tuple[str, str | None]]) -> None:
    """One sitemap file of these (url, lastmod) entries. The absolute addresses are made here,
    in one pass: a call from the template for each of tens of thousands of entries costs more
    than the rest of the file."""
    config = env.globals["config"]
    entries = [(config.absolute(url), lastmod) for url, lastmod in entries]
    output.write(name, env.get_template("sitemap.xml").render(page_url=urls.HOME, entries=entries))
