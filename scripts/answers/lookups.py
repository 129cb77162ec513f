"""What the pages stage and the site stage both read from the database to name and link the
people and bodies a question mentions: one reading, so that both stages agree."""

from __future__ import annotations

import sqlite_utils

from . import urls


def load_members(db: sqlite_utils.Database) -> dict[str, dict]:
    """Member id -> the member as the archive shows them: id, name, party, constituency and
    house (None where no source gave them), their page's `url`, and a `display` name that
    is never empty."""
    return {
        row["id"]: dict(row, url=urls.member_url(row["id"], row["name"]),
                        display=row["name"] or f"Member {row['id']}")
        for row in db.query("select id, name, party, constituency, house from members")
    }


def member_or_placeholder(members: dict[str, dict], member_id: str) -> dict:
    "The member with this id, or where no member data names them, a stand-in of the same shape."
    return members.get(member_id) or {
        "id": member_id, "name": None, "party": None, "constituency": None, "house": None,
        "url": urls.member_url(member_id), "display": f"Member {member_id}"}


def load_bodies(db: sqlite_utils.Database) -> dict[str, dict]:
    "Answering body name -> its name, slug and page `url`."
    return {
        row["name"]: {"name": row["name"], "slug": row["slug"], "url": urls.body_url(row["slug"])}
        for row in db.query("select name, slug from answering_bodies")
    }
