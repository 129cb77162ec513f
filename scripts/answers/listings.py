"""Listings from the database: home, by day, by answering body, by member, by heading, and
the About, API, search and 404 pages. Each paginated listing has a JSON twin.

Reads answers.db and the record of the last build's listings (listing_record.py); writes the
listing pages into the site's `Output` and brings the record up to date.

Given no change set, every listing is rendered (a first or full build): a day's, a body's
or a heading's read a page at a time, a member's whole (their own page shows the newest of both
their lists), so that a full build holds the largest member's listing, not every question. Given the keys of the
questions that changed, only the listings that show one of them, before or after the change,
are loaded and rendered, with the pages that count them (home, About, the indexes, the
month, year and letter pages of those listings); within those, a page whose inputs are the
same as last time is not rendered again, and a page that is no longer made is removed. A
body's listing, the longest, is read only from the oldest page that a changed question's
place, before or after the change, can alter (the record keeps each question's place); where
the changed questions kept their places in a body's listing, only the pages that hold them and
the newest are read and made.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import asdict, dataclass, field
from functools import cached_property, partial
from itertools import chain, groupby
from operator import itemgetter

import orjson
import sqlite_utils

from . import changes, clean, listing_record, model, queries, render, timeliness, urls
from .listing_record import ListingRecord, PageEntry, Placed, record_path
from .output import Output, inputs_digest, stage_code_digest
from .queries import Names
from .render import SITE_TEMPLATES, SiteConfig, real_date, render_markdown, to_json_bytes

PAGE_SIZE = 50
HOME_LATEST = 20
MEMBER_PREVIEW = 10
SNIPPET = 220  # characters of the answer shown under each item
MOST_USED_HEADINGS = 40  # on the headings' index
# Beyond this many listings to load, one read of every question is cheaper than a query each.
ONE_READ_OWNERS = 40
# The listings whose pages show only their items besides what the names decide (a change to
# those renders every listing): where the changed questions kept their places (a member's
# listing: in the same lists; a heading's, titled by its most used spelling: spelled as before),
# only the pages holding them, and the newest, change.
SETTLING_KINDS = ("body:", "member:", "heading:", "day:")
# The kinds of listing that show questions (queries.LISTED_UNDER), each a listing of each value.
LISTING_KINDS = ("body", "day", "heading", "member")
PAGED_KINDS = ("body", "day", "heading")  # read a page at a time by a full build (`write_everything`)
# How many questions' item digests and twins a build keeps at most: a question is listed four
# or five times, and a full build, reading one kind of listing after another, would otherwise
# keep every question's.
ITEM_CACHE_LIMIT = 20_000


@dataclass
class ListingsReport:
    count: int  # how many listing pages the sitemap lists
    # Their urls, in url order: read from the record only when asked for (`urls`), as most
    # builds render no sitemap part that lists them and need only how many there are.
    read_urls: Callable[[], list[str]]
    removed: list[str] = field(default_factory=list)  # files removed (by a build given changes)
    urls_changed: bool = True  # whether that list of urls may differ from the last build's
    # The urls of the questions that changed (None after a full build: all may have).
    question_urls: list[str] | None = None

    @cached_property
    def urls(self) -> list[str]:
        "Every listing page the sitemap lists, in url order."
        return self.read_urls()


# Every template the listings render, and the text of the API page: the listings' version
# names these (and what they extend or import), so a change to another kind of page's template
# leaves the listings as they are.
LISTING_TEMPLATES = ("listing.html", "moved.html", "home.html", "calendar.html", "index_list.html",
                     "member.html", "members.html", "headings.html", "about.html", "api.html",
                     "search.html", "404.html", "timeliness.html")
API_TEXT = "api.md"


@dataclass
class ListingWriter:
    """Renders listing pages into the output, each under its owner (the listing or index it
    belongs to), skipping those whose inputs match the record when `full` is false."""

    db: sqlite_utils.Database
    env: object
    output: Output
    config: SiteConfig
    record: ListingRecord
    full: bool = True
    pages: dict[str, PageEntry] = field(default_factory=dict)
    # Listing owner -> the changed questions it shows, where each kept its place (a corrected
    # answer's text): its pages that hold none of them are as the record holds them.
    settled: dict[str, set[str]] = field(default_factory=dict)
    # Question key -> its item's digest and its entry in the JSON twins, worked out once a build
    # however many listings show it (its day, body, members and heading: four or five each).
    # By key: every item of a question that a build loads is made from the same row.
    item_digests: dict[str, str] = field(default_factory=dict)
    item_twins: dict[str, dict] = field(default_factory=dict)

    def page(self, template: str, url: str, context: dict, twin: dict | Callable[[], dict] | None = None,
             owner: str | None = None, in_sitemap: bool = True, inputs: dict | None = None) -> None:
        """One page and its twin. A twin given as a function is made from the context alone:
        only the context is digested, and the twin is made only if the page is rendered (an
        index's twin holds the entries its page lists: digested once, not twice). `inputs`, where
        given, is digested instead of the context: the context with its items told by their digests."""
        made_later = callable(twin)
        entry = PageEntry(url if owner is None else owner,
                          inputs_digest(template, context if inputs is None else inputs,
                                        None if made_later else twin), in_sitemap)
        self.pages[url] = entry
        if not self.full and self.record.page(url) == entry:
            return  # rendered from the same inputs by the last build
        # The page's own `link`: a plain function, which Jinja2 calls for less than the global one.
        html = listing_template(self.env, template).render(dict(context, page_url=url, link=urls.links_from(url)))
        self.output.write(urls.html_file(url), html)
        if twin is not None:
            self.output.write(urls.json_twin(url), to_json_bytes(twin() if made_later else twin))

    def paginate(self, url: str, items: list[dict], context: dict, owner: str,
                 newest_only: dict | None = None, total: int | None = None) -> None:
        """A listing in pages of PAGE_SIZE, each with its JSON twin.

        Pages are numbered from the oldest item, so that a page keeps its content when new
        items arrive: page 1 (`page/1/`) holds the 50 oldest, page 2 the next 50, and so on.
        The newest page, partly filled, is the listing's own url; its number's url
        (`page/N/`) is a short page that sends readers there, so that the page before it can
        link to `page/N/` for good, and that url is already there when the page fills and a
        new newest page starts. A new item thus rewrites the listing's url, and when it starts
        a new page, the full page it leaves behind and the new forwarding page; older pages
        say nothing that changes (no total, no count of pages). Each page lists its items
        newest first. `items` come newest first; `newest_only` joins the newest page's context
        alone (what older pages do not show must not make them render again). Given `total`,
        `items` are the newest of that many, whole pages' worth below the newest page: the
        older pages are carried over from the record, as the last build made them."""
        total = len(items) if total is None else total
        kept = (total - len(items)) // PAGE_SIZE
        self.keep_pages(url, kept)
        oldest_first = items[::-1]
        count = page_count(total)
        for number in range(kept + 1, count + 1):
            chunk = oldest_first[(number - 1 - kept) * PAGE_SIZE:(number - kept) * PAGE_SIZE][::-1]
            if not (number < count and self.is_settled(owner, chunk) and self.keep_page(urls.page_url(url, number))):
                self.listing_page(url, chunk, number, total, context, owner, newest_only)
        self.forward_page(url, count, context, owner)

    def paginate_in_order(self, url: str, total: int, pages: Iterable[tuple[int, list[dict]]], context: dict,
                          owner: str, newest_only: dict | None = None) -> None:
        """Every page of a listing of `total` items, as a full build's `paginate` makes them from
        the whole list, from `pages`: each page's number and items (newest first), the oldest first."""
        for number, chunk in pages:
            self.listing_page(url, chunk, number, total, context, owner, newest_only)
        self.forward_page(url, page_count(total), context, owner)

    def paginate_pages(self, url: str, chunks: dict[int, list[dict]], total: int, context: dict, owner: str,
                       newest_only: dict | None = None) -> None:
        """Only the pages in `chunks` (page number -> its items, newest first) of a listing of
        `total` items, as `paginate` makes them; the others are carried over from the record,
        which must hold them: the caller knows that they are as the last build made them."""
        count = page_count(total)
        for number in range(1, count + 1):
            if number in chunks:
                self.listing_page(url, chunks[number], number, total, context, owner, newest_only)
            elif not self.keep_page(urls.page_url(url, number)):
                raise ValueError(f"{urls.page_url(url, number)} is not in the listings' record: it cannot be kept")
        self.forward_page(url, count, context, owner)

    def forward_page(self, url: str, count: int, context: dict, owner: str) -> None:
        "The short page at the newest page's number that sends readers to the listing's url."
        if count > 1:
            forward = urls.page_url(url, count)
            self.page("moved.html", forward, {"title": context["title"], "target": url,
                                            "canonical": self.config.absolute(url)},
                      twin={"title": context["title"], "moved_to": self.config.absolute(urls.json_twin(url))},
                      owner=owner, in_sitemap=False)

    def is_settled(self, owner: str, chunk: list[dict]) -> bool:
        """Whether a page of this owner's listing holds none of the changed questions, all of
        which kept their places in it: then every item on it is where and as it was."""
        return owner in self.settled and self.settled[owner].isdisjoint(item["key"] for item in chunk)

    def keep_page(self, page_url: str) -> bool:
        "Carry a page over as the record holds it, if it does: not rendered, nor digested."
        entry = self.record.page(page_url)
        if entry is not None:
            self.pages[page_url] = entry
        return entry is not None

    def keep_pages(self, url: str, count: int) -> None:
        "The first `count` pages of a listing, as the record holds them: not rendered again."
        for number in range(1, count + 1):
            page_url = urls.page_url(url, number)
            entry = self.record.page(page_url)
            if entry is None:
                raise ValueError(f"{page_url} is not in the listings' record: it cannot be kept")
            self.pages[page_url] = entry

    def listing_page(self, url: str, chunk: list[dict], number: int, total: int, context: dict,
                     owner: str, newest_only: dict | None) -> None:
        "Page `number` of a listing of `total` items, holding `chunk` (newest first)."
        pagination = page_links(url, number, page_count(total), total)
        extra = (newest_only or {}) if pagination["is_newest"] else {}
        shown = dict(context, **extra, pagination=pagination)
        self.page("listing.html", pagination["url"], dict(shown, items=chunk),
                  twin=partial(listing_twin, context, chunk, pagination, self.config, self.item_twin), owner=owner,
                  inputs=dict(shown, items=[self.item_digest(item) for item in chunk]))

    def item_digest(self, item: dict) -> str:
        "A digest of what a listing shows of a question (`as_item`), worked out once a build."
        digest = self.item_digests.get(item["key"])
        if digest is None:
            digest = self.item_digests[item["key"]] = inputs_digest(item)
            bound(self.item_digests)
        return digest

    def item_twin(self, item: dict) -> dict:
        "A question's entry in the listings' JSON twins (`twin_item`), made once a build."
        twin = self.item_twins.get(item["key"])
        if twin is None:
            twin = self.item_twins[item["key"]] = twin_item(item, self.config)
            bound(self.item_twins)
        return twin


def bound(cache: dict) -> None:
    "Start a cache of items again once it holds ITEM_CACHE_LIMIT of them."
    if len(cache) > ITEM_CACHE_LIMIT:
        cache.clear()


def page_count(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))




