"""The downloads after a db stage build: the blocks of the questions' files are known from the
last build's manifest and the database's change log, so only the blocks that hold a changed
question are read again, and the files are the same, byte for byte, as those a build from
scratch makes of the same database. Where the change log cannot be trusted (a database
written in place, or a row gone from its year unlogged), every row is read again.

The archive is test_incremental's: questions filed as `make fetch` files them, here with
blocks of about two rows so that a year holds several.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from answers import downloads
from answers.build import build_database
from answers.render import SiteConfig, make_environment
from test_incremental import ANSWERED_104, HOME_OFFICE, file_month, make_archive, question

CONFIG = SiteConfig(base_url="https://answers.example.org/")


def write_downloads(db_path: Path, site: Path) -> downloads.DownloadsReport:
    return downloads.write_downloads(db_path, site / "downloads", make_environment(CONFIG), CONFIG)


def files_of(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


class Reads:
    "Every full pass over an export's rows, and every row a block reader reads again."

    def __init__(self, monkeypatch):
        self.full_passes: list[str] = []
        self.rows_read_again = 0
        survey, cut = downloads.survey, downloads.BlockReader.cut

        def counted_survey(db, export, names):
            self.full_passes.append(export.table)
            return survey(db, export, names)

        def counted_cut(reader, low, high):
            blocks = cut(reader, low, high)
            self.rows_read_again += sum(block.rows for block in blocks)
            return blocks

        monkeypatch.setattr(downloads, "survey", counted_survey)
        monkeypatch.setattr(downloads.BlockReader, "cut", counted_cut)


@pytest.fixture
def archive(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")
    monkeypatch.setattr(downloads, "BLOCK_ROWS", 2)  # several blocks a year in a small archive
    content = make_archive(tmp_path)
    file_month(content, "2024-09", [question(300 + n, "2024-09-02", HOME_OFFICE, f"Policing {n}",
                                             "2024-09-05", f"<p>Answer {n}.</p>") for n in range(12)])
    db_path = tmp_path / "build" / "answers.db"
    build_database([content], db_path)
    write_downloads(db_path, tmp_path / "build" / "site")
    return db_path, content


def assert_same_as_from_scratch(db_path: Path, tmp_path: Path) -> None:
    write_downloads(db_path, tmp_path / "scratch")
    assert files_of(db_path.parent / "site" / "downloads") == files_of(tmp_path / "scratch" / "downloads")


def test_a_new_answer_reads_again_only_the_blocks_that_hold_it(archive, tmp_path, monkeypatch):
    db_path, content = archive
    file_month(content, "2024-08", [ANSWERED_104])
    build_database([content], db_path)
    reads = Reads(monkeypatch)

    report = write_downloads(db_path, db_path.parent / "site")

    assert "questions" not in reads.full_passes
    assert 1 <= reads.rows_read_again < 19  # the archive's 2024 holds 19 questions
    assert sorted(name for name in report.written if name.startswith("questions-")) == [
        "questions-2024.csv.gz", "questions-2024.ndjson.gz"]
    with sqlite3.connect(db_path) as db:
        answer = db.execute("select answer_text from questions where uin = '104'").fetchone()[0]
    assert answer and answer.startswith("As set out in the Answer")
    assert_same_as_from_scratch(db_path, tmp_path)


def test_a_new_year_and_new_questions_in_an_old_one_match_a_build_from_scratch(archive, tmp_path):
    db_path, content = archive
    file_month(content, "2024-09", [question(400 + n, "2024-09-03", HOME_OFFICE, f"Prisons {n}")
                                    for n in range(5)])
    file_month(content, "2025-01", [question(500, "2025-01-06", HOME_OFFICE, "Borders",
                                             "2025-01-09", "<p>Yes.</p>")])
    build_database([content], db_path)

    report = write_downloads(db_path, db_path.parent / "site")

    assert {"questions-2025.csv.gz", "questions-2025.ndjson.gz"} <= set(report.written)
    assert_same_as_from_scratch(db_path, tmp_path)


def test_a_database_written_in_place_is_read_whole(archive, tmp_path, monkeypatch):
    "No new generation: the change log cannot say what changed, so every row is read."
    db_path, _ = archive
    with sqlite3.connect(db_path) as db:
        db.execute("update questions set heading = 'Edited by hand' where uin = '305'")
    reads = Reads(monkeypatch)

    write_downloads(db_path, db_path.parent / "site")

    assert "questions" in reads.full_passes
    assert_same_as_from_scratch(db_path, tmp_path)


def test_a_row_gone_from_its_year_unlogged_means_every_row_is_read(archive, tmp_path, monkeypatch):
    "The blocks' counts no longer add up to the year's: the last build's blocks are not used."
    db_path, content = archive
    file_month(content, "2024-08", [ANSWERED_104])
    build_database([content], db_path)
    with sqlite3.connect(db_path) as db:
        db.execute("delete from questions where uin = '307'")  # no trigger logs a deletion
    reads = Reads(monkeypatch)

    write_downloads(db_path, db_path.parent / "site")

    assert "questions" in reads.full_passes
    assert_same_as_from_scratch(db_path, tmp_path)
