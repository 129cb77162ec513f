"""Shared fixtures, and when the tests over the whole corpus run.

Unit tests run anywhere. Tests over the real corpus in ../shared (those marked `corpus`, and
every test that uses the `corpus`, `seeds` or `built_site` fixture, which this file marks) run
where ../shared/corpus and ../shared/seeds exist. Without them they are skipped, with a reason
that names what is missing; in CI (CI=true) a missing corpus stops the run with an error
instead, so that a machine set up wrongly never passes by skipping.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
SEEDS = SHARED / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

CHROMIUM = "/usr/bin/chromium"  # Debian's, driven through Playwright by the browser tests
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# Fixtures that read the shared corpus: a test using any of them is a corpus test.
CORPUS_FIXTURES = {"corpus", "seeds", "built_site"}


def missing_corpus() -> list[Path]:
    return [path for path in (CORPUS, SEEDS) if not path.is_dir()]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def missing_message(missing: list[Path]) -> str:
    folders = " and ".join(str(path) for path in missing)
    return f"the shared corpus is missing ({folders} not found)"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark the tests that use a corpus fixture, before `-m` selects by marker; and run last the
    tests that make Datasette in this process (marked `datasette_in_process`). Its threads (a
    write thread a database, looping for ever; its executor) outlive it, and a build forks its
    helpers (downloads, the search index, Asked before's postings) only while its process runs
    one thread (workers.ForkedCall): every build test before them then forks as `answers build`
    does, rather than fall back to threads."""
    for item in items:
        if CORPUS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.corpus)
    items.sort(key=lambda item: item.get_closest_marker("datasette_in_process") is not None)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    "Skip the selected corpus tests when the corpus is missing, or fail the run in CI."
    missing = missing_corpus()
    corpus_tests = [item for item in session.items if item.get_closest_marker("corpus")]
    if not missing or not corpus_tests:
        return
    message = missing_message(missing)
    if in_ci():
        pytest.exit(f"CI=true and {message}: {len(corpus_tests)} corpus tests cannot run", returncode=1)
    for item in corpus_tests:
        item.add_marker(pytest.mark.skip(reason=f"{message}: this test reads it"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def seeds() -> Path:
    return SEEDS


@pytest.fixture(scope="session")
def built_site(tmp_path_factory, corpus, seeds):
    "A small real archive (db, pages, site with search), built once a session: see sitebuild.py."
    from sitebuild import build_test_site

    return build_test_site(tmp_path_factory.mktemp("archive"), corpus, seeds)


@pytest.fixture(scope="module")
def browser():
    """Chromium, launched once a module for the browser tests.

    Not once a session: between its calls, sync Playwright leaves this thread's event loop
    marked as running, so a browser kept open past its module would make every later test
    that runs asyncio (Datasette's client, for one) fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def served(folder):
    "Serve a folder over HTTP on a free port while the generator is open; yields its URL."
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def corpus_db(tmp_path_factory, corpus) -> Path:
    """The official API's questions with their full texts, every month in the corpus, built once
    for all the tests that only read it (a whole-corpus build takes minutes)."""
    from answers import build

    path = tmp_path_factory.mktemp("corpus-db") / "answers.db"
    build.build_database([corpus / "uk-parliament-wq-api-json",
                          corpus / "uk-parliament-wq-longform-sqlite"], path)
    return path
