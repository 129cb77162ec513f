"""Listings from the database: home, by day, by answering body, by member, by heading, and
the About, API, search and 404 pages. Each paginated listing has a JSON twin.

A listing is rendered on every build and written only when its bytes change, so a changed
question rewrites exactly the listings that show it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import sqlite_utils

from . import queries, timeliness, urls
from .output import Output
from .render import SITE_TEMPLATES, SiteConfig, real_date, render_markdown, to_json

PAGE_SIZE = 50
HOME_LATEST = 20
MEMBER_PREVIEW = 10
SNIPPET = 220  # characters of the answer shown under each item


@dataclass
class Listings:
    db: sqlite_utils.Database
    env: object
    output: Output
    config: SiteConfig

    def __post_init__(self) -> None:
        self.urls: list[str] = []

    def page(self, template: str, url: str, context: dict, twin: dict | None = None) -> None:
        html = self.env.get_template(template).render(dict(context, page_url=url))
        self.output.write(urls.html_file(url), html)
        if twin is not None:
            self.output.write(urls.json_twin(url), to_json(twin))
        self.urls.append(url)

    def paginate(self, url: str, items: list[dict], context: dict) -> None:
        "A listing split into pages of PAGE_SIZE, newest first, each with its JSON twin."
        count = max(1, -(-len(items) // PAGE_SIZE))
        for number in range(1, count + 1):
            chunk = items[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]
            pagination = {
                "number": number, "count": count, "total": len(items),
                "previous": urls.page_url(url, number - 1) if number > 1 else None,
                "next": urls.page_url(url, number + 1) if number < count else None,
                "first": url,
            }
            page_url = urls.page_url(url, number)
            self.page("listing.html", page_url, dict(context, items=chunk, pagination=pagination),
                      twin=listing_twin(context, chunk, pagination, self.config))


def listing_twin(context: dict, items: list[dict], pagination: dict, config: SiteConfig) -> dict:
    def absolute(url):
        return config.absolute(url) if url else None

    return {
        "title": context["title"],
        "page": pagination["number"], "pages": pagination["count"], "total": pagination["total"],
        "next": absolute(pagination["next"] and urls.json_twin(pagination["next"])),
        "previous": absolute(pagination["previous"] and urls.json_twin(pagination["previous"])),
        "items": [
            {"key": i["key"], "url": config.absolute(i["url"]),
             "json": config.absolute(urls.json_twin(i["url"])), "title": i["title"],
             "house": i["house"], "uin": i["uin"], "date_tabled": i["date_tabled"],
             "date_answered": i["date_answered"],
             "answering_body": i["body"]["name"] if i["body"] else None,
             "asking_member": i["asker"]["name"] if i["asker"] else None,
             "answering_member": i["answerer"]["name"] if i["answerer"] else None}
            for i in items
        ],
    }


# -- what listings show ------------------------------------------------------------------


def load_items(db, members: dict[str, dict]) -> list[dict]:
    "Every question as a listing shows it, newest first."
    bodies = queries.load_bodies(db)
    rows = queries.listing_rows(db, SNIPPET + 1)
    items = []
    for row in rows:
        snippet = row["snippet"] or ""
        items.append({
            "key": row["key"], "url": row["url"], "uin": row["uin"], "house": row["house"],
            "heading": row["heading"],
            "title": urls.question_title(row),
            "date_tabled": row["date_tabled"], "date_answered": row["date_answered"],
            "day": row["day"],
            "body": bodies.get(row["answering_body"]),
            "asker": members.get(row["asking_member_id"]),
            "answerer": members.get(row["answering_member_id"]),
            "asker_id": row["asking_member_id"], "answerer_id": row["answering_member_id"],
            "snippet": snippet[:SNIPPET] + ("…" if len(snippet) > SNIPPET else ""),
            "is_holding": row["is_holding"], "is_withdrawn": row["is_withdrawn"],
            "is_correction": row["is_correction"],
        })
    return items


def group(items: list[dict], key) -> dict:
    groups: dict = defaultdict(list)
    for item in items:
        value = key(item)
        if value:
            groups[value].append(item)
    return groups


# -- the listings ------------------------------------------------------------------------


def write_home(listing: Listings, items: list[dict], stats: dict) -> None:
    latest = [i for i in items if i["date_answered"]]
    latest.sort(key=lambda i: (i["date_answered"], i["key"]), reverse=True)
    listing.page("home.html", urls.HOME, {"title": listing.config.title, "stats": stats,
                                   "items": latest[:HOME_LATEST]},
                 twin={"title": listing.config.title, "stats": stats,
                       "latest": listing_twin({"title": "Latest answers"}, latest[:HOME_LATEST],
                                              {"number": 1, "count": 1, "total": HOME_LATEST,
                                               "next": None, "previous": None},
                                              listing.config)["items"]})


def write_days(listing: Listings, items: list[dict]) -> None:
    by_day = group(items, lambda i: real_date(i["day"]))
    years: dict = defaultdict(lambda: defaultdict(dict))
    for day, day_items in by_day.items():
        year, month, _ = day.split("-")
        years[year][month][day] = len(day_items)
    for day, day_items in sorted(by_day.items()):
        listing.paginate(urls.day_url(day), day_items, {
            "title": f"Questions on {day}", "day": day, "kind": "day",
            "intro": "Questions answered on this day, and questions tabled this day that "
                     "are still awaiting an answer.",
        })
    for year, months in sorted(years.items()):
        for month, days in sorted(months.items()):
            listing.page("calendar.html", urls.month_url(year, month), {
                "title": f"{month} {year}", "kind": "month", "year": year, "month": month,
                "entries": [{"url": urls.day_url(d), "label": d, "count": n}
                            for d, n in sorted(days.items())]},
                twin={"year": year, "month": month, "days": dict(sorted(days.items()))})
        listing.page("calendar.html", urls.year_url(year), {
            "title": year, "kind": "year", "year": year,
            "entries": [{"url": urls.month_url(year, m), "label": m, "count": sum(d.values())}
                        for m, d in sorted(months.items())]},
            twin={"year": year, "months": {m: sum(d.values()) for m, d in sorted(months.items())}})
    totals = {y: sum(sum(d.values()) for d in m.values()) for y, m in sorted(years.items())}
    listing.page("calendar.html", urls.DAYS, {
        "title": "Questions by day", "kind": "years",
        "entries": [{"url": urls.year_url(y), "label": y, "count": n} for y, n in totals.items()]},
        twin={"years": totals})


def write_bodies(listing: Listings, items: list[dict], timeliness_rows: dict[str, list[dict]]) -> None:
    by_body = group(items, lambda i: i["body"]["url"] if i["body"] else None)
    entries = []
    for url, body_items in sorted(by_body.items()):
        name = body_items[0]["body"]["name"]
        listing.paginate(url, body_items, {"title": name, "kind": "body", "feed": urls.feed_url(url),
                                           "timeliness": timeliness_rows.get(name, [])})
        entries.append({"url": url, "label": name, "count": len(body_items)})
    entries.sort(key=lambda e: e["label"])
    listing.page("index_list.html", urls.BODIES, {"title": "Answering bodies", "entries": entries,
                                                "intro": "Departments and offices that answer "
                                                         "written questions."},
                 twin={"bodies": entries})


def write_members(listing: Listings, items: list[dict], members: dict[str, dict],
                  posts: dict[str, list[dict]]) -> None:
    asked = group(items, lambda i: i["asker_id"])
    answered = group(items, lambda i: i["answerer_id"])
    entries = []
    for member_id in queries.named_member_ids(listing.db):
        member = queries.member_or_placeholder(members, member_id)
        url = member["url"]
        mine = {"asked": asked.get(member_id, []), "answered": answered.get(member_id, [])}
        context = {"title": member["display"], "member": member,
                   "asked": mine["asked"][:MEMBER_PREVIEW],
                   "answered": mine["answered"][:MEMBER_PREVIEW],
                   "counts": {k: len(v) for k, v in mine.items()}, "feed": urls.feed_url(url),
                   "posts": posts.get(member_id, [])}
        listing.page("member.html", url, context, twin={
            "id": member_id, "name": member.get("name"), "party": member.get("party"),
            "constituency": member.get("constituency"), "house": member.get("house"),
            "posts": posts.get(member_id, []),
            "asked": len(mine["asked"]), "answered": len(mine["answered"]),
            **{f"{role}_url": listing.config.absolute(urls.json_twin(urls.member_role_url(url, role)))
               for role in mine}})
        for role, role_items in mine.items():
            listing.paginate(urls.member_role_url(url, role), role_items, {
                "title": f"Questions {role} by {member['display']}", "kind": "member",
                "member": member, "feed": urls.feed_url(url)})
        entries.append({"url": url, "label": member["display"],
                        "detail": ", ".join(filter(None, [member.get("party"),
                                                          member.get("constituency")])),
                        "count": len(mine["asked"]) + len(mine["answered"]),
                        "asked": len(mine["asked"]), "answered": len(mine["answered"])})
    entries.sort(key=lambda e: (e["label"].split()[-1:], e["label"]))
    listing.page("members.html", urls.MEMBERS, {"title": "Members", "entries": entries},
                 twin={"members": entries})


def write_headings(listing: Listings, items: list[dict]) -> None:
    "Headings that differ only in case or punctuation share a page, under their usual spelling."
    by_slug = group(items, lambda i: urls.heading_slug(i["heading"]) if i["heading"] else None)
    letters: dict = defaultdict(list)
    for slug, heading_items in sorted(by_slug.items()):
        spelling = Counter(i["heading"] for i in heading_items)
        name = min(spelling, key=lambda h: (-spelling[h], h))
        url = urls.heading_slug_url(slug)
        listing.paginate(url, heading_items, {"title": name, "kind": "heading"})
        letters[slug[0]].append({"url": url, "label": name, "count": len(heading_items)})
    index = []
    for letter, entries in sorted(letters.items()):
        url = urls.heading_letter_url(letter)
        listing.page("index_list.html", url, {
            "title": f"Headings: {letter.upper()}", "entries": entries, "letters": sorted(letters),
            "intro": "Questions grouped by the heading Parliament gave them."},
            twin={"letter": letter, "headings": entries})
        index.append({"url": url, "label": letter.upper(), "count": len(entries)})
    top = sorted((e for entries in letters.values() for e in entries),
                 key=lambda e: (-e["count"], e["label"]))[:40]
    listing.page("headings.html", urls.HEADINGS, {"title": "Headings", "letters": index, "top": top},
                 twin={"letters": index, "most_used": top})


def write_about(listing: Listings, stats: dict) -> None:
    formats = queries.source_formats(listing.db)
    listing.page("about.html", urls.ABOUT, {"title": "About this archive", "stats": stats,
                                          "formats": formats},
                 twin={"coverage": stats, "sources": formats})


def write_api(listing: Listings) -> None:
    "The API page: the Datasette API text where it has been written, else a short pointer."
    text_path = SITE_TEMPLATES / "api.md"
    body_html = render_markdown(text_path.read_text(encoding="utf-8")) if text_path.exists() else None
    listing.page("api.html", urls.API, {"title": "API and data", "body_html": body_html})


def write_listings(db: sqlite_utils.Database, env, output: Output, config: SiteConfig) -> list[str]:
    "Write every listing; returns their URLs (for the sitemap)."
    listing = Listings(db, env, output, config)
    members = queries.load_members(db)
    items = load_items(db, members)
    stats = queries.coverage(db)
    write_home(listing, items, stats)
    write_days(listing, items)
    timeliness_rows = queries.timeliness_figures(db)
    write_bodies(listing, items, timeliness.by_body(timeliness_rows))
    timeliness.write_page(listing, timeliness_rows, queries.load_bodies(db))
    write_members(listing, items, members, queries.load_posts(db))
    write_headings(listing, items)
    write_about(listing, stats)
    write_api(listing)
    listing.page("search.html", urls.SEARCH, {"title": "Search"})
    output.write(urls.NOT_FOUND, env.get_template("404.html").render(
        page_url=urls.HOME, title="Not found", absolute_links=True))
    return listing.urls
