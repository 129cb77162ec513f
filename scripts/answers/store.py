"""The database: schema, merge rules, full-text search and provenance (sqlite-utils).

`build_database` reads source files into `answers.db`. It works on a copy and moves it into
place only when the build has finished, so a killed build leaves the previous database intact.
Unchanged source files (same path, same sha256) are skipped; if a file seen before has
changed or gone, or the code that builds the database has changed, the database is rebuilt
from scratch, because rows it stored may have been superseded since.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path

import nh3
import sqlite_utils

from . import sources
from .model import FullText, MemberRef, Question, SourceError, slugify

SCHEMA_VERSION = "1"
BATCH_SIZE = 1000

# Tags and attributes an answer may keep: the structure of a parliamentary answer (paragraphs,
# lists, tables, emphasis, links) and nothing that runs or restyles the page.
ANSWER_TAGS = {
    "p", "br", "hr", "div", "span", "blockquote", "pre", "code",
    "strong", "b", "em", "i", "u", "sub", "sup", "s", "small",
    "ul", "ol", "li", "dl", "dt", "dd",
    "h2", "h3", "h4", "h5", "h6",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "colgroup", "col",
    "a",
}
ANSWER_ATTRIBUTES = {
    "a": {"href", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}

# Characters XML 1.0 forbids (C0 controls but tab and line breaks, and two non-characters):
# one in any text field would make the feeds ill-formed, so they go before anything is stored.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
SQLITE_MAX_INTEGER = 2**63 - 1
DATE_FIELDS = ("date_tabled", "date_answered", "date_for_answer", "date_holding_answer",
               "date_answer_corrected")


class RejectedRecord(ValueError):
    "A record the store will not hold; the message is the reason given in `rejects`."


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
        raise RejectedRecord(f"{name} holds a lone surrogate (an invalid character)")
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
        raise RejectedRecord(f"{name} is not a valid date: {value!r}") from None


def check_integer(value: int | None, name: str) -> None:
    if value is not None and not (-SQLITE_MAX_INTEGER <= value <= SQLITE_MAX_INTEGER):
        raise RejectedRecord(f"{name} is beyond the range of a 64-bit integer")


def is_web_url(url: str | None) -> bool:
    return bool(url) and re.match(r"(?i)https?://[^\s/]", url) is not None


def checked_question(q: Question) -> tuple[Question, bool]:
    """The question with every text field made safe to store, and whether a non-web
    `official_url` was dropped. Raises RejectedRecord for what cannot be stored at all:
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


def sanitize_html(html: str | None) -> str | None:
    "Answer HTML with scripts, event handlers, styles and javascript: URLs removed."
    if html is None:
        return None
    cleaned = nh3.clean(
        html,
        tags=ANSWER_TAGS,
        attributes=ANSWER_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener",
    )
    return cleaned.strip()