def newest_page_size(total: int) -> int:
    "How many items the newest page of a listing of `total` items holds."
    return total - (page_count(total) - 1) * PAGE_SIZE


def page_links(url: str, number: int, count: int, total: int) -> dict:
    """Where page `number` of `count` lives and what it links to. Only the newest page (the
    listing's own url) states the total and the count, which change with every new item."""
    is_newest = number == count
    links = {
        "url": url if is_newest else urls.page_url(url, number), "number": number,
        "is_newest": is_newest, "newest": url,
        "first": (number - 1) * PAGE_SIZE + 1,  # positions counted from the oldest item
        "last": min(number * PAGE_SIZE, total),
        "older": urls.page_url(url, number - 1) if number > 1 else None,
        "newer": None if is_newest else urls.page_url(url, number + 1),
    }
    if is_newest:
        links.update(count=count, total=total, size=PAGE_SIZE)
    return links


def listing_twin(context: dict, items: list[dict], pagination: dict, config: SiteConfig,
                 item_twin: Callable[[dict], dict]) -> dict:
    "A listing page's JSON twin; `item_twin` gives each item's entry (`twin_item`)."
    def absolute(url):
        return config.absolute(urls.json_twin(url)) if url else None

    twin = {"title": context["title"], "page": pagination["number"]}
    if pagination.get("is_newest", True):
        twin.update(pages=pagination["count"], total=pagination["total"])
    else:
        twin.update(first=pagination["first"], last=pagination["last"])
    twin.update(next=absolute(pagination["older"]), previous=absolute(pagination["newer"]))
    twin["items"] = [item_twin(item) for item in items]
    return twin


def twin_item(item: dict, config: SiteConfig) -> dict:
    "A question as a listing's JSON twin lists it."
    return {"key": item["key"], "url": config.absolute(item["url"]),
            "json": config.absolute(urls.json_twin(item["url"])), "title": item["title"],
            "house": item["house"], "uin": item["uin"], "date_tabled": item["date_tabled"],
            "date_answered": item["date_answered"],
            "answering_body": item["body"]["name"] if item["body"] else None,
            "asking_member": item["asker"]["name"] if item["asker"] else None,
            "answering_member": item["answerer"]["name"] if item["answerer"] else None}


# -- what listings show ------------------------------------------------------------------


@dataclass
class Reference:
    """What every listing item and index names: members (their posts, and which of them asked or
    answered a question), bodies, and each heading as sources spelled it, with its slug and how
    many questions carry it. Read once a build."""
    members: dict[str, dict]
    bodies: dict[str, dict]
    heading_counts: dict[str, int]
    posts: dict[str, list[dict]] = field(default_factory=dict)
    named_member_ids: list[str] = field(default_factory=list)
    heading_slugs: dict[str, str] | None = None  # heading -> its slug; None: worked out here

    def __post_init__(self) -> None:
        if self.heading_slugs is None:
            self.heading_slugs = {h: urls.heading_slug(h) for h in self.heading_counts if h}

    @classmethod
    def load(cls, db, names: Names, record: ListingRecord, slugs: set[str] | None = None) -> Reference:
        """The reference, given the names already read (`Names.load`); the headings' slugs are
        those the record kept, only new headings are slugged. With `slugs`, of the headings only
        those of these slugs, each with every spelling the record slugged to it: enough for
        their listings, not for the indexes of headings (counting every question's heading
        costs a build that changed a few answers more than the rest of its listings)."""
        if slugs is None:
            counts = queries.count_by(db, "heading")
            spelled = record.heading_slugs([h for h in counts if h], urls.heading_slug)
        else:
            spelled = record.headings_slugged(slugs)
            counts = queries.count_headings(db, list(spelled))
        return cls(names.members, names.bodies, counts, names.posts, names.named_member_ids,
                   {heading: spelled[heading] for heading in counts if heading})

    @classmethod
    def placing(cls, names: Names, heading_slugs: dict[str, str]) -> Reference:
        "Enough to tell where questions of these headings are listed (`owners_of`), not to list them."
        return cls(names.members, names.bodies, {}, names.posts, names.named_member_ids, heading_slugs)

    @cached_property
    def headings(self) -> dict[str, dict]:
        return count_headings(self)

    def spellings(self, slug: str) -> list[str]:
        "The headings (as sources spelled them) that share the page of this slug."
        return sorted(h for h, h_slug in self.heading_slugs.items() if h_slug == slug)


