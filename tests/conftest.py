"""Shared fixtures, and when the tests over the whole corpus run.

Unit tests run anywhere. Tests over the real corpus in ../shared (those marked `corpus`, and
every test that uses the `corpus`, `seeds` or `built_site` fixture, which this file marks) run
where ../shared/corpus and ../shared/seeds exist. Without them they are skipped, with a reason
that names what is missing; in CI (CI=true) a missing corpus stops the run with an error
instead, so that a machine set up wrongly never passes by skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
SEEDS = SHARED / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

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
    "Mark the tests that use a corpus fixture, before `-m` selects by marker."
    for item in items:
        if CORPUS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.corpus)


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
