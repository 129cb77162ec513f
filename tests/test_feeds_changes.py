"""The recent changes: a page and a feed of the questions most recently tabled, answered or
corrected, by their latest real date whichever build brought them; rendered only when a
question changed."""

from __future__ import annotations

import json
from urllib.parse import urljoin

import feedparser
import lxml.html
import pytest
import sqlite_utils

from answers import feeds, urls
from answers.model import Question
from feeddb import CONFIG, answer, store, write
from hostile import PAYLOADS


def tabled(uin: str, day: str, heading: str | None = None) -> Question:
    return Question(house="Commons", uin=uin, date_tabled=day, heading=heading or f"Question {uin}",
                    answering_body="Home Office", question_text=f"To ask about {uin}.")


def store_generation(db_path, generation: int, questions: list[Question]) -> sqlite_utils.Database:
    "Store questions as the build numbered `generation` would: the changes table records it."
    db = sqlite_utils.Database(db_path)
    db["meta"].upsert({"name": "generation", "value": str(generation)}, pk="name")
    db.close()
    return store(db_path, questions)


@pytest.fixture
def changes_db(tmp_path):
    store_generation(tmp_path / "answers.db", 1, [
        answer("1", "Home Office", "2024-03-10", corrected="2024-04-02"),
        answer("2", "HM Treasury", "2024-03-20"),
        tabled("3", "2024-03-25"),
        answer("4", "HM Treasury", "2024-02-10")]).close()
    # The next build: an old question answered late, and a new one tabled.
    db = store_generation(tmp_path / "answers.db", 2, [
        answer("5", "Home Office", "2023-11-10"), tabled("6", "2024-03-01", heading=PAYLOADS["script"])])
    yield db
    db.close()


def test_recent_changes_list_the_latest_by_date_whichever_build_brought_them(changes_db, tmp_path):
    write(changes_db, tmp_path / "site")
    feed = feedparser.parse((tmp_path / "site/changes/feed.xml").read_bytes())
    assert not feed.bozo
    # 5 and 6 came in the latest build: they stand where their dates put them, as in a clean build.
    expected = [("Corrected", "2024-04-02", "1"), ("Tabled", "2024-03-25", "3"),
                ("Answered", "2024-03-20", "2"), ("Tabled", "2024-03-01", "6"),
                ("Answered", "2024-02-10", "4"), ("Answered", "2023-11-10", "5")]
    titles = [f"{change}: {PAYLOADS['script'] if uin == '6' else f'Question {uin}'}" for change, _, uin in expected]
    assert [e.title for e in feed.entries] == titles
    assert [e.updated[:10] for e in feed.entries] == [day for _, day, _ in expected]
    twin = json.loads((tmp_path / "site/changes/index.json").read_text())
    assert [(i["change"], i["date"]) for i in twin["items"]] == [(c.lower(), d) for c, d, _ in expected]
    assert [i["url"] for i in twin["items"]] == [e.id for e in feed.entries]
    page = lxml.html.fromstring((tmp_path / "site/changes/index.html").read_bytes())
    items = page.xpath("//ol[@class='changes']/li")
    assert " ".join(items[0].text_content().split()) == "Corrected 2 April 2024: Question 1 Home Office"
    hrefs = page.xpath("//ol[@class='changes']/li/a/@href")
    assert [urljoin(CONFIG.absolute(urls.CHANGES), href) for href in hrefs] == [e.id for e in feed.entries]
    # A hostile heading is text on the page, never markup.
    assert not page.xpath("//main//script") and PAYLOADS["script"] in items[3].text_content()
    assert page.xpath("//link[@type='application/atom+xml']/@href") == ["feed.xml", "../feed.xml"]


def test_recent_changes_hold_the_newest_feed_size_as_sql_orders_them(tmp_path):
    db = store_generation(tmp_path / "answers.db", 1, [
        answer(str(n), "Home Office", f"2024-0{1 + n % 9}-{10 + n % 19}") for n in range(80)])
    write(db, tmp_path / "site")
    expected = [CONFIG.absolute(row["url"]) for row in db.query(
        "select url from questions order by date_answered desc, key desc limit :n", {"n": feeds.FEED_SIZE})]
    assert [e.id for e in feedparser.parse((tmp_path / "site/changes/feed.xml").read_bytes()).entries] == expected
    db.close()


def test_recent_changes_are_rendered_when_a_question_changed_and_only_then(changes_db, tmp_path):
    site = tmp_path / "site"
    write(changes_db, site)
    output, _ = write(changes_db, site, changed=set())
    assert output.written == [] and output.unchanged == len(feeds.archive_feeds(changes_db, CONFIG)) + 2
    changes_db["meta"].upsert({"name": "generation", "value": "3"}, pk="name")
    key = tabled("3", "2024-03-25").key
    changes_db["questions"].update(key, {"date_answered": "2024-04-20", "answer_html": "<p>Now.</p>"})
    output, _ = write(changes_db, site, changed={key})
    assert {urls.html_file(urls.CHANGES), urls.json_twin(urls.CHANGES), "changes/feed.xml"} <= set(output.written)
    first = feedparser.parse((site / "changes/feed.xml").read_bytes()).entries[0]
    assert (first.title, first.updated[:10]) == ("Answered: Question 3", "2024-04-20")


def test_the_home_page_links_the_recent_changes(tmp_path):
    from hostile import build_site_from_questions

    site = build_site_from_questions(tmp_path, [answer("1", "Home Office", "2024-03-10")])
    home = lxml.html.fromstring((site / "index.html").read_bytes())
    assert "changes/" in home.xpath("//main//a/@href")
    assert (site / "changes/index.html").is_file()


def test_a_question_with_no_real_date_is_left_out_of_the_recent_changes(tmp_path):
    "2024-02-30 and 2024-13-45 are not days: such a question has no place in time order."
    db = store_generation(tmp_path / "answers.db", 1, [
        Question(house="Commons", uin="7", date_tabled="2024-13-45", date_answered="2024-02-30",
                 heading="Dates", answering_body="Home Office", answer_html="<p>Then.</p>"),
        tabled("8", "2024-02-29")])
    write(db, tmp_path / "site")
    entries = feedparser.parse((tmp_path / "site/changes/feed.xml").read_bytes()).entries
    assert [(e.title, e.updated[:10]) for e in entries] == [("Tabled: Question 8", "2024-02-29")]
    db.close()
