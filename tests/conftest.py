"""Shared fixtures. The tests read the real corpus in ../shared: without it they fail, loudly."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
SEEDS = SHARED / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

if not CORPUS.is_dir() or not SEEDS.is_dir():
    raise RuntimeError(
        f"The shared corpus is missing: expected {CORPUS} and {SEEDS} beside the project."
    )


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
