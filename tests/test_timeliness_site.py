"""Timeliness over real data: one month of the official API (December 2023, whose questions are
due in December 2023 and January 2024). The figures on the rendered pages and from the
Datasette `timeliness` query are checked against figures recomputed here from the database
with SQL and Python of their own; the chart is checked in a real browser."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import sqlite3
import statistics
from urllib.parse import urlencode

import pytest
from bs4 import BeautifulSoup

from answers import pages, serve, site, timeliness
from answers.build import build_database
from answers.members import MemberDirectory
from answers.render import SiteConfig
from conftest import served

pytestmark = [pytest.mark.corpus, pytest.mark.datasette_in_process]  # the latter: see conftest

BODIES = {"Home Office": "bodies/home-office/",
          "Department of Health and Social Care": "bodies/department-of-health-and-social-care/"}
MONTHS = ("2023-12", "2024-01")
LATE_QUESTION = "commons/2023-12-13/6774/"  # named day 18 December 2023, answered 24 January 2024
COLUMNS = ("due", "on_time", "late", "median_days_late", "unanswered_past_due", "not_yet_due",
           "holding_answer_percent")


@pytest.fixture(scope="module")
def archive(tmp_path_factory, corpus):
    folder = tmp_path_factory.mktemp("timeliness")
    db_path = folder / "answers.db"
    build_database([corpus / "uk-parliament-wq-api-json" / "2023-12.json.gz"], db_path,
                   MemberDirectory.load([corpus / "members"]))
    pages.write_pages(db_path, folder / "pages")
    report = site.build_site(db_path, folder / "pages", folder / "site", SiteConfig(), workers=2)
    return {"db": db_path, "site": folder / "site", "pages": folder / "pages", "report": report}


def recomputed(db_path, body: str | None, month: str) -> dict[str, dict]:
    "Kind -> figures for one body (None: every body) and month, without the query under test."
    connection = sqlite3.connect(db_path)
    latest = max(day for column in ("date_tabled", "date_answered", "date_holding_answer")
                 for (day,) in connection.execute(f"select {column} from questions") if day)
    rows = connection.execute(
        """select date_for_answer, is_named_day, date_answered, is_holding, date_holding_answer
           from questions where house = 'Commons' and is_withdrawn = 0
             and date_for_answer like ? || '-%' and (? is null or answering_body = ?)""",
        (month, body, body)).fetchall()
    connection.close()
    figures = {}
    for kind, named in (("named day", 1), ("ordinary", 0)):
        mine = [r for r in rows if r[1] == named]
        if not mine:
            continue
        days = [(datetime.date.fromisoformat(r[2]) - datetime.date.fromisoformat(r[0])).days
                for r in mine if r[2] and not r[3]]
        late = [d for d in days if d > 0]
        unanswered = [r for r in mine if not r[2] or r[3]]
        figures[kind] = {
            "due": len(mine), "on_time": sum(d <= 0 for d in days), "late": len(late),
            "median_days_late": statistics.median(late) if late else None,
            "unanswered_past_due": sum(r[0] < latest for r in unanswered),
            "not_yet_due": sum(r[0] >= latest for r in unanswered),
            "holding_answer_percent": percent(sum(bool(r[3] or r[4]) for r in mine), len(mine)),
        }
    return figures


def percent(part: int, whole: int) -> float:
    "A share to one decimal place, halves rounded up (as SQLite's round does)."
    exact = decimal.Decimal(100 * part) / decimal.Decimal(whole)
    return float(exact.quantize(decimal.Decimal("0.1"), rounding=decimal.ROUND_HALF_UP))


def shown(html_path, month: str) -> dict[str, dict]:
    "Kind -> the figures the page's timeliness table shows for one month."
    soup = BeautifulSoup(html_path.read_text(encoding="utf-8"), "html.parser")
    figures = {}
    for row in soup.select("table.timeliness-table tbody tr"):
        cells = [cell.get_text(strip=True) for cell in row.find_all(["th", "td"])]
        if cells[0] != month:
            continue
        values = [None if c == "–" else float(c.rstrip("%").replace(",", "")) for c in cells[2:]]
        figures[cells[1]] = dict(zip(COLUMNS, values, strict=True))
    return figures


@pytest.fixture(scope="module")
def canned(archive):
    "Rows of the `timeliness` query as Datasette serves it with the archive's metadata.yml."
    datasette = serve.make_datasette(archive["db"], archive_url="http://archive.test/")
    loop = asyncio.new_event_loop()

    def run(body: str, month: str) -> dict[str, dict]:
        query = urlencode({"body": body, "month": month, "_shape": "array"})
        response = loop.run_until_complete(datasette.client.get(f"/answers/timeliness.json?{query}"))
        assert response.status_code == 200, response.text[:300]
        return {row["kind"]: {column: row[column] for column in COLUMNS} for row in response.json()}

    yield run
    loop.close()


@pytest.mark.parametrize("month", MONTHS)
@pytest.mark.parametrize("body", sorted(BODIES))
def test_a_body_page_and_the_api_show_the_figures_recomputed_from_the_database(
        archive, canned, body, month):
    expected = recomputed(archive["db"], body, month)
    assert set(expected) == {"named day", "ordinary"}
    assert shown(archive["site"] / BODIES[body] / "index.html", month) == expected
    assert canned(body, month) == expected


@pytest.mark.parametrize("month", MONTHS)
def test_the_timeliness_page_and_the_api_show_the_archive_figures(archive, canned, month):
    expected = recomputed(archive["db"], None, month)
    assert shown(archive["site"] / "timeliness" / "index.html", month) == expected
    assert canned(timeliness.ALL_BODIES, month) == expected
    # December's figures, read off the database by hand once
    if month == "2023-12":
        assert (expected["named day"]["due"], expected["named day"]["late"]) == (911, 207)


def test_the_late_question_says_how_late_it_was(archive):
    html = (archive["site"] / LATE_QUESTION / "index.html").read_text(encoding="utf-8")
    answered = BeautifulSoup(html, "html.parser").select_one(".timeline-answered")
    assert answered.get_text(" ", strip=True) == "24 January 2024 Answered — 37 days late"
    twin = (archive["site"] / LATE_QUESTION / "index.json").read_text(encoding="utf-8")
    assert '"days_late": 37' in twin


def test_the_timeliness_listings_are_byte_stable(archive):
    "A second build from the same database writes none of them."
    report = site.build_site(archive["db"], archive["pages"], archive["site"], SiteConfig(),
                             workers=1)
    assert report.written == []
    timeliness_files = [path for path in archive["report"].written
                        if path.startswith("timeliness/")]
    assert sorted(timeliness_files) == ["timeliness/index.html", "timeliness/index.json"]


# -- in a browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(archive):
    yield from served(archive["site"])


@pytest.mark.browser
@pytest.mark.parametrize("path, name", [
    ("timeliness/", "Timeliness of answers: all answering bodies"),
    (BODIES["Home Office"], "Timeliness of answers: Home Office"),
])
def test_the_chart_is_named_for_screen_readers_and_axe_finds_nothing_serious(
        browser, base_url, path, name):
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_page()
    page.goto(base_url + path)
    chart = page.get_by_role("img", name=name, exact=True)
    assert chart.count() == 1
    assert chart.locator("rect").count() > 4  # the legend's four, and the bars
    results = Axe().run(page)
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []
    page.close()


@pytest.mark.browser
def test_the_timeliness_page_is_linked_from_the_home_page(browser, base_url):
    page = browser.new_page()
    page.goto(base_url)
    page.get_by_role("link", name="timeliness of answers").click()
    assert page.locator("h1").inner_text() == "Timeliness of answers"
    page.close()
