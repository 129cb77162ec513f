"""What makes a record's values acceptable to the database: safe text, real dates, integers
SQLite can hold, web addresses. Reads model records and returns them checked; writes nothing.

A value that cannot be made safe rejects its record (`RecordError`, whose message is the
reason stored in `rejects`); a value that can is cleaned, never silently kept as it came.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace
from datetime import date

from .model import FullText, MemberRef, Question, RecordError

# Characters XML 1.0 forbids (C0 controls but tab and line breaks, and two non-characters):
# one in any text field would make the feeds ill-formed, so they go before anything is stored.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
SQLITE_MAX_INTEGER = 2**63 - 1
DATE_FIELDS = ("date_tabled", "date_answered", "date_for_answer", "date_holding_answer",
               "date_answer_corrected")


def safe_text(text: str) -> str:
    """Text that can go anywhere (SQLite, XML, a terminal): a lone surrogate (an undecodable
    byte in a file name, a bad JSON escape) is spelt out as its escape, XML-forbidden
    characters are removed."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return XML_FORBIDDEN.sub("", text)


def clean_text(value, name: str):
    "A text field with XML-forbidden characters removed; a lone surrogate rejects the record."
    if not isinstance(value, str):
        return value
    if LONE_SURROGATE.search(value):
        raise RecordError(f"{name} holds a lone surrogate (an invalid character)")
    return XML_FORBIDDEN.sub("", value)


def clean_member(ref: MemberRef | None, name: str) -> MemberRef | None:
    if ref is None:
        return None
    return replace(ref, **{f.name: clean_text(getattr(ref, f.name), f"{name}.{f.name}")
                           for f in fields(ref)})


def check_date(value: str | None, name: str) -> None:
    "An ISO date (YYYY-MM-DD) that exists in the calendar, or nothing."
    if value is None:
        return
    try:
        if not ISO_DATE.fullmatch(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{name} is not a valid date: {value!r}") from None


def check_integer(value: int | None, name: str) -> None:
    if value is not None and not (-SQLITE_MAX_INTEGER <= value <= SQLITE_MAX_INTEGER):
        raise RecordError(f"{name} is beyond the range of a 64-bit integer")


def is_mnis_id(member_id: str) -> bool:
    "Whether a member id is an MNIS number SQLite can hold as an integer."
    return member_id.isascii() and member_id.isdigit() and int(member_id) <= SQLITE_MAX_INTEGER


def is_web_url(url: str | None) -> bool:
    return bool(url) and re.match(r"(?i)https?://[^\s/]", url) is not None


def checked_question(q: Question) -> tuple[Question, bool]:
    """The question with every text field made safe to store, and whether a non-web
    `official_url` was dropped. Raises RecordError for what cannot be stored at all:
    a lone surrogate, an invalid date, an integer beyond SQLite's range."""
    changes = {}
    for f in fields(q):
        value = getattr(q, f.name)
        if isinstance(value, MemberRef):
            changes[f.name] = clean_member(value, f.name)
        elif isinstance(value, list):
            changes[f.name] = [clean_text(item, f.name) for item in value]
        elif f.name == "location":
            changes[f.name] = safe_text(value)
        else:
            changes[f.name] = clean_text(value, f.name)
    for name in DATE_FIELDS:
        check_date(changes[name], name)
    check_integer(q.api_id, "api_id")
    check_integer(q.answering_body_id, "answering_body_id")
    url_dropped = changes["official_url"] is not None and not is_web_url(changes["official_url"])
    if url_dropped:
        changes["official_url"] = None
    return replace(q, **changes), url_dropped


def checked_full_text(full_text: FullText) -> FullText:
    "The full text with its text made safe to store; RecordError as for a question."
    check_integer(full_text.api_id, "api_id")
    return replace(full_text,
                   question_text=clean_text(full_text.question_text, "question_text"),
                   answer_html=clean_text(full_text.answer_html, "answer_html"))
