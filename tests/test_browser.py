"""The archive in a real browser (Debian's Chromium through Playwright): navigation, search,
phone widths and accessibility."""

from __future__ import annotations

import json
import shutil
from urllib.request import urlopen

import pytest

from answers import pages, search, site
from answers.build import build_database
from answers.members import MemberDirectory
from answers.render import SiteConfig
from conftest import FIXTURES, served

pytestmark = pytest.mark.browser

SEED_URL = "commons/2018-11-21/p40657d7024/"
TABLE_URL = "commons/2024-08-30/3171/"
NO_BODY_URL = "lords/2009-10-29/hl5813/"  # TheyWorkForYou names no answering body


@pytest.fixture(scope="module")
def base_url(built_site):
    yield from served(built_site.site)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    yield context.new_page()
    context.close()


def test_home_to_department_to_question_to_member_and_back(page, base_url):
    page.goto(base_url)
    page.get_by_role("link", name="Departments").first.click()
    page.get_by_role("link", name="Home Office", exact=True).click()
    assert page.url == base_url + "bodies/home-office/"
    assert page.locator("h1").inner_text() == "Home Office"
    first = page.locator("ol.items h3 a").first
    title = first.inner_text()
    first.click()
    assert page.locator("h1").inner_text() == title
    question_url = page.url
    assert page.get_by_role("definition").filter(has_text="Home Office").count() == 1
    answerer = page.locator(".answerer-name a")
    name = answerer.inner_text()
    answerer.click()
    assert page.url.startswith(base_url + "members/")
    assert page.locator("h1").inner_text() == name
    page.go_back()
    assert page.url == question_url
    page.go_back()
    assert page.url == base_url + "bodies/home-office/"


def test_seed_question_reads_truthfully_in_the_browser(page, base_url):
    page.goto(base_url + SEED_URL)
    answerer = page.locator(".answerer")
    assert answerer.locator(".answerer-name").inner_text() == "Victoria Atkins"
    assert answerer.locator(".office").inner_text() != "Secretary of State for Health and Social Care"
    assert answerer.locator(".printed-title").inner_text().startswith(
        "Title printed on the source page")


def test_answer_with_a_table_fits_a_phone(browser, base_url):
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(base_url + TABLE_URL)
    assert page.locator(".table-scroll table").count() >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()


@pytest.mark.parametrize("path", ["", "bodies/department-for-education/", "bodies/department-for-education/page/1/",
                                  SEED_URL, TABLE_URL,
                                  NO_BODY_URL, "members/4399-victoria-atkins/", "api/", "downloads/",
                                  "search/?q=school"])
def test_no_serious_accessibility_violations(page, base_url, path):
    from axe_playwright_python.sync_playwright import Axe

    page.goto(base_url + path)
    results = Axe().run(page)
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []


def test_pages_work_without_javascript(browser, base_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url)
    page.locator("ol.items h3 a").first.click()
    assert page.locator(".prose h2").first.inner_text() == "Question"
    page.goto(base_url + "search/")
    assert page.locator("noscript").count() == 1
    context.close()


# -- search --------------------------------------------------------------------------------

PAYLOAD = "<img src=x onerror=alert(document.domain)>"


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory, corpus, seeds):
    "The seed pages and two questions whose body names, headings and texts carry markup."
    folder = tmp_path_factory.mktemp("hostile-search")
    directory = MemberDirectory.load([corpus / "members", corpus / "parlparse-members"])
    build_database([seeds, FIXTURES / "search" / "hostile-bodies.json"],
                         folder / "answers.db", directory)
    pages.write_pages(folder / "answers.db", folder / "pages")
    site.build_site(folder / "answers.db", folder / "pages", folder / "site", SiteConfig(),
                    workers=1)
    search.update_index(folder / "answers.db", folder / "site")
    yield from served(folder / "site")


def open_every_filter(page) -> None:
    "Open every filter not yet open; the first opening loads the filters' values and counts."
    for details in page.locator("#search-filters details").all():
        if details.get_attribute("open") is None:
            details.locator("summary").click()
    page.locator("#search-filters label").first.wait_for(timeout=15000)


