"""Atom feeds from the database: all answers, each answering body's, each member's.

Entry ids are the questions' canonical URLs and `updated` comes from the answer dates, never
from the clock, so an unchanged archive gives byte-identical feeds.
"""

from __future__ import annotations

from collections import defaultdict

import sqlite_utils

from . import queries, urls
from .clean import cut_at_word, sanitize_html
from .output import Output
from .render import SiteConfig, real_date

FEED_SIZE = 50
# Characters of an answer's HTML (and of a question's text) that a feed entry carries: a
# reader of the feed sees the start, and the entry links to the page for the rest.
ENTRY_TEXT_LIMIT = 4000


def atom_time(day: str) -> str:
    return f"{day[:10]}T00:00:00Z"


def entry_texts(row: dict) -> dict:
    """An entry's summary and content, each cut to ENTRY_TEXT_LIMIT. A cut answer is
    sanitized again, which closes the elements the cut left open and drops a cut tag."""
    summary, summary_cut = cut_at_word(row["question_text"], ENTRY_TEXT_LIMIT)
    content, content_cut = cut_at_word(row["answer_html"], ENTRY_TEXT_LIMIT)
    return {"question_text": summary + ("…" if summary_cut else ""),
            "answer_html": sanitize_html(content) if content_cut else content,
            "is_cut": summary_cut or content_cut}


def load_entries(db: sqlite_utils.Database) -> list[dict]:
    """Every answered question as a feed entry, newest first. An answer whose date is not a
    real date has no place in time order, and Atom requires real dates: it is left out."""
    rows = queries.feed_rows(db, ENTRY_TEXT_LIMIT + 1)
    return [dict(row, title=urls.question_title(row),
                 updated=atom_time(real_date(row["updated"]) or row["date_answered"]),
                 published=atom_time(row["date_answered"]), **entry_texts(row))
            for row in rows if real_date(row["date_answered"])]


def write_feed(output: Output, env, config: SiteConfig, url: str, title: str,
               entries: list[dict]) -> None:
    "The feed of the page at `url`: its newest FEED_SIZE entries."
    entries = entries[:FEED_SIZE]
    path = urls.feed_url(url)
    output.write(path, env.get_template("feed.xml").render(
        page_url=urls.HOME, title=title, feed_id=config.absolute(path), self_url=config.absolute(path),
        alternate=config.absolute(url), entries=entries,
        updated=entries[0]["updated"] if entries else "2000-01-01T00:00:00Z"))


def write_feeds(db: sqlite_utils.Database, env, output: Output, config: SiteConfig) -> None:
    entries = load_entries(db)
    write_feed(output, env, config, urls.HOME, f"{config.title}: latest answers", entries)
    by_body: dict[str, list] = defaultdict(list)
    by_member: dict[str, list] = defaultdict(list)
    for entry in entries:
        if entry["body_slug"]:
            by_body[entry["body_slug"]].append(entry)
        for member_id in {entry["asking_member_id"], entry["answering_member_id"]} - {None}:
            by_member[member_id].append(entry)
    # Every body page links a feed, so bodies with nothing answered yet get an empty one.
    for body in queries.load_bodies(db).values():
        write_feed(output, env, config, body["url"], f"Answers from {body['name']}",
                   by_body.get(body["slug"], []))
    members = queries.load_members(db)
    # Every member page links a feed, so members with nothing answered yet get an empty one.
    for member_id in queries.named_member_ids(db):
        member = queries.member_or_placeholder(members, member_id)
        write_feed(output, env, config, member["url"], f"Answers to and by {member['display']}",
                   by_member.get(member_id, []))

