"""Datasette's pages as the archive serves them, in a real browser (Debian's Chromium through
Playwright): listings whose rows stay a few lines tall at desktop and phone widths, and a
question's row page that names its members."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn

from answers import serve
from test_datasette import ARCHIVE_URL, CORRECTED, answers_db  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.datasette_in_process]  # the latter: see conftest

LINE = 20  # px: about one line of the listing's text
FEW_LINES = 6 * LINE


@pytest.fixture(scope="module")
def datasette_url(answers_db):  # noqa: F811
    "Datasette over the test database, served by uvicorn in a thread."
    sock = serve.bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = uvicorn.Config(serve.make_datasette(answers_db, archive_url=ARCHIVE_URL).app(),
                            log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def open_page(browser, url: str, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(url)
    return context, page


def row_heights(page) -> list[float]:
    return page.eval_on_selector_all("table.rows-and-columns tbody tr",
                                     "rows => rows.map(row => row.getBoundingClientRect().height)")


def test_question_list_rows_stay_a_few_lines_tall_at_desktop_width(browser, datasette_url):
    context, page = open_page(browser, datasette_url + "/answers/question_list", 1280)
    heights = row_heights(page)
    assert len(heights) == 50
    assert max(heights) <= FEW_LINES, heights
    page_height = page.evaluate("document.documentElement.scrollHeight")
    assert page_height < 50 * FEW_LINES + 3000  # the facets and header above the rows
    context.close()


def test_questions_table_clips_the_answers_in_the_listing(browser, datasette_url):
    context, page = open_page(browser, datasette_url + "/answers/questions", 1280)
    heights = row_heights(page)
    assert len(heights) == 20
    assert max(heights) <= FEW_LINES, heights
    context.close()


def test_question_list_at_phone_width_keeps_long_text_short(browser, datasette_url):
    context, page = open_page(browser, datasette_url + "/answers/question_list", 375)
    clipped = page.eval_on_selector_all(
        "table.rows-and-columns .long-text",
        "cells => cells.map(cell => cell.getBoundingClientRect().height)")
    assert clipped and max(clipped) <= 4 * LINE, clipped
    assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    context.close()


def test_row_page_names_the_members_and_shows_the_whole_question(browser, datasette_url):
    context, page = open_page(browser, datasette_url + f"/answers/questions/{CORRECTED}", 1280)
    answering = page.locator("dd.col-answering_member_id a")
    assert answering.inner_text() not in ("", "4125")
    correcting = page.locator("dd.col-correcting_member_id a").inner_text()
    assert correcting == answering.inner_text()  # the same minister corrected the answer
    question = page.locator("dd.col-question_text").inner_text()
    assert question.startswith("To ask the Secretary of State for Education")
    assert len(question) > 200
    assert page.locator("dd.col-question_text").bounding_box()["height"] > 2 * LINE  # not clipped
    answering.click()
    assert page.url.endswith("/answers/members/4125")
    context.close()


def test_pages_link_the_bulk_downloads(browser, datasette_url):
    context, page = open_page(browser, datasette_url + "/answers", 1280)
    links = page.locator("a", has_text="bulk downloads")
    assert links.first.get_attribute("href") == ARCHIVE_URL + "downloads/"
    assert page.locator(".archive-bar a", has_text="Bulk downloads").get_attribute("href") == (
        ARCHIVE_URL + "downloads/")
    context.close()
