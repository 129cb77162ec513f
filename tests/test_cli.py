"""The `answers` command as a user runs it: db, pages and site on small fixtures, their exit
codes and the figures their summaries print."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner, Result

import answers
from answers import search
from answers.cli import cli
from conftest import FIXTURES

GOOD = FIXTURES / "api" / "responses.json"  # 3 questions, all readable
BAD = FIXTURES / "api" / "bad-records.json"  # 6 records: 1 question, 5 rejected


def run(*args: str | Path, env: dict | None = None) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args], env=env)


def format_row(output: str, name: str) -> list[int]:
    "The figures of one format's row in the db summary: files, read, stored, dupes, rejected."
    line = next(line for line in output.splitlines() if line.split()[:1] == [name])
    return [int(figure) for figure in line.split()[1:]]


@pytest.fixture
def sources(tmp_path) -> Path:
    folder = tmp_path / "sources"
    folder.mkdir()
    shutil.copy(GOOD, folder / "responses.json")
    shutil.copy(BAD, folder / "bad-records.json")
    return folder


@pytest.fixture
def built_db(tmp_path) -> Path:
    db_path = tmp_path / "answers.db"
    result = run("db", GOOD, "--db", db_path)
    assert result.exit_code == 0, result.output
    return db_path


def test_db_prints_the_figures_of_each_format_and_names_the_file_with_rejects(sources, tmp_path):
    db_path = tmp_path / "answers.db"
    result = run("db", sources, "--db", db_path)
    assert result.exit_code == 0, result.output
    assert f"{db_path} rebuilt: 2 source files (0 unchanged and skipped)" in result.stdout
    assert format_row(result.stdout, "api-json") == [2, 9, 4, 0, 5]
    assert f"5 rejected in {sources / 'bad-records.json'} (see the rejects table)" in result.stderr
    db = sqlite_utils.Database(db_path)
    assert db["questions"].count == 4 and db["rejects"].count == 5


def test_db_again_skips_the_unchanged_files_and_reports_the_same_figures(sources, tmp_path):
    db_path = tmp_path / "answers.db"
    run("db", sources, "--db", db_path)
    result = run("db", sources, "--db", db_path)
    assert result.exit_code == 0
    assert f"{db_path} updated: 2 source files (2 unchanged and skipped)" in result.stdout
    assert format_row(result.stdout, "api-json") == [2, 9, 4, 0, 5]


def test_strict_fails_with_exit_1_when_a_record_is_rejected_and_keeps_the_rest(sources, tmp_path):
    db_path = tmp_path / "answers.db"
    result = run("db", sources, "--db", db_path, "--strict")
    assert result.exit_code == 1
    assert "Error: 5 records rejected (strict mode)" in result.stderr
    assert sqlite_utils.Database(db_path)["questions"].count == 4


def test_strict_from_the_environment_as_make_passes_it(sources, tmp_path):
    result = run("db", sources, "--db", tmp_path / "answers.db", env={"STRICT": "1"})
    assert result.exit_code == 1
    assert "5 records rejected (strict mode)" in result.stderr


def test_strict_passes_when_nothing_is_rejected(tmp_path):
    result = run("db", GOOD, "--db", tmp_path / "answers.db", "--strict")
    assert result.exit_code == 0, result.output
    assert format_row(result.stdout, "api-json") == [1, 3, 3, 0, 0]


def test_db_refuses_a_source_that_does_not_exist(tmp_path):
    result = run("db", tmp_path / "nowhere", "--db", tmp_path / "answers.db")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    assert not (tmp_path / "answers.db").exists()


def test_pages_prints_what_it_converted_wrote_and_skipped(built_db, tmp_path):
    out = tmp_path / "pages"
    first = run("pages", "--db", built_db, "--out", out)
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == (f"{out}: 3 pages (3 converted, 0 unchanged inputs skipped); "
                                    "3 written, 0 unchanged, 0 removed.")
    assert len(list(out.rglob("index.md"))) == 3
    again = run("pages", "--db", built_db, "--out", out)
    # The change log says nothing changed: no page is converted, or even read.
    assert again.stdout.strip() == (f"{out}: 3 pages (0 converted, 3 unchanged inputs skipped); "
                                    "0 written, 0 unchanged, 0 removed.")


def site_files(folder: Path) -> list[Path]:
    "The files of the archive, without the hidden manifest the build keeps for itself."
    return [path for path in folder.rglob("*") if path.is_file() and not path.name.startswith(".")]


def test_site_prints_figures_that_match_the_files_it_wrote(built_db, tmp_path):
    pages_dir, out = tmp_path / "pages", tmp_path / "site"
    run("pages", "--db", built_db, "--out", pages_dir)
    first = run("site", "--db", built_db, "--pages", pages_dir, "--out", out, "--no-search")
    assert first.exit_code == 0, first.output
    downloads = len(site_files(out / "downloads"))  # a stage of its own, with its own figures
    written = len(site_files(out)) - downloads
    assert first.stdout.splitlines() == [
        f"{out}: 3 question pages (3 rendered, 0 unchanged inputs skipped); {written} files "
        "written, 0 unchanged, 0 outdated removed.",
        f"Downloads: {downloads} files ({downloads} written, 0 with unchanged rows skipped)."]
    assert len(list(out.rglob("index.json"))) >= 3
    again = run("site", "--db", built_db, "--pages", pages_dir, "--out", out, "--no-search")
    # The change log says nothing changed: the question files and listings are not read, the
    # downloads not made again (only the static files, robots.txt and feeds are compared).
    site_line, downloads_line = again.stdout.splitlines()
    assert site_line.startswith(f"{out}: 3 question pages (0 rendered, 3 unchanged inputs skipped); "
                                "0 files written, ")
    assert site_line.endswith(" unchanged, 0 outdated removed.")
    assert int(site_line.split(" files written, ")[1].split()[0]) < written - 6
    assert downloads_line == "Downloads: the database has not changed since they were made."


def test_site_indexes_the_question_pages_for_search(built_db, tmp_path):
    pages_dir, out = tmp_path / "pages", tmp_path / "site"
    run("pages", "--db", built_db, "--out", pages_dir)
    result = run("site", "--db", built_db, "--pages", pages_dir, "--out", out)
    assert result.exit_code == 0, result.output
    assert "Search index: 3 questions indexed in " in result.stdout
    bundles = json.loads((out / "pagefind" / "bundles.json").read_text())
    assert bundles and all((out / "pagefind" / name / "pagefind.js").is_file() for name in bundles)
    again = run("site", "--db", built_db, "--pages", pages_dir, "--out", out)
    assert "Search index: 0 questions indexed in 0 bundles; " in again.stdout


def test_site_needs_the_pages_folder(built_db, tmp_path):
    result = run("site", "--db", built_db, "--pages", tmp_path / "no-pages", "--out", tmp_path / "site")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_build_indexes_beside_the_pages_and_site_in_a_process_of_its_own(tmp_path, monkeypatch):
    content, db_path, out = tmp_path / "content", tmp_path / "answers.db", tmp_path / "site"
    content.mkdir()
    shutil.copy(GOOD, content / "responses.json")
    arguments = ("build", content, "--db", db_path, "--pages", tmp_path / "pages", "--out", out)
    assert run(*arguments).exit_code == 0  # no index yet: every bundle, after the site stage
    started, start = [], search.IndexingProcess.start

    def counted_start(db, site_dir):
        started.append(start(db, site_dir))
        return started[-1]

    monkeypatch.setattr(search.IndexingProcess, "start", staticmethod(counted_start))
    # Other tests' idle threads (a server's, say) may outlive them in this process.
    monkeypatch.setattr(search.threading, "active_count", lambda: 1)
    answer(content, "<p>About 40,000 teachers qualified.</p>")
    result = run(*arguments)
    assert result.exit_code == 0, result.output
    assert len(started) == 1 and started[0] is not None  # forked once the database was made
    assert "Search index: 3 questions indexed in 1 bundles: 2024 (3)" in result.stdout
    search.update_index(db_path, tmp_path / "clean")
    assert files_of(out / "pagefind") == files_of(tmp_path / "clean" / "pagefind")

    def failing_write(items, folder, source):
        raise RuntimeError("no space left on device")

    monkeypatch.setattr(search, "write_bundle", failing_write)
    answer(content, "<p>About 41,000 teachers qualified.</p>")
    result = run(*arguments)
    assert result.exit_code == 1 and len(started) == 2
    assert "search bundle" in result.output and "no space left on device" in result.output


# Run in a process of its own: which libraries a build imported, once it has run.
BUILD_AND_LIST_IMPORTS = """
import json, sys
from answers.cli import cli
cli.main(sys.argv[1:], standalone_mode=False)
print(json.dumps(sorted(name for name in ("markdown", "numpy", "pandas", "yaml") if name in sys.modules)))
"""


def test_a_build_with_nothing_to_do_imports_no_library_only_other_builds_need(tmp_path):
    content = tmp_path / "content"
    content.mkdir()
    shutil.copy(GOOD, content / "responses.json")
    arguments = ["build", str(content), "--db", str(tmp_path / "answers.db"), "--pages", str(tmp_path / "pages"),
                 "--out", str(tmp_path / "site")]
    assert run(*arguments).exit_code == 0
    package_folder = Path(answers.__file__).parents[1]  # this checkout's, whatever is installed
    again = subprocess.run([sys.executable, "-c", BUILD_AND_LIST_IMPORTS, *arguments], capture_output=True,
                           text=True, check=True, env={**os.environ, "PYTHONPATH": str(package_folder)})
    assert "0 files written" in again.stdout
    assert json.loads(again.stdout.splitlines()[-1]) == []


def test_the_libraries_hidden_from_sqlite_utils_are_put_back_as_they_were():
    import numpy

    from answers import import_sqlite_utils_without

    import_sqlite_utils_without(("numpy", "a_package_never_installed"))
    assert sys.modules["numpy"] is numpy and "a_package_never_installed" not in sys.modules
    db = sqlite_utils.Database(memory=True)  # the archive's values, stored as ever
    db["rows"].insert({"count": 3, "share": 0.5, "name": "x"})
    assert db["rows"].columns_dict == {"count": int, "share": float, "name": str}


def answer(content: Path, text: str) -> None:
    """Question 301 of the sources answered (again, a day later each time), with this text: a
    response added to the file, as `make fetch` adds what it finds to a month's file."""
    source = content / "responses.json"
    data = json.loads(source.read_text())
    latest = [page for page in data if "results" in page][-1]  # the fixture's page, or the last added
    question = copy.deepcopy(latest["results"][0]["value"])
    day = 8 + bool(question.get("dateAnswered"))
    question.update(dateAnswered=f"2024-07-{day:02d}T00:00:00", answerText=text)
    data.append({"results": [{"value": question}], "totalResults": 1})
    source.write_text(json.dumps(data))


def files_of(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}