def test_hostile_names_in_the_index_stay_text(browser, hostile_site):
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(hostile_site + "search/?q=grooming")
    page.locator("#search-results li").first.wait_for(timeout=15000)
    open_every_filter(page)
    page.wait_for_timeout(500)
    labels = page.locator("#search-filters label").all_inner_texts()
    shown = search.inert(PAYLOAD)  # the name as indexed: '‹img src=x onerror=…›'
    assert any(shown in label for label in labels)
    assert "grooming" in page.locator("#search-results").inner_text().lower()
    # Choosing the hostile body narrows the results to its question; still nothing runs.
    page.locator("#search-filters label", has_text=shown).locator("input").check()
    page.wait_for_function("document.querySelectorAll('#search-results li').length === 1")
    open_every_filter(page)
    page.wait_for_timeout(500)
    assert page.locator(".search-output img, .search-output svg, #search-filters img").count() == 0
    assert dialogs == []
    page.close()


def result_links(page):
    results = page.locator("#search-results h3 a")
    results.first.wait_for(timeout=15000)
    return [results.nth(i).get_attribute("href") for i in range(results.count())]


@pytest.mark.parametrize(("query", "url"), [("3283", "commons/2024-08-30/3283/"),
                                            ("HL5813", "lords/2009-10-29/hl5813/")])
def test_a_uin_finds_its_question_first(page, base_url, query, url):
    page.goto(base_url + "search/?q=" + query)
    assert result_links(page)[0] == base_url + url


def test_excerpts_come_from_the_question_and_answer(page, base_url):
    page.goto(base_url + "search/?q=grooming")
    assert base_url + SEED_URL in result_links(page)
    excerpts = page.locator("#search-results .item-snippet").all_inner_texts()
    assert excerpts and any("groom" in excerpt.lower() for excerpt in excerpts)
    for excerpt in excerpts:
        assert "Asked by" not in excerpt and "Tabled" not in excerpt
    assert page.locator("#search-results mark").count() >= 1


def test_the_answering_body_filter_narrows_the_results(page, base_url):
    page.goto(base_url + "search/?q=school")
    everything = len(result_links(page))
    page.locator("#search-filters details[data-filter='body'] summary").click()
    choice = page.locator("#search-filters details[data-filter='body'] label",
                          has_text="Department for Education")
    expected = int(choice.inner_text().rsplit("(", 1)[1].rstrip(")"))
    status = page.locator("#search-status").inner_text()
    choice.locator("input").check()
    page.wait_for_function(f"document.getElementById('search-status').textContent !== {status!r}")
    assert page.locator("#search-status").inner_text() == f"{expected} results"
    assert expected < int(status.split()[0]) and everything
    facts = page.locator("#search-results .item-meta").all_inner_texts()
    assert facts and all("Department for Education" in fact for fact in facts)


def test_every_page_has_a_search_box_that_works_without_javascript(browser, base_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + "bodies/home-office/")
    page.locator("header form[role=search] input[name=q]").fill("grooming")
    page.locator("header form[role=search] button").click()
    assert page.url == base_url + "search/?q=grooming"
    assert page.locator("noscript").count() == 1
    context.close()


def test_newest_first_orders_results_by_date(page, base_url):
    page.goto(base_url + "search/?q=central&sort=date")
    more = page.locator("#search-more")
    result_links(page)
    while more.is_visible():
        more.click()
        page.wait_for_timeout(100)
    dates = [href.removeprefix(base_url).split("/")[1] for href in result_links(page)]
    assert len(dates) > 10 and len(set(dates)) > 1 and dates == sorted(dates, reverse=True)


# -- search over many bundles --------------------------------------------------------------

SMALL_BUNDLES = 300  # questions a bundle holds in the cut-up copy: the test archive's month splits


@pytest.fixture(scope="module")
def sharded_site(built_site, tmp_path_factory):
    "The test archive's site, its search index cut into many small bundles."
    folder = tmp_path_factory.mktemp("sharded-search")
    for entry in built_site.site.iterdir():
        if entry.name != search.BUNDLES:
            (folder / entry.name).symlink_to(entry)
    search.update_index(built_site.db, folder, shard_limit=SMALL_BUNDLES)
    yield from served(folder)


def every_result(page, url: str) -> tuple[str, list[str], list[str]]:
    """A search's status, the paths of all its results (showing more until none are left, in
    the order shown) and the answering bodies' filter labels."""
    page.goto(url)
    more = page.locator("#search-more")
    links = result_links(page)
    while more.is_visible():
        more.click()
        page.wait_for_timeout(100)
        links = result_links(page)
    site_root = url.split("search/")[0]
    page.locator("#search-filters details[data-filter='body'] summary").click()
    page.locator("#search-filters details[data-filter='body'] label").first.wait_for(timeout=15000)
    bodies = page.locator("#search-filters details[data-filter='body'] label").all_inner_texts()
    return (page.locator("#search-status").inner_text(),
            [href.removeprefix(site_root) for href in links], sorted(bodies))


