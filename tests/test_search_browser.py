"""Search in a real browser (Debian's Chromium through Playwright): hostile names in the index
stay text, whichever filter is opened or chosen."""

from __future__ import annotations

import pytest

from answers import pages, search, site, store
from answers.members import MemberDirectory
from answers.render import SiteConfig
from conftest import FIXTURES
from test_browser import browser, served  # noqa: F401 (a fixture, used by name)

pytestmark = pytest.mark.browser

PAYLOAD = "<img src=x onerror=alert(document.domain)>"


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory, corpus, seeds):
    "The seed pages and two questions whose body names, headings and texts carry markup."
    folder = tmp_path_factory.mktemp("hostile-search")
    directory = MemberDirectory.load([corpus / "members", corpus / "parlparse-members"])
    store.build_database([seeds, FIXTURES / "search" / "hostile-bodies.json"],
                         folder / "answers.db", directory)
    pages.write_pages(folder / "answers.db", folder / "pages")
    site.build_site(folder / "answers.db", folder / "pages", folder / "site", SiteConfig(),
                    workers=1)
    search.index(folder / "site")
    yield from served(folder / "site")


def open_every_filter(page) -> None:
    for details in page.locator("#search-filters details").all():
        details.locator("summary").click()


def test_hostile_names_in_the_index_stay_text(browser, hostile_site):  # noqa: F811
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(hostile_site + "search/?q=grooming")
    page.locator("#search-results li").first.wait_for(timeout=15000)
    open_every_filter(page)
    page.wait_for_timeout(500)
    labels = page.locator("#search-filters label").all_inner_texts()
    assert any(PAYLOAD in label for label in labels)  # shown, as the text it is
    assert "grooming" in page.locator("#search-results").inner_text().lower()
    # Choosing the hostile body narrows the results to its question; still nothing runs.
    page.locator("#search-filters label", has_text=PAYLOAD).locator("input").check()
    page.wait_for_function("document.querySelectorAll('#search-results li').length === 1")
    open_every_filter(page)
    page.wait_for_timeout(500)
    assert page.locator(".search-output img, .search-output svg, #search-filters img").count() == 0
    assert dialogs == []
    page.close()