def as_item(row, reference: Reference) -> dict:
    "A question as a listing shows it."
    snippet = row["snippet"] or ""
    return {
        "key": row["key"], "url": row["url"], "uin": row["uin"], "house": row["house"],
        "heading": row["heading"],
        "title": urls.question_title(row),
        "date_tabled": row["date_tabled"], "date_answered": row["date_answered"],
        "day": row["day"],
        "body": reference.bodies.get(row["answering_body"]),
        "asker": reference.members.get(row["asking_member_id"]),
        "answerer": reference.members.get(row["answering_member_id"]),
        "asker_id": row["asking_member_id"], "answerer_id": row["answering_member_id"],
        "snippet": snippet[:SNIPPET] + ("…" if len(snippet) > SNIPPET else ""),
        "is_holding": row["is_holding"], "is_withdrawn": row["is_withdrawn"],
        "is_correction": row["is_correction"],
    }


def load_items(db, reference: Reference, kind: str = "all", value=None, limit: int = -1,
               offset: int = 0) -> list[dict]:
    """The questions of one kind of listing (every question by default), newest first: the
    first `limit` of them (-1: all) after the first `offset`."""
    return [as_item(row, reference) for row in queries.listing_rows(db, SNIPPET + 1, kind, value, limit, offset)]


def owners_of(place: dict, reference: Reference) -> list[str]:
    """The listings that show a question (`place` has its day, answering body, asking and
    answering member ids and heading): 'day:…', 'body:…', 'member:…' and 'heading:…'."""
    owners = []
    for kind, column in PLACE_KINDS:
        if (value := listed_under(kind, place[column], reference)) and f"{kind}:{value}" not in owners:
            owners.append(f"{kind}:{value}")
    return owners


# Each listing that may show a question, in the order `owners_of` names them: its kind, and
# the column of the question's place that it files the question under.
PLACE_KINDS = (("day", "day"), ("body", "answering_body"), ("member", "asking_member_id"),
               ("member", "answering_member_id"), ("heading", "heading"))


def listed_under(kind: str, value: str | None, reference: Reference) -> str | None:
    """Which listing of this kind shows a question filed under `value` (its day, answering body,
    member id or heading), named as its owner names it after the kind: None where none does."""
    if not value:
        return None
    if kind == "day":
        return real_date(value)
    if kind == "body":
        return value if value in reference.bodies else None
    if kind == "heading":
        return reference.heading_slugs.get(value) or urls.heading_slug(value)
    return value


def listed_groups(db, reference: Reference, kinds: Iterable[str] = LISTING_KINDS) -> Iterator[tuple[str, list[dict]]]:
    """(owner, its items, newest first) of every listing of these kinds that shows a question,
    in owner order: what the listings show, read one listing at a time (the largest listing is
    held, not the archive). A member's items are those they asked and answered together."""
    for kind in sorted(kinds):
        for owner, rows in queries.grouped_listing_rows(db, SNIPPET + 1, kind, owners_of_kind(db, kind, reference)):
            yield f"{kind}:{owner}", [as_item(row, reference) for row in rows]


def listed_pages(db, reference: Reference, kind: str) -> Iterator[tuple[str, int, Iterator[tuple[int, list[dict]]]]]:
    """(owner, how many items its listing holds, its pages: (number, its items newest first),
    the oldest first) of every listing of one kind that shows a question, in owner order: what
    `listed_groups` gives, read a page at a time, so that a full build holds one page and not the
    largest listing (the longest body's holds a seventh of the archive). Each owner's pages are
    to be taken before the next owner's."""
    pages = queries.grouped_listing_pages(db, SNIPPET + 1, kind, owners_of_kind(db, kind, reference), PAGE_SIZE)
    for owner, found in groupby(pages, key=itemgetter(0)):
        first = next(found)
        yield (f"{kind}:{owner}", first[1],
               ((number, [as_item(row, reference) for row in rows]) for *_, number, rows in chain([first], found)))


def owners_of_kind(db, kind: str, reference: Reference) -> dict:
    "Each value questions are filed under by one kind of listing -> the listing that shows them (`listed_under`)."
    return {value: owner for value in queries.listed_values(db, kind)
            if (owner := listed_under(kind, value, reference))}


def placed(place: dict, url: str, reference: Reference) -> Placed:
    "Where a question (`place` as `owners_of` takes it) is listed, as the record keeps it."
    return Placed(url, sorted(owners_of(place, reference)), place["day"], place["asking_member_id"],
                  place["answering_member_id"], place["heading"])


def every_place(db, reference: Reference) -> Iterator[tuple[str, Placed]]:
    "(key, where it is listed, as the record keeps it) of every question, in key order, read in batches."
    return ((row["key"], placed(row, row["url"], reference)) for row in queries.places_in_batches(db))


def places_digest(places: Iterable[tuple[str, Placed]]) -> str:
    "A digest of every question's place (`every_place`), made as they are read."
    digest = hashlib.sha256()
    for _ in digested(places, digest):
        pass
    return digest.hexdigest()


def digested(places: Iterable[tuple[str, Placed]], digest) -> Iterator[tuple[str, Placed]]:
    "The places, each added to `digest` (hashlib's) as it passes: `places_digest` of them when all have."
    for key, place in places:
        digest.update(orjson.dumps([key, *place.__dict__.values()]))
        yield key, place


def owner_items(db, reference: Reference, owner: str) -> list[dict]:
    "The items of one listing, loaded with a query limited to it, newest first."
    kind, value = owner.split(":", 1)
    if kind == "day":
        return [i for i in load_items(db, reference, "day", value) if real_date(i["day"]) == value]
    if kind == "body":
        return load_items(db, reference, "body", value)
    if kind == "heading":
        return load_items(db, reference, "heading", json.dumps(reference.spellings(value)))
    asked = load_items(db, reference, "asked", value)
    answered = [i for i in load_items(db, reference, "answered", value) if i["asker_id"] != value]
    return sorted(asked + answered, key=lambda i: (i["day"] or "", i["key"]), reverse=True)


# -- the listings ------------------------------------------------------------------------


def write_home(writer: ListingWriter, reference: Reference, stats: dict) -> None:
    latest = [as_item(row, reference)
              for row in queries.latest_answered_rows(writer.db, SNIPPET + 1, HOME_LATEST)]
    writer.page("home.html", urls.HOME, {"title": writer.config.title, "stats": stats, "items": latest},
                twin={"title": writer.config.title, "stats": stats,
                      "latest": listing_twin({"title": "Latest answers"}, latest,
                                             {"number": 1, "count": 1, "total": HOME_LATEST,
                                              "older": None, "newer": None},
                                             writer.config, writer.item_twin)["items"]})


def day_counts(db) -> dict[str, int]:
    "Real day -> how many questions its listing holds."
    counts: Counter = Counter()
    for value, n in queries.count_by(db, "day").items():
        if real_date(value):
            counts[real_date(value)] += n
    return dict(counts)


def day_context(day: str) -> dict:
    "What every page of a day's listing shows besides its items."
    return {"title": f"Questions on {day}", "day": day, "kind": "day",
            "intro": "Questions answered on this day, and questions tabled this day that "
                     "are still awaiting an answer."}


