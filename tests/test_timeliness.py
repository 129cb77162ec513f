"""Timeliness: the `timeliness` query of metadata.yml and each question's status, checked against
figures worked out here independently, on a database of questions made up for the purpose."""

from __future__ import annotations

import datetime
import statistics
from functools import partial

import pytest
import sqlite_utils

from answers import queries, timeliness

# (body, date for answer, named day, date answered, holding now, holding answer date, house)
QUESTIONS = [
    ("Home Office", "2024-01-10", 1, "2024-01-10", 0, None, "Commons"),  # on the day
    ("Home Office", "2024-01-10", 1, "2024-01-09", 0, None, "Commons"),  # early
    ("Home Office", "2024-01-12", 1, "2024-01-15", 0, "2024-01-12", "Commons"),  # 3 late
    ("Home Office", "2024-01-20", 0, "2024-01-21", 0, None, "Commons"),  # 1 late
    ("Home Office", "2024-01-20", 0, "2024-01-30", 0, None, "Commons"),  # 10 late
    ("Home Office", "2024-01-31", 0, "2024-02-04", 0, None, "Commons"),  # 4 late
    ("Home Office", "2024-01-31", 0, "2024-01-31", 1, "2024-01-31", "Commons"),  # holding only
    ("Home Office", "2024-02-01", 0, None, 0, None, "Commons"),  # unanswered, past due
    ("Home Office", "2024-03-01", 0, None, 0, None, "Commons"),  # due on the latest day
    ("Home Office", "2024-03-05", 1, None, 0, None, "Commons"),  # not yet due
    ("Ministry of Defence", "2024-01-05", 0, "2024-01-05", 0, None, "Commons"),
    ("Ministry of Defence", "2024-01-05", 0, "2024-02-06", 0, None, "Commons"),  # 32 late
    ("Ministry of Defence", "2024-02-01", 1, "2024-02-03", 0, None, "Commons"),  # 2 late
    ("Ministry of Defence", "2024-01-05", 0, "2024-02-06", 0, None, "Lords"),  # left out
]
LATEST = "2024-03-01"


@pytest.fixture()
def db(tmp_path):
    db = sqlite_utils.Database(tmp_path / "answers.db")
    db["questions"].insert_all(
        {"key": f"q{n}", "house": house, "answering_body": body, "date_tabled": "2024-01-01",
         "date_for_answer": due, "is_named_day": named, "date_answered": answered,
         "is_holding": holding, "date_holding_answer": holding_date, "is_withdrawn": 0}
        for n, (body, due, named, answered, holding, holding_date, house) in enumerate(QUESTIONS))
    db["questions"].insert({"key": "latest", "house": "Commons", "answering_body": "Cabinet Office",
                            "date_tabled": LATEST, "is_withdrawn": 0, "is_holding": 0,
                            "is_named_day": 0})
    return db


def expected(body: str | None, month: str, kind: str) -> dict:
    "The figures worked out by hand from QUESTIONS, without SQL."
    rows = [q for q in QUESTIONS if q[6] == "Commons" and month in (q[1][:7], timeliness.ALL_MONTHS)
            and (body is None or q[0] == body) and q[2] == (kind == "named day")]
    answered = [q for q in rows if q[3] and not q[4]]
    days = [(datetime.date.fromisoformat(q[3]) - datetime.date.fromisoformat(q[1])).days
            for q in answered]
    late = [d for d in days if d > 0]
    unanswered = [q for q in rows if q not in answered]
    return {
        "due": len(rows), "on_time": sum(d <= 0 for d in days), "late": len(late),
        "median_days_late": statistics.median(late) if late else None,
        "unanswered_past_due": sum(q[1] < LATEST for q in unanswered),
        "not_yet_due": sum(q[1] >= LATEST for q in unanswered),
        "holding_answer_percent": round(100 * sum(bool(q[4] or q[5]) for q in rows) / len(rows), 1),
    }


def test_the_query_agrees_with_figures_worked_out_by_hand(db):
    rows = queries.timeliness_figures(db)
    groups = {(r["answering_body"], r["month"], r["kind"]) for r in rows}
    assert ("Home Office", "2024-01", "ordinary") in groups
    for body, month, kind in groups:
        [row] = [r for r in rows if (r["answering_body"], r["month"], r["kind"]) == (body, month, kind)]
        want = expected(None if body == timeliness.ALL_BODIES else body, month, kind)
        assert {k: row[k] for k in want} == want, (body, month, kind)
        assert row["as_of"] == LATEST
    # every Commons question with a date for answer is counted once in each of the four scopes
    for all_bodies in (True, False):
        for all_months in (True, False):
            assert sum(r["due"] for r in rows
                       if (r["answering_body"] == timeliness.ALL_BODIES) == all_bodies
                       and (r["month"] == timeliness.ALL_MONTHS) == all_months) == 13


