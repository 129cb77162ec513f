"""Atom feeds from the database: all answers, each answering body's, each member's.

Entry ids are the questions' canonical URLs and `updated` comes from the answer dates, never
from the clock, so an unchanged archive gives byte-identical feeds.
"""

from __future__ import annotations

from collections import defaultdict

import sqlite_utils

from . import urls
from .lookups import load_members, member_or_placeholder
from .output import Output
from .render import SiteConfig

FEED_SIZE = 50


def atom_time(day: str) -> str:
    return f"{day[:10]}T00:00:00Z"


def load_entries(db: sqlite_utils.Database) -> list[dict]:
    "Every answered question as a feed entry, newest first."
    rows = db.query(
        """select q.key, q.url, q.heading, q.uin, q.house, q.date_answered,
                  coalesce(q.date_answer_corrected, q.date_answered) as updated,
                  q.answer_html, q.question_text, q.answering_body, b.slug as body_slug,
                  q.asking_member_id, q.answering_member_id,
                  a.name as answerer_name
           from questions q
           left join answering_bodies b on b.name = q.answering_body
           left join members a on a.id = q.answering_member_id
           where q.date_answered is not null
           order by updated desc, q.key desc"""
    )
    return [dict(row, title=row["heading"] or f"Question {row['uin'] or row['key']}",
                 updated=atom_time(row["updated"]), published=atom_time(row["date_answered"]))
            for row in rows]


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
