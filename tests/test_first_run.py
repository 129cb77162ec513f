"""A fresh clone stands on its own: the sample in content/ builds with the repository's member
extract, and the tests over the shared corpus are skipped without it (or fail in CI)."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from answers.cli import cli
from conftest import CORPUS, ROOT

CONTENT = ROOT / "content"
SAMPLE = CONTENT / "sample"
REFERENCE = ROOT / "reference"
SHARED_MEMBERS = CORPUS / "members"


def build_db(tmp_path: Path, name: str, *members: Path) -> sqlite_utils.Database:
    db_path = tmp_path / name
    args = ["db", str(CONTENT), "--db", str(db_path)]
    for folder in members:
        args += ["--members", str(folder)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return sqlite_utils.Database(db_path)


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> sqlite_utils.Database:
    "content/ built with reference/members alone, as in a clone with nothing beside it."
    return build_db(tmp_path_factory.mktemp("sample"), "answers.db", REFERENCE / "members")


def test_the_sample_builds_two_thousand_questions_with_names_and_offices(sample_db):
    counts = sample_db.execute(
        """select count(*), sum(q.date_answered is not null), sum(asker.name is not null),
                  sum(answerer.name is not null and q.answering_member_office is not null)
           from questions q
           left join members asker on asker.id = q.asking_member_id
           left join members answerer on answerer.id = q.answering_member_id""").fetchone()
    # One month of the API (2,707 questions, 2,705 answered) and the seed page.
    assert counts == (2708, 2706, 2707, 2706)


def test_the_sample_gets_full_texts_from_its_longform_partner(sample_db):
    sources = {row[0]: row[1:] for row in sample_db.execute(
        "select format, sum(read), sum(stored), sum(rejected) from sources group by format")}
    assert sources == {"api-json": (2707, 2707, 0), "api-longform": (518, 518, 0),
                       "page-text": (1, 1, 0)}
    # The API list clips answers at 255 characters and "..."; the longform file restores them.
    question = sample_db["questions"].get("commons-2024-07-17-11")
    assert len(question["answer_text"]) == 615 and not question["answer_is_clipped"]
    assert question["answering_member_office"] == "Minister for Public Health and Prevention"
    clipped = sample_db.execute(
        "select sum(answer_is_clipped) from questions where api_id in (select api_id from full_texts)"
    ).fetchone()[0]
    assert clipped == 0


def test_the_seed_answer_shows_the_office_held_in_2018(sample_db):
    row = sample_db.execute(
        """select m.name, q.answering_member_office from questions q
           join members m on m.id = q.answering_member_id where q.date_answered = '2018-11-29'"""
    ).fetchone()
    assert row == ("Victoria Atkins", "Minister for Safeguarding")


@pytest.mark.corpus
def test_the_sample_is_an_unchanged_month_of_the_corpus():
    pairs = [(SAMPLE / "uk-parliament-wq-api-json" / "2024-07.json.gz",
              CORPUS / "uk-parliament-wq-api-json" / "2024-07.json.gz"),
             (SAMPLE / "uk-parliament-wq-longform-sqlite" / "2024-07.sqlite.gz",
              CORPUS / "uk-parliament-wq-longform-sqlite" / "2024-07.sqlite.gz")]
    for ours, theirs in pairs:
        assert filecmp.cmp(ours, theirs, shallow=False), ours


@pytest.mark.corpus
def test_the_committed_extract_is_what_the_script_makes(tmp_path):
    "The committed sources (not what a local `make fetch` may have added) give the committed extract."
    committed = [SAMPLE, CONTENT / "000_2a41393b050c1048.txt"]
    result = CliRunner().invoke(cli, ["extract-members", *map(str, committed), "--members",
                                      str(SHARED_MEMBERS), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "the reference rows of 302 members" in result.output
    made, kept = tmp_path / "members", REFERENCE / "members"
    made_files = sorted(p.relative_to(made) for p in made.rglob("*") if p.is_file())
    assert made_files == sorted(p.relative_to(kept) for p in kept.rglob("*") if p.is_file())
    assert all(filecmp.cmp(made / p, kept / p, shallow=False) for p in made_files)


@pytest.mark.corpus
def test_the_extract_names_and_places_everyone_as_the_full_data_does(tmp_path, sample_db):
    full = build_db(tmp_path, "full.db", SHARED_MEMBERS, CORPUS / "parlparse-members")
    queries = [
        "select * from members order by id",
        "select * from member_posts order by member_id, start_date, post, end_date",
        """select key, asking_member_id, answering_member_id, correcting_member_id,
                  answering_member_office, answering_member_office_source from questions order by key""",
    ]
    for sql in queries:
        assert list(sample_db.execute(sql)) == list(full.execute(sql)), sql


# -- the corpus rule ----------------------------------------------------------------------

PROBE = '''
import pytest

def test_unit():
    assert True

def test_with_the_corpus_fixture(corpus):
    assert corpus.is_dir()

@pytest.mark.corpus
def test_marked():
    assert False, "ran with the corpus"
'''


@pytest.fixture
def probe(tmp_path) -> Path:
    "A project folder holding our conftest and three tests, with nothing beside it."
    tests = tmp_path / "app" / "tests"
    tests.mkdir(parents=True)
    shutil.copy(Path(__file__).with_name("conftest.py"), tests / "conftest.py")
    (tests / "test_probe.py").write_text(PROBE)
    return tests


def run_probe(probe: Path, *args: str, ci: bool = False) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", str(probe), "-rs", "-p", "no:cacheprovider",
                           "-W", "ignore::pytest.PytestUnknownMarkWarning", *args],
                          cwd=probe.parent, env=env, capture_output=True, text=True, timeout=120)


def test_without_the_corpus_its_tests_are_skipped_with_the_reason(probe):
    result = run_probe(probe)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 2 skipped" in result.stdout
    shared = probe.parent.parent / "shared"
    assert (f"the shared corpus is missing ({shared / 'corpus'} and {shared / 'seeds'} not found): "
            "this test reads it") in result.stdout


def test_without_the_corpus_ci_fails_loudly(probe):
    result = run_probe(probe, ci=True)
    assert result.returncode == 1
    assert "CI=true and the shared corpus is missing" in result.stdout
    assert "2 corpus tests cannot run" in result.stdout


def test_unit_tests_alone_pass_in_ci_without_the_corpus(probe):
    result = run_probe(probe, "-m", "not corpus", ci=True)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 2 deselected" in result.stdout


def test_with_the_corpus_its_tests_run(probe):
    for folder in ("corpus", "seeds"):
        (probe.parent.parent / "shared" / folder).mkdir(parents=True)
    result = run_probe(probe, ci=True)
    assert "1 failed, 2 passed" in result.stdout
    assert "ran with the corpus" in result.stdout
