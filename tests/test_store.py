"""The store: sanitizing, identity and merge rules, accounting, incremental and atomic builds."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import sqlite_utils

from answers import build, clean, render, schema, store
from answers.build import BuildReport, build_database
from answers.model import MemberRef, Question
from conftest import CORPUS, FIXTURES


def question(**changes) -> Question:
    base = Question(
        house="Commons",
        uin="1234",
        date_tabled="2025-01-06",
        date_for_answer="2025-01-09",
        heading="Schools: Testing",
        answering_body="Department for Education",
        answering_body_id=60,
        asking_member=MemberRef(id="5031"),
        question_text="To ask the Secretary of State for Education, how many schools there are.",
    )
    return replace(base, **changes)


@pytest.fixture
def fresh_store() -> store.Store:
    return store.Store(sqlite_utils.Database(memory=True))


def stored(fresh_store: store.Store, key: str) -> dict:
    fresh_store.flush()
    return fresh_store.db["questions"].get(key)


def count(fresh_store: store.Store) -> int:
    fresh_store.flush()
    return fresh_store.db["questions"].count


# -- sanitizing -----------------------------------------------------------------------------


def test_sanitize_removes_scripts_handlers_and_javascript_urls():
    html = ('<p onclick="steal()">Yes.</p><script>alert(1)</script><img src=x onerror="alert(2)">'
            '<a href="javascript:alert(3)">x</a><a href="https://www.gov.uk/">GOV.UK</a>')
    assert store.sanitize_html(html) == (
        '<p>Yes.</p><a rel="nofollow noopener">x</a>'
        '<a href="https://www.gov.uk/" rel="nofollow noopener">GOV.UK</a>'
    )


def test_sanitize_keeps_tables_and_lists():
    html = ('<table><tr><th colspan="2">Year</th></tr><tr><td>2024</td><td>£1</td></tr></table>'
            '<ul><li>one</li></ul><ol start="3"><li>three</li></ol>')
    assert store.sanitize_html(html) == (
        '<table><tbody><tr><th colspan="2">Year</th></tr><tr><td>2024</td><td>£1</td></tr>'
        '</tbody></table><ul><li>one</li></ul><ol start="3"><li>three</li></ol>'
    )


def test_the_kept_cleaner_keeps_each_set_of_tags_own_rules():
    "Made once for each set of tags: the page's h1 stays where rendering allows it, and only there."
    html = '<h1 onclick="x()">Title</h1><p>Text <a href="javascript:x()">a</a></p><iframe src="https://e.org">'
    assert clean.clean_html(html) == 'Title<p>Text <a rel="nofollow noopener">a</a></p>'
    assert clean.clean_html(html, tags=render.RENDER_TAGS) == (
        '<h1>Title</h1><p>Text <a rel="nofollow noopener">a</a></p>')
    assert clean.clean_html(html, tags={"p"}) == "Title<p>Text a</p>"
    assert clean.clean_html(html) == 'Title<p>Text <a rel="nofollow noopener">a</a></p>'


def test_answer_text_is_plain_with_paragraph_breaks():
    html = "<p>First &amp; foremost.</p><table><tr><td>a</td><td>b</td></tr></table><p>Last.</p>"
    assert store.html_to_text(html) == "First & foremost.\na b\nLast."


# -- identity and merging ----------------------------------------------------------------------


def test_key_and_url_use_house_date_tabled_and_uin():
    q = question(uin="HL2437", house="Lords", date_tabled="2014-10-27")
    assert q.key == "lords-2014-10-27-hl2437"
    assert q.url == "lords/2014-10-27/hl2437/"


def test_reused_uin_on_another_date_is_another_question(fresh_store):
    assert fresh_store.add_question(question(), source_id=1)
    assert fresh_store.add_question(question(date_tabled="2016-05-20"), source_id=1)
    assert count(fresh_store) == 2


def test_exact_duplicate_collapses(fresh_store):
    assert fresh_store.add_question(question(), source_id=1)
    assert not fresh_store.add_question(question(location="another place"), source_id=2)
    assert count(fresh_store) == 1


@pytest.mark.parametrize("order", ["earlier first", "later first"])
def test_later_snapshot_wins_whatever_the_order(fresh_store, order):
    unanswered = question()
    holding = question(answer_html="<p>I will reply shortly.</p>", is_holding=True,
                       date_answered="2025-01-09", date_holding_answer="2025-01-09")
    answered = question(answer_html="<p>There are 24,000 schools.</p>", date_answered="2025-01-14",
                        date_holding_answer="2025-01-09", answering_member=MemberRef(id="4125"))
    snapshots = [unanswered, holding, answered]
    if order == "later first":
        snapshots.reverse()
    results = [fresh_store.add_question(s, source_id=1) for s in snapshots]
    row = stored(fresh_store, answered.key)
    assert row["answer_text"] == "There are 24,000 schools."
    assert row["is_holding"] == 0
    assert row["date_answered"] == "2025-01-14"
    assert row["answering_member_id"] == "4125"
    assert results == ([True, True, True] if order == "earlier first" else [True, False, False])


def test_correction_keeps_the_answer_it_corrects(fresh_store):
    original = question(answer_html="<p>There are 24,000 schools.</p>", date_answered="2025-01-14")
    corrected = replace(original, answer_html="<p>There are 24,400 schools.</p>",
                        is_correction=True, date_answer_corrected="2025-02-01")
    fresh_store.add_question(original, source_id=1)
    fresh_store.add_question(corrected, source_id=2)
    row = stored(fresh_store, original.key)
    assert row["answer_html"] == "<p>There are 24,400 schools.</p>"
    assert row["original_answer_html"] == "<p>There are 24,000 schools.</p>"
    assert row["is_correction"] == 1


def test_correction_read_first_still_keeps_the_answer_it_corrects(fresh_store):
    original = question(answer_html="<p>There are 24,000 schools.</p>", date_answered="2025-01-14")
    holding = question(answer_html="<p>I will reply shortly.</p>", is_holding=True,
                       date_answered="2025-01-09")
    corrected = replace(original, answer_html="<p>There are 24,400 schools.</p>",
                        is_correction=True, date_answer_corrected="2025-02-01")
    assert fresh_store.add_question(corrected, source_id=1)
    assert not fresh_store.add_question(holding, source_id=2)
    assert not fresh_store.add_question(original, source_id=3)
    row = stored(fresh_store, original.key)
    assert row["answer_html"] == "<p>There are 24,400 schools.</p>"
    assert row["original_answer_html"] == "<p>There are 24,000 schools.</p>"


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1), (2, 1, 0), (0, 2, 1)])
def test_a_correction_corrects_the_latest_answer_whatever_order_the_snapshots_come_in(fresh_store, order):
    "Answered, answered again later, then corrected: the answer corrected is the later one."
    first = question(answer_html="<p>There are 24,000 schools.</p>", date_answered="2025-01-14")
    second = replace(first, answer_html="<p>There are 24,200 schools.</p>", date_answered="2025-01-20")
    corrected = replace(second, answer_html="<p>There are 24,400 schools.</p>",
                        is_correction=True, date_answer_corrected="2025-02-01")
    snapshots = [first, second, corrected]
    for index in order:
        fresh_store.add_question(snapshots[index], source_id=1)
    row = stored(fresh_store, first.key)
    assert (row["answer_html"], row["original_answer_html"]) == (
        "<p>There are 24,400 schools.</p>", "<p>There are 24,200 schools.</p>")


def test_members_and_bodies_are_named_and_linked(fresh_store):
    fresh_store.add_question(question(asking_member=MemberRef(id="5031", name="Mark Ferguson")), 1)
    fresh_store.flush()
    db = fresh_store.db
    assert db["members"].get("5031") == {"id": "5031", "mnis_id": 5031, "name": "Mark Ferguson",
                                         "party": None, "constituency": None, "house": None}
    assert db["answering_bodies"].get("Department for Education") == {
        "name": "Department for Education", "slug": "department-for-education", "api_id": 60}
    assert {fk.column for fk in db["questions"].foreign_keys} >= {
        "answering_body", "asking_member_id", "answering_member_id", "source_id"}


def test_full_text_search_finds_words_by_stem(fresh_store):
    fresh_store.add_question(question(answer_html="<p>Inspections are published yearly.</p>"), 1)
    fresh_store.flush()
    hits = fresh_store.db.execute(
        "select key from questions_fts join questions on questions.rowid = questions_fts.rowid "
        "where questions_fts match :q", {"q": "inspection"}).fetchall()
    assert hits == [(question().key,)]


# -- whole builds over files -----------------------------------------------------------------


def read_rows(db_path: Path, sql: str) -> list[tuple]:
    db = sqlite_utils.Database(db_path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.fixture
def bad_build(tmp_path) -> tuple[BuildReport, Path]:
    db_path = tmp_path / "answers.db"
    report = build_database([FIXTURES / "bad", CORPUS / "samples" / "api-edge-cases.json"],
                                 db_path)
    return report, db_path


@pytest.mark.corpus
def test_bad_input_is_rejected_with_reasons_and_the_rest_is_stored(bad_build):
    report, db_path = bad_build
    by_name = {Path(f.path).name: f for f in report.files}
    assert all(f.balanced() for f in report.files)
    assert by_name["api-edge-cases.json"].stored == 59
    assert by_name["api-edge-cases.json"].rejected == 0
    assert by_name["empty.json"].rejected == 1
    assert by_name["no-heading.txt"].rejected == 1
    # The truncated file keeps the two records before the damage.
    assert (by_name["truncated.json"].stored, by_name["truncated.json"].rejected) == (2, 1)
    # A page in the wrong encoding is either stored or rejected with a reason, never lost.
    cp1252 = by_name["cp1252-page.txt"]
    assert cp1252.read == cp1252.stored + cp1252.rejected >= 1
    reasons = read_rows(db_path, "select s.path, r.location, r.reason from rejects r "
                                 "join sources s on s.id = r.source_id")
    assert len(reasons) == report.rejected
    assert all(location and reason for _, location, reason in reasons)


@pytest.mark.corpus
def test_hostile_answer_is_stored_sanitized(bad_build):
    _, db_path = bad_build
    [(html, text)] = read_rows(db_path, "select answer_html, answer_text from questions "
                                        "where api_id = 900001")
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html
    assert '<a href="https://www.gov.uk/" rel="nofollow noopener">GOV.UK</a>' in html
    assert "<td>2024</td>" in html
    assert text.startswith("Figures below.")


@pytest.mark.corpus
def test_unchanged_files_are_skipped_and_changed_ones_rebuild(tmp_path):
    sources_dir = tmp_path / "content"
    sources_dir.mkdir()
    sample = json.loads((CORPUS / "samples" / "api-edge-cases.json").read_text())
    (sources_dir / "a.json").write_text(json.dumps(sample[:30]))
    db_path = tmp_path / "answers.db"
    first = build_database([sources_dir], db_path)
    assert first.rebuilt and [f.stored for f in first.files] == [30]

    (sources_dir / "b.json").write_text(json.dumps(sample[30:]))
    second = build_database([sources_dir], db_path)
    assert not second.rebuilt
    assert [(Path(f.path).name, f.skipped) for f in second.files] == [("a.json", True),
                                                                      ("b.json", False)]
    assert read_rows(db_path, "select count(*) from questions") == [(59,)]

    (sources_dir / "a.json").write_text(json.dumps(sample[:10]))
    third = build_database([sources_dir], db_path)
    assert third.rebuilt
    assert read_rows(db_path, "select count(*) from questions") == [(39,)]


@pytest.mark.corpus
def test_what_a_killed_build_left_behind_does_not_harm_the_next(tmp_path):
    """A build killed outright leaves its working copy and SQLite's hot journal beside it;
    replayed onto the next build's copy, that journal would corrupt it."""
    sources_dir = tmp_path / "content"
    sources_dir.mkdir()
    shutil.copy(CORPUS / "samples" / "api-edge-cases.json", sources_dir / "a.json")
    db_path = tmp_path / "answers.db"
    leftover = sqlite_utils.Database(tmp_path / ".answers.db.building")
    leftover["junk"].insert_all({"n": n} for n in range(5000))
    leftover.close()
    (tmp_path / ".answers.db.building-journal").write_bytes(b"\xd9\xd5\x05\xf9" + bytes(4096))
    build_database([sources_dir], db_path)
    assert read_rows(db_path, "pragma integrity_check") == [("ok",)]
    assert read_rows(db_path, "select count(*) from questions") == [(59,)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.db", "content"]


@pytest.mark.corpus
def test_an_unreadable_database_is_rebuilt(tmp_path):
    sources_dir = tmp_path / "content"
    sources_dir.mkdir()
    shutil.copy(CORPUS / "samples" / "api-edge-cases.json", sources_dir / "a.json")
    db_path = tmp_path / "answers.db"
    db_path.write_bytes(b"this is not a database" * 100)
    report = build_database([sources_dir], db_path)
    assert report.rebuilt
    assert read_rows(db_path, "select count(*) from questions") == [(59,)]


@pytest.mark.corpus
def test_a_failed_build_leaves_the_previous_database_intact(tmp_path, monkeypatch):
    sources_dir = tmp_path / "content"
    sources_dir.mkdir()
    shutil.copy(CORPUS / "samples" / "api-edge-cases.json", sources_dir / "a.json")
    db_path = tmp_path / "answers.db"
    build_database([sources_dir], db_path)
    before = db_path.read_bytes()

    (sources_dir / "b.json").write_text("[]")

    def explode(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-build")

    monkeypatch.setattr(build, "load_file", explode)
    with pytest.raises(KeyboardInterrupt):
        build_database([sources_dir], db_path)
    assert db_path.read_bytes() == before
    assert read_rows(db_path, "select count(*) from questions") == [(59,)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.db", "content"]


def test_rows_written_in_batches_give_what_sqlite_utils_upsert_gives_the_index_included(tmp_path):
    "The same rows, change log and full-text index, to the byte, as sqlite-utils' upsert_all."
    def rows(start: int, stop: int, answer: str) -> list[dict]:
        return [{"key": f"q{number:03d}", "heading": f"Heading {number % 7}", "url": f"q{number}/",
                 "question_text": f"To ask about subject {number} and buses", "answer_text": f"{answer} {number}"}
                for number in range(start, stop)]
    batches = [rows(0, 75, "First answer"), rows(40, 120, "Corrected answer")]  # the second updates 35
    made = []
    for name, write in (("sqlite-utils", lambda db, batch: db["questions"].upsert_all(batch, pk="key")),
                        ("store", lambda db, batch: store.upsert_rows(db, "questions", batch, "key"))):
        db = sqlite_utils.Database(tmp_path / f"{name}.db")
        schema.create_schema(db)
        db["meta"].insert({"name": "generation", "value": "1"})
        for batch in batches:
            with db.atomic():
                write(db, batch)
        made.append([list(db.execute(f"select * from {table} order by 1"))
                     for table in ("questions", "changes", "questions_fts_data", "questions_fts_idx",
                                   "questions_fts_docsize")])
        db.close()
    assert made[1] == made[0]
    assert len(made[1][0]) == 120 and len(made[1][2]) > 1


@pytest.mark.parametrize("full", [
    "a" * 199 + "." * 264 + "Σ" + "bcd" * 10,  # the text's beginning ends on a capital sigma
    "Σ" * 150 + " " + "Σ" * 400,
    "The answer, in full. " * 200,
])
def test_same_start_reads_a_full_text_as_if_squashed_whole(full):
    # A capital sigma lower-cases to a final sigma where no letter follows it: squashing only
    # the beginning of a long full text must not make one of a sigma that letters follow.
    clipped = store.squash(full)[:210].upper() + "..."
    expected = store.squash(full).startswith(store.squash(clipped.removesuffix("..."))[:200])
    assert store.same_start(clipped, full) is expected
