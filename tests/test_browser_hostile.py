"""An archive built from hostile sources, opened in a real browser (Debian's Chromium through
Playwright): no source text runs as script on any page.

Every field of every source format carries a payload that calls alert() its own way
(hostile.py). A page fails if any dialog opens while it loads, or if its DOM holds anything
that would run script later: an event-handler attribute, a javascript: URL, a script that is
not the archive's own, a frame, or a refresh.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from conftest import served
from hostile import build_hostile_site

pytestmark = pytest.mark.browser

# What in a loaded page could still run code: found by the browser's own parse of the page.
RISKY_NODES = """() => {
  const found = [];
  for (const element of document.querySelectorAll('*')) {
    for (const attribute of element.attributes) {
      const name = attribute.name.toLowerCase();
      const value = attribute.value.replace(/[\\u0000-\\u0020]/g, '').toLowerCase();
      if (name.startsWith('on')) found.push(element.tagName + ' ' + name);
      if (['href', 'src', 'action', 'formaction', 'xlink:href', 'srcdoc', 'data'].includes(name)
          && (value.startsWith('javascript:') || value.startsWith('data:')
              || value.startsWith('vbscript:') || name === 'srcdoc'))
        found.push(element.tagName + ' ' + name + '=' + attribute.value);
    }
  }
  for (const script of document.querySelectorAll('script')) {
    const source = script.getAttribute('src') || '';
    if (!source.includes('static/') && !source.includes('pagefind/'))
      found.push('script ' + (source || script.textContent.slice(0, 60)));
  }
  for (const element of document.querySelectorAll('iframe, frame, object, embed, meta[http-equiv]'))
    found.push(element.outerHTML.slice(0, 80));
  return found;
}"""


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    return build_hostile_site(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def base_url(hostile_site):
    yield from served(hostile_site.site)


@pytest.fixture(scope="module")
def page(browser):
    "One page for the whole module: every dialog any visit opens is recorded, then dismissed."
    context = browser.new_context()
    page = context.new_page()
    page.dialogs = []

    def record(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    yield page
    context.close()


def pages_of(site: Path, folder: str, pattern: str = "**/index.html") -> list[str]:
    "The archive paths of the HTML pages under a folder of the site ('' for all)."
    return sorted(path.parent.relative_to(site).as_posix() + "/"
                  for path in (site / folder).glob(pattern))


def visit(page, base_url: str, path: str) -> list[str]:
    "Load a page and let it settle; returns the dialogs it opened and what in it could run code."
    page.dialogs.clear()
    page.goto(base_url + path, wait_until="load")
    page.wait_for_timeout(50)  # handlers such as onload and ontoggle fire just after load
    return page.dialogs + page.evaluate(RISKY_NODES)


def test_every_hostile_record_was_stored(hostile_site):
    """The payloads reached the pages: only the records whose payload sits in a date field
    were rejected (a date that is not a date never reaches a page), so none is left untested."""
    report = hostile_site.report
    rejected = {f.format: f.rejected for f in report.files if f.rejected}
    assert rejected == {"parlparse-xml": 15}
    db = sqlite_utils.Database(hostile_site.db)
    reasons = [row["reason"] for row in db.query("select reason from rejects")]
    assert len(reasons) == 15 and all("is not a valid date" in reason for reason in reasons)
    assert {f.format for f in report.files} == {"api-json", "api-longform", "page-text",
                                                "parlparse-xml", "data-parliament-csv"}
    assert report.full_texts_applied == 15
    question_pages = [p for p in pages_of(hostile_site.site, "")
                      if p.split("/")[0] in ("commons", "lords")]
    assert len(question_pages) == sum(f.stored for f in report.files
                                      if f.format != "api-longform") == 76


@pytest.mark.parametrize("kind", ["questions", "days", "members", "bodies", "headings", "home"])
def test_no_payload_runs_on_any_page(hostile_site, page, base_url, kind):
    site = hostile_site.site
    paths = {
        "questions": pages_of(site, "commons") + pages_of(site, "lords"),
        "days": pages_of(site, "days"),
        # A member's asked and answered listings are listing pages, as bodies' are.
        "members": pages_of(site, "members", "*/index.html") + ["members/"],
        "bodies": pages_of(site, "bodies"),
        "headings": pages_of(site, "headings"),
        "home": ["", "about/", "api/"],
    }[kind]
    assert len(paths) >= (3 if kind == "home" else 5)
    fired = {path: found for path in paths if (found := visit(page, base_url, path))}
    assert fired == {}


def test_no_payload_runs_on_the_search_page_with_every_filter_open(page, base_url):
    "Search results, excerpts and every filter's values come from the hostile records."
    page.dialogs.clear()
    page.goto(base_url + "search/?q=alert")
    page.locator("#search-results li").first.wait_for(timeout=15000)
    summaries = page.locator("#search-filters summary")
    assert summaries.count() == 5  # house, answering body, year, answered or not, asked by
    for summary in summaries.all():
        summary.click()  # the first opening loads the filters and runs the search again
    page.locator("#search-filters details[open] label").first.wait_for(timeout=15000)
    page.locator("#search-results li").first.wait_for(timeout=15000)
    more = page.locator("#search-more")
    while more.is_visible():
        more.click()
        page.wait_for_timeout(100)
    assert page.locator("#search-filters details[open] label").count() > 10
    assert page.dialogs + page.evaluate(RISKY_NODES) == []
