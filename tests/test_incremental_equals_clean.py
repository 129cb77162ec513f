"""Sequences of daily updates, each built in one folder kept across them, against a build from
scratch of the same sources in a fresh folder: the database's content (the build log left
out), every page and every site file must be the same. Unlike `assert_same_as_clean_build`
(which renders again from the same database), the clean build here reads the sources afresh,
so a difference the database's history makes shows.

The archive is the small one of tests/test_incremental.py, filed as `make fetch` files the
official API's responses.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from answers import feeds, listing_record
from answers.manifest import page_manifest_contents
from test_build_incremental import canonical, longform
from test_incremental import (
    ANSWERED_104,
    HOME_OFFICE,
    Q103,
    Q105,
    assert_same_as_clean_build,
    build,
    file_month,
    files_of,
    make_archive,
    question,
)


@pytest.fixture(autouse=True)
def fixed_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")  # downloads date themselves by it


# The database's bytes, and the digests and sizes of it the downloads state, differ with the
# order its rows were written in; tests/test_downloads_incremental.py compares them by content.
DOWNLOADS = "downloads/"


def clean_build(tmp_path: Path, content: Path) -> Path:
    folder = tmp_path / "clean"
    build(folder, content)
    return folder


def assert_equal_to_clean(folder: Path, tmp_path: Path, content: Path) -> None:
    clean = clean_build(tmp_path, content)
    assert canonical(folder / "answers.db") == canonical(clean / "answers.db")
    for stage in ("pages", "site"):
        ours, theirs = files_of(folder / stage), files_of(clean / stage)
        ours.pop("manifest"), theirs.pop("manifest")  # they record the database's lineage
        differing = sorted(path for path in ours.keys() | theirs.keys()
                           if ours.get(path) != theirs.get(path) and not path.startswith(DOWNLOADS))
        assert differing == [], stage


FIRE_SERVICES = question(105, "2024-08-02", HOME_OFFICE, "Fire Services", "2024-08-07", "<p>Funding rose.</p>")


def file_a_copy_that_changes_no_question(content: Path) -> None:
    """A fetch files question 105 again, in a month file that ranks below the one that gave it
    (an earlier path): the file gives nothing new and no question changes, yet the database is
    written (the file's account of what it read)."""
    file_month(content, "2024-07", [FIRE_SERVICES])


def test_a_build_that_changed_no_question_keeps_the_site_manifest(tmp_path):
    "The site stage still carries its entries over: they name the files to remove and each page's neighbours."
    folder, content = tmp_path / "build", make_archive(tmp_path)
    build(folder, content)
    entries = page_manifest_contents(folder / "site")["entries"]
    file_a_copy_that_changes_no_question(content)
    build(folder, content)
    assert page_manifest_contents(folder / "site")["entries"] == entries


def test_a_neighbour_moved_after_a_build_that_changed_no_question_is_relinked(tmp_path):
    "104's answer moves it past 105 in the Home Office's order: 105's page must link it as its next."
    folder, content = tmp_path / "build", make_archive(tmp_path)
    build(folder, content)
    file_a_copy_that_changes_no_question(content)
    build(folder, content)
    file_month(content, "2024-08", [ANSWERED_104])
    build(folder, content)
    assert 'rel="next" href="../../2024-08-01/104/"' in (folder / "site" / Q105 / "index.html").read_text()
    assert_same_as_clean_build(folder, tmp_path)


def test_a_question_removed_after_a_build_that_changed_no_question_loses_its_files(tmp_path):
    "A record gone from its file: the database is built afresh, and the site checks every page."
    folder, content = tmp_path / "build", make_archive(tmp_path)
    build(folder, content)
    file_a_copy_that_changes_no_question(content)
    build(folder, content)
    august = content / "api" / "2024-08.json.gz"
    august.unlink()
    file_month(content, "2024-08", [ANSWERED_104])  # 103, 105, 201 and 202 are gone from it
    build(folder, content)
    assert not (folder / "site" / Q103).exists()
    assert_equal_to_clean(folder, tmp_path, content)


def test_the_about_page_counts_a_file_that_changed_no_question(tmp_path):
    "The About page counts the records each format's files gave: one more, though no question changed."
    folder, content = tmp_path / "build", make_archive(tmp_path)
    build(folder, content)
    file_a_copy_that_changes_no_question(content)
    build(folder, content)
    assert_same_as_clean_build(folder, tmp_path)


def test_the_account_of_each_file_does_not_depend_on_the_order_files_came_in(tmp_path):
    """The same record in two files: the later path's copy is kept (store.py), and the sources'
    and file_records' `stored` should say so whichever file came first."""
    folder, content = tmp_path / "build", make_archive(tmp_path)
    build(folder, content)
    file_a_copy_that_changes_no_question(content)
    build(folder, content)
    assert canonical(folder / "answers.db") == canonical(clean_build(tmp_path, content) / "answers.db")


def test_recent_changes_do_not_depend_on_which_update_brought_an_answer(tmp_path):
    """An answer dated before the latest one held (fetched a day late): a clean build lists it
    by its date, below 105's answer of 7 August."""
    folder, content = tmp_path / "build", make_archive(tmp_path)
    build(folder, content)
    file_month(content, "2024-08", [dict(ANSWERED_104, dateAnswered="2024-08-03T00:00:00")])
    build(folder, content)
    assert_equal_to_clean(folder, tmp_path, content)


def test_a_record_filed_in_its_answer_s_month_then_in_its_tabling_month_keeps_the_later_file(tmp_path):
    """A fetch files an answered question in the month it was answered, and a later fetch in
    the month it was tabled too. The copy of the later path is kept (store.py), whichever file
    came first: the snapshot kept says so in a clean build as in this one."""
    folder, content = tmp_path / "build", make_archive(tmp_path)
    build(folder, content)
    border_force = question(106, "2024-08-02", HOME_OFFICE, "Border Force", "2024-09-02", "<p>Staff rose.</p>")
    file_month(content, "2024-09", [border_force])
    build(folder, content)
    file_month(content, "2024-08", [border_force])
    build(folder, content)
    clean = clean_build(tmp_path, content)
    assert snapshots(folder / "answers.db") == snapshots(clean / "answers.db")
    assert snapshots(clean / "answers.db")["commons-2024-08-02-106"].endswith("2024-09.json.gz")


def snapshots(db_path: Path) -> dict[str, str]:
    "Each question's kept snapshot: the file it came from."
    with closing(sqlite3.connect(db_path)) as connection:
        return dict(connection.execute("select key, source from question_snapshots"))


def test_a_file_that_changed_no_question_renders_the_about_page_alone(tmp_path):
    """Of the listings, only the About page counts the records each file gave; and once its
    figures are recorded, a build with nothing new writes nothing."""
    folder, content = tmp_path / "build", make_archive(tmp_path)
    build(folder, content)
    file_a_copy_that_changes_no_question(content)
    _, site_report = build(folder, content)
    assert sorted(path for path in site_report.written if not path.startswith(DOWNLOADS)) == [
        "about/index.html", "about/index.json"]
    _, site_report = build(folder, content)
    assert site_report.written == [] and site_report.removed == []


@pytest.mark.parametrize("spoil", ["deleted", "damaged"])
def test_a_heading_left_empty_goes_even_without_the_listings_record(tmp_path, spoil):
    """105 is the only question headed "Fire Services", and a later fetch renames its heading: with
    the listings' record gone (deleted by hand, or a copy of the build without it) or damaged, nothing
    says which listing pages the last build wrote, and the build checks every file as a clean build would."""
    folder, content = tmp_path / "build", make_archive(tmp_path)
    build(folder, content)
    old_heading = "headings/fire-services/"
    assert (folder / "site" / old_heading / "index.html").is_file()
    record = listing_record.record_path(folder / "site")
    if spoil == "deleted":
        record.unlink()
    else:
        record.write_bytes(record.read_bytes()[:100] + b"\0" * 4000)
    file_month(content, "2024-09", [dict(FIRE_SERVICES, heading="Fire and Rescue Services")])
    build(folder, content)
    assert not (folder / "site" / old_heading).exists()
    assert old_heading not in "".join(path.read_text() for path in (folder / "site").glob("sitemap*.xml"))
    assert_equal_to_clean(folder, tmp_path, content)


def test_a_member_left_without_questions_loses_their_feed_even_without_the_feeds_record(tmp_path):
    """105 is the only question member 4105 asked, and a later fetch corrects its asker: with the
    record of what the feeds showed gone, nothing says which feeds the last build wrote, and
    the build checks every file as a clean build would."""
    folder, content = tmp_path / "build", make_archive(tmp_path)
    build(folder, content)
    old_feed = folder / "site" / "members" / "4105" / "feed.xml"
    assert old_feed.is_file()
    (folder / "site" / feeds.STATE_NAME).unlink()
    file_month(content, "2024-09", [dict(FIRE_SERVICES, askingMemberId=4101)])
    build(folder, content)
    assert not old_feed.parent.exists()
    assert_equal_to_clean(folder, tmp_path, content)


def test_a_correction_to_an_answer_completed_from_its_full_text_is_an_update(tmp_path):
    """The API clips 106's answer, and a longform file gives it whole; a fetch then files a
    correction. The clipped answer is the one corrected, shown as the original answer, as in a
    clean build: the database is updated in place, not built afresh, and ends the same."""
    full = "Funding rose in every fire and rescue service this year. " * 6
    clipped = question(106, "2024-08-02", HOME_OFFICE, "Fire Safety", "2024-08-07", full[:255] + "...")
    folder, content = tmp_path / "build", make_archive(tmp_path)
    file_month(content, "2024-08", [clipped])
    longform(content / "longform" / "2024-08.sqlite", {7_000_106: f"<p>{full}</p>"})
    build(folder, content)
    file_month(content, "2024-09", [dict(clipped, answerIsCorrection=True, dateAnswerCorrected="2024-09-02T00:00:00",
                                         answerText="<p>Funding rose in most services.</p>")])
    build(folder, content)
    with closing(sqlite3.connect(folder / "answers.db")) as connection:
        assert dict(connection.execute("select name, value from meta where name like '%generation'")) == {
            "generation": "2", "rebuilt_generation": "1"}
        assert connection.execute("select original_answer_html from questions where uin = '106'").fetchone() == (
            f"<p>{full[:255]}...</p>",)
    assert_equal_to_clean(folder, tmp_path, content)
