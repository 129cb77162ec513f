"""The static archive: every question has its page, links resolve, states and offices are shown
truthfully, feeds and sitemaps are valid, and builds are incremental."""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import posixpath
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from itertools import pairwise
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import feedparser
import lxml.html
import pytest
import sqlite_utils
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from answers import feeds, listing_record, pages, schema, search, site, urls
from answers.manifest import page_manifest_contents, page_manifest_path
from answers.model import MemberRef, Question
from answers.output import Output
from answers.render import SiteConfig, TemplateCache, make_environment, render_markdown, to_json, to_json_bytes
from hostile import build_site_from_questions

SEED_URL = "commons/2018-11-21/p40657d7024/"


def parse(path: Path):
    return lxml.html.fromstring(path.read_bytes())


def text_of(element) -> str:
    return " ".join(element.text_content().split())


def db_rows(built_site, sql, params=None):
    db = sqlite_utils.Database(built_site.db)
    try:
        return [dict(row) for row in db.query(sql, params or {})]
    finally:
        db.close()


# -- every question, every link ----------------------------------------------------------


def test_every_question_row_has_its_page_and_json_twin(built_site):
    rows = db_rows(built_site, "select key, url from questions")
    assert len(rows) > 1000
    for row in rows:
        assert (built_site.site / row["url"] / "index.html").is_file(), row["url"]
        twin = json.loads((built_site.site / row["url"] / "index.json").read_text())
        assert twin["key"] == row["key"]


def internal_targets(html_path: Path, site_root: Path):
    "Every internal href/src of a page, resolved to a path in the site."
    document = parse(html_path)
    for element, attribute, link, _ in document.iterlinks():
        if attribute not in ("href", "src") or element.tag == "a" and attribute == "src":
            continue
        parts = urlsplit(link)
        if parts.scheme or parts.netloc or link.startswith(("#", "mailto:")):
            continue
        target = (html_path.parent / unquote(parts.path)).resolve()
        if link.endswith("/") or target.is_dir():
            target = target / "index.html"
        yield link, target


def broken_internal_links(site_root: Path) -> tuple[int, list[tuple[str, str]]]:
    "How many pages link internally, and every (page, link) whose target does not exist."
    root = site_root.resolve()
    broken = []
    html_pages = list(root.rglob("*.html"))
    for page in html_pages:
        if page.name == "404.html" or "pagefind" in page.parts:
            continue  # the 404 page links absolutely, being served at any address
        for link, target in internal_targets(page, root):
            if not target.is_relative_to(root) or not target.exists():
                broken.append((str(page.relative_to(root)), link))
    return len(html_pages), broken


def test_no_broken_internal_links(built_site):
    count, broken = broken_internal_links(built_site.site)
    assert count > 2000
    assert broken == []


def test_canonical_and_alternate_links(built_site):
    document = parse(built_site.site / SEED_URL / "index.html")
    canonical = document.xpath("//link[@rel='canonical']/@href")
    assert canonical == ["https://answers.example.org/archive/" + SEED_URL]
    assert document.xpath("//link[@rel='alternate'][@type='application/json']/@href") == [
        "index.json"]
    feeds = document.xpath("//link[@rel='alternate'][@type='application/atom+xml']/@href")
    assert "../../../bodies/home-office/feed.xml" in feeds
    assert document.xpath("//meta[@property='og:title']/@content") == [
        "Offences against Children: Internet"]


# -- the question page -------------------------------------------------------------------


def test_seed_page_names_the_answerer_without_the_later_office_as_hers(built_site):
    document = parse(built_site.site / SEED_URL / "index.html")
    answerer = document.xpath("//div[@class='answerer']/dd")[0]
    name = answerer.xpath(".//span[@class='answerer-name']/a")[0]
    assert name.text == "Victoria Atkins"
    assert name.get("href") == "../../../members/4399-victoria-atkins/"
    later = "Secretary of State for Health and Social Care"
    # The office shown as held on the day is never the later title...
    offices = [text_of(e) for e in answerer.xpath(".//span[@class='office']")]
    assert later not in " ".join(offices)
    assert offices == ["Minister for Safeguarding"]
    assert "Office held on 29 November 2018" in text_of(answerer)
    # ...which appears only inside its labelled, qualified line.
    printed = answerer.xpath(".//span[@class='printed-title']")[0]
    assert text_of(printed).startswith("Title printed on the source page: “" + later + "”")
    assert "may be a later office" in text_of(printed)
    page_text = text_of(document.xpath("//main")[0])
    assert page_text.count(later) == 1


def test_seed_page_facts_and_text(built_site):
    document = parse(built_site.site / SEED_URL / "index.html")
    assert text_of(document.xpath("//h1")[0]) == "Offences against Children: Internet"
    facts = {text_of(div.xpath("dt")[0]): text_of(div.xpath("dd")[0])
             for div in document.xpath("//dl[@class='facts']/div")}
    assert facts["To"] == "Home Office"
    assert timeline_of(document) == ["21 November 2018 Tabled", "29 November 2018 Answered"]
    body = document.xpath("//a[text()='Home Office']/@href")
    assert "../../../bodies/home-office/" in body
    prose = text_of(document.xpath("//div[@class='prose']")[0])
    assert prose.startswith("Question To ask the Secretary of State for the Home Department")
    assert "around 500 children each month." in prose
    citation = text_of(document.xpath("//p[@id='citation']")[0])
    assert citation.endswith("https://answers.example.org/archive/" + SEED_URL)
    assert "answered 29 November 2018 by Victoria Atkins" in citation


def facts_of(document) -> dict[str, str]:
    return {text_of(div.xpath("dt")[0]): text_of(div.xpath("dd")[0])
            for div in document.xpath("//dl[@class='facts']/div")}


def timeline_of(document) -> list[str]:
    return [text_of(li) for li in document.xpath("//ol[@class='timeline-events']/li")]


def test_questions_with_no_answering_body_have_their_pages(built_site):
    "Lords answers from TheyWorkForYou name no answering body: the page says so and links on."
    rows = db_rows(built_site, "select url, uin from questions where answering_body is null")
    assert rows
    for row in rows:
        document = parse(built_site.site / row["url"] / "index.html")
        assert facts_of(document)["To"] == "Not given by the source"
        description = document.xpath("//meta[@name='description']/@content")[0]
        assert description.startswith(f"Written question {row['uin']} in the House of Lords")
        feeds = document.xpath("//link[@type='application/atom+xml']/@href")
        assert feeds == ["../../../feed.xml"]  # only the archive's feed, there being no body's


def test_members_named_by_parlparse_ids_have_pages(built_site):
    rows = db_rows(built_site, """select q.url, m.id, m.name from questions q
                                  join members m on m.id = q.asking_member_id
                                  where m.id like '%/%' order by q.key""")
    assert rows
    for row in rows:
        member_url = urls.member_url(row["id"], row["name"])
        member = parse(built_site.site / member_url / "index.html")
        assert text_of(member.xpath("//h1")[0]) == row["name"]
        question = parse(built_site.site / row["url"] / "index.html")
        asker = question.xpath("//dl[@class='facts']/div[dt='Asked by']//a/@href")[0]
        assert asker == urls.relative(row["url"], member_url)


def test_provenance_names_the_source_file_but_not_where_it_was_built(built_site, corpus):
    document = parse(built_site.site / SEED_URL / "index.html")
    provenance = text_of(document.xpath("//p[@class='provenance']")[0])
    assert provenance.startswith("From the page-text source file 000_2a41393b050c1048.txt")
    lords = db_rows(built_site, "select url from questions where house = 'Lords' limit 1")[0]
    for url in (SEED_URL, lords["url"]):
        for name in ("index.html", "index.json"):
            assert str(corpus.parent) not in (built_site.site / url / name).read_text()


NO_NEIGHBOURS = {"previous": None, "next": None}