def test_the_query_hand_checked_cells(db):
    [january] = queries.timeliness_figures(db, "Home Office", "2024-01")[1:]  # ordinary
    assert january["kind"] == "ordinary"
    assert (january["due"], january["on_time"], january["late"]) == (4, 0, 3)
    assert january["median_days_late"] == 4  # of 1, 4 and 10
    assert january["unanswered_past_due"] == 1  # the holding answer alone is not an answer
    assert january["holding_answer_percent"] == 25.0
    defence = queries.timeliness_figures(db, "Ministry of Defence", "2024-01")
    assert [(r["kind"], r["due"], r["late"], r["median_days_late"]) for r in defence] == [
        ("ordinary", 2, 1, 32)]  # the Lords question is left out


def test_the_archive_figures_made_from_tallies_are_the_querys(db):
    archive = [row for row in queries.timeliness_figures(db) if row["answering_body"] == timeliness.ALL_BODIES]
    tallies = queries.timeliness_tallies(db)
    months = {row["month"] for row in archive} - {timeliness.ALL_MONTHS}
    assert timeliness.tally_rows(tallies, months, LATEST, partial(queries.rounded_share, db)) == archive
    without_january = [row for row in archive if row["month"] != "2024-01"]
    assert timeliness.tally_rows(tallies, months - {"2024-01"}, LATEST,
                                 partial(queries.rounded_share, db)) == without_january
    assert queries.timeliness_tallies(db, "2024-01") == {"2024-01": tallies["2024-01"]}


def test_a_moved_latest_date_reaches_only_the_questions_due_between_without_an_answer(db):
    # Due 31 January to 1 February: a holding answer and an unanswered question of the Home
    # Office count past due or not by the date; the answered ones (Ministry of Defence's too) do not.
    assert queries.timeliness_due_between(db, "2024-01-31", "2024-02-02") == {
        ("Home Office", "2024-01"), ("Home Office", "2024-02")}


@pytest.mark.parametrize("counted, middle", [([], None), ([(3, 1)], 3.0), ([(1, 1), (4, 1)], 2.5),
                                              ([(1, 2), (4, 1)], 1.0), ([(1, 1), (2, 2), (9, 1)], 2.0)])
def test_the_median_of_counted_values(counted, middle):
    assert timeliness.median(counted) == middle


def test_the_query_filters_by_body_and_month(db):
    rows = queries.timeliness_figures(db, body="", month="2024-02")
    assert {r["month"] for r in rows} == {"2024-02"}
    assert [r["due"] for r in queries.timeliness_figures(db, timeliness.ALL_BODIES, timeliness.ALL_MONTHS)
            ] == [5, 8]  # named day, ordinary
    assert {r["answering_body"] for r in rows} == {
        timeliness.ALL_BODIES, "Home Office", "Ministry of Defence"}


def test_dates_that_are_not_dates_are_left_out(db):
    before = queries.timeliness_figures(db)
    db["questions"].insert_all([
        {"key": "bad-due", "house": "Commons", "answering_body": "Home Office",
         "date_for_answer": "2024-02-30", "date_tabled": "2099-99-99", "is_withdrawn": 0,
         "is_holding": 0, "is_named_day": 0},
        {"key": "bad-answer", "house": "Commons", "answering_body": "Home Office",
         "date_for_answer": "2024-01-20", "date_answered": "2024-13-01", "is_withdrawn": 0,
         "is_holding": 0, "is_named_day": 0}])
    assert queries.timeliness_figures(db) == before
    assert queries.timeliness_as_of(db) == LATEST
    for row in db.query("select * from questions where key like 'bad-%'"):
        assert timeliness.question_status(row, LATEST) is None


@pytest.mark.parametrize("fields, status", [
    ({"date_answered": "2024-01-10"}, {"status": "on time"}),
    ({"date_answered": "2024-01-09"}, {"status": "on time"}),
    ({"date_answered": "2024-02-14"}, {"status": "late", "days_late": 35}),
    ({"date_answered": "2024-01-10", "is_holding": 1},
     {"status": "past due"}),
    ({}, {"status": "past due"}),
    ({"date_for_answer": LATEST}, {"status": "not yet due"}),
    ({"house": "Lords"}, None),
    ({"is_withdrawn": 1}, None),
    ({"date_for_answer": None}, None),
])
def test_question_status(fields, status):
    row = dict({"house": "Commons", "date_for_answer": "2024-01-10", "is_holding": 0,
                "is_withdrawn": 0, "date_answered": None}, **fields)
    assert timeliness.question_status(row, LATEST) == status


def test_question_status_agrees_with_the_query(db):
    "The page statuses of one group add up to the group's figures."
    latest = queries.timeliness_as_of(db)
    assert latest == LATEST
    rows = list(db.query("select * from questions where answering_body = 'Home Office' "
                         "and substr(date_for_answer, 1, 7) = '2024-01' and is_named_day = 0"))
    statuses = [timeliness.question_status(r, latest)["status"] for r in rows]
    [figures] = queries.timeliness_figures(db, "Home Office", "2024-01")[1:]
    assert statuses.count("on time") == figures["on_time"]
    assert statuses.count("late") == figures["late"]
    assert statuses.count("past due") == figures["unanswered_past_due"]
