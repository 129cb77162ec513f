"""The corrections feeds: the archive's and each answering body's list the corrected answers,
latest correction first, link the questions' pages, cut long answers like every feed, keep
hostile text as text, and are linked from the home page, body pages and the API page."""

from __future__ import annotations

import feedparser
import lxml.html
import pytest
import sqlite_utils

from answers import feeds, urls
from feeddb import CONFIG, answer, store, write
from hostile import PAYLOADS, build_site_from_questions


def parse_feed(path):
    feed = feedparser.parse(path.read_bytes())
    assert not feed.bozo, feed.bozo_exception
    return feed


@pytest.fixture
def corrections_db(tmp_path):
    questions = [
        answer("1", "Home Office", "2024-03-10", corrected="2024-04-02", text="<p>Corrected one.</p>"),
        answer("2", "Home Office", "2024-03-12", corrected="2024-03-20", text="<p>Corrected two.</p>"),
        answer("3", "HM Treasury", "2024-03-11", corrected="2024-05-01", text="<p>Corrected three.</p>"),
        answer("4", "HM Treasury", "2024-06-01"),  # never corrected: in the answers feeds only
        answer("5", "Cabinet Office", "2024-06-02"),
    ]
    db = store(tmp_path / "answers.db", questions)
    yield db
    db.close()


def test_corrections_feeds_list_corrected_answers_latest_correction_first(corrections_db, tmp_path):
    write(corrections_db, tmp_path / "site")
    archive = parse_feed(tmp_path / "site" / urls.corrections_feed_url())
    assert archive.feed.title == "Corrected answers: Written Answers Archive"
    assert [e.id for e in archive.entries] == [CONFIG.absolute(url) for url in (
        "commons/2024-03-04/3/", "commons/2024-03-03/1/", "commons/2024-03-05/2/")]
    assert [e.updated[:10] for e in archive.entries] == ["2024-05-01", "2024-04-02", "2024-03-20"]
    assert [e.published[:10] for e in archive.entries] == ["2024-03-11", "2024-03-10", "2024-03-12"]
    first = archive.entries[0]
    assert first.link == CONFIG.absolute("commons/2024-03-04/3/")
    assert first.title == "Question 3" and first.author == "Tess Minister"
    assert first.content[0].value == ("<p>Answer corrected on 1 May 2024; first answered on 11 March 2024."
                                      " The corrected answer:</p><p>Corrected three.</p>")

    home_office = parse_feed(tmp_path / "site/bodies/home-office/corrections/feed.xml")
    assert home_office.feed.title == "Corrected answers: Home Office"
    assert home_office.feed.link == CONFIG.absolute("bodies/home-office/")
    assert [e.title for e in home_office.entries] == ["Question 1", "Question 2"]
    assert [e.title for e in parse_feed(tmp_path / "site/bodies/hm-treasury/corrections/feed.xml").entries] \
        == ["Question 3"]
    # A body page links its corrections feed even with nothing corrected: it is there, empty.
    assert parse_feed(tmp_path / "site/bodies/cabinet-office/corrections/feed.xml").entries == []
    # The answers feeds are as they were: every answer, corrected or not, by its latest date.
    assert [e.title for e in parse_feed(tmp_path / "site/feed.xml").entries] == [
        "Question 5", "Question 4", "Question 3", "Question 1", "Question 2"]


