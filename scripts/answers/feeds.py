"""Atom feeds from the database: all answers, each answering body's, each member's.

Entry ids are the questions' canonical URLs and `updated` comes from the answer dates, never
from the clock, so an unchanged archive gives byte-identical feeds.
"""

from __future__ import annotations

from collections import defaultdict

import sqlite_utils

from . import urls
from .clean import sanitize_html
from .lookups import load_members, member_or_placeholder
from .output import Output
from .render import SiteConfig, real_date

FEED_SIZE = 50
# Characters of an answer's HTML (and of a question's text) that a feed entry carries: a
# reader of the feed sees the start, and the entry links to the page for the rest.
ENTRY_TEXT_LIMIT = 4000


def atom_time(day: str) -> str:
    return f"{day[:10]}T00:00:00Z"


def cut_at_word(text: str | None, limit: int = ENTRY_TEXT_LIMIT) -> tuple[str, bool]:
    "The text, or its first `limit` characters ending at a word; and whether it was cut."
    if not text or len(text) <= limit:
        return text or "", False
    cut = text[:limit]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(), True


def entry_texts(row: dict) -> dict:
    """An entry's summary and content, each cut to ENTRY_TEXT_LIMIT. A cut answer is
    sanitized again, which closes the elements the cut left open and drops a cut tag."""
    summary, summary_cut = cut_at_word(row["question_text"])
    content, content_cut = cut_at_word(row["answer_html"])
    return {"question_text": summary + ("…" if summary_cut else ""),
            "answer_html": sanitize_html(content) if content_cut else content,
            "is_cut": summary_cut or content_cut}


def load_entries(db: sqlite_utils.Database) -> list[dict]:
    """Every answered question as a feed entry, newest first. An answer whose date is not a
    real date has no place in time order, and Atom requires real dates: it is left out."""
    # Only as much of each text as an entry can show is read: an answer can be huge.
    rows = db.query(
        f"""select q.key, q.url, q.heading, q.uin, q.house, q.date_answered,
                  coalesce(q.date_answer_corrected, q.date_answered) as updated,
                  substr(q.answer_html, 1, {ENTRY_TEXT_LIMIT + 1}) as answer_html,
                  substr(q.question_text, 1, {ENTRY_TEXT_LIMIT + 1}) as question_text,
                  q.answering_body, b.slug as body_slug,
                  q.asking_member_id, q.answering_member_id,
                  a.name as answerer_name
           from questions q
           left join answering_bodies b on b.name = q.answering_body
           left join members a on a.id = q.answering_member_id
           where q.date_answered is not null
           order by updated desc, q.key desc"""
    )
    return [dict(row, title=row["heading"] or f"Question {row['uin'] or row['key']}",
                 updated=atom_time(real_date(row["updated"]) or row["date_answered"]),
                 published=atom_time(row["date_answered"]), **entry_texts(row))
            for row in rows if real_date(row["date_answered"])]


def write_feed(output: Output, env, config: SiteConfig, url: str, path: str, title: str,
               entries: list[dict]) -> None:
    entries = entries[:FEED_SIZE]
    output.write(path, env.get_template("feed.xml").render(
        page_url="", title=title, feed_id=config.absolute(path), self_url=config.absolute(path),
        alternate=config.absolute(url), entries=entries,
        updated=entries[0]["updated"] if entries else "2000-01-01T00:00:00Z"))


def write_feeds(db: sqlite_utils.Database, env, output: Output, config: SiteConfig) -> None:
    entries = load_entries(db)
    write_feed(output, env, config, "", "feed.xml", f"{config.title}: latest answers", entries)
    by_body: dict[str, list] = defaultdict(list)
    by_member: dict[str, list] = defaultdict(list)
    for entry in entries:
        if entry["body_slug"]:
            by_body[entry["body_slug"]].append(entry)
        for member_id in {entry["asking_member_id"], entry["answering_member_id"]} - {None}:
            by_member[member_id].append(entry)
    # Every body page links a feed, so bodies with nothing answered yet get an empty one.
    for row in db.query("select name, slug from answering_bodies order by slug"):
        url = urls.body_url(row["slug"])
        write_feed(output, env, config, url, url + "feed.xml", f"Answers from {row['name']}",
                   by_body.get(row["slug"], []))
    members = load_members(db)
    # Every member page links a feed, so members with nothing answered yet get an empty one.
    for member_id in member_ids(db):
        member = member_or_placeholder(members, member_id)
        write_feed(output, env, config, member["url"], member["url"] + "feed.xml",
                   f"Answers to and by {member['display']}", by_member.get(member_id, []))


def member_ids(db: sqlite_utils.Database) -> list[str]:
    return [row["id"] for row in db.query(
        """select asking_member_id as id from questions where asking_member_id is not null
           union select answering_member_id from questions where answering_member_id is not null
           order by id""")]
