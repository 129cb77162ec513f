"""Each file's account of its records (read = stored + duplicates + rejected), where the same
record comes in several files: a record is stored in one file only, the one whose copy the
database keeps (the later path's copy of the same record, the fresher snapshot), whatever order
the files were read in, in a build from scratch and in an update alike."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from answers.build import build_database
from test_build_incremental import answered, canonical, record, write
from test_longform_sqlite import entry, make_dict_database

JULY, AUGUST = "2024-07.json", "2024-08.json"
SEPTEMBER = "2024-09.json"


def accounts(report) -> dict[str, tuple[int, int, int, int]]:
    "Each file's (read, stored, duplicates, rejected), as the build's report gives it."
    return {Path(f.path).name: (f.read, f.stored, f.duplicates, f.rejected) for f in report.files}


def held_accounts(db_path: Path) -> dict[str, tuple[int, int, int, int]]:
    with closing(sqlite3.connect(db_path)) as connection:
        return {Path(path).name: tuple(counts) for path, *counts in connection.execute(
            "select path, read, stored, duplicates, rejected from sources")}


def stored_in(db_path: Path) -> dict[str, list[str]]:
    "For each question key, the files whose copy of it is counted as stored."
    with closing(sqlite3.connect(db_path)) as connection:
        found: dict[str, list[str]] = {}
        for key_, path in connection.execute(
                """select r.key, s.path from file_records r join sources s on s.id = r.source_id
                   where r.stored > 0 order by s.path"""):
            found.setdefault(key_, []).append(Path(path).name)
        return found


def kept_sources(db_path: Path) -> dict[str, str]:
    with closing(sqlite3.connect(db_path)) as connection:
        return {key_: Path(source).name for key_, source in
                connection.execute("select key, source from question_snapshots")}


def update_then_clean(tmp_path: Path, first: dict[str, list], then: dict[str, list]):
    """Build from the files `first`, then add the files `then` and update; then a clean build
    of them all. Returns both reports and both databases' paths."""
    folder = tmp_path / "api"
    for name, records in first.items():
        write(folder / name, records)
    db_path = tmp_path / "answers.db"
    build_database([folder], db_path)
    for name, records in then.items():
        write(folder / name, records)
    update = build_database([folder], db_path)
    clean = build_database([folder], tmp_path / "clean.db")
    return update, clean, db_path, tmp_path / "clean.db"


def test_a_copy_filed_again_in_an_earlier_file_is_a_duplicate_either_way(tmp_path):
    "The later path's copy is kept: August stores question 1, July's copy is a duplicate."
    one = answered(1, "<p>One answered.</p>")
    update, clean, db_path, clean_path = update_then_clean(tmp_path, {AUGUST: [one]}, {JULY: [one]})
    assert not update.rebuilt and clean.rebuilt
    assert accounts(update) == accounts(clean) == {JULY: (1, 0, 1, 0), AUGUST: (1, 1, 0, 0)}
    assert held_accounts(db_path) == held_accounts(clean_path) == accounts(clean)
    assert canonical(db_path) == canonical(clean_path)


def test_a_copy_filed_again_in_a_later_file_takes_the_place_of_the_earlier(tmp_path):
    "The file read before loses its count: the report of the update says so too."
    one = answered(1, "<p>One answered.</p>")
    update, clean, db_path, clean_path = update_then_clean(tmp_path, {JULY: [one]}, {AUGUST: [one]})
    assert accounts(update) == accounts(clean) == {JULY: (1, 0, 1, 0), AUGUST: (1, 1, 0, 0)}
    assert [f.skipped for f in update.files] == [True, False]
    assert canonical(db_path) == canonical(clean_path)


def test_a_fresher_snapshot_in_an_earlier_file_is_stored_there_alone(tmp_path):
    """Question 1 awaiting an answer in September's file, answered in July's (filed late): the
    answer is the fresher snapshot, kept whichever came first, and counted in July alone."""
    waiting, answer = record(1), answered(1, "<p>One answered.</p>")
    for order, (first, then) in enumerate([({SEPTEMBER: [waiting]}, {JULY: [answer]}),
                                           ({JULY: [answer]}, {SEPTEMBER: [waiting]})]):
        update, clean, db_path, clean_path = update_then_clean(tmp_path / str(order), first, then)
        assert accounts(update) == accounts(clean) == {JULY: (1, 1, 0, 0), SEPTEMBER: (1, 0, 1, 0)}
        assert canonical(db_path) == canonical(clean_path)


