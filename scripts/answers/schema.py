"""The database's tables, indexes, full-text index and views (sqlite-utils).

`create_schema` makes whatever of them a database lacks; it writes no rows. A change here
changes SCHEMA_VERSION's part of the code digest, so every database is rebuilt after it.
"""

from __future__ import annotations

import sqlite_utils

SCHEMA_VERSION = "1"

FTS_TOKENIZER = "porter"  # of questions_fts, and of the copy "asked before" searches (related.py)


def create_schema(db: sqlite_utils.Database, questions_indexed_later: bool = False) -> None:
    """`questions_indexed_later`: leave out the questions' own indexes and full-text index (a
    database built afresh makes them with `index_questions` once its rows are written)."""
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
    # Internal: what each stored row was built from, to rank later snapshots against it, and
    # the best-ranked earlier (less fresh) snapshot met, whose answer a correction corrects
    # (see Store.note_earlier). `clipped_answer`: the row's answer as its source gave it, where
    # that was clipped (null otherwise), since a full text may have completed the row's since
    # (Store.apply_full_texts) and a fresher snapshot's correction corrects the clipped one.
    db["question_snapshots"].create(
        {"key": str, "record_hash": str, "freshness": str, "source": str,
         "earlier_freshness": str, "earlier_source": str, "earlier_hash": str,
         "earlier_answer": str, "original_given": int, "clipped_answer": str}, pk="key",
        if_not_exists=True,
    )
    # Internal: the file each member's and body's field was taken from, the first by path
    # that gives it (see Store.fill_fields).
    db["field_sources"].create({"tbl": str, "id": str, "field": str, "source": str},
                               pk=("tbl", "id", "field"), if_not_exists=True)
    # Snapshots set aside for another of the same freshness but different content: the
    # rule that chose (see Store.add_question) is recorded, never applied silently.
    db["snapshot_conflicts"].create(
        {"key": str, "record_hash": str, "source": str, "location": str},
        pk=("key", "record_hash"), if_not_exists=True,
    )
    # Internal: every record each file gave, by key and content digest, and whether it is
    # stored there (the copy kept is this file's; see Store.credit): a changed file is
    # compared with what it gave before (see build.py).
    db["file_records"].create(
        {"source_id": int, "key": str, "record_hash": str, "copies": int, "stored": int},
        pk=("source_id", "key", "record_hash"), foreign_keys=[("source_id", "sources", "id")],
        if_not_exists=True,
    )
    db["file_records"].create_index(["key"], if_not_exists=True)
    # The build (generation, counted in `meta`) in which each question's row last changed.
    db["changes"].create({"key": str, "generation": int}, pk="key", if_not_exists=True)
    db["changes"].create_index(["generation"], if_not_exists=True)
    note_changes(db)
    # "Asked before": each question's earlier questions on the same subject (related.py).
    db["related"].create(
        {"key": str, "related_key": str, "rank": int, "score": float}, pk=("key", "rank"),
        foreign_keys=[("key", "questions", "key"), ("related_key", "questions", "key")],
        if_not_exists=True,
    )
    db["related"].create_index(["related_key"], if_not_exists=True)
    # What each question's list was made from (its query's terms, in order, and a digest of
    # the columns the list reads), and what another question must score to enter it (its
    # floor, and its fifth listed score when it lists five): an incremental build finds from
    # these which lists a changed question can enter or leave.
    db["related_queries"].create(
        {"key": str, "day": str, "terms": str, "least": float, "fifth": float, "session_start": str,
         "inputs": str},
        pk="key", foreign_keys=[("key", "questions", "key")], if_not_exists=True,
    )
    db["related_queries"].create_index(["day"], if_not_exists=True)
    db["full_texts"].create(
        {"api_id": int, "question_text": str, "answer_html": str, "source_id": int},
        pk="api_id", foreign_keys=[("source_id", "sources", "id")], if_not_exists=True,
    )
    if not questions_indexed_later:
        index_questions(db)
    # The questions without their answer bodies, for listings light enough to page through,
    # and with the year answered as a column of its own, for faceting. `rowid` lets full-text
    # search (questions_fts) find rows of the view.
    db.create_view("question_list", QUESTION_LIST_SQL, replace=True)


def index_questions(db: sqlite_utils.Database) -> None:
    """The questions' indexes and their full-text index, whichever of them the database lacks.
    Made over the rows already written, they hold what they would had they been kept up to date
    row by row (in other pages of the file): a database built afresh writes every row first,
    and full texts and offices replace most rows' text after, which the full-text index would
    otherwise index again."""
    # is_holding and is_correction: the archive's counts of each (queries.coverage), read by
    # every build that changed a question, from the index rather than every row.
    for columns in (["house"], ["date_tabled"], ["date_answered"], ["answering_body"],
                    ["asking_member_id"], ["answering_member_id"], ["uin"], ["api_id"],
                    ["is_holding"], ["is_named_day"], ["is_correction"], ["url"]):
        db["questions"].create_index(columns, if_not_exists=True)
    # For the change-driven stages (changes.py): a question's previous and next within its body,
    # and the questions grouped with it, found without reading every row. For the sessions
    # (citations.Sessions): the lowest UIN of each day, read from the index alone. For the
    # timeliness figures (the `timeliness` query of metadata.yml, run for every body and month
    # a build changes): every column the query reads, so that it reads the Commons questions
    # from the index alone rather than whole rows with their answers, and the latest holding
    # answer's date with them. For the listings (queries.count_by and the heading listings): the
    # heading, and the day a listing files a question under, written exactly as those queries
    # write it (SQLite uses an index on an expression only for that same expression), so that
    # counting by either reads an index rather than every row, and a heading's listing is a lookup.
    db.executescript(
        """
        create index if not exists questions_body_order
          on questions (answering_body, coalesce(date_answered, date_tabled, ''), key);
        create index if not exists questions_heading on questions (heading);
        create index if not exists questions_listed_day on questions (coalesce(date_answered, date_tabled));
        create index if not exists questions_grouped
          on questions (grouped_keys, key) where grouped_keys is not null;
        create index if not exists questions_date_for_answer on questions (date_for_answer);
        create index if not exists questions_correcting_member_id on questions (correcting_member_id);
        create index if not exists questions_day_uin on questions (house, date_tabled, uin);
        create index if not exists questions_timeliness
          on questions (house, answering_body, date_for_answer, is_withdrawn, is_named_day,
                        date_answered, is_holding, date_holding_answer);
        """
    )
    if "questions_fts" not in db.table_names():
        db["questions"].enable_fts(
            ["heading", "question_text", "answer_text"], tokenize=FTS_TOKENIZER, create_triggers=True,
        )
        narrow_fts_update_trigger(db)


def note_changes(db: sqlite_utils.Database) -> None:
    """Triggers that stamp a question with the current generation whenever its row is written
    with different values: whichever rule wrote it, the change log cannot miss it."""
    columns = [name for name in db["questions"].columns_dict if name != "key"]
    differs = " or ".join(f"old.{name} is not new.{name}" for name in columns)
    stamp = """insert into changes (key, generation)
          values (new.key, (select cast(value as integer) from meta where name = 'generation'))
          on conflict (key) do update set generation = excluded.generation;"""
    db.executescript(
        f"""
        create trigger if not exists questions_changed_insert after insert on questions
        begin {stamp} end;
        create trigger if not exists questions_changed_update after update on questions
        when {differs}
        begin {stamp} end;
        """
    )


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
