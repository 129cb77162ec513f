"""The timeline on a question page: which events a question has, their order, and what the
page says of each. Made-up facts for the rules; the seed page and a late named-day question
of the official API (commons/2023-12-13/6774/) for the rendered text."""

from __future__ import annotations

from contextlib import closing

import pytest
import sqlite_utils
from bs4 import BeautifulSoup

from answers import pages, queries, site, timeline
from answers.build import build_database
from answers.members import MemberDirectory
from answers.render import SiteConfig, make_environment

SEED_URL = "commons/2018-11-21/p40657d7024/"
LATE_URL = "commons/2023-12-13/6774/"  # named day 18 December 2023, answered 24 January 2024
NO_NAV = {"previous": None, "next": None}


def kinds_and_dates(meta: dict) -> list[tuple[str, str | None]]:
    return [(event["kind"], event["date"]) for event in timeline.events(meta)]


def test_every_event_in_date_order_with_its_facts():
    meta = {"date_tabled": "2024-01-02", "date_for_answer": "2024-01-08", "is_named_day": True,
            "date_holding_answer": "2024-01-08", "date_answered": "2024-01-20",
            "date_answer_corrected": "2024-02-01", "correcting_member": {"id": "7", "name": "A Minister"},
            "timeliness": {"status": "late", "days_late": 12}}
    events = timeline.events(meta)
    assert [(e["kind"], e["date"]) for e in events] == [
        ("tabled", "2024-01-02"), ("due", "2024-01-08"), ("holding", "2024-01-08"),
        ("answered", "2024-01-20"), ("corrected", "2024-02-01")]
    assert events[1]["named_day"] is True and events[1]["past_due"] is False
    assert (events[3]["status"], events[3]["days_late"]) == ("late", 12)
    assert events[4]["member"]["name"] == "A Minister"
    assert all(e["real"] for e in events)


def test_only_the_events_a_question_has():
    assert kinds_and_dates({"date_tabled": "2018-11-21", "date_answered": "2018-11-29"}) == [
        ("tabled", "2018-11-21"), ("answered", "2018-11-29")]
    assert kinds_and_dates({}) == []


def test_an_answer_before_its_due_date_comes_before_it():
    assert kinds_and_dates({"date_tabled": "2024-01-02", "date_for_answer": "2024-01-08",
                            "date_answered": "2024-01-05", "timeliness": {"status": "on time"}}) == [
        ("tabled", "2024-01-02"), ("answered", "2024-01-05"), ("due", "2024-01-08")]


def test_a_holding_answer_that_is_the_latest_answer_is_not_an_answer():
    meta = {"date_tabled": "2024-01-02", "date_answered": "2024-01-09", "is_holding": True,
            "timeliness": {"status": "past due"}, "date_for_answer": "2024-01-08"}
    events = timeline.events(meta)
    assert [(e["kind"], e["date"]) for e in events] == [
        ("tabled", "2024-01-02"), ("due", "2024-01-08"), ("holding", "2024-01-09")]
    assert events[1]["past_due"] is True


def test_dates_that_are_not_dates_keep_their_place_in_the_course_of_a_question():
    meta = {"date_tabled": "2024-01-02", "date_for_answer": "someday", "date_answered": "2024-02-30",
            "date_answer_corrected": "2024-01-03", "is_withdrawn": True}
    events = timeline.events(meta)
    # 'someday' and '2024-02-30' sort as if on the day of the event before them (tabled),
    # after it; the real correction date follows; the undated withdrawal comes last.
    assert [(e["kind"], e["date"], e["real"]) for e in events] == [
        ("tabled", "2024-01-02", True), ("due", "someday", False), ("answered", "2024-02-30", False),
        ("corrected", "2024-01-03", True), ("withdrawn", None, False)]


def test_a_bad_date_tabled_sorts_first():
    assert kinds_and_dates({"date_tabled": "2024-13-45", "date_answered": "2024-01-05"}) == [
        ("tabled", "2024-13-45"), ("answered", "2024-01-05")]


def rendered_page(meta: dict, answer_html: str | None = None) -> str:
    "The HTML page of a made-up question with these facts."
    facts = {"url": "commons/2024-01-02/1/", "key": "commons-2024-01-02-1", "title": "T",
             "house": "Commons", "has_answer": bool(answer_html), "has_original_answer": False,
             **{flag: False for flag in pages.FLAGS}, **meta}
    text = pages.page_text(facts, {"question_text": "Q?", "answer_html": answer_html,
                                   "original_answer_html": None})
    _, html, _ = site.render_question_text(text, NO_NAV, make_environment(SiteConfig()), SiteConfig())
    return html


def event_texts(html: str) -> list[str]:
    document = BeautifulSoup(html, "html.parser")
    return [li.get_text(" ", strip=True) for li in document.select("ol.timeline-events > li")]


def test_the_page_words_each_event_and_shows_bad_dates_as_given():
    texts = event_texts(rendered_page({"date_tabled": "2024-13-45", "date_for_answer": "2024-01-09",
                               "is_named_day": False, "date_holding_answer": "2024-01-09",
                               "is_withdrawn": True}))
    assert texts == ["2024-13-45 Tabled",
                     "9 January 2024 Due for answer — ordinary question (not a named day)",
                     "9 January 2024 Holding answer — full answer promised later",
                     "date not given by the source Withdrawn by the member who tabled it"]


def test_a_bad_date_has_no_time_element_and_a_real_one_has_its_datetime():
    html = rendered_page({"date_tabled": "2024-13-45", "date_answered": "2024-01-05"}, "<p>A</p>")
    section = BeautifulSoup(html, "html.parser").select_one("section.timeline")
    assert [t["datetime"] for t in section.select("time")] == ["2024-01-05"]
    assert section.h2.get_text() == "Timeline" and section["aria-labelledby"] == "timeline-heading"


# -- over real questions -----------------------------------------------------------------


@pytest.fixture(scope="module")
def real_pages(tmp_path_factory, corpus, seeds):
    "The seed page and the API's December 2023, rendered one page at a time from the database."
    db_path = tmp_path_factory.mktemp("timeline") / "answers.db"
    build_database([seeds, corpus / "uk-parliament-wq-api-json" / "2023-12.json.gz"], db_path,
                   MemberDirectory.load([corpus / "members"]))
    env, config = make_environment(SiteConfig()), SiteConfig()
    with closing(sqlite_utils.Database(db_path)) as db:
        context = pages.PageContext.load(db)
        rows = {row["url"]: row for row in queries.question_rows(db) if row["url"] in (SEED_URL, LATE_URL)}
    rendered = {}
    for url, row in rows.items():
        _, html, twin = site.render_question_text(pages.render_page(row, context), NO_NAV, env, config)
        rendered[url] = html
    return rendered


def test_the_late_named_day_question_says_how_late_it_was(real_pages):
    assert event_texts(real_pages[LATE_URL]) == [
        "13 December 2023 Tabled",
        "18 December 2023 Due for answer — named day",
        "24 January 2024 Answered — 37 days late",
    ]
    times = BeautifulSoup(real_pages[LATE_URL], "html.parser").select("ol.timeline-events time")
    assert [t["datetime"] for t in times] == ["2023-12-13", "2023-12-18", "2024-01-24"]


def test_the_seed_page_was_tabled_and_answered(real_pages):
    assert event_texts(real_pages[SEED_URL]) == ["21 November 2018 Tabled", "29 November 2018 Answered"]