def test_corrections_feed_entries_match_sql_beyond_one_feed(tmp_path):
    "More corrections than a feed holds: the newest FEED_SIZE, as SQL orders them."
    questions = [answer(str(n), "Home Office", f"2023-0{1 + n % 9}-1{n % 10}",
                        corrected=f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}") for n in range(70)]
    db = store(tmp_path / "answers.db", questions + [answer("x", "Home Office", "2025-01-20")])
    write(db, tmp_path / "site")
    expected = [CONFIG.absolute(row["url"]) for row in db.query(
        """select url from questions where is_correction order by date_answer_corrected desc, key desc
           limit :size""", {"size": feeds.FEED_SIZE})]
    for path in ("corrections/feed.xml", "bodies/home-office/corrections/feed.xml"):
        assert [e.id for e in parse_feed(tmp_path / "site" / path).entries] == expected
    db.close()


def test_a_huge_corrected_answer_is_cut_and_links_its_page(tmp_path):
    text = "<p>" + "Every word of a long corrected answer. " * 20_000 + "</p><p>The end.</p>"
    db = store(tmp_path / "answers.db", [answer("9", "Home Office", "2024-01-05", "2024-02-01", text)])
    write(db, tmp_path / "site")
    data = (tmp_path / "site/corrections/feed.xml").read_bytes()
    assert len(data) < 2 * feeds.ENTRY_TEXT_LIMIT + 3000
    content = feedparser.parse(data).entries[0].content[0].value
    assert "The end." not in content and "a long corrected answer. Every" in content
    assert lxml.html.fromstring(content).xpath("//a/@href") == [CONFIG.absolute("commons/2024-01-05/9/")]
    db.close()


def test_hostile_text_in_a_corrected_answer_stays_text(tmp_path):
    questions = [answer(str(n), "Home Office", "2024-03-10", "2024-04-02", heading=payload,
                        text=f"<p>Answer {n}</p>{payload}") for n, payload in enumerate(
                            PAYLOADS[kind].format(tag=kind) for kind in PAYLOADS)]
    db = store(tmp_path / "answers.db", questions)
    write(db, tmp_path / "site")
    feed = parse_feed(tmp_path / "site/corrections/feed.xml")
    assert len(feed.entries) == len(PAYLOADS)
    by_title = {e.title for e in feed.entries}
    # A heading is plain text: the feed carries it exactly, escaped, never as markup.
    assert by_title == {PAYLOADS[kind].format(tag=kind) for kind in PAYLOADS}
    for entry in feed.entries:
        html = lxml.html.fromstring(f"<div>{entry.content[0].value}</div>")
        assert not html.xpath("//script | //iframe | //svg | //meta | //img[@onerror] | //*[@onload]")
        assert not [href for href in html.xpath("//a/@href") if not href.startswith("http")]
    db.close()


def test_home_body_and_api_pages_link_the_corrections_feeds(tmp_path):
    site = build_site_from_questions(tmp_path, [
        answer("1", "Home Office", "2024-03-10", corrected="2024-04-02"),
        answer("2", "HM Treasury", "2024-03-11")])
    home = lxml.html.fromstring((site / "index.html").read_bytes())
    assert "corrections/feed.xml" in home.xpath("//link[@rel='alternate']/@href")
    assert "corrections/feed.xml" in home.xpath("//main//a/@href")
    for slug in ("home-office", "hm-treasury"):
        body = lxml.html.fromstring((site / f"bodies/{slug}/index.html").read_bytes())
        [link] = body.xpath("//link[@rel='alternate'][contains(@href, 'corrections')]")
        assert link.get("href") == "corrections/feed.xml" and link.get("type") == "application/atom+xml"
        assert (site / f"bodies/{slug}" / link.get("href")).is_file()
    api = lxml.html.fromstring((site / "api/index.html").read_bytes())
    assert {"../feed.xml", "../corrections/feed.xml", "../changes/feed.xml"} <= set(api.xpath("//a/@href"))


@pytest.mark.corpus
def test_corpus_corrections_feeds_match_sql(built_site):
    db = sqlite_utils.Database(built_site.db)
    corrected = [dict(row) for row in db.query(
        """select q.url, b.slug from questions q left join answering_bodies b on b.name = q.answering_body
           where (is_correction or date_answer_corrected is not null) and date_answered is not null
           order by coalesce(date_answer_corrected, date_answered) desc, key desc""")]
    db.close()
    assert len(corrected) >= 5
    archive = parse_feed(built_site.site / "corrections/feed.xml")
    assert [e.id for e in archive.entries] == [built_site.config.absolute(r["url"]) for r in corrected[:50]]
    for slug in {row["slug"] for row in corrected if row["slug"]}:
        body = parse_feed(built_site.site / "bodies" / slug / "corrections/feed.xml")
        assert [e.id for e in body.entries] == [
            built_site.config.absolute(r["url"]) for r in corrected if r["slug"] == slug][:50]
        assert all(e.content[0].value.startswith("<p>Answer corrected on ") for e in body.entries)
