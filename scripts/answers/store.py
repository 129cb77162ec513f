"""The store: writes model records into the database, applying the identity and merge rules.

A `Store` is given checked records (see checks.py) one at a time and decides, question by
question, which snapshot the database keeps (`add_question`); it writes the rows of
`questions`, `question_snapshots`, `snapshot_conflicts`, `full_texts`, `members`,
`answering_bodies`, `sources` and `rejects`. The tables are made by schema.py; which files
are read, and when, is build.py's business.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import sqlite_utils

from .checks import is_mnis_id, safe_text
from .clean import html_to_text, sanitize_html
from .model import FullText, MemberRef, Question, slugify
from .schema import create_schema

BATCH_SIZE = 1000
FULL_TEXT_PREFIX = "full-text:"  # file_records keys of full texts, beside question keys


class RebuildNeeded(Exception):
    "Why the database cannot be brought up to date in place; the build starts afresh."


class Lineage(NamedTuple):
    """What the snapshot kept for a question draws on besides itself: the best-ranked earlier
    (less fresh) snapshot met that gave a substantive answer, the answer a correction corrects
    unless the correction gave its own original answer."""

    earlier: tuple | None = None  # its rank (freshness, source, record hash)
    earlier_answer: str | None = None  # its answer, sanitized
    original_given: bool = False


NO_LINEAGE = Lineage()


class RowValues(NamedTuple):
    "What only a question's row needs of it: its page path, and its answers as written."

    url: str
    answer_html: str | None  # sanitized; None if nothing is left
    answer_text: str | None  # of the sanitized answer
    original_answer_html: str | None  # sanitized; None if nothing is left

    @classmethod
    def of(cls, q: Question) -> RowValues:
        answer_html = sanitize_html(q.answer_html) or None
        return cls(q.url, answer_html, html_to_text(answer_html), sanitize_html(q.original_answer_html) or None)


@dataclass(frozen=True)
class Derived:
    """What the store works out from a question alone, whatever the database holds: its key
    and digest, and the values of its row. The build's reader process works these out ahead
    of the store (build.checked_records), which then only merges and writes. Read in the
    store's own process, the row's values are left to the store, which works them out only
    for the records it merges (an update replays most of a month file's records unmerged)."""

    key: str
    record_hash: str
    row_values: RowValues | None = None

    @classmethod
    def of(cls, q: Question, with_row_values: bool = False) -> Derived:
        return cls(q.key, q.record_hash(), RowValues.of(q) if with_row_values else None)

    def values(self, q: Question) -> RowValues:
        "The values of the question's row (`q` is the question this was derived from)."
        return self.row_values or RowValues.of(q)


class Store:
    """Writes model records into an open database, applying the identity and merge rules."""

    def __init__(self, db: sqlite_utils.Database, member_directory=None, questions_indexed_later: bool = False):
        """`questions_indexed_later`: the database is new, and its questions' indexes are made
        once its rows are written (`schema.index_questions`), not by the store."""
        self.db = db
        self.member_directory = member_directory  # a members.MemberDirectory, or None
        create_schema(db, questions_indexed_later)
        # The rank of each snapshot held, by key (None: none held), read from the database as
        # each key is first met: an update meets a handful of the archive's questions. A
        # database started afresh holds none, so there is nothing to ask it.
        self.snapshots: dict[str, tuple | None] = {}
        self.lineages: dict[str, Lineage] = {}  # by key, read with the rank
        # By key, read with the rank: the answer kept as its source gave it, where clipped (see
        # `answer_as_given`).
        self.clipped_answers: dict[str, str | None] = {}
        self.snapshots_held = db.execute("select 1 from question_snapshots limit 1").fetchone() is not None
        self.source_path = ""  # the file being read, whose records are being added
        # What that file gives, and what it gave when last read, as (key, digest): [copies,
        # how many of them are stored]. A record is stored in the file whose copy the database
        # keeps (see `credit`): in one file only, whatever order the files were read in.
        self.file_records: dict[tuple[str, str], list[int]] = {}
        self.earlier_records: dict[tuple[str, str], tuple[int, int]] = {}
        # Where in that file the records it gave before are now (their first copy's place).
        self.replayed_locations: dict[tuple[str, str], str] = {}
        self.member_rows: dict[str, dict] = {}
        # (table, row id, field) -> the file its value came from (see `fill_fields`).
        self.field_sources: dict[tuple[str, str, str], str] = {}
        self.body_rows: dict[str, dict] = {}
        # What `flush` last wrote of each member's row and each field's source, to write
        # only what changed since.
        self.members_written: dict[str, dict] = {}
        self.field_sources_written: dict[tuple[str, str, str], str] = {}
        # Rows waiting to be written, by primary key: a later row for a key replaces the
        # earlier one before anything is written.
        self.pending_questions: dict[str, dict] = {}
        self.pending_snapshots: dict[str, dict] = {}
        self.pending_full_texts: dict[int, dict] = {}
        self.full_texts_written: set[int] = set()  # by api_id, in this build
        self.full_texts_replaced: set[int] = set()  # by api_id: another text held before, in this build

    # -- members and bodies ---------------------------------------------------------------

    def member_id(self, ref: MemberRef | None, on_date: str | None) -> str | None:
        if ref is None:
            return None
        if self.member_directory is not None:
            ref = self.member_directory.resolve(ref, on_date)
        row = self.member_rows.get(ref.id) or self.held_row("members", "id", ref.id)
        self.member_rows[ref.id] = row
        if is_mnis_id(ref.id):
            row["mnis_id"] = int(ref.id)
        self.fill_fields("members", ref.id, row, {name: getattr(ref, name)
                                                  for name in ("name", "party", "constituency", "house")})
        return ref.id

    def body_name(self, question: Question) -> str | None:
        name = question.answering_body
        if not name:
            return None
        row = self.body_rows.get(name) or self.held_row("answering_bodies", "name", name)
        self.body_rows[name] = row
        self.fill_fields("answering_bodies", name, row, {"api_id": question.answering_body_id})
        return name

    def held_row(self, table: str, pk: str, value: str) -> dict:
        "A member's or body's row as the database holds it, or a new one."
        found = next(self.db.query(f"select * from [{table}] where [{pk}] = ?", [value]), None)
        return found or {pk: value}

    def fill_fields(self, table: str, row_id: str, row: dict, values: dict) -> None:
        """Give a member's or body's row these values (the empty ones aside) where it has none,
        or where its value came from a file later by path than the one being read. So each
        field is the first file's by path that gives it (that file's first record's), whatever
        order the files are read in: a file read late by an update, which a clean build would
        have read first, gives what it gives there."""
        for name, value in values.items():
            if not value:
                continue
            field = (table, row_id, name)
            if not row.get(name) or self.source_path < self.field_source(field):
                row[name] = value
                self.field_sources[field] = self.source_path

    def field_source(self, field: tuple[str, str, str]) -> str:
        "The file a held field's value came from ('' if unknown: it then stays)."
        if field not in self.field_sources:
            found = self.db.execute("select source from field_sources where tbl = ? and id = ? and field = ?",
                                    list(field)).fetchone()
            self.field_sources[field] = found[0] if found else ""
        return self.field_sources[field]

    # -- what each file gives ---------------------------------------------------------------

    def replayed(self, key: str, record_hash: str) -> bool | None:
        """For a file read before, a record it gave then too: the database already holds its
        effect, so it is not merged again; True if its copy is still the one kept (the account
        of every file is kept up to date as copies are kept in its place: `credit`). None for
        a new record."""
        earlier = self.earlier_records.get((key, record_hash))
        if earlier is None:
            return None
        given = self.file_records.setdefault((key, record_hash), [0, 0])
        stored = given[1] < earlier[1]  # as many copies stored as the last read stored
        given[0] += 1
        given[1] += stored
        return stored

    def note_given(self, key: str, record_hash: str, stored: bool) -> None:
        given = self.file_records.setdefault((key, record_hash), [0, 0])
        given[0] += 1
        given[1] += stored

    def credit(self, key: str, record_hash: str, previous: tuple[str, str] | None) -> None:
        """This file's copy of a record is now the one kept, in place of `previous` (the path
        and digest of the copy kept until now, if any): that file no longer counts it as stored.
        So a record is stored in one file, that of the copy kept, as a clean build would say."""
        if previous is None or previous == (self.source_path, record_hash):
            return
        path, previous_hash = previous
        if path == self.source_path:  # an earlier copy in this same file
            given = self.file_records.get((key, previous_hash))
            if given is not None:
                given[1] = 0
            if (key, previous_hash) in self.earlier_records:
                # Kept when the file was last read: a copy of it replayed later in the file
                # must not count as stored again (see `replayed`).
                copies, _ = self.earlier_records[(key, previous_hash)]
                self.earlier_records[(key, previous_hash)] = (copies, 0)
            return
        uncounted = self.db.execute(
            """update file_records set stored = 0 where stored > 0 and key = ? and record_hash = ?
                 and source_id = (select id from sources where path = ?)""",
            [key, previous_hash, path]).rowcount
        if uncounted:
            self.db.execute("update sources set stored = stored - 1, duplicates = duplicates + 1 "
                            "where path = ?", [path])

    def stored_count(self) -> int:
        "How many of the records the file being read gives are stored (their copy kept)."
        return sum(stored for _, stored in self.file_records.values())

    def vanished(self) -> set[tuple[str, str]]:
        "What the file being read gave last time and no longer gives, as (key, digest)."
        return set(self.earlier_records) - set(self.file_records)

    def changed(self) -> set[tuple[str, str]]:
        "What the file being read gives that it did not give last time, as (key, digest)."
        return set(self.file_records) - set(self.earlier_records)

    # -- questions ------------------------------------------------------------------------

    def add_question(self, question: Question, source_id: int, derived: Derived | None = None) -> bool:
        """Store a question unless the snapshot held ranks as high. True if stored.
        `derived`: `Derived.of(question)`, if worked out already.

        Snapshots rank by freshness, then by the path of their file (the later wins), then
        by content digest: a total order, so the row kept never depends on the order files
        are read in, and an incremental build gives what a clean one does."""
        derived = derived or Derived.of(question)
        key, record_hash = derived.key, derived.record_hash
        stored = self.replayed(key, record_hash)
        if stored is None:
            stored = self.merge_question(question, derived, source_id)
            self.note_given(key, record_hash, stored)
        else:
            # Not merged again, but the record may have moved within its file: the row kept
            # from it, or the snapshot it set aside, names where it is now, as a clean build
            # does (the first copy, if several: see `relocate_replayed`).
            self.replayed_locations.setdefault((key, record_hash), question.location)
        return stored

    def merge_question(self, question: Question, derived: Derived, source_id: int) -> bool:
        key, record_hash = derived.key, derived.record_hash
        rank = (question.freshness(), self.source_path, record_hash)
        held = self.held_snapshot(key)
        if held is not None and held >= rank:  # not stored: what it says of its members still counts
            self.names_of(question)
        if held is not None and held[2] == rank[2]:
            if rank <= held:
                return False  # an exact duplicate of the copy kept
            self.move_provenance(key, rank, source_id, question.location)
            self.credit(key, record_hash, held[1:])
            return True  # the same record, whose copy kept is now this file's
        if held is not None and held > rank:
            if held[0] > rank[0]:
                self.note_earlier(key, rank, question, derived)
            else:
                self.record_conflict(key, rank, question.location)
            return False
        row = self.question_row(question, derived, source_id)
        lineage = Lineage(original_given=row["original_answer_html"] is not None)
        if held is not None:
            if held[0] == rank[0]:
                self.record_conflict(key, held, self.held_location(key))
                self.db.execute("delete from snapshot_conflicts where key = ? and record_hash = ?",
                                [key, rank[2]])  # set aside by an earlier file, kept after all
                lineage = self.lineages[key]._replace(original_given=lineage.original_given)
            else:
                # Fresher: what was set aside is no longer as far along as the snapshot kept,
                # only earlier, as when the fresher one comes first (see `record_conflict`).
                self.db.execute("delete from snapshot_conflicts where key = ?", [key])
                # The snapshot held ranks above every other met: the best earlier one now,
                # if it answered; else the best earlier answer stays what it was.
                answer = self.held_answer(key, held)
                earlier = self.lineages[key]
                lineage = lineage._replace(earlier=held if answer else earlier.earlier,
                                           earlier_answer=answer or earlier.earlier_answer)
        derive_original(row, lineage, row["answer_html"])
        self.pending_questions[key] = row
        self.note_snapshot(key, rank, lineage, row["answer_html"] if row["answer_is_clipped"] else None)
        self.credit(key, record_hash, held[1:] if held is not None else None)
        if len(self.pending_questions) >= BATCH_SIZE:
            self.write_pending()
        return True

    def held_snapshot(self, key: str) -> tuple | None:
        "The rank (freshness, source, record hash) of the snapshot kept for a key, if any."
        if key not in self.snapshots:
            row = self.db.execute(
                """select freshness, source, record_hash, earlier_freshness, earlier_source,
                          earlier_hash, earlier_answer, original_given, clipped_answer
                   from question_snapshots where key = ?""",
                [key]).fetchone() if self.snapshots_held else None
            self.snapshots[key] = (tuple(json.loads(row[0])), row[1], row[2]) if row else None
            if row:
                earlier = (tuple(json.loads(row[3])), row[4], row[5]) if row[3] is not None else None
                self.lineages[key] = Lineage(earlier, row[6], bool(row[7]))
                self.clipped_answers[key] = row[8]
        return self.snapshots[key]

    def held_lineage(self, key: str) -> Lineage:
        "What the snapshot kept for a key draws on (see `Lineage`)."
        self.held_snapshot(key)
        return self.lineages.get(key, NO_LINEAGE)

    def note_snapshot(self, key: str, rank: tuple, lineage: Lineage, clipped_answer: str | None) -> None:
        """The snapshot kept for a key: its rank, what it draws on, and its answer as its source
        gave it where that was clipped (else None)."""
        freshness, source, record_hash = rank
        earlier_freshness, earlier_source, earlier_hash = lineage.earlier or (None, None, None)
        self.pending_snapshots[key] = {
            "key": key, "record_hash": record_hash, "freshness": json.dumps(freshness),
            "source": source,
            "earlier_freshness": None if earlier_freshness is None else json.dumps(earlier_freshness),
            "earlier_source": earlier_source, "earlier_hash": earlier_hash,
            "earlier_answer": lineage.earlier_answer, "original_given": int(lineage.original_given),
            "clipped_answer": clipped_answer}
        self.snapshots[key] = rank
        self.lineages[key] = lineage
        self.clipped_answers[key] = clipped_answer

    def note_earlier(self, key: str, rank: tuple, earlier: Question, derived: Derived) -> None:
        """A snapshot less fresh than the one kept: if it answered, and ranks above every other
        such answer met, its answer is the one a correction kept corrects, whatever order the
        files came in. Not one that did not answer: an update replacing it, as its answer
        comes, must leave no trace of it (see build.check_read_again)."""
        lineage = self.lineages[key]
        answer = None if earlier.is_holding else derived.values(earlier).answer_html
        if answer is None or (lineage.earlier is not None and lineage.earlier >= rank):
            return
        changed = answer != lineage.earlier_answer
        lineage = lineage._replace(earlier=rank, earlier_answer=answer)
        self.note_snapshot(key, self.snapshots[key], lineage, self.clipped_answers.get(key))
        if changed and not lineage.original_given:
            # The row is read only when what it may draw on changed: rarely, in any build.
            row = self.pending_questions.get(key) or self.db["questions"].get(key)
            before = row["original_answer_html"]
            derive_original(row, lineage, self.answer_as_given(key, row))
            if row["original_answer_html"] != before:
                self.pending_questions[key] = row

    def held_answer(self, key: str, rank: tuple) -> str | None:
        """The substantive answer of the snapshot kept for a key, whose rank is `rank` (None
        for none, or a holding answer), as its source gave it."""
        if not rank[0][1]:  # freshness: answered, not holding (no need to read the row)
            return None
        return self.answer_as_given(key) or None

    def answer_as_given(self, key: str, row: dict | None = None) -> str | None:
        """The answer of the snapshot kept for a key as its source gave it, as the merge rules
        of a clean build compare it (before any full text is applied): where it came clipped,
        the clipped answer kept beside the snapshot, since an earlier build may have completed
        the row's from its full text (apply_full_texts); else the row's (`row`, if read)."""
        if not self.snapshots[key][0][4]:  # freshness: whether the answer came whole
            return self.clipped_answers.get(key)
        row = row or self.pending_questions.get(key)
        if row is None:
            found = self.db.execute("select answer_html from questions where key = ?", [key]).fetchone()
            return found[0] if found else None
        return row["answer_html"]

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
        self.note_snapshot(key, rank, self.lineages.get(key, NO_LINEAGE), self.clipped_answers.get(key))

    def held_location(self, key: str) -> str | None:
        row = self.pending_questions.get(key)
        if row is not None:
            return row["source_location"]
        found = self.db.execute("select source_location from questions where key = ?",
                                [key]).fetchone()
        return found[0] if found else None

    def record_conflict(self, key: str, rank: tuple, location: str | None) -> None:
        """A snapshot as fresh as the one kept but different: set aside, and recorded. The
        same content set aside from several files is recorded once, from the last of them.
        Only snapshots as fresh as the one kept are recorded, whatever order they came in:
        those set aside before a fresher snapshot came are dropped then (`merge_question`)."""
        _, source, record_hash = rank
        self.db.execute(
            """insert into snapshot_conflicts (key, record_hash, source, location)
               values (?, ?, ?, ?)
               on conflict (key, record_hash) do update
               set source = excluded.source, location = excluded.location
               where excluded.source > snapshot_conflicts.source""",
            [key, record_hash, source, location],
        )

    def names_of(self, q: Question) -> dict:
        """The body and members a record names, by the names its row keeps, each row of theirs
        given what the record says of them (`fill_fields`). Asked of every record read, stored
        or not: a record set aside may come from the first file by path to name them."""
        return {"answering_body": self.body_name(q),
                "asking_member_id": self.member_id(q.asking_member, q.date_tabled),
                "answering_member_id": self.member_id(q.answering_member, q.date_answered or q.date_tabled),
                "correcting_member_id": self.member_id(q.correcting_member, q.date_answer_corrected)}

    def question_row(self, q: Question, derived: Derived, source_id: int) -> dict:
        values = derived.values(q)
        return {
            "key": derived.key,
            "house": q.house,
            "uin": q.uin,
            "date_tabled": q.date_tabled,
            "date_for_answer": q.date_for_answer,
            "date_answered": q.date_answered,
            "date_holding_answer": q.date_holding_answer,
            "date_answer_corrected": q.date_answer_corrected,
            "heading": q.heading,
            **self.names_of(q),
            "answerer_title_as_published": q.answerer_title_as_published,
            "answering_member_office": None,
            "answering_member_office_source": None,
            "question_text": q.question_text,
            "answer_html": values.answer_html,
            "answer_text": values.answer_text,
            "original_answer_html": values.original_answer_html,
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
            "url": values.url,
            "source_id": source_id,
            "source_location": q.location,
        }

    def add_full_text(self, full_text: FullText, source_id: int, record_hash: str | None = None) -> bool:
        "Store a full text unless the one held ranks higher; `record_hash`: its digest, if known."
        key = full_text_key(full_text.api_id)
        record_hash = record_hash or full_text_hash(full_text.question_text, full_text.answer_html)
        stored = self.replayed(key, record_hash)
        if stored is None:
            stored = self.merge_full_text(full_text, key, record_hash, source_id)
            self.note_given(key, record_hash, stored)
        return stored

    def merge_full_text(self, full_text: FullText, key: str, record_hash: str, source_id: int) -> bool:
        """Store a full text unless the one held ranks higher. True if stored (its copy kept).

        Full texts rank by whether they hold an answer (an earlier fetch, from before the
        question was answered, never replaces an answer), then by the path of their file (the
        later wins; within a file, the later entry): the text kept, and the file whose copy it
        is, never depend on the order files are read in."""
        row = {
            "api_id": full_text.api_id,
            "question_text": full_text.question_text,
            "answer_html": full_text.answer_html or None,
            "source_id": source_id,
        }
        held = self.held_full_text(full_text.api_id)
        if held is not None:
            question_text, answer_html, path = held
            if (bool(answer_html), path) > (bool(row["answer_html"]), self.source_path):
                return False
            if path == self.source_path and (question_text, answer_html) == (row["question_text"], row["answer_html"]):
                return False  # an exact duplicate within the file
            if (question_text, answer_html) != (row["question_text"], row["answer_html"]):
                self.full_texts_replaced.add(full_text.api_id)
        self.pending_full_texts[full_text.api_id] = row
        self.credit(key, record_hash, None if held is None else (held[2], full_text_hash(*held[:2])))
        if len(self.pending_full_texts) >= BATCH_SIZE:
            self.write_pending()
        return True

    def held_full_text(self, api_id: int) -> tuple | None:
        "The full text held for a question: (question text, answer HTML, path of its file)."
        pending = self.pending_full_texts.get(api_id)
        if pending is not None:  # written with the file being read
            return pending["question_text"], pending["answer_html"], self.source_path
        return self.db.execute(
            """select f.question_text, f.answer_html, s.path
               from full_texts f join sources s on s.id = f.source_id where f.api_id = ?""",
            [api_id],
        ).fetchone()

    def write_pending(self) -> None:
        "Write buffered rows in batches: one statement a row costs several times more."
        if self.pending_questions:
            upsert_rows(self.db, "questions", list(self.pending_questions.values()), "key")
        # Not only with questions: the same record met in a later file moves the snapshot's
        # source alone (move_provenance), its row written already.
        if self.pending_snapshots:
            upsert_rows(self.db, "question_snapshots", list(self.pending_snapshots.values()), "key")
        if self.pending_full_texts:
            upsert_rows(self.db, "full_texts", list(self.pending_full_texts.values()), "api_id")
            self.full_texts_written.update(self.pending_full_texts)
        self.pending_questions.clear()
        self.pending_snapshots.clear()
        self.pending_full_texts.clear()

    def flush(self) -> None:
        "Write the questions, members and answering bodies gathered so far."
        self.write_pending()
        # Only the rows that changed since they were last written: every file names most
        # members again, and writing them all after each file cost a tenth of the stage.
        members = [row for member_id, row in self.member_rows.items() if self.members_written.get(member_id) != row]
        if members:
            self.db["members"].upsert_all(members, pk="id", alter=True)
            self.members_written.update((row["id"], dict(row)) for row in members)
        fields = {field: source for field, source in self.field_sources.items()
                  if source and self.field_sources_written.get(field) != source}
        if fields:
            self.db["field_sources"].upsert_all(
                ({"tbl": table, "id": row_id, "field": name, "source": source}
                 for (table, row_id, name), source in fields.items()),
                pk=("tbl", "id", "field"))
            self.field_sources_written.update(fields)
        if self.body_rows:
            self.write_bodies()

    def write_bodies(self) -> None:
        """Upsert the answering bodies, giving every body held its slug afresh: a new name
        can change which of two alike names keeps the plain slug."""
        table = self.db["answering_bodies"]
        held = {row["name"]: row["slug"] for row in table.rows}
        slugs = body_slugs(set(held) | set(self.body_rows))
        moved = [name for name, slug in held.items() if slugs[name] != slug]
        rows = [dict(self.body_rows.get(name, {"name": name}), slug=slugs[name])
                for name in sorted(set(self.body_rows) | set(moved))]
        # One transaction: a bare executemany would open one that nothing commits.
        with self.db.atomic():
            # Clear moved slugs first: the unique index must hold after every single update.
            self.db.conn.executemany("update answering_bodies set slug = null where name = ?",
                                     [(name,) for name in moved])
            table.upsert_all(rows, pk="name", alter=True)

    # -- source files -------------------------------------------------------------------------

    def open_source(self, path: str, format: str, sha256: str) -> int:
        """The id of a source file's row, made if it is new; its records are added next. For
        a file read before, what it gave then is loaded to compare, and its rejects cleared."""
        existing = self.db.execute("select id from sources where path = ?", [path]).fetchone()
        self.source_path = path
        self.file_records = {}
        self.earlier_records = {}
        self.replayed_locations = {}
        if not existing:
            return self.db["sources"].insert(
                {"id": self.new_source_id(path), "path": path, "format": format,
                 "sha256": sha256}).last_pk
        source_id = existing[0]
        self.earlier_records = {
            (key, record_hash): (copies, stored) for key, record_hash, copies, stored in
            self.db.execute("select key, record_hash, copies, stored from file_records "
                            "where source_id = ?", [source_id])
        }
        self.db.execute("delete from rejects where source_id = ?", [source_id])
        return source_id

    def new_source_id(self, path: str) -> int:
        """A source file's id, taken from its path rather than from the order files were first
        read in, so that a database brought up to date and one built afresh number their
        sources alike. 48 bits of the path's sha256; the next free number should two collide."""
        digest = hashlib.sha256(path.encode("utf-8", "surrogatepass")).digest()
        source_id = int.from_bytes(digest[:6], "big")
        while self.db.execute("select 1 from sources where id = ?", [source_id]).fetchone():
            source_id += 1
        return source_id

    def close_source(self, source_id: int, account: dict) -> None:
        "Record what the file gave (its sha256, counts and records) and write what it added."
        self.db["sources"].update(source_id, account)
        self.db.execute("delete from file_records where source_id = ?", [source_id])
        self.db.conn.executemany(
            "insert into file_records (source_id, key, record_hash, copies, stored) values (?, ?, ?, ?, ?)",
            [(source_id, key, record_hash, copies, stored)
             for (key, record_hash), (copies, stored) in sorted(self.file_records.items())])
        self.flush()
        self.relocate_replayed()

    def relocate_replayed(self) -> None:
        """Give the records replayed from the file just read their place in it now: the rows
        still kept from it (a fresher copy later in the file may have taken their place) and
        the snapshots it sets aside. In a clean build both name the record's first copy in the
        file: the first copy is the one stored, and a snapshot set aside keeps the place of the
        first copy set aside (see `record_conflict`).

        Only what moved is written, and the rows kept are compared in one statement: a re-read
        month file replays some 3,000 records, most of them where they were, and one UPDATE a
        record took twice as long (8 ms against 4 for 2,989 records, none moved)."""
        if not self.replayed_locations:
            return
        kept = [[key, location] for (key, record_hash), location in self.replayed_locations.items()
                if self.file_records[(key, record_hash)][1]]
        self.db.execute(
            """update questions set source_location = moved.value ->> 1 from json_each(?) moved
               where questions.key = moved.value ->> 0
                 and questions.source_location is not moved.value ->> 1""",
            [json.dumps(kept)])
        # Few snapshots are set aside: compared here, and only those that moved written.
        self.db.conn.executemany(
            "update snapshot_conflicts set location = ? where key = ? and record_hash = ?",
            [(now, key, record_hash) for key, record_hash, location in self.db.execute(
                "select key, record_hash, location from snapshot_conflicts where source = ?",
                [self.source_path])
             if (now := self.replayed_locations.get((key, record_hash))) not in (None, location)])

    def reject(self, source_id: int, location: str, reason: str) -> None:
        self.db["rejects"].insert(
            {"source_id": source_id, "location": safe_text(location), "reason": safe_text(reason)}
        )

    # -- after all files --------------------------------------------------------------------

    def apply_full_texts(self, changed: list[str]) -> int:
        """Replace clipped text with the full text wherever a longform entry holds it, in the
        questions `changed` (whose rows this build wrote) and those whose full text this build
        wrote: any other stands as the last build left it, the same rows and full texts giving
        the same result. Returns how many questions were given a full text.

        The full answer must begin with what the clipped answer shows, so that a longform
        entry fetched at another time (say, before a correction) never replaces a different
        answer.
        """
        self.check_no_completion_replaced()
        updates = []
        # The questions as one list of keys, so that they are looked up by key: a condition
        # on either table (`or`) had SQLite read every question, text and all, for one update.
        rows = self.db.execute(
            """select q.key, q.question_text, q.question_is_clipped, q.answer_text,
                      q.answer_is_clipped, f.question_text, f.answer_html
               from questions q join full_texts f on f.api_id = q.api_id
               where (q.question_is_clipped = 1 or q.answer_is_clipped = 1)
                 and q.key in (select value from json_each(:keys)
                               union select key from questions
                               where api_id in (select value from json_each(:api_ids)))""",
            {"keys": json.dumps(changed), "api_ids": json.dumps(sorted(self.full_texts_written))},
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


    def check_no_completion_replaced(self) -> None:
        """Raises RebuildNeeded where this build replaced the full text an earlier build completed
        a question from, its snapshot unchanged: the row holds that text, and only its answer as
        given is kept beside the snapshot (`clipped_answer`), not its question text, from which
        a clean build would complete it afresh. Rare: a new full text usually comes with a new
        snapshot (a correction), whose row is written again as given and completed from it by
        `apply_full_texts`, as in a clean build. (Freshness 4 and 5: whether the answer and
        the question came whole.)"""
        if not self.full_texts_replaced:
            return
        completed = self.db.execute(
            """select q.key from questions q join question_snapshots s on s.key = q.key
               where q.api_id in (select value from json_each(?))
                 and ((q.question_is_clipped = 0 and s.freshness ->> 5 = 0)
                      or (q.answer_is_clipped = 0 and s.freshness ->> 4 = 0))
               order by q.key limit 1""",
            [json.dumps(sorted(self.full_texts_replaced))]).fetchone()
        if completed:
            raise RebuildNeeded(f"a new full text of {completed[0]} replaces the one an earlier "
                                "build completed it from")


# Rows a statement, as sqlite-utils chunks them: the full-text index writes what it gathered at
# the end of each statement, so the same chunks give the same index, byte for byte.
ROWS_A_STATEMENT, MOST_VARIABLES = 100, 999


def upsert_rows(db: sqlite_utils.Database, table: str, rows: list[dict], pk: str) -> None:
    """Insert rows, updating those whose primary key is held: the statements sqlite-utils'
    `upsert_all` makes (insert … values (…), (…) on conflict do update, in the same chunks),
    without its conversion of each value in Python, which cost more than SQLite's work. The
    rows hold plain values, and every one the same columns."""
    if not rows:  # a file whose records are all the same as held: nothing to write
        return
    columns = list(rows[0])
    if any(row.keys() != rows[0].keys() for row in rows):
        raise ValueError(f"rows for {table} with different columns")
    size = max(1, min(ROWS_A_STATEMENT, MOST_VARIABLES // len(columns)))
    names = ", ".join(f'"{column}"' for column in columns)
    updates = ", ".join(f'"{column}" = excluded."{column}"' for column in columns if column != pk)
    one_row = f"({', '.join('?' * len(columns))})"
    for start in range(0, len(rows), size):
        chunk = rows[start:start + size]
        db.conn.execute(
            f'insert into "{table}" ({names}) values {", ".join([one_row] * len(chunk))} '
            f'on conflict ("{pk}") do update set {updates}',
            [row[column] for row in chunk for column in columns])


def derive_original(row: dict, lineage: Lineage, answer_given: str | None) -> None:
    """A correction's original answer, unless it gave its own: the answer of the best-ranked
    earlier snapshot met, where that differs from the correction's as its source gave it
    (`answer_given`: the row's may have been completed from its full text since)."""
    if lineage.original_given:
        return
    answer = lineage.earlier_answer
    row["original_answer_html"] = (answer if row["is_correction"] and answer
                                   and answer != answer_given else None)


def full_text_hash(question_text: str | None, answer_html: str | None) -> str:
    "A full text's content digest, as a file's records name it."
    return hashlib.sha256(json.dumps([question_text, answer_html or None]).encode()).hexdigest()


def full_text_key(api_id: int) -> str:
    "How a full text is named among a file's records: its own kind of key."
    return f"{FULL_TEXT_PREFIX}{api_id}"


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
    return bool(prefix) and squashed_start(full, len(prefix)).startswith(prefix)


def squashed_start(text: str, length: int) -> str:
    """The beginning of `squash(text)`, at least `length` characters of it where it has them,
    squashed from as little of the text as gives them: a full answer runs to pages, of which
    `same_start` compares the first 200 letters. Squashing drops or lower-cases one
    character at a time, so what the text's beginning squashes to begins what it all does;
    all but a capital sigma, which lower-cases to a final sigma where no letter follows it:
    a beginning cut just after one may make a final sigma that the whole text does not, so a
    final sigma among the letters compared is believed only when squashed from the whole."""
    size = 2 * length + 64
    while True:
        squashed = squash(text[:size])
        if size >= len(text) or (len(squashed) >= length and "\u03c2" not in squashed[:length]):
            return squashed
        size *= 4