def write_calendar(writer: ListingWriter, counts: dict[str, int], months_shown: set[str] | None) -> None:
    "The month and year pages (those of `months_shown`, or all) and the index of years."
    years: dict = defaultdict(lambda: defaultdict(dict))
    for day, n in counts.items():
        year, month, _ = day.split("-")
        years[year][month][day] = n
    for year, months in sorted(years.items()):
        for month, days in sorted(months.items()):
            if months_shown is None or f"{year}-{month}" in months_shown:
                writer.page("calendar.html", urls.month_url(year, month), {
                    "title": f"{month} {year}", "kind": "month", "year": year, "month": month,
                    "entries": [{"url": urls.day_url(d), "label": d, "count": n}
                                for d, n in sorted(days.items())]},
                    twin={"year": year, "month": month, "days": dict(sorted(days.items()))},
                    owner=f"month:{year}-{month}")
        if months_shown is None or any(shown.startswith(year) for shown in months_shown):
            writer.page("calendar.html", urls.year_url(year), {
                "title": year, "kind": "year", "year": year,
                "entries": [{"url": urls.month_url(year, m), "label": m, "count": sum(d.values())}
                            for m, d in sorted(months.items())]},
                twin={"year": year, "months": {m: sum(d.values()) for m, d in sorted(months.items())}},
                owner=f"year:{year}")
    totals = {y: sum(sum(d.values()) for d in m.values()) for y, m in sorted(years.items())}
    writer.page("calendar.html", urls.DAYS, {
        "title": "Questions by day", "kind": "years",
        "entries": [{"url": urls.year_url(y), "label": y, "count": n} for y, n in totals.items()]},
        twin={"years": totals})


def write_body(writer: ListingWriter, body: dict, items: list[dict], timeliness_rows: list[dict],
               total: int | None = None) -> None:
    """A body's listing; with `total`, its pages from the oldest that `items` (the newest of
    `total`) fill, the others kept as they were."""
    writer.paginate(body["url"], items, body_context(body), owner="body:" + body["name"],
                    newest_only={"timeliness": timeliness_rows}, total=total)


def body_context(body: dict) -> dict:
    "What every page of a body's listing shows besides its items."
    return {"title": body["name"], "kind": "body", "feed": urls.feed_url(body["url"]),
            "corrections_feed": urls.corrections_feed_url(body["url"])}


def write_body_pages(writer: ListingWriter, reference: Reference, pages: dict[str, tuple[set[int], int]],
                     timeliness_rows: list[dict]) -> None:
    """Of each of these bodies' listings (owner -> the numbers of the pages to make, and how
    many items it holds), only those pages, each read on its own; the others are carried over
    from the record (`settled_body_pages`)."""
    by_body = timeliness.by_body(timeliness_rows)
    for owner, (numbers, total) in sorted(pages.items()):
        name = owner.split(":", 1)[1]
        body = reference.bodies[name]
        chunks = {number: page_items(writer.db, reference, "body", name, number, total) for number in sorted(numbers)}
        writer.paginate_pages(body["url"], chunks, total, body_context(body), owner,
                              newest_only={"timeliness": by_body.get(name, [])})


def page_items(db, reference: Reference, kind: str, value: str, number: int, total: int) -> list[dict]:
    """The items of page `number` of a listing (of a `kind` of LISTING_FILTERS) of `total` items,
    newest first (pages are numbered from the oldest item)."""
    last = min(number * PAGE_SIZE, total)  # its oldest item's place is (number - 1) * PAGE_SIZE
    return load_items(db, reference, kind, value, limit=last - (number - 1) * PAGE_SIZE, offset=total - last)


def settled_body_pages(db, record: ListingRecord, reference: Reference, owner: str,
                       changed: ChangedIn) -> tuple[set[int], int] | None:
    """Where the changed questions kept their places in a body's listing (a corrected answer's
    text): the numbers of the pages to make, and how many items the listing holds (as
    `settled_pages`). None when the record lacks a page to keep (then the listing is read as
    `body_tail` reads it)."""
    name = owner.split(":", 1)[1]
    return settled_pages(db, record.pages_of([owner]), "body", name, reference.bodies[name]["url"],
                         changed.places())


