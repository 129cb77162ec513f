"""The static archive: every question has its page, links resolve, states and offices are shown
truthfully, feeds and sitemaps are valid, and builds are incremental."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import feedparser
import lxml.html
import pytest
import sqlite_utils

from answers import site
from answers.output import DuplicateOutputError, Output, OutsideOutputError
from answers.render import SiteConfig, make_environment, render_markdown

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


def test_no_broken_internal_links(built_site):
    root = built_site.site.resolve()
    broken = []
    pages = list(root.rglob("*.html"))
    for page in pages:
        if page.name == "404.html" or "pagefind" in page.parts:
            continue  # the 404 page links absolutely, being served at any address
        for link, target in internal_targets(page, root):
            if not target.is_relative_to(root) or not target.exists():
                broken.append((str(page.relative_to(root)), link))
    assert len(pages) > 2000
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
    assert facts["Tabled"] == "21 November 2018"
    assert facts["Answered"] == "29 November 2018"
    assert facts["To"] == "Home Office"
    body = document.xpath("//a[text()='Home Office']/@href")
    assert "../../../bodies/home-office/" in body
    prose = text_of(document.xpath("//div[@class='prose']")[0])
    assert prose.startswith("Question To ask the Secretary of State for the Home Department")
    assert "around 500 children each month." in prose
    citation = text_of(document.xpath("//p[@id='citation']")[0])
    assert citation.endswith("https://answers.example.org/archive/" + SEED_URL)
    assert "answered 29 November 2018 by Victoria Atkins" in citation


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
    listed = document.xpath("//section[@class='grouped']//li")
    assert len(listed) == len(json.loads(row["grouped_keys"]))


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


def test_search_covers_only_question_text(built_site):
    document = parse(built_site.site / SEED_URL / "index.html")
    body = document.xpath("//*[@data-pagefind-body]")
    assert len(body) == 1 and body[0].tag == "article"
    filters = {e.get("data-pagefind-filter") for e in document.xpath("//*[@data-pagefind-filter]")}
    assert filters == {"year:2018", "house", "department"}
    home = parse(built_site.site / "index.html")
    assert not home.xpath("//*[@data-pagefind-body]")
    assert (built_site.site / "pagefind" / "pagefind-ui.js").is_file()


# -- listings ----------------------------------------------------------------------------


def test_body_listing_counts_and_pages(built_site):
    count = db_rows(built_site, """select count(*) as n from questions
                                   where answering_body = 'Department for Education'""")[0]["n"]
    twin = json.loads((built_site.site / "bodies/department-for-education/index.json").read_text())
    assert twin["total"] == count and twin["pages"] == -(-count // 50)
    assert len(twin["items"]) == min(50, count)
    assert twin["next"] == ("https://answers.example.org/archive/bodies/department-for-education/"
                            "page/2/index.json")
    last = built_site.site / f"bodies/department-for-education/page/{twin['pages']}/index.json"
    assert len(json.loads(last.read_text())["items"]) == count - 50 * (twin["pages"] - 1)
    dates = [i["date_answered"] or i["date_tabled"] for i in twin["items"]]
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


def test_large_sitemap_is_split_with_an_index(tmp_path, monkeypatch):
    monkeypatch.setattr(site, "SITEMAP_LIMIT", 2)
    output = Output(tmp_path)
    entries = [{"url": f"q/{n}/", "lastmod": None} for n in range(5)]
    site.write_sitemaps(output, make_environment(SiteConfig()), entries, SiteConfig())
    assert sorted(output.written) == ["sitemap-1.xml", "sitemap-2.xml", "sitemap-3.xml",
                                      "sitemap.xml"]
    assert "<sitemapindex" in (tmp_path / "sitemap.xml").read_text()
    assert (tmp_path / "sitemap-3.xml").read_text().count("<url>") == 1


# -- incremental builds and the output folder ---------------------------------------------


@pytest.fixture
def site_copy(built_site, tmp_path):
    for name in ("pages", "site"):
        shutil.copytree(getattr(built_site, name), tmp_path / name)
    shutil.copy(built_site.db, tmp_path / "answers.db")
    return tmp_path


def test_second_build_rewrites_nothing(built_site, site_copy):
    report = site.build_site(site_copy / "answers.db", site_copy / "pages", site_copy / "site",
                             built_site.config, workers=2)
    assert report.written == []
    assert report.unchanged == len(built_site.site_report.written)


def test_changed_question_rewrites_only_what_shows_it(built_site, site_copy):
    from answers import pages

    key, url = "commons-2024-08-30-3283", "commons/2024-08-30/3283/"
    db = sqlite_utils.Database(site_copy / "answers.db")
    db["questions"].update(key, {"answer_html": "<p>A changed answer.</p>",
                                 "answer_text": "A changed answer."})
    db.close()
    assert pages.write_pages(site_copy / "answers.db", site_copy / "pages").written == [
        url + "index.md"]
    report = site.build_site(site_copy / "answers.db", site_copy / "pages", site_copy / "site",
                             built_site.config, workers=2)
    assert {url + "index.html", url + "index.json"} <= set(report.written)
    for path in report.written:
        content = (site_copy / "site" / path).read_text()
        assert url in content or key in content, path
    assert 2 < len(report.written) < 20
    assert "A changed answer." in (site_copy / "site" / url / "index.html").read_text()


def test_output_refuses_paths_outside_and_double_writes(tmp_path):
    output = Output(tmp_path / "out")
    with pytest.raises(OutsideOutputError):
        output.write("../escape.html", "no")
    with pytest.raises(OutsideOutputError):
        output.write("/etc/passwd", "no")
    assert output.write("a/index.html", "yes")
    with pytest.raises(DuplicateOutputError):
        output.write("a/index.html", "again")
    assert not (tmp_path / "escape.html").exists()


def test_rendered_markdown_is_sanitized():
    html = render_markdown('Hello <script>alert(1)</script> <a href="javascript:x()">x</a>')
    assert "<script" not in html and "javascript:" not in html