def test_results_from_many_bundles_are_merged_as_from_one(page, base_url, sharded_site):
    with urlopen(sharded_site + "pagefind/bundles.json") as response:
        names = {name.rstrip("/") for name in json.load(response)}
    status, paths, bodies = every_result(page, sharded_site + "search/?q=central&sort=date")
    one_bundle_status, one_bundle_paths, one_bundle_bodies = every_result(
        page, base_url + "search/?q=central&sort=date")
    assert (status, sorted(paths), bodies) == \
        (one_bundle_status, sorted(one_bundle_paths), one_bundle_bodies)
    assert len(names) > 5 and len({search.shard_of(path, names) for path in paths}) >= 3
    dates = [path.split("/")[1] for path in paths]
    assert len(set(dates)) > 1 and dates == sorted(dates, reverse=True)


def test_a_word_few_bundles_hold_finds_only_the_questions_that_hold_it(page, base_url, sharded_site):
    "Bundles without the word must not answer with words that merely begin like it."
    sharded = every_result(page, sharded_site + "search/?q=grooming")
    one_bundle = every_result(page, base_url + "search/?q=grooming")
    assert (sharded[0], sorted(sharded[1])) == (one_bundle[0], sorted(one_bundle[1]))
    assert SEED_URL in sharded[1]


def test_the_bundles_search_on_the_page_without_a_web_worker(page, sharded_site):
    """Every bundle is an instance of one Pagefind module sharing one WebAssembly: were they in
    its web worker, one whose worker was slow to start would fall back to the page alone, and
    two places loading the WebAssembly at once break it ("memory access out of bounds")."""
    workers, worker_scripts = [], []
    page.on("worker", lambda worker: workers.append(worker.url))
    page.on("request", lambda request: worker_scripts.append(request.url) if "worker" in request.url else None)
    status, paths, _ = every_result(page, sharded_site + "search/?q=central&sort=date")
    assert paths and status.endswith("results")
    assert (workers, worker_scripts) == ([], [])


def test_the_bundles_fetch_one_webassembly_between_them(page, sharded_site):
    """Every bundle holds the same WebAssembly: the page fetches it once, not once a bundle,
    while each bundle's own index is still fetched."""
    with urlopen(sharded_site + "pagefind/bundles.json") as response:
        bundles = len(json.load(response))
    fetched = []
    page.on("requestfinished", lambda request: fetched.append(request.url.rsplit("/", 1)[-1]))
    status, paths, _ = every_result(page, sharded_site + "search/?q=central&sort=date")
    assert paths and status.endswith("results")
    assert sum(name.startswith("wasm.") for name in fetched) == 1
    assert sum(name.endswith(".pf_meta") for name in fetched) == bundles > 5


# -- search after a correction ---------------------------------------------------------------


@pytest.fixture(scope="module")
def corrected_site(built_site, tmp_path_factory):
    """The test archive's site with one answer corrected after its index was made: the bundle
    re-indexed from the fragments of its unchanged questions that the index already held."""
    from test_search import CHANGED_URL, change_one_answer

    folder = tmp_path_factory.mktemp("corrected-search")
    db_path, site_dir = folder / "answers.db", folder / "site"
    shutil.copy(built_site.db, db_path)
    site_dir.mkdir()
    for entry in built_site.site.iterdir():
        if entry.name != search.BUNDLES:
            (site_dir / entry.name).symlink_to(entry)
    search.update_index(db_path, site_dir)
    change_one_answer(db_path, "A corrected answer about dirigibles.")
    assert list(search.update_index(db_path, site_dir).indexed) == [CHANGED_URL.split("/")[1][:4]]
    yield from served(site_dir)


def test_the_search_page_finds_a_corrected_answer_and_the_questions_kept_beside_it(page,
                                                                                  corrected_site):
    from test_search import CHANGED_URL

    page.goto(corrected_site + "search/?q=dirigibles")
    assert result_links(page) == [corrected_site + CHANGED_URL]
    page.goto(corrected_site + "search/?q=3171")  # a question of the same bundle, unchanged
    assert result_links(page)[0] == corrected_site + TABLE_URL
    excerpts = page.locator("#search-results .item-snippet").all_inner_texts()
    assert excerpts and all(excerpt.strip() for excerpt in excerpts)