def settled_pages(db, recorded: dict[str, PageEntry], kind: str, value: str, url: str,
                  places: list[tuple[str, str]]) -> tuple[set[int], int] | None:
    """Of a listing (a `kind` of LISTING_FILTERS, at `url`) in which the changed questions kept
    their `places`: the numbers of the pages that hold them and of the newest, and how many
    items it holds. Every other page holds the same items as before, in the same places, and
    says nothing of the total: it is as the last build made it, and its items need not be
    read. None when one of those is not among the `recorded` pages."""
    total = queries.count_listed(db, kind, value)
    count = page_count(total)
    holding = {queries.count_listed_before(db, kind, value, day, key) // PAGE_SIZE + 1 for day, key in places}
    if any(urls.page_url(url, number) not in recorded for number in range(1, count) if number not in holding):
        return None
    return holding | {count}, total


def write_newest_body_pages(writer: ListingWriter, reference: Reference, owners: set[str],
                            timeliness_rows: list[dict]) -> None:
    """The newest page of each of these bodies' listings, whose questions did not change: the
    archive's latest date moving changes only their timeliness figures, which only that page
    shows. Their other pages are carried over from the record."""
    by_body = timeliness.by_body(timeliness_rows)
    for owner in sorted(owners):
        name = owner.split(":", 1)[1]
        total = queries.count_listed(writer.db, "body", name)
        if total:
            newest = load_items(writer.db, reference, "body", name, limit=newest_page_size(total))
            write_body(writer, reference.bodies[name], newest, by_body.get(name, []), total)
    for url, entry in writer.record.pages_of(owners).items():
        writer.pages.setdefault(url, entry)


def write_body_index(writer: ListingWriter, reference: Reference) -> None:
    counts = queries.count_by(writer.db, "answering_body")
    entries = sorted(({"url": body["url"], "label": name, "count": counts[name]}
                      for name, body in reference.bodies.items() if counts.get(name)),
                     key=lambda e: e["label"])
    writer.page("index_list.html", urls.BODIES, {"title": "Answering bodies", "entries": entries,
                                               "intro": "Departments and offices that answer "
                                                        "written questions."},
                twin=partial(dict, bodies=entries))


MEMBER_ROLES = ("asked", "answered")  # the lists of a member's listing: kinds of LISTING_FILTERS


def write_member(writer: ListingWriter, member: dict, items: list[dict], posts: list[dict]) -> None:
    "A member's page, with the questions they asked and answered, each role in full."
    member_id = member["id"]
    mine = {"asked": [i for i in items if i["asker_id"] == member_id],
            "answered": [i for i in items if i["answerer_id"] == member_id]}
    write_member_page(writer, member, {role: v[:MEMBER_PREVIEW] for role, v in mine.items()},
                      {role: len(v) for role, v in mine.items()}, posts)
    for role, role_items in mine.items():
        writer.paginate(urls.member_role_url(member["url"], role), role_items, member_role_context(member, role),
                        owner="member:" + member_id)


def write_member_page(writer: ListingWriter, member: dict, newest: dict[str, list[dict]],
                      counts: dict[str, int], posts: list[dict]) -> None:
    """A member's own page: their posts, and of the questions they asked and answered, how many
    and the `newest` (role -> its MEMBER_PREVIEW newest items)."""
    url = member["url"]
    context = {"title": member["display"], "member": member, **newest, "counts": counts,
               "feed": urls.feed_url(url), "posts": posts}
    writer.page("member.html", url, context, twin={
        "id": member["id"], "name": member.get("name"), "party": member.get("party"),
        "constituency": member.get("constituency"), "house": member.get("house"),
        "posts": posts, **counts,
        **{f"{role}_url": writer.config.absolute(urls.json_twin(urls.member_role_url(url, role)))
           for role in MEMBER_ROLES}}, owner="member:" + member["id"])


def member_role_context(member: dict, role: str) -> dict:
    "What every page of one list of a member's listing shows besides its items."
    return {"title": f"Questions {role} by {member['display']}", "kind": "member",
            "member": member, "feed": urls.feed_url(member["url"])}


def settled_member_pages(db, record: ListingRecord, reference: Reference,
                         changed: ChangedIn) -> dict[str, tuple[set[int], int]] | None:
    """Where the changed questions kept their places in a member's listing, each in the same
    lists (a corrected answer's text): of each list, the numbers of the pages to make and how
    many items it holds (as `settled_pages`). None when the record lacks a page to keep."""
    member = queries.member_or_placeholder(reference.members, changed.owner.split(":", 1)[1])
    recorded = record.pages_of([changed.owner])
    pages = {role: settled_pages(db, recorded, role, member["id"], urls.member_role_url(member["url"], role),
                                 changed.places(role)) for role in MEMBER_ROLES}
    return None if None in pages.values() else pages


def write_member_tails(writer: ListingWriter, reference: Reference,
                       members: dict[str, dict[str, tuple[list[dict], int]]]) -> None:
    """Of each of these members' listings (owner -> of each list, its newest items from the
    oldest page the change can alter, and how many items it holds: `listing_tail`), the
    member's page and those pages; the older pages are carried over from the record. A member
    left with no question has no pages."""
    for owner, lists in sorted(members.items()):
        if not any(total for _, total in lists.values()):
            continue
        member = queries.member_or_placeholder(reference.members, owner.split(":", 1)[1])
        newest = {role: items[:MEMBER_PREVIEW] if len(items) >= min(MEMBER_PREVIEW, total)
                  else load_items(writer.db, reference, role, member["id"], limit=MEMBER_PREVIEW)
                  for role, (items, total) in lists.items()}
        write_member_page(writer, member, newest, {role: total for role, (_, total) in lists.items()},
                          reference.posts.get(member["id"], []))
        for role, (items, total) in lists.items():
            writer.paginate(urls.member_role_url(member["url"], role), items, member_role_context(member, role),
                            owner=owner, total=total)


def write_member_pages(writer: ListingWriter, reference: Reference,
                       members: dict[str, dict[str, tuple[set[int], int]]]) -> None:
    """Of each of these members' listings (owner -> of each list, the numbers of the pages to
    make and how many items it holds), the member's page and only those pages, each read on
    its own; the others are carried over from the record (`settled_member_pages`)."""
    for owner, pages in sorted(members.items()):
        member = queries.member_or_placeholder(reference.members, owner.split(":", 1)[1])
        newest = {role: load_items(writer.db, reference, role, member["id"], limit=MEMBER_PREVIEW)
                  for role in MEMBER_ROLES}
        write_member_page(writer, member, newest, {role: total for role, (_, total) in pages.items()},
                          reference.posts.get(member["id"], []))
        for role, (numbers, total) in pages.items():
            chunks = {number: page_items(writer.db, reference, role, member["id"], number, total)
                      for number in sorted(numbers)}
            writer.paginate_pages(urls.member_role_url(member["url"], role), chunks, total,
                                  member_role_context(member, role), owner)


def write_member_index(writer: ListingWriter, reference: Reference) -> None:
    asked = queries.count_by(writer.db, "asking_member_id")
    answered = queries.count_by(writer.db, "answering_member_id")
    entries = []
    for member_id in reference.named_member_ids:
        member = queries.member_or_placeholder(reference.members, member_id)
        counts = {"asked": asked.get(member_id, 0), "answered": answered.get(member_id, 0)}
        entries.append({"url": member["url"], "label": member["display"],
                        "detail": ", ".join(filter(None, [member.get("party"),
                                                          member.get("constituency")])),
                        "count": counts["asked"] + counts["answered"], **counts})
    entries.sort(key=lambda e: (e["label"].split()[-1:], e["label"]))
    writer.page("members.html", urls.MEMBERS, {"title": "Members", "entries": entries},
                twin=partial(dict, members=entries))


def heading_index(reference: Reference) -> dict[str, dict]:
    """Heading slug -> its name (the spelling most used; headings that differ only in case or
    punctuation share a page) and how many questions it holds. Worked out once a build: the
    listings, the letter pages and the index each ask for it."""
    return reference.headings


def count_headings(reference: Reference) -> dict[str, dict]:
    """`heading_index`, worked out in one pass over tens of thousands of headings, unsorted: a
    slug is named by its most used spelling, the first alphabetically of those used as often."""
    counts = reference.heading_counts
    index: dict[str, dict] = {}
    for heading, slug in reference.heading_slugs.items():
        entry = index.get(slug)
        if entry is None:
            index[slug] = {"name": heading, "count": counts[heading]}
            continue
        entry["count"] += counts[heading]
        if (-counts[heading], heading) < (-counts[entry["name"]], entry["name"]):
            entry["name"] = heading
    return index


def heading_context(name: str) -> dict:
    "What every page of a heading's listing shows besides its items."
    return {"title": name, "kind": "heading"}


def write_heading_indexes(writer: ListingWriter, headings: dict[str, dict],
                          letters_shown: set[str] | None) -> None:
    """The letter pages (those of `letters_shown`, or all) and the headings' index. Of tens of
    thousands of headings, only those of the letters shown are sorted and listed; the index
    counts the others and picks the most used without sorting them."""
    letters: dict[str, list[str]] = defaultdict(list)
    for slug in headings:
        letters[slug[0]].append(slug)
    index = []
    for letter, slugs in sorted(letters.items()):
        url = urls.heading_letter_url(letter)
        if letters_shown is None or letter in letters_shown:
            entries = [heading_entry(slug, headings[slug]) for slug in sorted(slugs)]
            writer.page("index_list.html", url, {
                "title": f"Headings: {letter.upper()}", "entries": entries, "letters": sorted(letters),
                "intro": "Questions grouped by the heading Parliament gave them."},
                twin=partial(dict, letter=letter, headings=entries), owner="letter:" + letter)
        index.append({"url": url, "label": letter.upper(), "count": len(slugs)})
    top = [heading_entry(slug, headings[slug]) for slug in heapq.nsmallest(
        MOST_USED_HEADINGS, headings, key=lambda slug: (-headings[slug]["count"], headings[slug]["name"]))]
    writer.page("headings.html", urls.HEADINGS, {"title": "Headings", "letters": index, "top": top},
                twin=partial(dict, letters=index, most_used=top))


def heading_entry(slug: str, heading: dict) -> dict:
    "A heading as its letter page and the index list it."
    return {"url": urls.heading_slug_url(slug), "label": heading["name"], "count": heading["count"]}


def write_about(writer: ListingWriter, stats: dict) -> None:
    formats = queries.source_formats(writer.db)
    writer.page("about.html", urls.ABOUT, {"title": "About this archive", "stats": stats,
                                         "formats": formats},
                twin={"coverage": stats, "sources": formats})


def sources_digest(db: sqlite_utils.Database) -> str:
    """A digest of what the About page counts of the source files: a file read again, or a
    copy filed again, changes these figures without changing any question."""
    return inputs_digest(queries.source_formats(db))


def write_about_alone(writer: ListingWriter, names: Names, accounts: str) -> None:
    """A build that changed no question but the files' account: the About page alone (rendered
    only if its inputs differ), and the record's entry for it."""
    write_about(writer, queries.coverage(writer.db, names.named_member_ids))
    writer.record.save_pages(writer.pages)
    # The whole record's digest no longer covers the About page's entry.
    writer.record.set_meta({"sources": accounts, "content": None})


def write_api(writer: ListingWriter) -> None:
    "The API page: the Datasette API text where it has been written, else a short pointer."
    text_path = SITE_TEMPLATES / API_TEXT
    body_html = render_markdown(text_path.read_text(encoding="utf-8")) if text_path.exists() else None
    writer.page("api.html", urls.API, {"title": "API and data", "body_html": body_html})


def listing_template(env, name: str):
    "A template of the listings; one their version does not name would go stale unseen."
    if name not in LISTING_TEMPLATES:
        raise ValueError(f"{name} is not in LISTING_TEMPLATES: the listings' version must name it")
    return env.get_template(name)


def write_fixed_pages(writer: ListingWriter) -> None:
    "Pages that show no question: made by a full build only."
    write_api(writer)
    writer.page("search.html", urls.SEARCH, {"title": "Search"})
    writer.output.write(urls.NOT_FOUND, listing_template(writer.env, "404.html").render(
        page_url=urls.HOME, title="Not found", absolute_links=True))


# -- a build -----------------------------------------------------------------------------


def listings_code_version(config: SiteConfig) -> str:
    "What besides the database decides the listings' bytes: code, templates and config."
    modules = [__file__, queries.__file__, urls.__file__, timeliness.__file__, render.__file__,
               render.MARKDOWN_SHORTCUT, listing_record.__file__, model.__file__, clean.__file__,
               timeliness.METADATA]
    templates = [*render.templates_used(*LISTING_TEMPLATES), SITE_TEMPLATES / API_TEXT]
    return stage_code_digest([*map(str, modules), *templates], ("Jinja2", "MarkupSafe", "Markdown"),
                             json.dumps(asdict(config), sort_keys=True))


def write_listings(db: sqlite_utils.Database, env, output: Output, config: SiteConfig,
                   changed: set[str] | None = None, names: Names | None = None,
                   latest: str | None = None) -> ListingsReport:
    """Write the listings: all of them when `changed` is None, else those that show a question
    whose key is in `changed` (before or after its change) and the indexes that count them.
    A build given changes renders everything when the record of the last build is missing,
    incomplete or from other code, or when what every listing names (members, their posts,
    bodies) changed; it removes the listing pages that are no longer made. `names`: as
    `Names.load` reads them, and `latest`: the archive's latest date (`changes.latest_date`),
    where the caller has them."""
    record = ListingRecord(record_path(output.root), listings_code_version(config))
    try:
        names = names or Names.load(db)
        reference = names_digest(names)
        full = (changed is None or not record.is_current() or record.meta("reference") != reference
                or not (output.root / urls.html_file(urls.HOME)).is_file())  # an output folder made afresh
        accounts = sources_digest(db)
        if not full and not changed:  # no question to show: not even the figures are worked out
            if record.meta("sources") != accounts:
                output.before_first_change.append(record.withdraw)
                write_about_alone(ListingWriter(db, env, output, config, record, full=False), names, accounts)
            return ListingsReport(record.sitemap_count(), partial(listing_record.sitemap_urls, record.path),
                                  urls_changed=False, question_urls=[])
        output.before_first_change.append(record.withdraw)
        writer = ListingWriter(db, env, output, config, record, full=full)
        with ThreadPoolExecutor(1) as beside:
            if full:
                figures = figures_beside(db, beside, all_figures)
                report = write_everything(writer, figures, Reference.load(db, names, record))
            else:
                figures, inputs = figures_after(db, record, set(changed), beside, latest)
                report = write_changed(writer, set(changed), figures, inputs, names)
        record.set_meta({"reference": reference, "as_of": as_of(figures.result().rows), "sources": accounts})
        return report
    finally:
        if record.withdraw in output.before_first_change:  # nothing changed: the hook must not outlive the record
            output.before_first_change.remove(record.withdraw)
        record.close()


def names_digest(names: Names) -> str:
    "What every listing may name: members, their posts, bodies. Their change renders every listing."
    return inputs_digest(names.members, names.posts, names.bodies)


@dataclass
class Figures:
    """The timeliness figures shown, and the archive's tallies by month that a later change
    counts again in part (`queries.timeliness_tallies`)."""
    rows: list[dict]
    tallies: dict[str, list[list]]


def all_figures(db: sqlite_utils.Database) -> Figures:
    "Every timeliness figure, worked out by the query, and the tallies of every month."
    return Figures(queries.timeliness_figures(db), queries.timeliness_tallies(db))


def figures_beside(db: sqlite_utils.Database, beside: ThreadPoolExecutor,
                   work: Callable[[sqlite_utils.Database], Figures]) -> Future:
    """Timeliness figures (`work(db)`), worked out in `beside` on a connection of their own; or
    at once, on this one, while it holds rows it has not committed (which another would not see)."""
    if not db.conn.in_transaction:
        return beside.submit(on_own_connection, queries.database_file(db), work)
    return finished(work(db))


def on_own_connection(path: str, work: Callable[[sqlite_utils.Database], Figures]) -> Figures:
    """`work` on a connection of its own: worked out beside the listings' other reads (SQLite
    lets go of the interpreter while it runs a query), the figures cost the stage little time."""
    with closing(queries.read_only(path)) as db:
        return work(db)


def finished(result) -> Future:
    done: Future = Future()
    done.set_result(result)
    return done


def figures_after(db: sqlite_utils.Database, record: ListingRecord, changed: set[str],
                  beside: ThreadPoolExecutor, latest: str | None = None) -> tuple[Future, dict[str, list]]:
    """The timeliness figures once the `changed` questions changed, and what the figures read
    of those questions now. The query over every question takes a second, so: the figures the
    record keeps, where none of the questions changed what the figures read and the archive's
    latest date did not move (a corrected answer's text); else those of the bodies the
    questions were and are in worked out again, and the archive's made from the tallies, those
    of the questions' months counted again; else (no figures or tallies kept, a question of no
    body) all of them. A moved latest date adds the bodies and months of the unanswered
    questions due between the date then and now: only those can fall past due (or back), and
    the other figures change only their date."""
    inputs = queries.timeliness_inputs(db, changed)
    before = record.timeliness_inputs(changed)
    kept, tallies, latest = record.meta("figures"), record.meta("tallies"), latest or changes.latest_date(db)
    if not isinstance(kept, list) or not isinstance(tallies, dict) or not as_of(kept) or not latest:
        return figures_beside(db, beside, all_figures), inputs
    places = {(values[0], values[1][:7] if isinstance(values[1], str) else None)
              for key in changed if before.get(key) != inputs.get(key)
              for values in (before.get(key), inputs.get(key)) if values}
    if latest != as_of(kept):
        places |= queries.timeliness_due_between(db, *sorted((as_of(kept), latest)))
    elif not places:
        return finished(Figures(kept, tallies)), inputs
    bodies = {body for body, _ in places}
    if bodies & {None, timeliness.ALL_BODIES}:
        return figures_beside(db, beside, all_figures), inputs
    months = {month for _, month in places if month}
    return figures_beside(db, beside, partial(refigured, Figures(kept, tallies), bodies, months, latest)), inputs


def refigured(kept: Figures, bodies: set[str], months: set[str], latest: str, db: sqlite_utils.Database) -> Figures:
    """The figures `kept`, dated `latest`, with those of these bodies worked out again, and the
    archive's made from the tallies, those of these months counted again (timeliness.replace_groups)."""
    fresh = [row for body in sorted(bodies) for row in queries.timeliness_figures(db, body)]
    tallies = {month: counts for month, counts in kept.tallies.items() if month not in months}
    for month in sorted(months):
        tallies.update(queries.timeliness_tallies(db, month))
    fresh += timeliness.tally_rows(tallies, months, latest, partial(queries.rounded_share, db))
    rows = [dict(row, as_of=latest) for row in kept.rows]
    return Figures(timeliness.replace_groups(rows, fresh, bodies, months), tallies)


def as_of(figures: list[dict]) -> str | None:
    "The timeliness figures' latest date: when it moves, every body's figures may change."
    return figures[0]["as_of"] if figures else None


def write_everything(writer: ListingWriter, figures: Future, reference: Reference) -> ListingsReport:
    db = writer.db
    write_paged_listings(writer, reference, figures.result().rows)
    write_owners(writer, reference, listed_groups(db, reference, set(LISTING_KINDS) - set(PAGED_KINDS)),
                 figures.result().rows)
    write_indexes(writer, reference, heading_index(reference), months_shown=None, letters_shown=None)
    write_fixed_pages(writer)
    # Pages the last build made and this one did not (a renamed member's old address): gone.
    removed = remove_pages(writer, set(writer.record.pages_of(None)) - set(writer.pages))
    save_everything(writer, figures.result(), reference)
    listed = sorted(url for url, entry in writer.pages.items() if entry.in_sitemap)
    return ListingsReport(len(listed), lambda: listed, removed)


def write_paged_listings(writer: ListingWriter, reference: Reference, timeliness_rows: list[dict]) -> None:
    """Every listing of PAGED_KINDS, as `write_owners` writes them from whole lists, read and
    written a page at a time: a body's listing grows with the archive. Not the members', whose
    own page shows the newest of both their lists."""
    by_body, headings = timeliness.by_body(timeliness_rows), heading_index(reference)
    for owner, total, pages in chain(*(listed_pages(writer.db, reference, kind) for kind in PAGED_KINDS)):
        url, context, newest_only = listing_of(*owner.split(":", 1), reference, by_body, headings)
        writer.paginate_in_order(url, total, pages, context, owner, newest_only)


def save_everything(writer: ListingWriter, figures: Figures, reference: Reference) -> None:
    """The record of a full build: saved only when it differs, so that a build that changes
    nothing leaves the record's bytes. Every question's place is read once where the record
    must be saved anyway (none kept, or under other code), digested as it is saved."""
    db, record = writer.db, writer.record
    # The tallies count more finely than the figures shown: two databases may differ in them alone.
    rest = ({url: list(entry.__dict__.values()) for url, entry in writer.pages.items()}, figures.tallies)
    if record.is_current() and record.meta("content") == inputs_digest(places_digest(every_place(db, reference)),
                                                                       *rest):
        return
    places = hashlib.sha256()
    record.save(digested(every_place(db, reference), places), forget=(), pages=writer.pages, owners=None,
                timeliness_inputs=queries.timeliness_inputs_in_batches(db), figures=figures.rows,
                tallies=figures.tallies, headings=heading_index(reference))
    record.set_meta({"content": inputs_digest(places.hexdigest(), *rest)})


def remove_pages(writer: ListingWriter, page_urls: set[str]) -> list[str]:
    "Remove these listing pages' files (HTML and JSON twin); returns the files removed."
    return writer.output.remove([path for url in sorted(page_urls)
                                 for path in (urls.html_file(url), urls.json_twin(url))])


def write_changed(writer: ListingWriter, changed: set[str], figures_soon: Future,
                  timeliness_inputs: dict[str, list], names: Names) -> ListingsReport:
    db, record = writer.db, writer.record
    before = record.shown(changed)
    rows = list(queries.listed_places(db, list(changed)))
    slugged = record.heading_slugs(sorted({row["heading"] for row in rows if row["heading"]}), urls.heading_slug)
    after = {row["key"]: placed(row, row["url"], Reference.placing(names, slugged)) for row in rows}
    owners = {owner for place in [*before.values(), *after.values()] for owner in place.owners}
    # Each question listed where and as it was (a corrected answer's text): every count the
    # indexes show is as it was, and so are they.
    unmoved = all(before.get(key) == after.get(key) for key in changed)
    # Of the headings, only those the changed questions had and have are counted again, but
    # where every question is read (`items_of`): then all their headings are slugged anyway.
    touched = {owner.split(":", 1)[1] for owner in owners if owner.startswith("heading:")}
    every_heading = len(owners) > ONE_READ_OWNERS
    reference = Reference.load(db, names, record, None if every_heading else touched)
    writer.settled = {owner: changed for owner in owners if owner.startswith(SETTLING_KINDS)
                      and ChangedIn(owner, before, after).kept_places()}
    # A body's or a member's listing in which the changed questions kept their places: of its
    # items, only the pages that hold them and the newest are read (an old question corrected:
    # thousands fewer, for its body and its minister).
    in_place = {owner: pages for owner in writer.settled if owner.startswith("body:")
                and (pages := settled_body_pages(db, record, reference, owner, ChangedIn(owner, before, after)))}
    members_in_place = {owner: pages for owner in writer.settled if owner.startswith("member:")
                        and (pages := settled_member_pages(db, record, reference, ChangedIn(owner, before, after)))}
    # Of every other member's listing, each list from the oldest page the change can alter.
    member_tails = {owner: {role: listing_tail(db, reference, role, owner.split(":", 1)[1], changed_in.places(role),
                                               changed_in.added(role)) for role in MEMBER_ROLES}
                    for owner in owners - set(members_in_place) if owner.startswith("member:")
                    for changed_in in [ChangedIn(owner, before, after)]}
    items, totals = items_of(db, reference, owners - set(in_place) - set(members_in_place) - set(member_tails),
                             before, after)
    kept = figures_soon.result()
    figures, refreshed = kept.rows, set()
    if record.meta("as_of") != as_of(figures):  # past-due counts of every body may change
        refreshed = {"body:" + name for name in timeliness.by_body(figures) if name in reference.bodies} - owners
    write_owners(writer, reference, items, figures, totals)
    write_body_pages(writer, reference, in_place, figures)
    write_member_pages(writer, reference, members_in_place)
    write_member_tails(writer, reference, member_tails)
    write_newest_body_pages(writer, reference, refreshed, figures)
    owners |= refreshed
    headings = None
    if unmoved:  # home and About show the answers too
        indexes = write_indexes(writer, reference, None, months_shown=set(), letters_shown=set())
        letters = set()
    else:
        headings = heading_index(reference) if every_heading else headings_after(record, reference, touched)
        days = [owner.split(":", 1)[1] for owner in owners if owner.startswith("day:")]
        letters = letters_to_show(record, headings, touched)
        indexes = write_indexes(writer, reference, headings, months_shown={day[:7] for day in days},
                                letters_shown=letters)
    rendered = owners | indexes | (record.owners_with_prefix("letter:") if letters is None else set())
    previous = record.pages_of(rendered)
    stale = sorted(set(previous) - set(writer.pages))
    removed = remove_pages(writer, set(stale))
    added = [url for url, entry in writer.pages.items() if entry.in_sitemap and url not in previous]
    urls_changed = bool(added) or any(previous[url].in_sitemap for url in stale)
    record.save(after.items(), forget=changed - set(after), pages=writer.pages, owners=rendered,
                timeliness_inputs=timeliness_inputs.items(), figures=figures, tallies=kept.tallies,
                headings={} if headings is None else {slug: headings.get(slug) for slug in touched})
    record.set_meta({"content": None})  # no digest of the whole record is kept up to date here
    question_urls = sorted({place.url for place in [*before.values(), *after.values()]})
    return ListingsReport(record.sitemap_count(), partial(listing_record.sitemap_urls, record.path), removed,
                          urls_changed, question_urls)


def items_of(db, reference: Reference, owners: set[str], before: dict[str, Placed],
             after: dict[str, Placed]) -> tuple[Iterable[tuple[str, list[dict]]], dict[str, int]]:
    """(owner, its items, newest first) of these listings: a query limited to each, or, for
    more listings than one read of every question costs, that read, one listing at a time (a
    day's or a heading's query reads the whole table). A body's listing, the longest, is read
    only from the oldest page that the changed questions (`before` and `after` the change) can
    alter: for those, the dict gives how many items the whole listing holds."""
    if len(owners) > ONE_READ_OWNERS:
        kinds = {owner.split(":", 1)[0] for owner in owners}
        return ((owner, items) for owner, items in listed_groups(db, reference, kinds) if owner in owners), {}
    groups, totals = {}, {}
    for owner in sorted(owners):
        kind, name = owner.split(":", 1)
        if kind == "body":
            groups[owner], totals[owner] = body_tail(db, reference, name, ChangedIn(owner, before, after))
        else:
            groups[owner] = owner_items(db, reference, owner)
    return sorted(groups.items()), totals


@dataclass
class ChangedIn:
    "The changed questions that one listing showed before the change and shows after it."
    owner: str
    before: dict[str, Placed]
    after: dict[str, Placed]

    def places(self, role: str | None = None) -> list[tuple[str, str]]:
        """Where each stood (before) or stands (after) in the listing: (day, key). With `role`
        ('asked' or 'answered'), in that list of a member's: of those the member had that role in."""
        return [place.sort_key(key) for listed in (self.before, self.after)
                for key, place in listed.items() if self.owner in place.owners
                and (role is None or role in self.roles(place))]

    def kept_places(self) -> bool:
        """Whether the listing shows the same changed questions as before, each in the same place
        and, in a member's, in the same roles; in a heading's, spelled as before (so that its
        title, the spelling most of its questions carry, stays)."""
        def places(listed: dict[str, Placed]) -> dict[str, tuple]:
            return {key: (place.sort_key(key), self.roles(place), place.heading if self.owner.startswith("heading:")
                          else None) for key, place in listed.items() if self.owner in place.owners}
        return places(self.before) == places(self.after)

    def roles(self, place: Placed) -> set[str]:
        "The lists of a member's listing that show this question (none, in another kind of listing)."
        member = self.owner.removeprefix("member:") if self.owner.startswith("member:") else None
        return {role for role, member_id in (("asked", place.asker), ("answered", place.answerer))
                if member is not None and member_id == member}

    def added(self, role: str | None = None) -> int:
        "How many more items the listing (with `role`, that list of a member's) holds than before the change."
        def held(listed: dict[str, Placed]) -> int:
            return sum(self.owner in place.owners and (role is None or role in self.roles(place))
                       for place in listed.values())
        return held(self.after) - held(self.before)


def body_tail(db, reference: Reference, name: str, changed: ChangedIn) -> tuple[list[dict], int]:
    "A body's listing from the oldest page the change can alter (`listing_tail`), and how many items it holds."
    return listing_tail(db, reference, "body", name, changed.places(), changed.added())


def listing_tail(db, reference: Reference, kind: str, value: str, places: list[tuple[str, str]],
                 added: int) -> tuple[list[dict], int]:
    """A listing (a `kind` of LISTING_FILTERS) from the oldest page a change can alter, and how
    many items it holds; `places`: where the changed questions stood and stand in it, `added`:
    how many more it holds. Every item older than the oldest of those places is unchanged and
    was listed before too, in the same order: the full pages they fill, numbered from the
    oldest and none of them the newest page before or after, are as the last build made them.
    With no places, no item changed: only the newest page is read."""
    total = queries.count_listed(db, kind, value)
    day, key = min(places, default=(None, None))
    older = total if key is None else queries.count_listed_before(db, kind, value, day, key) if day else 0
    kept = max(0, min(older, total - 1, total - added - 1)) // PAGE_SIZE
    return load_items(db, reference, kind, value, limit=total - kept * PAGE_SIZE), total


def headings_after(record: ListingRecord, reference: Reference, touched: set[str]) -> dict[str, dict]:
    """The headings' index once the change is made: of the slugs the changed questions had or
    have (`touched`), as `reference`, which holds those headings alone, counts them; of the
    others, which no question entered or left, as the record keeps them."""
    index = {slug: entry for slug, entry in record.heading_index().items() if slug not in touched}
    index.update(heading_index(reference))
    return index


def letters_to_show(record: ListingRecord, headings: dict[str, dict], slugs: set[str]) -> set[str] | None:
    """The letter pages to render: those of these heading slugs, or all (None) when a letter
    came or went, since each letter page links to every other."""
    letters = {slug[0] for slug in headings}
    if letters != {owner.split(":", 1)[1] for owner in record.owners_with_prefix("letter:")}:
        return None
    return {slug[0] for slug in slugs}


def write_owners(writer: ListingWriter, reference: Reference, groups: Iterable[tuple[str, list[dict]]],
                 timeliness_rows: list[dict], totals: dict[str, int] | None = None) -> None:
    """The listings of each (owner, its items) in `groups`; an owner with no items has no pages.
    `totals`: for the listings whose `groups` hold only their newest items, how many they hold in all."""
    by_body, headings = timeliness.by_body(timeliness_rows), heading_index(reference)
    posts = reference.posts
    for owner, items in groups:
        kind, value = owner.split(":", 1)
        if not items:
            continue
        if kind == "member":
            member = queries.member_or_placeholder(reference.members, value)
            write_member(writer, member, items, posts.get(value, []))
        else:
            url, context, newest_only = listing_of(kind, value, reference, by_body, headings)
            writer.paginate(url, items, context, owner=owner, newest_only=newest_only, total=(totals or {}).get(owner))
    timeliness.write_page(writer, timeliness_rows, reference.bodies)


def listing_of(kind: str, value: str, reference: Reference, by_body: dict[str, list[dict]],
               headings: dict[str, dict]) -> tuple[str, dict, dict | None]:
    """The url of a day's, a body's or a heading's listing, what each of its pages shows besides
    its items, and what its newest page alone shows (`by_body`: the timeliness figures of each
    body; `headings`: `heading_index`)."""
    if kind == "day":
        return urls.day_url(value), day_context(value), None
    if kind == "body":
        body = reference.bodies[value]
        return body["url"], body_context(body), {"timeliness": by_body.get(value, [])}
    return urls.heading_slug_url(value), heading_context(headings[value]["name"]), None


def write_indexes(writer: ListingWriter, reference: Reference, headings: dict[str, dict] | None,
                  months_shown: set[str] | None, letters_shown: set[str] | None) -> set[str]:
    """Home, About and the indexes that count questions (of the months and letters given, or
    all; none of them without the `headings`' index: their counts are as the last build made
    them); returns the owners of the pages written."""
    stats = queries.coverage(writer.db, reference.named_member_ids)
    first = set(writer.pages)
    write_home(writer, reference, stats)
    if headings is not None:
        write_calendar(writer, day_counts(writer.db), months_shown)
        write_body_index(writer, reference)
        write_member_index(writer, reference)
        write_heading_indexes(writer, headings, letters_shown)
    write_about(writer, stats)
    owners = {entry.owner for url, entry in writer.pages.items() if url not in first}
    owners |= {f"month:{month}" for month in months_shown or ()}
    owners |= {f"year:{month[:4]}" for month in months_shown or ()}
    owners |= {f"letter:{letter}" for letter in letters_shown or ()}
    return owners | {urls.TIMELINESS}