def html_to_text(markup: str | None) -> str | None:
    "Plain text of sanitized HTML: block elements become line breaks, tags go."
    if markup is None:
        return None
    text = re.sub(r"(?i)<br\s*/?>", "\n", markup)
    text = re.sub(r"(?i)</(p|div|li|tr|h[2-6]|blockquote|table|caption)>", "\n", text)
    text = re.sub(r"(?i)</t[dh]>", "\t", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()


@dataclass
class FileReport:
    path: str
    format: str
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: bool = False  # unchanged since the last build

    urls_dropped: int = 0  # official URLs that were not http(s), left out

    def balanced(self) -> bool:
        return self.read == self.stored + self.duplicates + self.rejected


@dataclass
class BuildReport:
    files: list[FileReport] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # files no reader handles
    superseded: list[str] = field(default_factory=list)  # earlier versions of a file, skipped
    rebuilt: bool = False
    full_texts_applied: int = 0
    links_outside: list[str] = field(default_factory=list)  # symlinks leading out of a folder
    links_dangling: list[str] = field(default_factory=list)  # symlinks leading nowhere

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def urls_dropped(self) -> int:
        return sum(f.urls_dropped for f in self.files)

    def by_format(self) -> dict[str, dict[str, int]]:
        totals: dict[str, dict[str, int]] = {}
        for report in self.files:
            row = totals.setdefault(
                report.format, {"files": 0, "read": 0, "stored": 0, "duplicates": 0, "rejected": 0}
            )
            row["files"] += 1
            for name in ("read", "stored", "duplicates", "rejected"):
                row[name] += getattr(report, name)
        return totals


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def code_version() -> str:
    "A digest of the code that shapes the database: a change to it forces a full rebuild."
    digest = hashlib.sha256(SCHEMA_VERSION.encode())
    package = Path(__file__).parent
    for path in sorted([package / "store.py", package / "model.py"]
                       + list((package / "members").glob("*.py"))
                       + list((package / "sources").glob("*.py"))):
        if path.exists():
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def create_schema(db: sqlite_utils.Database) -> None:
    db["meta"].create({"name": str, "value": str}, pk="name", if_not_exists=True)
    db["sources"].create(
        {"id": int, "path": str, "format": str, "sha256": str, "read": int,
         "stored": int, "duplicates": int, "rejected": int, "urls_dropped": int},
        pk="id", not_null={"path", "format", "sha256"}, if_not_exists=True,
    )
    db["sources"].create_index(["path"], unique=True, if_not_exists=True)
    db["rejects"].create(
        {"id": int, "source_id": int, "location": str, "reason": str},
        pk="id", foreign_keys=[("source_id", "sources", "id")], if_not_exists=True,
    )
    db["members"].create(
        {"id": str, "mnis_id": int, "name": str, "party": str, "constituency": str, "house": str},
        pk="id", if_not_exists=True,
    )
    db["answering_bodies"].create(
        {"name": str, "slug": str, "api_id": int}, pk="name", if_not_exists=True,
    )
    db["answering_bodies"].create_index(["slug"], unique=True, if_not_exists=True)
    db["questions"].create(
        {
            "key": str, "house": str, "uin": str,
            "date_tabled": str, "date_for_answer": str, "date_answered": str,
            "date_holding_answer": str, "date_answer_corrected": str,
            "heading": str, "answering_body": str,
            "asking_member_id": str, "answering_member_id": str, "correcting_member_id": str,
            "answerer_title_as_published": str,
            "answering_member_office": str, "answering_member_office_source": str,
            "question_text": str, "answer_html": str, "answer_text": str,
            "original_answer_html": str,
            "is_holding": int, "is_withdrawn": int, "is_named_day": int, "is_correction": int,
            "member_has_interest": int, "question_is_clipped": int, "answer_is_clipped": int,
            "grouped_keys": str, "api_id": int, "official_url": str, "url": str,
            "source_id": int, "source_location": str,
        },
        pk="key",
        foreign_keys=[
            ("answering_body", "answering_bodies", "name"),
            ("asking_member_id", "members", "id"),
            ("answering_member_id", "members", "id"),
            ("correcting_member_id", "members", "id"),
            ("source_id", "sources", "id"),
        ],
        if_not_exists=True,
    )
    for columns in (["house"], ["date_tabled"], ["date_answered"], ["answering_body"],
                    ["asking_member_id"], ["answering_member_id"], ["uin"], ["api_id"],
                    ["is_holding"], ["is_named_day"], ["url"]):
        db["questions"].create_index(columns, if_not_exists=True)
    # Internal: what each stored row was built from, to rank later snapshots against it.
    db["question_snapshots"].create(
        {"key": str, "record_hash": str, "freshness": str, "source": str}, pk="key",
        if_not_exists=True,
    )
    # Snapshots set aside for another of the same freshness but different content: the
    # rule that chose (see Store.add_question) is recorded, never applied silently.
    db["snapshot_conflicts"].create(
        {"key": str, "record_hash": str, "source": str, "location": str},
        pk=("key", "record_hash"), if_not_exists=True,
    )
    db["full_texts"].create(
        {"api_id": int, "question_text": str, "answer_html": str, "source_id": int},
        pk="api_id", foreign_keys=[("source_id", "sources", "id")], if_not_exists=True,
    )
    if "questions_fts" not in db.table_names():
        db["questions"].enable_fts(
            ["heading", "question_text", "answer_text"], tokenize="porter", create_triggers=True,
        )
        narrow_fts_update_trigger(db)
    # The questions without their answer bodies, for listings light enough to page through,
    # and with the year answered as a column of its own, for faceting. `rowid` lets full-text
    # search (questions_fts) find rows of the view.
    db.create_view("question_list", QUESTION_LIST_SQL, replace=True)


def narrow_fts_update_trigger(db: sqlite_utils.Database) -> None:
    """Re-index a row only when an indexed column changes: filling in offices or flags
    otherwise re-indexes every answer (3.6 of the 4.4 s of a full office update)."""
    db.executescript(
        """
        drop trigger if exists questions_au;
        create trigger questions_au after update of heading, question_text, answer_text
        on questions begin
          insert into questions_fts (questions_fts, rowid, heading, question_text, answer_text)
            values ('delete', old.rowid, old.heading, old.question_text, old.answer_text);
          insert into questions_fts (rowid, heading, question_text, answer_text)
            values (new.rowid, new.heading, new.question_text, new.answer_text);
        end;
        """
    )


QUESTION_LIST_SQL = """select rowid, key, house, uin, date_tabled, date_for_answer, date_answered,
  substr(date_answered, 1, 4) as year_answered, heading, answering_body,
  asking_member_id, answering_member_id, answering_member_office, question_text,
  is_holding, is_withdrawn, is_named_day, is_correction, url
from questions"""


class Store:
    """Writes model records into an open database, applying the identity and merge rules."""

    def __init__(self, db: sqlite_utils.Database, directory=None):
        self.db = db
        self.directory = directory  # a members.MemberDirectory, or None
        create_schema(db)
        self.snapshots = {
            row["key"]: (tuple(json.loads(row["freshness"])), row["source"], row["record_hash"])
            for row in db["question_snapshots"].rows
        }
        self.source_path = ""  # the file being read, whose records are being added
        self.members: dict[str, dict] = {}
        self.bodies: dict[str, dict] = {}
        # Rows waiting to be written, by primary key: a later row for a key replaces the
        # earlier one before anything is written.
        self.pending_questions: dict[str, dict] = {}
        self.pending_snapshots: dict[str, dict] = {}
        self.pending_full_texts: dict[int, dict] = {}

    # -- members and bodies ---------------------------------------------------------------

    def member_id(self, ref: MemberRef | None, on_date: str | None) -> str | None:
        if ref is None:
            return None
        if self.directory is not None:
            ref = self.directory.resolve(ref, on_date)
        row = self.members.setdefault(ref.id, {"id": ref.id})
        if ref.id.isascii() and ref.id.isdigit() and int(ref.id) <= SQLITE_MAX_INTEGER:
            row["mnis_id"] = int(ref.id)
        for name in ("name", "party", "constituency", "house"):
            value = getattr(ref, name)
            if value and not row.get(name):
                row[name] = value
        return ref.id

    def body_name(self, question: Question) -> str | None:
        name = question.answering_body
        if not name:
            return None
        row = self.bodies.setdefault(name, {"name": name})
        if question.answering_body_id and not row.get("api_id"):
            row["api_id"] = question.answering_body_id
        return name

    # -- questions ------------------------------------------------------------------------

    def add_question(self, question: Question, source_id: int) -> bool:
        """Store a question unless the snapshot held ranks as high. True if stored.

        Snapshots rank by freshness, then by the path of their file (the later wins), then
        by content digest: a total order, so the row kept never depends on the order files
        are read in, and an incremental build gives what a clean one does."""
        key = question.key
        rank = (question.freshness(), self.source_path, question.record_hash())
        held = self.snapshots.get(key)
        if held is not None and held[2] == rank[2]:
            if rank > held:
                self.move_provenance(key, rank, source_id, question.location)
            return False  # an exact duplicate
        if held is not None and held > rank:
            if held[0] > rank[0]:
                self.keep_earlier_answer(key, question)
            else:
                self.record_conflict(key, rank, question.location)
            return False
        row = self.question_row(question, source_id)
        if held is not None:
            self.keep_original_answer(row)
            if held[0] == rank[0]:
                self.record_conflict(key, held, self.held_location(key))
            self.db.execute("delete from snapshot_conflicts where key = ? and record_hash = ?",
                            [key, rank[2]])  # set aside by an earlier file, kept after all
        self.pending_questions[key] = row
        self.note_snapshot(key, rank)
        if len(self.pending_questions) >= BATCH_SIZE:
            self.write_pending()
        return True

    def note_snapshot(self, key: str, rank: tuple) -> None:
        freshness, source, record_hash = rank
        self.pending_snapshots[key] = {"key": key, "record_hash": record_hash,
                                       "freshness": json.dumps(freshness), "source": source}
        self.snapshots[key] = rank

    def move_provenance(self, key: str, rank: tuple, source_id: int, location: str) -> None:
        "The same record in a later file: the row's provenance becomes that file."
        row = self.pending_questions.get(key)
        if row is not None:
            row.update(source_id=source_id, source_location=location)
        else:
            self.db.execute(
                "update questions set source_id = ?, source_location = ? where key = ?",
                [source_id, location, key],
            )
        self.note_snapshot(key, rank)

    def held_location(self, key: str) -> str | None:
        row = self.pending_questions.get(key)
        if row is not None:
            return row["source_location"]
        found = self.db.execute("select source_location from questions where key = ?",
                                [key]).fetchone()
        return found[0] if found else None

    def record_conflict(self, key: str, rank: tuple, location: str | None) -> None:
        """A snapshot as fresh as the one kept but different: set aside, and recorded. The
        same content set aside from several files is recorded once, from the last of them."""
        _, source, record_hash = rank
        self.db.execute(
            """insert into snapshot_conflicts (key, record_hash, source, location)
               values (?, ?, ?, ?)
               on conflict (key, record_hash) do update
               set source = excluded.source, location = excluded.location
               where excluded.source > snapshot_conflicts.source""",
            [key, record_hash, source, location],
        )

    def keep_original_answer(self, row: dict) -> None:
        "A correction that replaces a stored answer keeps the answer it corrects."
        if not row["is_correction"] or row["original_answer_html"]:
            return
        previous = self.pending_questions.get(row["key"])
        if previous is not None:
            previous_answer = previous["answer_html"]
        else:
            found = self.db.execute(
                "select answer_html from questions where key = :key", {"key": row["key"]}
            ).fetchone()
            previous_answer = found[0] if found else None
        if previous_answer and previous_answer != row["answer_html"]:
            row["original_answer_html"] = previous_answer

    def keep_earlier_answer(self, key: str, earlier: Question) -> None:
        """An earlier snapshot read after the correction that replaced it: its substantive
        answer is the one the correction corrects, whatever order the files came in."""
        if not earlier.answer_html or earlier.is_holding:
            return
        row = self.pending_questions.get(key) or self.db["questions"].get(key)
        original = sanitize_html(earlier.answer_html)
        if row["is_correction"] and not row["original_answer_html"] and original != row["answer_html"]:
            row["original_answer_html"] = original
            self.pending_questions[key] = row

    def question_row(self, q: Question, source_id: int) -> dict:
        answer_html = sanitize_html(q.answer_html) or None
        on_date = q.date_answered or q.date_tabled
        return {
            "key": q.key,
            "house": q.house,
            "uin": q.uin,
            "date_tabled": q.date_tabled,
            "date_for_answer": q.date_for_answer,
            "date_answered": q.date_answered,
            "date_holding_answer": q.date_holding_answer,
            "date_answer_corrected": q.date_answer_corrected,
            "heading": q.heading,
            "answering_body": self.body_name(q),
            "asking_member_id": self.member_id(q.asking_member, q.date_tabled),
            "answering_member_id": self.member_id(q.answering_member, on_date),
            "correcting_member_id": self.member_id(q.correcting_member, q.date_answer_corrected),
            "answerer_title_as_published": q.answerer_title_as_published,
            "answering_member_office": None,
            "answering_member_office_source": None,
            "question_text": q.question_text,
            "answer_html": answer_html,
            "answer_text": html_to_text(answer_html),
            "original_answer_html": sanitize_html(q.original_answer_html) or None,
            "is_holding": int(q.is_holding),
            "is_withdrawn": int(q.is_withdrawn),
            "is_named_day": int(q.is_named_day),
            "is_correction": int(q.is_correction),
            "member_has_interest": int(q.member_has_interest),
            "question_is_clipped": int(q.question_is_clipped),
            "answer_is_clipped": int(q.answer_is_clipped),
            "grouped_keys": json.dumps(q.grouped_keys) if q.grouped_keys else None,
            "api_id": q.api_id,
            "official_url": q.official_url,
            "url": q.url,
            "source_id": source_id,
            "source_location": q.location,
        }

    def add_full_text(self, full_text: FullText, source_id: int) -> bool:
        row = {
            "api_id": full_text.api_id,
            "question_text": full_text.question_text,
            "answer_html": full_text.answer_html or None,
            "source_id": source_id,
        }
        held = self.held_full_text(full_text.api_id)
        if held is not None and held == (row["question_text"], row["answer_html"]):
            return False
        if held is not None and held[1] and not row["answer_html"]:
            return False  # an earlier fetch, from before the question was answered
        self.pending_full_texts[full_text.api_id] = row
        if len(self.pending_full_texts) >= BATCH_SIZE:
            self.write_pending()
        return True

    def held_full_text(self, api_id: int) -> tuple | None:
        pending = self.pending_full_texts.get(api_id)
        if pending is not None:
            return pending["question_text"], pending["answer_html"]
        return self.db.execute(
            "select question_text, answer_html from full_texts where api_id = :api_id",
            {"api_id": api_id},
        ).fetchone()

    def write_pending(self) -> None:
        "Write buffered rows in batches: one statement a row costs several times more."
        if self.pending_questions:
            self.db["questions"].upsert_all(self.pending_questions.values(), pk="key")
            self.db["question_snapshots"].upsert_all(self.pending_snapshots.values(), pk="key")
        if self.pending_full_texts:
            self.db["full_texts"].upsert_all(self.pending_full_texts.values(), pk="api_id")
        self.pending_questions.clear()
        self.pending_snapshots.clear()
        self.pending_full_texts.clear()

    def flush(self) -> None:
        "Write the questions, members and answering bodies gathered so far."
        self.write_pending()
        if self.members:
            self.db["members"].upsert_all(self.members.values(), pk="id", alter=True)
        if self.bodies:
            self.write_bodies()

    def write_bodies(self) -> None:
        """Upsert the answering bodies, giving every body held its slug afresh: a new name
        can change which of two alike names keeps the plain slug."""
        table = self.db["answering_bodies"]
        held = {row["name"]: row["slug"] for row in table.rows}
        slugs = body_slugs(set(held) | set(self.bodies))
        moved = [name for name, slug in held.items() if slugs[name] != slug]
        # Clear moved slugs first: the unique index must hold after every single update.
        self.db.conn.executemany("update answering_bodies set slug = null where name = ?",
                                 [(name,) for name in moved])
        rows = [dict(self.bodies.get(name, {"name": name}), slug=slugs[name])
                for name in sorted(set(self.bodies) | set(moved))]
        table.upsert_all(rows, pk="name", alter=True)

    # -- one source file ------------------------------------------------------------------

    def load_file(self, path: Path, display_path: str, sha256: str, records: Iterable) -> FileReport:
        reader = sources.reader_for(path)
        report = FileReport(path=display_path, format=reader.FORMAT)
        table = self.db["sources"]
        existing = self.db.execute(
            "select id from sources where path = :path", {"path": display_path}
        ).fetchone()
        source_id = existing[0] if existing else table.insert(
            {"path": display_path, "format": reader.FORMAT, "sha256": sha256}
        ).last_pk
        self.source_path = display_path
        for record in guarded(records, display_path):
            report.read += 1
            if isinstance(record, SourceError):
                self.reject(report, source_id, record.location, record.reason)
                continue
            try:
                stored = self.add_record(record, source_id, report)
            except RejectedRecord as error:
                self.reject(report, source_id, record.location, str(error))
                continue
            report.stored += stored
            report.duplicates += not stored
        table.update(source_id, {
            "format": reader.FORMAT, "sha256": sha256, "read": report.read,
            "stored": report.stored, "duplicates": report.duplicates, "rejected": report.rejected,
            "urls_dropped": report.urls_dropped,
        })
        self.flush()
        return report

    def add_record(self, record: Question | FullText, source_id: int, report: FileReport) -> bool:
        "Check and store one record; raises RejectedRecord for one that cannot be stored."
        if isinstance(record, FullText):
            check_integer(record.api_id, "api_id")
            return self.add_full_text(replace(
                record, question_text=clean_text(record.question_text, "question_text"),
                answer_html=clean_text(record.answer_html, "answer_html")), source_id)
        question, url_dropped = checked_question(record)
        report.urls_dropped += url_dropped
        return self.add_question(question, source_id)

    def reject(self, report: FileReport, source_id: int, location: str, reason: str) -> None:
        report.rejected += 1
        self.db["rejects"].insert(
            {"source_id": source_id, "location": safe_text(location), "reason": safe_text(reason)}
        )

    # -- after all files --------------------------------------------------------------------

    def apply_full_texts(self) -> int:
        """Replace clipped text with the full text wherever a longform entry holds it.

        The full answer must begin with what the clipped answer shows, so that a longform
        entry fetched at another time (say, before a correction) never replaces a different
        answer.
        """
        updates = []
        rows = self.db.execute(
            """select q.key, q.question_text, q.question_is_clipped, q.answer_text,
                      q.answer_is_clipped, f.question_text, f.answer_html
               from questions q join full_texts f on f.api_id = q.api_id
               where q.question_is_clipped = 1 or q.answer_is_clipped = 1"""
        ).fetchall()
        for key, q_text, q_clipped, a_text, a_clipped, full_q, full_a in rows:
            update = {"key": key, "question_text": q_text, "question_is_clipped": q_clipped,
                      "answer_html": None, "answer_text": a_text, "answer_is_clipped": a_clipped}
            if q_clipped and full_q and same_start(q_text, full_q):
                update.update(question_text=full_q, question_is_clipped=0)
            if a_clipped and full_a:
                full_html = sanitize_html(full_a)
                full_text = html_to_text(full_html)
                if same_start(a_text, full_text):
                    update.update(answer_html=full_html, answer_text=full_text, answer_is_clipped=0)
            if update["question_is_clipped"] != q_clipped or update["answer_is_clipped"] != a_clipped:
                updates.append(update)
        self.db.conn.executemany(
            """update questions set question_text = :question_text,
                 question_is_clipped = :question_is_clipped,
                 answer_html = coalesce(:answer_html, answer_html),
                 answer_text = :answer_text, answer_is_clipped = :answer_is_clipped
               where key = :key""",
            updates,
        )
        return len(updates)


def guarded(records: Iterable, file: str) -> Iterator:
    """A reader's records; should the reader itself fail, the failure ends the file as one
    SourceError rather than ending the build."""
    iterator = iter(records)
    while True:
        try:
            record = next(iterator)
        except StopIteration:
            return
        except Exception as error:  # a reader's bug must not lose the other files
            yield SourceError(file, "reader stopped", f"{type(error).__name__}: {error}")
            return
        yield record


def body_slugs(names: Iterable[str]) -> dict[str, str]:
    """Each answering body's slug. Where names slugify alike ('Culture, Media & Sport' and
    'Culture, Media and Sport'), the first in sorted order keeps the plain slug and each
    other gets a suffix from a digest of its name: no slug depends on the order of files."""
    by_slug: dict[str, list[str]] = {}
    for name in sorted(names):
        by_slug.setdefault(slugify(name), []).append(name)
    slugs = {}
    for slug, group in by_slug.items():
        slugs[group[0]] = slug
        for name in group[1:]:
            slugs[name] = f"{slug}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:6]}"
    return slugs


def squash(text: str) -> str:
    "Letters and digits only, lower-cased: spacing, punctuation and markup left behind."
    return re.sub(r"\W+", "", text).lower()


def same_start(clipped: str | None, full: str | None) -> bool:
    "Whether a clipped text is the beginning of a full one, ignoring spacing and the '...'."
    if not clipped or not full:
        return False
    prefix = squash(clipped.removesuffix("..."))[:200]
    return bool(prefix) and squash(full).startswith(prefix)


def build_database(
    inputs: Iterable[str | Path],
    db_path: Path,
    directory=None,
    progress: Callable[[list], AbstractContextManager[Iterable]] | None = None,
) -> BuildReport:
    """Read every source file under `inputs` into the database at `db_path`.

    `progress`, if given, wraps the list of files still to read in a context manager that
    yields an iterable over them (click.progressbar does).
    """
    report = BuildReport()
    links = sources.Links()
    readable = survey(sources.discover(inputs, links), report)
    report.links_outside = [safe_text(path) for path in links.outside]
    report.links_dangling = [safe_text(path) for path in links.dangling]
    db_path.parent.mkdir(parents=True, exist_ok=True)
    work_path = db_path.with_name(f".{db_path.name}.building")
    remove_database_files(work_path)  # what a killed build left, its journal included
    version = code_version() + (directory.fingerprint if directory is not None else "")
    report.rebuilt = not can_update(db_path, readable, version)
    if not report.rebuilt and holds_all(db_path, readable, report):
        return report  # nothing new: the database is left as it is, not rewritten
    if not report.rebuilt:
        shutil.copyfile(db_path, work_path)
    try:
        db = sqlite_utils.Database(work_path)
        try:
            load_changed_files(Store(db, directory), readable, report, progress)
            db["meta"].upsert({"name": "code_version", "value": version}, pk="name")
        finally:
            db.close()
        os.replace(work_path, db_path)
    finally:
        remove_database_files(work_path)
    report.files.sort(key=lambda f: f.path)
    return report


def survey(files: list[Path], report: BuildReport) -> list[tuple[Path, str, str]]:
    """The files to build from, as (path, path as recorded, sha256). Files no reader handles
    are ignored; superseded versions (a later version of the same file is present) are
    skipped, so that a file becoming superseded counts as gone and forces a rebuild."""
    readable = []
    for path in files:
        if sources.reader_for(path) is None:
            report.ignored.append(safe_text(str(path)))
        elif sources.is_superseded(path):
            report.superseded.append(safe_text(str(path)))
        else:
            readable.append((path, safe_text(str(path)), file_sha256(path)))
    return readable


def load_changed_files(store: Store, readable, report: BuildReport, progress) -> None:
    "Read the files the database does not hold yet, then the passes over all rows."
    db = store.db
    todo = skip_held_files(db, readable, report)
    with db.atomic(), (progress or nullcontext)(todo) as iterator:
        for path, display, sha in iterator:
            report.files.append(store.load_file(path, display, sha, sources.read(path)))
        report.full_texts_applied = store.apply_full_texts()
        if store.directory is not None:
            store.directory.apply_offices(db)


def skip_held_files(db: sqlite_utils.Database, readable, report: BuildReport) -> list:
    "The files the database does not hold yet; those it holds go into the report as skipped."
    known = {row["path"]: row for row in db["sources"].rows}
    todo = []
    for path, display, sha in readable:
        held = known.get(display)
        if held is not None and held["sha256"] == sha:
            report.files.append(FileReport(
                display, held["format"], held["read"], held["stored"], held["duplicates"],
                held["rejected"], skipped=True, urls_dropped=held["urls_dropped"] or 0))
        else:
            todo.append((path, display, sha))
    return todo


def holds_all(db_path: Path, readable, report: BuildReport) -> bool:
    """Whether an up-to-date database already holds every file: then the report lists them
    as skipped and the build writes nothing, so a no-op build leaves the file's bytes alone."""
    db = sqlite_utils.Database(sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True))
    try:
        held = BuildReport()
        if skip_held_files(db, readable, held):
            return False
    finally:
        db.close()
    report.files = sorted(held.files, key=lambda f: f.path)
    return True


def remove_database_files(path: Path) -> None:
    "A database file and the journal files SQLite keeps beside it."
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def can_update(db_path: Path, readable: list[tuple[Path, str, str]], version: str) -> bool:
    """Whether the existing database can be brought up to date by adding files to it: it
    exists, was built by this code, and every file it was built from is still there unchanged.
    A database that cannot be read is rebuilt."""
    if not db_path.exists():
        return False
    db = sqlite_utils.Database(db_path)
    try:
        if "meta" not in db.table_names():
            return False
        row = db.execute("select value from meta where name = 'code_version'").fetchone()
        if not row or row[0] != version:
            return False
        current = {display: sha for _, display, sha in readable}
        held = db.execute("select path, sha256 from sources").fetchall()
        return all(current.get(path) == sha for path, sha in held)
    except sqlite3.DatabaseError:
        return False
    finally:
        db.close()