def test_a_fresher_copy_later_in_the_same_file_is_the_one_stored(tmp_path):
    "A file giving a question twice, awaiting and answered: one record stored, one duplicate."
    folder = tmp_path / "api"
    write(folder / AUGUST, [record(1), answered(1, "<p>One answered.</p>"), record(2)])
    report = build_database([folder], tmp_path / "answers.db")
    assert accounts(report) == {AUGUST: (3, 2, 1, 0)}


def test_a_record_given_again_after_a_fresher_snapshot_in_its_changed_file_is_a_duplicate(tmp_path):
    """August gave question 1 awaiting an answer; now it gives that record, its answer, and the
    record again: the answer is stored, both copies of the older record are duplicates."""
    waiting, answer = record(1), answered(1, "<p>One answered.</p>")
    update, clean, db_path, clean_path = update_then_clean(
        tmp_path, {AUGUST: [waiting]}, {AUGUST: [waiting, answer, waiting]})
    assert not update.rebuilt
    assert accounts(update) == accounts(clean) == {AUGUST: (3, 1, 2, 0)}
    assert canonical(db_path) == canonical(clean_path)


def test_every_question_is_stored_in_the_one_file_its_kept_snapshot_names(tmp_path):
    "Across updates that bring copies, fresher snapshots and rejects in any order."
    folder, db_path = tmp_path / "api", tmp_path / "answers.db"
    batches = [
        {AUGUST: [record(1), answered(2, "<p>Two.</p>"), record(3)]},
        {JULY: [answered(1, "<p>One.</p>"), answered(2, "<p>Two.</p>"), {"value": {"id": "x"}}]},
        {SEPTEMBER: [record(1), answered(3, "<p>Three.</p>"), answered(2, "<p>Two.</p>")]},
    ]
    for batch in batches:
        for name, records in batch.items():
            write(folder / name, records)
        report = build_database([folder], db_path)
        assert all(f.balanced() for f in report.files)
        kept = kept_sources(db_path)
        assert stored_in(db_path) == {key_: [source] for key_, source in kept.items()}
        assert sum(f.stored for f in report.files) == len(kept)
    clean = build_database([folder], tmp_path / "clean.db")
    assert accounts(report) == accounts(clean)
    assert canonical(db_path) == canonical(tmp_path / "clean.db")


def full_text_sources(db_path: Path) -> dict[int, str]:
    with closing(sqlite3.connect(db_path)) as connection:
        return {api_id: Path(path).name for api_id, path in connection.execute(
            "select f.api_id, s.path from full_texts f join sources s on s.id = f.source_id")}


def test_full_texts_are_kept_and_counted_whatever_order_their_files_came_in(tmp_path):
    """Full texts rank by holding an answer, then by the later path: 1's answered text (in both
    files) is August's, 2's answer (July) outranks August's text from before the answer, and
    3's later text (August) outranks July's, whichever file was read first."""
    july = [(b"1", entry("One.", "<p>One answered.</p>")), (b"2", entry("Two.", "<p>Two answered.</p>")),
            (b"3", entry("Three.", "<p>Three, first answer.</p>"))]
    august = [(b"1", entry("One.", "<p>One answered.</p>")), (b"2", entry("Two.", None)),
              (b"3", entry("Three.", "<p>Three, later answer.</p>"))]
    results = []
    for order, names in enumerate([("2024-07.sqlite", "2024-08.sqlite"), ("2024-08.sqlite", "2024-07.sqlite")]):
        folder, db_path = tmp_path / str(order) / "longform", tmp_path / str(order) / "answers.db"
        folder.mkdir(parents=True)
        for name in names:
            make_dict_database(folder / name, july if name.startswith("2024-07") else august)
            report = build_database([folder], db_path)
        assert not report.rebuilt
        results.append((accounts(report), full_text_sources(db_path)))
        clean_path = tmp_path / str(order) / "clean.db"
        build_database([folder], clean_path)
        assert canonical(db_path) == canonical(clean_path)
    assert results[0] == results[1] == (
        {"2024-07.sqlite": (3, 1, 2, 0), "2024-08.sqlite": (3, 2, 1, 0)},
        {1: "2024-08.sqlite", 2: "2024-07.sqlite", 3: "2024-08.sqlite"})