def hand_made_page(folder: Path, official_url: str) -> Path:
    "A Markdown page for a question whose source gave this official URL and a clipped answer."
    row = {name: 0 for name in pages.FLAGS}
    row.update(key="commons-2024-01-02-1", url="commons/2024-01-02/1/", house="Commons",
               uin="1", date_tabled="2024-01-02", heading="Links", official_url=official_url,
               question_text="To ask about links.", answer_html="<p>Partly...</p>",
               answer_is_clipped=1)
    path = folder / row["url"] / "index.md"
    path.parent.mkdir(parents=True)
    path.write_text(pages.render_page(row, pages.PageContext({}, {}, {}, {})))
    return path


@pytest.mark.parametrize("official_url", [
    "javascript:alert(document.cookie)", " JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "/relative/path"])
def test_official_url_that_is_not_a_web_address_is_not_linked(tmp_path, official_url):
    config = SiteConfig()
    _, html, _ = site.render_question(hand_made_page(tmp_path, official_url), NO_NEIGHBOURS,
                                      make_environment(config), config)
    document = lxml.html.fromstring(html)
    hrefs = document.xpath("//@href")
    unsafe = ("javascript", "data", "vbscript")
    assert not [href for href in hrefs if href.strip().lower().startswith(unsafe)]
    assert "/relative/path" not in hrefs
    assert "Official record" not in text_of(document)


def test_official_web_address_is_linked(tmp_path):
    config = SiteConfig()
    url = "https://questions-statements.parliament.uk/written-questions/detail/2024-01-02/1"
    _, html, _ = site.render_question(hand_made_page(tmp_path, url), NO_NEIGHBOURS,
                                      make_environment(config), config)
    document = lxml.html.fromstring(html)
    assert document.xpath("//ul[@class='record-links']//a/@href")[0] == url
    assert document.xpath("//p[@class='notice']/a/@href") == [url]


def test_question_page_links_official_record_datasette_and_neighbours(built_site):
    document = parse(built_site.site / "commons/2024-08-30/3283/index.html")
    hrefs = document.xpath("//ul[@class='record-links']//a/@href")
    assert hrefs[:3] == [
        "https://questions-statements.parliament.uk/written-questions/detail/2024-08-30/3283",
        "http://127.0.0.1:8001/answers/questions/commons-2024-08-30-3283",
        "index.json"]
    assert "Corrected" in [text_of(e) for e in document.xpath("//ul[@class='states']/li")]
    assert "This answer was corrected on 26 November 2024" in text_of(document)
    nav = document.xpath("//nav[@class='prev-next']//a/@href")
    assert len(nav) == 2
    page = built_site.site / "commons/2024-08-30/3283"
    for href in nav:  # both neighbours answer for the same department
        twin = json.loads((page / href / "index.json").read_text())
        assert twin["answering_body"]["name"] == "Department for Education"
    offices = [text_of(e) for e in document.xpath("//span[@class='office']")]
    assert offices == ["Minister for School Standards"]


def test_each_pages_links_are_its_bodys_questions_before_and_after_it(built_site):
    """A page's previous and next links: the questions of its answering body in the order of the
    date answered (or tabled, while unanswered), then of key; none beyond the body's first and last."""
    rows = db_rows(built_site, """select url, key, answering_body, coalesce(date_answered, date_tabled, '') as day
                                  from questions where answering_body is not null""")
    ordered = sorted(rows, key=lambda row: (row["answering_body"], row["day"], row["key"]))
    # Neighbours answered the same day: the key orders them.
    assert any(a["answering_body"] == b["answering_body"] and a["day"] == b["day"]
               for a, b in pairwise(ordered))
    expected = {}
    for before, row, after in zip([None, *ordered[:-1]], ordered, [*ordered[1:], None], strict=True):
        expected[row["url"]] = tuple(other["url"] if other and other["answering_body"] == row["answering_body"]
                                     else None for other in (before, after))
    db = sqlite_utils.Database(built_site.db)
    try:
        found = site.navigation_of(db, [row["url"] for row in rows])
    finally:
        db.close()
    assert {url: tuple((nav[side] or {}).get("url") for side in ("previous", "next"))
            for url, nav in found.items()} == expected


# Rows that put the neighbour query's edges together: no body, a missing or empty date (the
# date tabled stands in for a missing answer date, not for an empty one), a time after a day,
# several questions of one body on one day (their keys order them), keys of every case.
NAVIGATION_ROWS = st.lists(
    st.tuples(st.text("aBé_0", min_size=1, max_size=3), st.sampled_from([None, "Home Office", "HM Treasury"]),
              *[st.sampled_from([None, "", "2024-01-02", "2024-01-02T09:00:00", "2024-01-03"])] * 2),
    unique_by=lambda row: row[0], max_size=12)


@given(NAVIGATION_ROWS)
def test_each_pages_links_are_those_of_its_body_sorted_by_day_then_key(rows):
    """`navigation_of` against a plain sort of the rows: each question with a body links the
    one before and after it in its body's order; a question of no body links none."""
    db = sqlite_utils.Database(memory=True)
    schema.create_schema(db)
    db["questions"].insert_all({"key": key, "url": f"commons/2024-01-01/{index}/", "answering_body": body,
                                "date_answered": answered, "date_tabled": tabled, "heading": f"Heading {key}"}
                               for index, (key, body, answered, tabled) in enumerate(rows))
    questions = list(db.query("select url, key, answering_body, date_answered, date_tabled from questions"))
    expected = {}
    for body in {row["answering_body"] for row in questions} - {None}:
        ordered = sorted((row for row in questions if row["answering_body"] == body),
                         key=lambda row: ([day for day in (row["date_answered"], row["date_tabled"], "")
                                           if day is not None][0], row["key"]))
        for before, row, after in zip([None, *ordered[:-1]], ordered, [*ordered[1:], None], strict=True):
            expected[row["url"]] = tuple(other and other["url"] for other in (before, after))
    found = site.navigation_of(db, [row["url"] for row in questions])
    assert {url: tuple((nav[side] or {}).get("url") for side in ("previous", "next"))
            for url, nav in found.items()} == expected


def test_a_full_build_reads_the_pages_links_a_chunk_at_a_time(tmp_path, monkeypatch):
    """The links of every question are never held at once: each chunk of pages rendered reads
    its own, and every page still links its body's questions before and after it."""
    asked, real = [], site.navigation_of

    def recorded(db, page_urls):
        asked.append(sorted(page_urls))
        return real(db, page_urls)

    monkeypatch.setattr(site, "navigation_of", recorded)
    monkeypatch.setattr(site, "CHUNK", 2)
    days = ["2024-01-03", "2024-01-02", "2024-01-03", "2024-01-05", "2024-01-04"]
    build_site_from_questions(tmp_path, [
        Question(house="Commons", uin=str(number), date_tabled="2024-01-01", date_answered=day,
                 heading=f"Heading {number}", answering_body="Home Office",
                 asking_member=MemberRef("name:a", name="A Member"), question_text=f"Question {number}?",
                 answer_html="<p>Answered.</p>")
        for number, day in enumerate(days, start=1)])
    question_urls = {f"commons/2024-01-01/{number}/" for number in range(1, 6)}
    assert max(map(len, asked)) == 2 and set().union(*asked) == question_urls
    # In date order, then key: 2 (the 2nd), 1 and 3 (the 3rd), 5 (the 4th), 4 (the 5th).
    order = ["2", "1", "3", "5", "4"]
    for place, number in enumerate(order):
        document = parse(tmp_path / "site" / f"commons/2024-01-01/{number}/index.html")
        links = {link.get("rel"): link.get("href") for link in document.xpath("//nav[@class='prev-next']//a")}
        assert links.get("prev") == (f"../{order[place - 1]}/" if place else None)
        assert links.get("next") == (f"../{order[place + 1]}/" if place + 1 < len(order) else None)


def test_tables_are_wrapped_in_a_scrollable_region(built_site):
    document = parse(built_site.site / "commons/2024-08-30/3171/index.html")
    tables = document.xpath("//div[@class='prose']//table")
    assert tables
    for table in tables:
        wrapper = table.getparent()
        assert wrapper.get("class") == "table-scroll" and wrapper.get("tabindex") == "0"
    assert "£16,814,400,000" in text_of(tables[0])


def test_grouped_questions_link_each_other(built_site):
    row = db_rows(built_site, """select url, grouped_keys from questions
                                 where grouped_keys is not null order by key limit 1""")[0]
    document = parse(built_site.site / row["url"] / "index.html")
    listed = document.xpath("//section[@class='group']/ol/li")
    assert len(listed) == len(json.loads(row["grouped_keys"])) + 1  # and this question
    assert len(document.xpath("//section[@class='group']/ol/li[@aria-current='true']")) == 1


def test_holding_answer_is_shown_plainly(built_site):
    row = db_rows(built_site, "select url from questions where is_holding = 1 limit 1")[0]
    document = parse(built_site.site / row["url"] / "index.html")
    assert "Holding answer" in [text_of(e) for e in document.xpath("//ul[@class='states']/li")]
    assert "This is a holding answer" in text_of(document)


def test_clipped_text_is_flagged(built_site):
    row = db_rows(built_site, """select url, official_url from questions
                                 where answer_is_clipped = 1 and question_is_clipped = 0
                                 limit 1""")[0]
    document = parse(built_site.site / row["url"] / "index.html")
    notice = [text_of(p) for p in document.xpath("//p[@class='notice']")]
    assert any(n.startswith("The source gave only the beginning of the answer (it ends with")
               for n in notice)
    assert row["official_url"] in document.xpath("//p[@class='notice']/a/@href")


def test_question_json_twin(built_site):
    twin = json.loads((built_site.site / SEED_URL / "index.json").read_text())
    assert twin["answering_member"]["name"] == "Victoria Atkins"
    assert twin["answerer_title_as_published"] == "Secretary of State for Health and Social Care"
    assert twin["markdown"].startswith("## Question")
    assert "<h2>Answer</h2>" in twin["html"]


# What a page's front matter and twin hold: text (any character but a lone surrogate, which UTF-8
# cannot hold), integers, booleans, null, lists and mappings with text keys, nested.
TEXT = st.text(st.characters(exclude_categories=["Cs"]))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=30)


@given(JSON_VALUES)
def test_a_twin_made_by_orjson_holds_the_bytes_json_writes(value):
    assert to_json_bytes(value) == to_json(value).encode("utf-8")


def test_a_twin_orjson_cannot_write_is_written_by_json():
    for value in ({"big": [2**70]}, {1: "a"}, {"text": Markup("<b>")}):
        assert to_json_bytes(value) == to_json(value).encode("utf-8")
    with pytest.raises(TypeError):  # as json refuses it: not a value a twin can hold
        to_json_bytes({"date": datetime.date(2024, 1, 2)})


def test_question_pages_carry_no_search_markup(built_site):
    "The index is built from the database (search.py): the pages themselves are not indexed."
    for path in (SEED_URL, ""):
        assert "data-pagefind" not in (built_site.site / path / "index.html").read_text()
    assert (built_site.site / "pagefind" / "bundles.json").is_file()


def test_search_page_says_what_is_searched(built_site):
    "Every question page is indexed, awaiting an answer or not, and the search page says so."
    unanswered = db_rows(built_site, "select url from questions where date_answered is null")
    assert unanswered
    with sqlite_utils.Database(built_site.db) as db:
        [(_, record)] = search.records(db, [unanswered[0]["url"]], search.record_template())
    assert 'data-pagefind-filter="status">Awaiting answer<' in record
    lede = text_of(parse(built_site.site / "search/index.html").xpath("//p[@class='lede']")[0])
    assert "awaiting an answer" in lede and "every answered question" not in lede


# -- listings ----------------------------------------------------------------------------


def test_body_listing_counts_and_pages(built_site):
    "Pages are numbered from the oldest; the body's own url shows the newest, partly filled."
    count = db_rows(built_site, """select count(*) as n from questions
                                   where answering_body = 'Department for Education'""")[0]["n"]
    folder = built_site.site / "bodies/department-for-education"
    twin = json.loads((folder / "index.json").read_text())
    pages = -(-count // 50)
    assert pages > 1 and twin["total"] == count and twin["pages"] == pages
    assert len(twin["items"]) == count - 50 * (pages - 1)
    assert twin["next"] == ("https://answers.example.org/archive/bodies/department-for-education/"
                            f"page/{pages - 1}/index.json")
    oldest = json.loads((folder / "page/1/index.json").read_text())
    assert (oldest["first"], oldest["last"], len(oldest["items"]), oldest["next"]) == (1, 50, 50, None)
    listed = [item for number in range(pages - 1, 0, -1)
              for item in json.loads((folder / f"page/{number}/index.json").read_text())["items"]]
    assert len(twin["items"]) + len(listed) == count
    dates = [i["date_answered"] or i["date_tabled"] for i in twin["items"] + listed]
    assert dates == sorted(dates, reverse=True)


def test_member_page_lists_asked_and_answered_apart(built_site):
    document = parse(built_site.site / "members/4399-victoria-atkins/index.html")
    assert text_of(document.xpath("//h1")[0]) == "Victoria Atkins"
    assert document.xpath("//h2[@id='answered-heading']")
    links = document.xpath("//section[@aria-labelledby='answered-heading']//h3/a/@href")
    assert "../../" + SEED_URL in links
    twin = json.loads((built_site.site / "members/4399-victoria-atkins/index.json").read_text())
    assert twin["answered"] >= 1 and twin["id"] == "4399"


def test_member_page_lists_government_posts_with_dates_and_source(built_site):
    document = parse(built_site.site / "members/4399-victoria-atkins/index.html")
    posts = [text_of(li) for li in document.xpath("//section[@aria-labelledby='posts-heading']//li")]
    assert "Minister for Safeguarding, Home Office 9 November 2017 to 16 September 2021" in posts
    assert ("Secretary of State for Health and Social Care, Department of Health and Social Care "
            "13 November 2023 to 5 July 2024") in posts
    source = document.xpath("//section[@aria-labelledby='posts-heading']//p")[0]
    assert "Institute for Government Ministers Database" in text_of(source)
    twin = json.loads((built_site.site / "members/4399-victoria-atkins/index.json").read_text())
    assert {"post": "Minister for Safeguarding", "organisation": "Home Office",
            "start_date": "2017-11-09", "end_date": "2021-09-16",
            "source": "Institute for Government Ministers Database (CC BY 4.0)"} in twin["posts"]


def test_days_hierarchy(built_site):
    day = parse(built_site.site / "days/2018/11/29/index.html")
    assert "../../../../" + SEED_URL in day.xpath("//ol[@class='items']//h3/a/@href")
    month = json.loads((built_site.site / "days/2018/11/index.json").read_text())
    assert month["days"]["2018-11-29"] >= 1
    years = json.loads((built_site.site / "days/index.json").read_text())["years"]
    total = db_rows(built_site, """select count(*) as n from questions
                                   where coalesce(date_answered, date_tabled) is not null""")
    assert sum(years.values()) == total[0]["n"]


def test_heading_listing_and_home(built_site):
    heading = json.loads(
        (built_site.site / "headings/offences-against-children-internet/index.json").read_text())
    assert [i["key"] for i in heading["items"]] == ["commons-2018-11-21-p40657d7024"]
    home = json.loads((built_site.site / "index.json").read_text())
    total = db_rows(built_site, "select count(*) as n from questions")[0]["n"]
    assert home["stats"]["questions"] == total
    assert len(home["latest"]) == 20


@pytest.mark.parametrize(("listing", "trail"), [
    ("days/2018/11/29/", [("Home", "../../../../"), ("By day", "../../../"), ("2018", "../../"),
                          ("November", "../")]),
    ("bodies/department-for-education/", [("Home", "../../"), ("Departments", "../")]),
    ("bodies/department-for-education/page/1/", [("Home", "../../../../"), ("Departments", "../../../")]),
    ("members/4399-victoria-atkins/answered/", [("Home", "../../../"), ("Members", "../../"),
                                                ("Victoria Atkins", "../")]),
    ("headings/offences-against-children-internet/", [("Home", "../../"), ("Topics", "../")]),
])
def test_listing_breadcrumbs_lead_home_to_the_section_and_to_the_member(built_site, listing, trail):
    nav = parse(built_site.site / listing / "index.html").xpath("//nav[@class='breadcrumbs']")[0]
    assert [(text_of(a), a.get("href")) for a in nav.xpath("a")] == trail
    assert text_of(nav) == " › ".join(name for name, _ in trail)


def test_a_question_is_listed_alike_by_every_listing_that_shows_it(built_site):
    "Its day's, its body's, its answerer's and its heading's listings: the same entry, the same words."
    key, url = "commons-2018-11-21-p40657d7024", SEED_URL
    listings = ["days/2018/11/29/", "members/4399-victoria-atkins/answered/",
                "headings/offences-against-children-internet/"]
    body = built_site.site / "bodies/home-office"
    listings.append(next(str(twin.parent.relative_to(built_site.site)) + "/"
                         for twin in [body / "index.json", *body.glob("page/*/index.json")]
                         if key in [item["key"] for item in json.loads(twin.read_text()).get("items", [])]))
    entries = [next(item for item in json.loads((built_site.site / listing / "index.json").read_text())["items"]
                    if item["key"] == key) for listing in listings]
    assert entries == [entries[0]] * 4
    assert (entries[0]["url"], entries[0]["answering_member"]) == (
        "https://answers.example.org/archive/" + url, "Victoria Atkins")
    items = [parse(built_site.site / listing / "index.html").xpath(
        f"//li[@class='item'][h3/a[@href='{'../' * listing.count('/') + url}']]")[0] for listing in listings]
    meta = [text_of(item.xpath("p[@class='item-meta']")[0]) for item in items]
    assert meta == [meta[3] + " · Home Office"] * 3 + [meta[3]]  # a body's own listing leaves its name out
    assert meta[3].startswith("Answered 29 November 2018")


def test_about_page_states_sources_coverage_and_licences(built_site):
    about = text_of(parse(built_site.site / "about/index.html"))
    total = db_rows(built_site, "select count(*) as n from questions")[0]["n"]
    assert f"{total:,} questions" in about
    for licence in ("Open Parliament Licence v3.0", "CC BY 4.0"):
        assert licence in about
    assert "api-json" in about and "page-text" in about


def test_api_page_and_404(built_site):
    api = parse(built_site.site / "api/index.html")
    assert text_of(api.xpath("//h1")[0]) == "The archive's API"  # from templates/site/api.md
    assert "commons-2024-08-30-3283" in text_of(api.xpath("//pre")[0])
    missing = parse(built_site.site / "404.html")
    assert "https://answers.example.org/archive/search/" in missing.xpath("//main//a/@href")


# -- feeds and sitemap -------------------------------------------------------------------


def test_feeds_parse_with_expected_entries(built_site):
    feed = feedparser.parse((built_site.site / "feed.xml").read_bytes())
    assert not feed.bozo
    assert len(feed.entries) == 50
    latest = db_rows(built_site, """select url from questions where date_answered is not null
        order by coalesce(date_answer_corrected, date_answered) desc, key desc limit 1""")[0]
    assert feed.entries[0].id == "https://answers.example.org/archive/" + latest["url"]
    body = feedparser.parse((built_site.site / "bodies/home-office/feed.xml").read_bytes())
    assert not body.bozo
    answered = db_rows(built_site, """select count(*) as n from questions
        where answering_body = 'Home Office' and date_answered is not null""")[0]["n"]
    assert len(body.entries) == min(50, answered)
    assert {t.term for e in body.entries for t in e.tags} == {"Home Office"}
    member = feedparser.parse(
        (built_site.site / "members/4399-victoria-atkins/feed.xml").read_bytes())
    assert not member.bozo
    seed = [e for e in member.entries if e.id.endswith(SEED_URL)][0]
    assert seed.title == "Offences against Children: Internet"
    assert seed.author == "Victoria Atkins"
    assert "prioritised child sexual abuse" in seed.content[0].value


def test_sitemap_lists_every_question(built_site):
    from lxml import etree

    tree = etree.parse(str(built_site.site / "sitemap.xml"))
    locs = set(tree.xpath("//s:loc/text()", namespaces={"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}))
    for row in db_rows(built_site, "select url from questions"):
        assert "https://answers.example.org/archive/" + row["url"] in locs
    robots = (built_site.site / "robots.txt").read_text()
    assert "Sitemap: https://answers.example.org/archive/sitemap.xml" in robots


# -- incremental builds and the output folder ---------------------------------------------


@pytest.fixture
def site_copy(built_site, tmp_path):
    "The built archive and the records beside its folders: without them, a build checks everything."
    for name in ("pages", "site"):
        shutil.copytree(getattr(built_site, name), tmp_path / name)
        shutil.copy(page_manifest_path(getattr(built_site, name)), page_manifest_path(tmp_path / name))
    shutil.copy(listing_record.record_path(built_site.site), listing_record.record_path(tmp_path / "site"))
    shutil.copy(built_site.db, tmp_path / "answers.db")
    return tmp_path


def test_second_build_rewrites_nothing(built_site, site_copy):
    report = site.build_site(site_copy / "answers.db", site_copy / "pages", site_copy / "site",
                             built_site.config, workers=2)
    assert report.written == [] and report.removed == []
    # The change log says nothing changed: no question file is read (two a question), and the
    # listings' record vouches for the listings: none of their files is read either.
    record = listing_record.ListingRecord(listing_record.record_path(site_copy / "site"), "")
    listing_files = {name for url in record.pages_of(None) for name in (urls.html_file(url), urls.json_twin(url))}
    record.close()
    others = set(built_site.site_report.written) - listing_files - {urls.NOT_FOUND}
    assert report.unchanged == len(others) - 2 * report.question_pages > 300  # feeds, sitemap, static files
    assert report.rendered == 0 and report.skipped == report.question_pages > 1000


def test_a_build_with_nothing_changed_since_the_last_one_checks_no_file(built_site, site_copy):
    out = site_copy / "site"
    first = site.build_site(site_copy / "answers.db", site_copy / "pages", out, built_site.config, workers=2)
    assert first.written == [] and first.unchanged > 0  # the copy's other files: checked once
    again = site.build_site(site_copy / "answers.db", site_copy / "pages", out, built_site.config, workers=2)
    assert again.written == [] and again.removed == [] and again.unchanged == 0
    assert again.rendered == 0 and again.skipped == again.question_pages > 1000 and again.downloads is None


def build_twice(built_site, folder: Path, check_all: bool = False) -> list[site.SiteReport]:
    return [site.build_site(folder / "answers.db", folder / "pages", folder / "site", built_site.config,
                            workers=2, check_all=check_all) for _ in range(2)]


def test_other_files_edited_by_hand_are_left_to_verify_when_nothing_changed(built_site, site_copy):
    build_twice(built_site, site_copy)
    robots, style = site_copy / "site" / "robots.txt", site_copy / "site" / "static" / "style.css"
    originals = robots.read_bytes(), style.read_bytes()
    robots.write_text("edited by hand")
    style.write_text("edited by hand")
    assert build_twice(built_site, site_copy)[1].written == []
    verified = site.build_site(site_copy / "answers.db", site_copy / "pages", site_copy / "site",
                               built_site.config, workers=2, check_all=True)
    assert sorted(verified.written) == ["robots.txt", "static/style.css"]
    assert (robots.read_bytes(), style.read_bytes()) == originals


def test_a_changed_static_file_or_listing_text_is_written_by_the_next_build(built_site, site_copy, monkeypatch):
    from answers import listings, render

    build_twice(built_site, site_copy)
    static, templates = site_copy / "static", site_copy / "templates"
    shutil.copytree(render.STATIC, static)
    shutil.copytree(render.SITE_TEMPLATES, templates)
    with (static / "style.css").open("a") as style:
        style.write("/* changed */\n")
    with (templates / listings.API_TEXT).open("a") as api_text:
        api_text.write("\nA changed line.\n")
    monkeypatch.setattr(site, "STATIC", static)
    monkeypatch.setattr(render, "SITE_TEMPLATES", templates)
    monkeypatch.setattr(listings, "SITE_TEMPLATES", templates)
    changed, again = build_twice(built_site, site_copy)
    assert {"static/style.css", "api/index.html"} <= set(changed.written) and changed.rendered == 0
    assert "A changed line." in (site_copy / "site" / "api" / "index.html").read_text()
    assert again.written == [] and again.unchanged == 0 and again.rendered == 0


def test_a_static_file_moved_to_a_folder_of_its_own_is_written_there_by_the_next_build(
        built_site, site_copy, monkeypatch):
    # Its bytes and its name as they were: only the folder tells the two static folders apart.
    build_twice(built_site, site_copy)
    static = site_copy / "static"
    shutil.copytree(site.STATIC, static)
    (static / "v2").mkdir()
    (static / "style.css").rename(static / "v2" / "style.css")
    monkeypatch.setattr(site, "STATIC", static)
    moved, again = build_twice(built_site, site_copy)
    assert "static/v2/style.css" in moved.written
    written = site_copy / "site" / "static" / "v2" / "style.css"
    assert written.read_bytes() == (static / "v2" / "style.css").read_bytes()
    assert again.written == [] and again.unchanged == 0

def test_changed_question_rewrites_only_what_shows_it(built_site, site_copy):
    from answers import pages

    key, url = "commons-2024-08-30-3283", "commons/2024-08-30/3283/"
    change_rows(site_copy / "answers.db", key, {"answer_html": "<p>A changed answer.</p>",
                                                "answer_text": "A changed answer."})
    assert pages.write_pages(site_copy / "answers.db", site_copy / "pages").written == [
        url + "index.md"]
    report = site.build_site(site_copy / "answers.db", site_copy / "pages", site_copy / "site",
                             built_site.config, workers=2)
    assert {url + "index.html", url + "index.json"} <= set(report.written)
    for path in report.written:
        content = (site_copy / "site" / path).read_text()
        assert url in content or key in content, path
    assert 2 < len(report.written) < 20
    assert report.rendered == 1  # its neighbours' links name it by heading, not by answer
    assert "A changed answer." in (site_copy / "site" / url / "index.html").read_text()
    assert_same_as_fresh_build(built_site, site_copy)


def change_rows(db_path: Path, key: str, values: dict) -> None:
    "Update a question's row in a new generation, as the db stage does."
    db = sqlite_utils.Database(db_path)
    generation = int(db["meta"].get("generation")["value"]) + 1
    db["meta"].upsert({"name": "generation", "value": str(generation)}, pk="name")
    db["questions"].update(key, values)
    db.close()


def assert_same_as_fresh_build(built_site, folder: Path) -> None:
    "The incrementally built archive is byte for byte the one a build from scratch writes."
    site.build_site(folder / "answers.db", folder / "pages", folder / "fresh",
                    built_site.config, workers=2)
    assert files_of(folder / "site", "pagefind") == files_of(folder / "fresh", "pagefind")


def files_of(folder: Path, leave_out: str) -> dict:
    """Every file under a folder but those in one top-level folder, and what the manifest beside
    it records (by content: SQLite lays out the same rows differently in a file written in place)."""
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
             if p.is_file() and p.relative_to(folder).parts[0] != leave_out}
    return {**files, "manifest": page_manifest_contents(folder)}


def test_changed_neighbour_renders_the_pages_that_link_it(built_site, site_copy):
    "A new heading is shown in its neighbours' previous and next links, so they render too."
    from answers import pages

    db = sqlite_utils.Database(site_copy / "answers.db")
    url = "commons/2024-08-30/3283/"
    nav = site.navigation_of(db, [url])[url]
    linked_from = {link["url"] for link in (nav["previous"], nav["next"]) if link}
    db.close()
    change_rows(site_copy / "answers.db", "commons-2024-08-30-3283", {"heading": "A changed heading"})
    pages.write_pages(site_copy / "answers.db", site_copy / "pages")
    report = site.build_site(site_copy / "answers.db", site_copy / "pages", site_copy / "site",
                             built_site.config, workers=2)
    assert linked_from and report.rendered == 1 + len(linked_from)
    rewritten = {path.removesuffix("index.html") for path in report.written}
    assert {url} | linked_from <= rewritten
    assert_same_as_fresh_build(built_site, site_copy)


@pytest.mark.parametrize("spoil", ["delete", "corrupt", "other config", "other template"])
def test_without_a_usable_manifest_every_question_page_is_rendered(built_site, site_copy,
                                                                   monkeypatch, spoil):
    "No manifest, an unreadable one, another config or other templates: render them all."
    from answers import render

    out, config = site_copy / "site", built_site.config
    manifest = page_manifest_path(out)
    if spoil == "delete":
        manifest.unlink()
    elif spoil == "corrupt":
        manifest.write_bytes(manifest.read_bytes()[:-5000])
    elif spoil == "other config":
        config = SiteConfig(base_url="https://elsewhere.example.org/")
    else:
        templates = site_copy / "templates"
        shutil.copytree(render.SITE_TEMPLATES, templates)
        with (templates / "question.html").open("a") as question:
            question.write("{# a comment renders as nothing #}")
        monkeypatch.setattr(render, "SITE_TEMPLATES", templates)
    report = site.build_site(site_copy / "answers.db", site_copy / "pages", out, config,
                             workers=2)
    assert report.rendered == report.question_pages > 1000 and report.skipped == 0
    if spoil == "other config":  # every question page gives its canonical, absolute URL
        assert report.html_written > report.question_pages
    else:
        assert report.written == [] and report.removed == []
    again = site.build_site(site_copy / "answers.db", site_copy / "pages", out, config,
                            workers=2)
    assert again.rendered == 0 and again.written == []


def test_a_missing_question_file_is_written_again(built_site, site_copy):
    out = site_copy / "site"
    (out / SEED_URL / "index.json").unlink()
    report = site.build_site(site_copy / "answers.db", site_copy / "pages", out,
                             built_site.config, workers=2)
    assert report.written == []  # a build trusts the manifest and the change log
    report = site.build_site(site_copy / "answers.db", site_copy / "pages", out,
                             built_site.config, workers=2, check_all=True)
    assert report.written == [SEED_URL + "index.json"] and report.rendered == 1


def test_question_files_changed_by_another_hand_are_written_again(built_site, site_copy):
    out = site_copy / "site"
    html, twin = out / SEED_URL / "index.html", out / SEED_URL / "index.json"
    originals = html.read_bytes(), twin.read_bytes()
    html.write_bytes(originals[0] + b"<!-- edited -->")
    twin.write_text("{}")
    report = site.build_site(site_copy / "answers.db", site_copy / "pages", out,
                             built_site.config, workers=2, check_all=True)
    assert sorted(report.written) == [SEED_URL + "index.html", SEED_URL + "index.json"]
    assert report.rendered == 1
    assert (html.read_bytes(), twin.read_bytes()) == originals


def questions_to_remove(db: sqlite_utils.Database) -> dict:
    """Questions whose removal should take listing pages with them, chosen from the data:
    one alone on its day, one asked by a parlparse member who asked nothing else, and enough
    of one body's questions that its last listing page goes."""
    lonely = next(db.query(
        """select key, coalesce(date_answered, date_tabled) as day from questions q
           where key != :seed and (select count(*) from questions o
                 where coalesce(o.date_answered, o.date_tabled)
                       = coalesce(q.date_answered, q.date_tabled)) = 1
           order by key limit 1""", {"seed": "commons-2018-11-21-p40657d7024"}))
    member = next(db.query(
        """select min(q.key) as key, m.id, m.name from questions q
           join members m on m.id = q.asking_member_id
           where m.id like '%/%' and m.id not in (select answering_member_id from questions
                                                  where answering_member_id is not null)
           group by m.id having count(*) = 1 order by m.id limit 1"""))
    body = next(db.query(
        """select answering_body as name, b.slug, count(*) as n from questions q
           join answering_bodies b on b.name = q.answering_body
           group by answering_body having n > 50 and n % 50 != 0 order by n % 50, name
           limit 1"""))
    body_keys = [row["key"] for row in db.query(
        """select key from questions where answering_body = :name
           and key not in (:lonely, :member) order by key limit :extra""",
        {"name": body["name"], "lonely": lonely["key"], "member": member["key"],
         "extra": body["n"] % 50})]
    return {"lonely": lonely, "member": member, "body": body,
            "keys": [lonely["key"], member["key"], *body_keys]}


def test_outdated_pages_are_removed(built_site, site_copy):
    db = sqlite_utils.Database(site_copy / "answers.db")
    chosen = questions_to_remove(db)
    gone_urls = [row["url"] for row in db.query(
        "select url from questions where key in (select value from json_each(:keys))",
        {"keys": json.dumps(chosen["keys"])})]
    db.execute("delete from questions where key in (select value from json_each(:keys))",
               {"keys": json.dumps(chosen["keys"])})
    # Rows go only when the database is built again from scratch: a new lineage.
    db["meta"].upsert({"name": "lineage", "value": "rebuilt"}, pk="name")
    db.conn.commit()
    db.close()
    out = site_copy / "site"
    pagefind_files = sorted(p for p in (out / "pagefind").rglob("*"))
    (out / "days" / "index.html.tmp").write_text("left by a killed build")
    # Killed while Jinja2 saved a compiled template: its temporary file, beside the template cache's.
    template_cache = site_copy / f"site{TemplateCache.SUFFIX}"
    template_cache.mkdir()
    (template_cache / f"{TemplateCache.PATTERN % 'a1b2'}k1lled.tmp").write_text("half compiled")
    pages.write_pages(site_copy / "answers.db", site_copy / "pages")

    report = site.build_site(site_copy / "answers.db", site_copy / "pages", out,
                             built_site.config, workers=2)

    day, member = chosen["lonely"]["day"], chosen["member"]
    gone_listings = [urls.day_url(day),
                     urls.member_url(member["id"], member["name"]),
                     urls.page_url(urls.body_url(chosen["body"]["slug"]),
                                   -(-chosen["body"]["n"] // 50))]
    for url in gone_urls + gone_listings:
        assert not (out / url).exists(), url  # its page, JSON twin, feed and folder
    assert not (out / "days" / "index.html.tmp").exists()
    assert [path.suffix for path in template_cache.iterdir()] and all(
        path.suffix == ".cache" for path in template_cache.iterdir())
    assert {url + "index.html" for url in gone_urls} <= set(report.removed)
    assert report.html_changed > 0 and gone_urls
    # Nothing links to what went; the sitemap no longer lists it; search and static stay.
    count, broken = broken_internal_links(out)
    assert broken == []
    sitemap = (out / "sitemap.xml").read_text()
    assert not [url for url in gone_urls if built_site.config.absolute(url) + "<" in sitemap]
    assert sorted(p for p in (out / "pagefind").rglob("*")) == pagefind_files
    assert (out / "static" / "style.css").is_file()
    # A build with nothing gone removes nothing.
    again = site.build_site(site_copy / "answers.db", site_copy / "pages", out,
                            built_site.config, workers=2)
    assert again.removed == [] and again.written == []
    assert again.rendered == 0 and page_manifest_path(out).is_file()


def test_pages_that_cannot_be_read_are_rejected_by_name_and_the_rest_rendered_in_the_pool(
        built_site, tmp_path, monkeypatch):
    pages_dir = tmp_path / "pages"
    day = Path("commons") / "2024-08-30"
    shutil.copytree(built_site.pages / day, pages_dir / day)
    no_front_matter = pages_dir / day / "0000" / "index.md"
    no_front_matter.parent.mkdir()
    no_front_matter.write_text("no front matter here")
    not_utf8 = pages_dir / day / "0001" / "index.md"
    not_utf8.parent.mkdir()
    not_utf8.write_bytes(b"---\n{\"url\": \"\xff\"}\n---\n")
    monkeypatch.setattr(site, "CHUNK", 2)  # several chunks, so that a pool is used
    made = site.write_question_pages(pages_dir, Output(tmp_path / "site"), {}, SiteConfig(), workers=2)

    assert multiprocessing.active_children() == []
    assert made.rejected.keys() == {f"{day.as_posix()}/0000/", f"{day.as_posix()}/0001/"}
    assert made.rejected[f"{day.as_posix()}/0000/"].startswith(f"{no_front_matter}: a page must start with")
    assert made.rejected[f"{day.as_posix()}/0001/"].startswith(f"{not_utf8}: 'utf-8' codec can't decode")
    good = sorted(path.parent.relative_to(pages_dir).as_posix() + "/" for path in (pages_dir / day).rglob("index.md")
                  if path.parent.name not in ("0000", "0001"))
    assert len(good) > 2 and made.rendered == len(good) + 2
    assert all((tmp_path / "site" / url / "index.html").is_file() for url in good)
    assert not (tmp_path / "site" / day / "0000").exists()


def test_the_render_workers_begin_while_the_build_makes_the_later_chunks(built_site, tmp_path, monkeypatch):
    """The pages' folders are walked, and what each chunk needs of the manifests looked up, as the
    chunk is made, once the workers have the first; a failure while making one stops the build
    and leaves no worker behind."""
    pages_dir = tmp_path / "pages"
    day = Path("commons") / "2024-08-30"
    shutil.copytree(built_site.pages / day, pages_dir / day)
    happened = []

    class RecordedPool(ProcessPoolExecutor):
        def submit(self, *args, **kwargs):
            happened.append("submitted")
            return super().submit(*args, **kwargs)

    def looked_up(page_urls: list[str]) -> dict[str, str]:
        happened.append(len(page_urls))
        return {}

    def walking(top, *args, **kwargs):
        for folder in walk(top, *args, **kwargs):
            happened.append("walked")
            yield folder

    walk = os.walk
    monkeypatch.setattr(os, "walk", walking)
    monkeypatch.setattr(site, "ProcessPoolExecutor", RecordedPool)
    monkeypatch.setattr(site, "CHUNK", 2)
    made = site.write_question_pages(pages_dir, Output(tmp_path / "site"), {}, SiteConfig(), workers=2,
                                     text_digests=looked_up)
    pages_made = len(list((pages_dir / day).rglob("index.md")))
    assert made.rendered == pages_made > 6 and made.rejected == {}
    assert len(list((tmp_path / "site" / day).rglob("index.html"))) == pages_made
    assert [event for event in happened if isinstance(event, int)] == [2] * (pages_made // 2) + [1] * (pages_made % 2)
    first_submitted = happened.index("submitted")
    assert {2, "walked"} <= set(happened[first_submitted:])  # a folder walked, and a lookup made, after it

    def failing(page_urls: list[str]) -> dict[str, str]:
        if sum(isinstance(event, int) for event in happened) == 4:
            raise OSError("the pages' manifest is gone")
        return looked_up(page_urls)

    happened.clear()
    with pytest.raises(OSError, match="manifest is gone"):
        site.write_question_pages(pages_dir, Output(tmp_path / "again"), {}, SiteConfig(), workers=2,
                                  text_digests=failing)
    assert "submitted" in happened and multiprocessing.active_children() == []


def test_a_page_whose_front_matter_was_edited_wrong_is_rejected_naming_its_file(tmp_path):
    page = hand_made_page(tmp_path / "pages", "https://example.org/")
    page.write_text(page.read_text().replace('",\n', '"\n', 1))  # a comma lost: neither JSON nor YAML
    made = site.write_question_pages(tmp_path / "pages", Output(tmp_path / "site"), {}, SiteConfig(), workers=1)
    assert len(made.rejected) == 1
    assert made.rejected["commons/2024-01-02/1/"].startswith(f"{page}: the front matter reads as neither JSON")
    assert not (tmp_path / "site" / "commons").exists()


@pytest.mark.parametrize("line_end", [b"\r\n", b"\r"])
def test_a_page_saved_with_other_line_ends_makes_the_same_files(tmp_path, line_end):
    """A page edited by hand in an editor that ends lines otherwise (Windows: CR LF; old Macs: CR)
    is read as the same text: its HTML page and JSON twin are those of the page as written."""
    page = hand_made_page(tmp_path / "pages", "https://example.org/")
    as_written = site.write_question_pages(tmp_path / "pages", Output(tmp_path / "lf"), {}, SiteConfig(), workers=1)
    page.write_bytes(page.read_bytes().replace(b"\n", line_end))
    resaved = site.write_question_pages(tmp_path / "pages", Output(tmp_path / "other"), {}, SiteConfig(), workers=1)
    assert as_written.rejected == resaved.rejected == {}
    for name in ("index.html", "index.json"):
        written = (tmp_path / "lf" / "commons/2024-01-02/1" / name).read_bytes()
        assert b"Partly" in written and b"\r" not in written
        assert (tmp_path / "other" / "commons/2024-01-02/1" / name).read_bytes() == written


def test_pages_edited_wrong_by_hand_keep_their_last_good_files_until_mended(built_site, site_copy):
    """A template change renders every page again: one page edited by hand into broken front
    matter, and one whose front matter claims another question's url, are rejected by name; the
    build goes on, and the files the last build made of them stay, untouched and not swept."""
    broken_url, thief_url, victim_url = [row["url"] for row in db_rows(
        built_site, "select url from questions order by url limit 3")]
    pages_dir, out = site_copy / "pages", site_copy / "site"
    broken, thief = pages_dir / broken_url / "index.md", pages_dir / thief_url / "index.md"
    broken.write_text(broken.read_text().replace('",\n', '"\n', 1))
    thief.write_text(thief.read_text().replace(f'"url": "{thief_url}"', f'"url": "{victim_url}"'))
    before = {url: (out / url / "index.html").read_bytes() for url in (broken_url, thief_url, victim_url)}

    report = site.build_site(site_copy / "answers.db", pages_dir, out, built_site.config, workers=2,
                             check_all=True)

    assert report.rejected.keys() == {broken_url, thief_url}
    assert report.rejected[broken_url].startswith(f"{broken}: the front matter reads as neither JSON")
    assert report.rejected[thief_url] == (
        f"{thief}: its front matter gives the url '{victim_url}', not its own '{thief_url}'")
    assert report.written == [] and report.removed == []
    assert {url: (out / url / "index.html").read_bytes() for url in before} == before

    pages.write_pages(site_copy / "answers.db", pages_dir, check_all=True)  # `make verify` mends them
    mended = site.build_site(site_copy / "answers.db", pages_dir, out, built_site.config, workers=2,
                             check_all=True)
    # Every file checked against what the last good build made: all as it was, none rewritten.
    assert mended.rejected == {} and mended.written == [] and mended.removed == []
    assert mended.rendered == 0  # the mended pages are the very texts their kept files were made from


@pytest.mark.parametrize("last_build", ["stopped half way", "another base url"])
def test_a_page_edited_wrong_keeps_its_last_good_files_when_the_manifest_holds_no_entry_for_it(
        built_site, site_copy, last_build):
    """A build stopped half way leaves no manifest, and a change of config leaves one of other
    code: the next build renders every page and sweeps the files it did not write. A page
    edited by hand into broken front matter is rejected there too: its last good files must
    stay, as the report says they do, not be swept as stale."""
    url = db_rows(built_site, "select url from questions order by url limit 1")[0]["url"]
    pages_dir, out = site_copy / "pages", site_copy / "site"
    page = pages_dir / url / "index.md"
    page.write_text(page.read_text().replace('",\n', '"\n', 1))
    kept = {name: (out / url / name).read_bytes() for name in ("index.html", "index.json")}
    config = built_site.config
    if last_build == "stopped half way":
        page_manifest_path(out).unlink()
    else:
        config = SiteConfig(base_url="https://elsewhere.example.org/")

    report = site.build_site(site_copy / "answers.db", pages_dir, out, config, workers=2)

    assert report.rejected.keys() == {url}
    assert not [name for name in report.removed if name.startswith(url)]
    assert {name: (out / url / name).read_bytes() for name in kept} == kept


def test_a_mistake_in_the_code_that_renders_question_pages_stops_the_build(tmp_path, monkeypatch):
    """A page as the pages stage wrote it that cannot be rendered points to the code (a template
    or a helper edited with a mistake), not to the page: the build must stop, as it did, rather
    than report every page of the archive rejected and succeed. After a change of config, that
    build also sweeps every question page's files as stale."""
    hand_made_page(tmp_path / "pages", "https://example.org/")

    def mistaken(meta, nav, config):
        raise RuntimeError("a mistake in the code")

    monkeypatch.setattr(site, "part_context", mistaken)
    with pytest.raises(RuntimeError, match="a mistake in the code"):
        site.write_question_pages(tmp_path / "pages", Output(tmp_path / "site"), {}, SiteConfig(), workers=1)


def test_front_matter_with_yaml_aliases_is_refused():
    """An alias repeats a whole value: nine levels of ten make a billion strings of a few hundred
    bytes of front matter, which the JSON twin (and the render cache's check of it) expands, and
    the build runs out of memory instead of rejecting one page. Two levels here, to stay small."""
    header = 'url: commons/2024-01-02/1/\nlol: &lol ["lol", "lol"]\nlols: [*lol, *lol]\n'
    with pytest.raises(pages.PageError):
        pages.parse_front_matter(header)


def test_rendered_markdown_is_sanitized():
    html = render_markdown('Hello <script>alert(1)</script> <a href="javascript:x()">x</a>')
    assert "<script" not in html and "javascript:" not in html


# -- hostile values: the site never stops on one bad value --------------------------------


def test_names_too_long_for_a_file_name_still_get_their_pages(tmp_path):
    "A heading, body and member name whose slugs would pass 255 bytes: pages all the same."

    long = "Extremely Long Name " * 20
    archive = build_site_from_questions(tmp_path, [Question(
        house="Commons", uin="1", date_tabled="2024-01-02", date_answered="2024-01-05",
        heading=long + "Heading", answering_body=long + "Body",
        asking_member=MemberRef("name:x", name=long + "Member"), question_text="Q?",
        answer_html="<p>A.</p>")])
    heading_page = parse(archive / urls.heading_url(long + "Heading") / "index.html")
    assert text_of(heading_page.xpath("//h1")[0]) == (long + "Heading").strip()
    body_pages = list((archive / "bodies").glob("*/index.html"))
    assert len(body_pages) == 1 and text_of(parse(body_pages[0]).xpath("//h1")[0]) == (
        long + "Body").strip()
    assert max(len(path.name.encode()) for path in archive.rglob("*")) <= 255


def test_dates_that_are_not_dates_are_shown_as_given(tmp_path):
    "Bad answer, holding and tabled dates: the question page shows them as the source gave."

    archive = build_site_from_questions(tmp_path, [Question(
        house="Commons", uin="7", date_tabled="2024-13-45", date_answered="2024-02-30",
        date_holding_answer="2024-99-01", date_for_answer="someday", heading="Dates",
        answering_body="Home Office", question_text="When?", answer_html="<p>Then.</p>")])
    document = parse(archive / "commons/2024-13-45/7/index.html")
    assert timeline_of(document) == [
        "2024-13-45 Tabled", "someday Due for answer — ordinary question (not a named day)",
        "2024-99-01 Holding answer — full answer promised later", "2024-02-30 Answered"]
    # A calendar holds real days only; the question is still listed under its body.
    assert not (archive / "days/2024/13").exists() and not (archive / "days/2024/02/30").exists()
    assert "commons/2024-13-45/7/" in (archive / "bodies/home-office/index.html").read_text()
    # Feeds and the sitemap hold real dates only: Atom requires them, a sitemap may leave out.
    assert feedparser.parse((archive / "feed.xml").read_bytes()).entries == []
    sitemap = (archive / "sitemap.xml").read_text()
    assert "commons/2024-13-45/7/</loc></url>" in sitemap and "<lastmod>" not in sitemap


def test_a_huge_answer_gives_a_short_feed_entry_that_links_its_page(tmp_path):

    answer = "<p>" + "Every word of a very long answer. " * 60_000 + "</p><p>The end.</p>"
    question = "To ask " + "how long a question can be " * 10_000
    archive = build_site_from_questions(tmp_path, [Question(
        house="Commons", uin="9", date_tabled="2024-01-02", date_answered="2024-01-05",
        heading="Long", answering_body="Home Office", question_text=question,
        answer_html=answer)])
    for path in ("feed.xml", "bodies/home-office/feed.xml"):
        data = (archive / path).read_bytes()
        assert len(data) < 4 * feeds.ENTRY_TEXT_LIMIT + 3000
        entry = feedparser.parse(data).entries[0]
        content = entry.content[0].value
        assert "The end." not in content and content.count("Every word") > 50
        assert "a very long answer. Every" in content  # cut after a whole word
        link = lxml.html.fromstring(content).xpath("//a/@href")
        assert link == [SiteConfig().absolute("commons/2024-01-02/9/")]
        assert entry.summary.endswith(" question can…")
        assert len(entry.summary) <= feeds.ENTRY_TEXT_LIMIT + 1
    # The page itself holds the whole answer.
    assert "The end." in (archive / "commons/2024-01-02/9/index.html").read_text()


def test_a_feed_entry_of_usual_length_is_whole():

    row = {"question_text": "To ask what.", "answer_html": "<p>This.</p>"}
    assert feeds.entry_texts(row) == {"question_text": "To ask what.",
                                      "answer_html": "<p>This.</p>", "is_cut": False}


def test_pages_and_site_stages_do_not_load_the_code_that_builds_the_database():
    "A change to a merge rule must not re-render every page: only the cleaning rules are shared."
    probe = ("import sys; import answers.site, answers.pages, answers.feeds, answers.listings; "
             "print('answers.store' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def listed_title(listing_folder: Path, url: str) -> str:
    "The text of the link to `url` in any page of a (paginated) listing."
    for page in sorted(listing_folder.rglob("index.html")):
        for anchor in parse(page).xpath("//h3[@class='item-title']/a"):
            if anchor.get("href").endswith(url):
                return text_of(anchor)
    raise AssertionError(f"{url} is not listed in {listing_folder}")


def test_untitled_questions_are_called_by_the_start_of_their_text_everywhere(built_site):
    "A question without a heading: the same title on its page, in listings, feeds and links."
    rows = db_rows(built_site, """select q.url, q.question_text, b.slug from questions q
        join answering_bodies b on b.name = q.answering_body
        where q.heading is null and q.question_text is not null order by q.key""")
    assert rows
    for row in rows:
        page = parse(built_site.site / row["url"] / "index.html")
        title = text_of(page.xpath("//h1")[0])
        assert title.endswith("…") and 40 < len(title) <= 101
        assert " ".join(row["question_text"].split()).startswith(title[:-1])
        twin = json.loads((built_site.site / row["url"] / "index.json").read_text())
        assert twin["title"] == title
        assert listed_title(built_site.site / "bodies" / row["slug"], row["url"]) == title
        feed = feedparser.parse((built_site.site / "bodies" / row["slug"] / "feed.xml").read_bytes())
        [entry] = [e for e in feed.entries if e.id == built_site.config.absolute(row["url"])]
        assert entry.title == title
        linking = [a for path in (built_site.site / "commons").rglob("index.html")
                   for a in parse(path).xpath("//nav[@class='prev-next']/a")
                   if urljoin(path.relative_to(built_site.site).as_posix(), a.get("href")) == row["url"]]
        assert linking and {" ".join(text_of(a).split()[1:]) for a in linking} == {title}


@pytest.mark.parametrize("from_url, to_url", [
    ("commons/2024-08-30/3283/", ""), ("commons/2024-08-30/3283/", "static/style.css"),
    ("commons/2024-08-30/3283/", "commons/2024-08-30/3284/"),
    ("commons/2024-08-30/3283/", "commons/2024-08-30/3283/"), ("", "members/"), ("", ""),
    ("days/2024/", "days/2024/07/"), ("a//b/", "a/c"), ("a/./b/", "../x/"), ("a/../b/", "b/c/"),
    ("x/y/", "x/y/z/../w"), ("é/ü/", "é/v w/"),
])
def test_relative_links_are_those_posix_relpath_gives(from_url, to_url):
    "The quick way to a relative link agrees with posixpath.relpath, odd paths included."
    expected = posixpath.relpath("/" + to_url, "/" + from_url)
    assert urls.relative_path(from_url, to_url) == expected


def test_a_question_pages_links_are_those_relative_gives_whatever_the_target():
    "Links kept by depth between pages must never be the links of another page's place."
    pages_at = ["commons/2024-08-30/3283/", "lords/2024-08-30/HL1/", "commons/2024-08-31/12/", "a/../b/", ""]
    targets = ["", "days/", "commons/2024-08-30/", "commons/2024-08-30/3283/", "commons/2024-08-31/12/",
               "static/style.css", "feed.xml", "bodies/home-office/feed.xml", "/commons/x/", "days/../commons/",
               "lords/./x/", "search/", "members/4399-victoria-atkins/"]
    for _ in range(2):  # the second time from what the first one kept
        for page in pages_at:
            link = site.page_links(page)
            assert [link(target) for target in targets * 2] == [urls.relative(page, target) for target in targets * 2]


def test_a_listing_pages_links_are_those_relative_gives_whatever_the_target():
    "The climb to the root joined to a plain target must be the link `relative` makes, odd paths included."
    pages_at = ["headings/schools-finance/", "headings/schools-finance/page/3/", "days/2024/08/30/", "", "a/../b/",
                "a//b/", "members/4399-victoria-atkins/asked/"]
    targets = ["", "days/", "days", "headings/", "headings/schools-finance/page/2/", "commons/2024-08-30/3283/",
               "static/style.css", "feed.xml", "bodies/home-office/feed.xml", "/commons/x/", "days/../commons/",
               "lords/./x/", "lords//x/", ".hidden/x/", "a/.well-known/", "é/v w/", "members/4399-victoria-atkins/"]
    for page in pages_at:
        link = urls.links_from(page)
        assert [link(target) for target in targets] == [urls.relative(page, target) for target in targets]
