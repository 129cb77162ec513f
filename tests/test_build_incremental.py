"""The db stage driven by what changed: a changed month file is read again in place when that
gives what a clean build gives, the change log names the questions it changed, and a file
that lost a record forces a rebuild."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from answers.build import build_database
from answers.members import MemberDirectory
from answers.model import make_key

TABLED = "2024-08-01"
# Tables whose rows name the build they were written in, not what the sources hold.
BUILD_LOG = {"changes", "meta"}


def record(number: int, **value) -> dict:
    "One official API record (the list endpoint's shape), question number `number`."
    base = {"id": 9200000 + number, "house": "Commons", "uin": str(number),
            "dateTabled": f"{TABLED}T00:00:00", "heading": f"Heading {number}",
            "questionText": f"To ask the Secretary of State question {number}.",
            "answeringBodyName": "Home Office", "answeringBodyId": 1,
            "askingMemberId": 4000 + number}
    return {"value": dict(base, **value)}


def answered(number: int, text: str, day: str = "2024-08-05") -> dict:
    return record(number, answerText=text, dateAnswered=f"{day}T00:00:00",
                  answeringMemberId=4399)


def key(number: int) -> str:
    return make_key("Commons", TABLED, str(number))


def write(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records), encoding="utf-8")


def canonical(db_path: Path) -> dict[str, list]:
    """Every table but the build log, each row sorted. Source ids are compared as they are
    (they come from the file's path); a reject's own id is only a row number."""
    with sqlite3.connect(db_path) as connection:
        tables = [name for (name,) in connection.execute(
            "select name from sqlite_master where type = 'table' and name not like '%fts%'")]
        dump = {}
        for table in sorted(set(tables) - BUILD_LOG):
            cursor = connection.execute(f"select * from [{table}]")
            columns = [column[0] for column in cursor.description]
            rows = []
            for row in cursor:
                values = dict(zip(columns, row, strict=True))
                values.pop("id" if table == "rejects" else "", None)
                rows.append(tuple(sorted(values.items(), key=lambda item: item[0])))
            dump[table] = sorted(rows, key=repr)
        dump["search"] = sorted(connection.execute(
            "select q.key from questions_fts f join questions q on q.rowid = f.rowid "
            "where questions_fts match 'corrected OR refused OR question'"))
        # The full-text index itself, every term where it is, by question: built once over the
        # rows in a build afresh, kept up to date row by row in an update.
        connection.execute("create virtual table temp.instances using fts5vocab(main, questions_fts, instance)")
        dump["search index"] = sorted(connection.execute(
            "select q.key, i.term, i.col, i.offset from temp.instances i join questions q on q.rowid = i.doc"))
        # Every question is in the index (a database of full texts alone holds none).
        assert len({key for key, *_ in dump["search index"]}) == len(dump["questions"])
    return dump


def changed_keys(db_path: Path, generation: int) -> set[str]:
    with sqlite3.connect(db_path) as connection:
        return {key for (key,) in connection.execute(
            "select key from changes where generation = ?", [generation])}


def month_files(folder: Path) -> tuple[Path, Path]:
    "Last month's file, settled, and this month's, with one question not answered yet."
    write(folder / "2024-07.json", [answered(1, "<p>Earlier answer.</p>", "2024-07-20"),
                                    record(2, isWithdrawn=True)])
    current = folder / "2024-08.json"
    write(current, [answered(3, "<p>Three answered.</p>"), record(4),
                    answered(5, "<p>Five answered.</p>")])
    return folder / "2024-07.json", current


def test_a_changed_month_file_updates_in_place_as_a_clean_build_would(tmp_path):
    folder = tmp_path / "api"
    _, current = month_files(folder)
    db_path = tmp_path / "answers.db"
    first = build_database([folder], db_path)
    assert first.rebuilt and first.generation == 1

    write(current, [answered(3, "<p>Three answered.</p>"),
                    answered(4, "<p>Four refused.</p>", "2024-08-09"),
                    answered(5, "<p>Five answered.</p>"),
                    answered(6, "<p>Six corrected figures.</p>", "2024-08-10")])
    second = build_database([folder], db_path)

    assert not second.rebuilt and second.rebuild_reason is None
    assert [(Path(f.path).name, f.skipped, f.stored, f.duplicates) for f in second.files] == [
        ("2024-07.json", True, 2, 0), ("2024-08.json", False, 4, 0)]
    assert second.generation == 2 and second.changed == 2
    assert changed_keys(db_path, 2) == {key(4), key(6)}
    clean = build_database([folder], tmp_path / "clean.db")
    assert canonical(db_path) == canonical(tmp_path / "clean.db")
    assert clean.rebuilt


def test_a_record_that_moved_within_its_changed_file_takes_its_new_location(tmp_path):
    """A record the file gave before is not merged again, yet its place in the file moved: the
    row kept names where it is now, as a clean build does; of two copies, the first."""
    folder, db_path = tmp_path / "api", tmp_path / "answers.db"
    two = answered(2, "<p>Two answered.</p>")
    write(folder / "2024-08.json", [two])
    build_database([folder], db_path)
    write(folder / "2024-08.json", [record(3), two, two])
    update = build_database([folder], db_path)
    assert not update.rebuilt
    build_database([folder], tmp_path / "clean.db")
    assert canonical(db_path) == canonical(tmp_path / "clean.db")


def test_a_snapshot_set_aside_that_moved_within_its_changed_file_takes_its_new_location(tmp_path):
    "Two answers of the same day: the one set aside names where it is now, as a clean build does."
    folder, db_path = tmp_path / "api", tmp_path / "answers.db"
    one, other = answered(2, "<p>One.</p>"), answered(2, "<p>Other.</p>")
    write(folder / "2024-08.json", [one, other])
    build_database([folder], db_path)
    write(folder / "2024-08.json", [record(3), one, other])
    assert not build_database([folder], db_path).rebuilt
    build_database([folder], tmp_path / "clean.db")
    assert canonical(db_path) == canonical(tmp_path / "clean.db")


@pytest.mark.parametrize("given_before, given_now", [("One.", "Other."), ("Other.", "One.")])
def test_a_snapshot_a_new_record_sets_aside_takes_its_place_now(tmp_path, given_before, given_now):
    """A record the file gave before, now after a new answer of the same day: whichever of the
    two is kept, the other names its place in the file now, as in a clean build."""
    folder, db_path = tmp_path / "api", tmp_path / "answers.db"
    before = answered(2, f"<p>{given_before}</p>")
    write(folder / "2024-08.json", [before])
    build_database([folder], db_path)
    write(folder / "2024-08.json", [answered(2, f"<p>{given_now}</p>"), before])
    assert not build_database([folder], db_path).rebuilt
    build_database([folder], tmp_path / "clean.db")
    assert canonical(db_path) == canonical(tmp_path / "clean.db")


def test_snapshots_set_aside_before_a_fresher_one_came_are_not_conflicts(tmp_path):
    """Two snapshots alike far along (awaiting an answer, one withdrawn) set one aside; then the
    answer came: neither is as far along as the snapshot kept, in an update as in a clean build
    that meets the answer first."""
    folder, db_path = tmp_path / "api", tmp_path / "answers.db"
    withdrawn, waiting = record(1, isWithdrawn=True), record(1)
    write(folder / "2024-07.json", [withdrawn, waiting])
    build_database([folder], db_path)
    write(folder / "2024-07.json", [answered(1, "<p>Yes.</p>"), withdrawn, waiting])
    assert not build_database([folder], db_path).rebuilt
    build_database([folder], tmp_path / "clean.db")
    assert canonical(db_path) == canonical(tmp_path / "clean.db")
    assert canonical(db_path)["snapshot_conflicts"] == []


def test_a_correction_added_beside_two_answers_of_a_day_corrects_what_a_clean_build_says(tmp_path):
    """The file gave one answer; now another answer of that day comes before it, with a
    correction: the answer corrected is the one that ranks first of the two, in an update as in a
    clean build, not the one that happened to be kept when the correction came."""
    folder, db_path = tmp_path / "api", tmp_path / "answers.db"
    no = answered(2, "<p>No.</p>")
    correction = answered(2, "<p>No.</p>")
    correction["value"].update(answerIsCorrection=True, dateAnswerCorrected="2024-09-02T00:00:00")
    write(folder / "2024-07.json", [no])
    build_database([folder], db_path)
    write(folder / "2024-07.json", [answered(2, "<p>Yes.</p>"), correction, no])
    assert not build_database([folder], db_path).rebuilt
    build_database([folder], tmp_path / "clean.db")
    assert canonical(db_path) == canonical(tmp_path / "clean.db")


def test_a_file_that_lost_a_record_forces_a_rebuild(tmp_path):
    folder = tmp_path / "api"
    _, current = month_files(folder)
    db_path = tmp_path / "answers.db"
    build_database([folder], db_path)

    write(current, [answered(3, "<p>Three answered.</p>"), record(4)])
    report = build_database([folder], db_path)

    assert report.rebuilt and report.rebuild_reason == f"{current} no longer holds {key(5)}"
    with sqlite3.connect(db_path) as connection:
        assert connection.execute("select count(*) from questions where key = ?",
                                  [key(5)]).fetchone() == (0,)
    assert changed_keys(db_path, 2) == {key(1), key(2), key(3), key(4)}
    build_database([folder], tmp_path / "clean.db")
    assert canonical(db_path) == canonical(tmp_path / "clean.db")


def test_a_changed_snapshot_that_ranks_lower_forces_a_rebuild(tmp_path):
    "An answer taken back (answered, then not) cannot be undone in place: nothing outranks it."
    folder = tmp_path / "api"
    _, current = month_files(folder)
    db_path = tmp_path / "answers.db"
    build_database([folder], db_path)

    write(current, [record(3), record(4), answered(5, "<p>Five answered.</p>")])
    report = build_database([folder], db_path)

    assert report.rebuilt and key(3) in report.rebuild_reason
    build_database([folder], tmp_path / "clean.db")
    assert canonical(db_path) == canonical(tmp_path / "clean.db")


def test_a_run_with_nothing_changed_writes_nothing(tmp_path):
    folder = tmp_path / "api"
    month_files(folder)
    db_path = tmp_path / "answers.db"
    build_database([folder], db_path)
    before = db_path.read_bytes()
    modified = db_path.stat().st_mtime_ns

    report = build_database([folder], db_path)

    assert not report.rebuilt and report.generation == 0 and report.changed == 0
    assert all(f.skipped for f in report.files)
    assert db_path.read_bytes() == before and db_path.stat().st_mtime_ns == modified


def built_then_answered(tmp_path: Path, *more: dict) -> tuple[Path, Path, dict]:
    """The month files built, then question 4 answered (and `more` records added) in this
    month's: the folder, the database, and what it held (`canonical`) before the update."""
    folder, db_path = tmp_path / "api", tmp_path / "answers.db"
    _, current = month_files(folder)
    build_database([folder], db_path)
    before = canonical(db_path)
    write(current, [answered(3, "<p>Three answered.</p>"), answered(4, "<p>Four refused.</p>", "2024-08-09"),
                    answered(5, "<p>Five answered.</p>"), *more])
    return folder, db_path, before


# An update killed inside its transaction, once its "asked before" lists are written. With a
# page cache of one page, SQLite writes each page it changes to the file at once, so the kill
# leaves the database file itself half changed: only the rollback journal can mend it.
KILLED_IN_ITS_TRANSACTION = """
import os, signal, sys
from pathlib import Path
from answers import build, related

write_related = related.write_related

def written_then_killed(db, *args, **kwargs):
    db.execute("pragma cache_size = 1")
    write_related(db, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)

related.write_related = written_then_killed
build.build_database([Path(sys.argv[1])], Path(sys.argv[2]))
"""


def test_an_update_killed_part_way_leaves_the_database_as_it_was(tmp_path):
    folder, db_path, before = built_then_answered(tmp_path, answered(6, "<p>Six corrected figures.</p>", "2024-08-10"))
    held = db_path.read_bytes()

    killed = subprocess.run([sys.executable, "-c", KILLED_IN_ITS_TRANSACTION, str(folder), str(db_path)])

    assert killed.returncode == -signal.SIGKILL
    assert db_path.read_bytes() != held and db_path.with_name("answers.db-journal").exists()
    assert canonical(db_path) == before  # the journal played back on opening
    update = build_database([folder], db_path)
    assert not update.rebuilt and update.changed == 2
    build_database([folder], tmp_path / "clean.db")
    assert canonical(db_path) == canonical(tmp_path / "clean.db")


def test_an_update_of_a_database_that_cannot_be_written_says_so_and_changes_nothing(tmp_path):
    "An update writes the database in place: a file that refuses writes is a clear error."
    from answers import build

    folder, db_path, before = built_then_answered(tmp_path)
    # Immutable, so that even root cannot write it (file permissions do not stop root).
    if subprocess.run(["chattr", "+i", str(db_path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        with pytest.raises(build.DatabaseNotWritable, match="cannot be written"):
            build_database([folder], db_path)
    finally:
        subprocess.run(["chattr", "-i", str(db_path)], check=True)
    assert canonical(db_path) == before
    assert not build_database([folder], db_path).rebuilt


def test_a_database_removed_after_a_killed_update_is_built_afresh_without_its_journal(tmp_path):
    """The journal a killed update leaves belongs to the database it half changed: removed to
    build afresh, that database's journal must not be played back onto the new one."""
    folder, db_path = tmp_path / "api", tmp_path / "answers.db"
    _, current = month_files(folder)
    build_database([folder], db_path)
    write(current, [answered(3, "<p>Three answered.</p>"), answered(4, "<p>Four refused.</p>", "2024-08-09"),
                    answered(5, "<p>Five answered.</p>"), answered(6, "<p>Six corrected figures.</p>", "2024-08-10")])
    killed = subprocess.run([sys.executable, "-c", KILLED_IN_ITS_TRANSACTION, str(folder), str(db_path)])
    assert killed.returncode == -signal.SIGKILL and db_path.with_name("answers.db-journal").exists()

    db_path.unlink()
    assert build_database([folder], db_path).rebuilt
    assert not db_path.with_name("answers.db-journal").exists()
    build_database([folder], tmp_path / "clean.db")
    assert canonical(db_path) == canonical(tmp_path / "clean.db")


def test_an_update_that_remakes_many_lists_is_made_on_a_copy_for_the_lists_workers(tmp_path, monkeypatch):
    """Inside an update's transaction the lists' worker processes could not read what it wrote:
    from FULL_PASS_FROM lists on, the update is rolled back and made again on a copy."""
    from answers import build, related

    monkeypatch.setattr(related, "FULL_PASS_FROM", 2)
    folder, db_path, _ = built_then_answered(tmp_path, record(6, heading="Heading 3"), record(7, heading="Heading 3"))
    made, write_afresh = [], build.write_afresh
    monkeypatch.setattr(build, "write_afresh",
                        lambda *args, **kwargs: made.append(kwargs) or write_afresh(*args, **kwargs))

    update = build_database([folder], db_path)

    assert made == [{"copied": True}]
    assert not update.rebuilt and update.changed >= 3 and update.related.questions >= 2
    assert [(Path(f.path).name, f.stored) for f in update.files] == [("2024-07.json", 2), ("2024-08.json", 5)]
    build_database([folder], tmp_path / "clean.db")
    assert canonical(db_path) == canonical(tmp_path / "clean.db")
    assert not db_path.with_name(".answers.db.building").exists()


def test_files_read_ahead_by_reader_processes_store_what_one_process_does(tmp_path, monkeypatch):
    """Each file read and checked in one of two reader processes, stored in order: the same rows,
    rejects and counts."""
    from answers import build

    content = tmp_path / "content"
    write(content / "a.json", [record(1), record(2, dateTabled="2024-13-45T00:00:00")])
    write(content / "b.json", [record(1), answered(2, "<p>Later.</p>")])  # a duplicate, a snapshot
    (content / "c.json").write_text('[{"value": {"id": 1,', encoding="utf-8")  # cut short
    write(content / "d.json", [answered(1, "<p>Answered.</p>"), record(3)])
    write(content / "e.json", [record(4, heading="Bus\udcffServices")])
    made = {}
    for read_ahead_from in (99, 2):
        monkeypatch.setattr(build, "READ_AHEAD_FROM", read_ahead_from)
        monkeypatch.setattr(build, "READERS", 2)
        monkeypatch.setattr(build, "AHEAD", 1)
        db_path = tmp_path / f"from-{read_ahead_from}" / "answers.db"
        report = build_database([content], db_path)
        assert all(file.balanced() for file in report.files) and report.rejected >= 2
        made[read_ahead_from] = ([(f.path, f.read, f.stored, f.duplicates, f.rejected) for f in report.files],
                                 canonical(db_path))
    assert made[2] == made[99]


def test_an_update_looks_up_the_offices_of_its_own_answers_and_the_posts_of_new_members(
        tmp_path, monkeypatch):
    """Offices and member posts brought up to date in place: the new answer's office is looked
    up, no other; the posts of the member it names for the first time join the table."""
    from conftest import FIXTURES

    directory = MemberDirectory.load([FIXTURES / "members" / "minimal"])
    folder = tmp_path / "api"
    by_sam = dict(dateAnswered="2025-02-03T00:00:00", answeringMemberId=9004)
    write(folder / "2025-02.json", [record(1, answerText="<p>Sam answers.</p>", **by_sam),
                                    record(2, askingMemberId=9001)])
    db_path = tmp_path / "answers.db"
    build_database([folder], db_path, directory)
    looked_up = []
    office_on = MemberDirectory.office_on

    def counted(self, member_id, day, body):
        looked_up.append((member_id, day))
        return office_on(self, member_id, day, body)

    monkeypatch.setattr(MemberDirectory, "office_on", counted)
    write(folder / "2026-06.json", [record(3, answerText="<p>Zoë answers.</p>",
                                           dateAnswered="2026-01-05T00:00:00",
                                           answeringMemberId=9003)])
    build_database([folder], db_path, directory)

    assert looked_up == [("9003", "2026-01-05")]
    with sqlite3.connect(db_path) as connection:
        assert connection.execute("select distinct member_id from member_posts order by 1").fetchall() == [
            ("9003",), ("9004",)]
        assert connection.execute("select answering_member_office from questions "
                                  "where answering_member_id is not null order by key").fetchall() == [
            ("Minister of State, Department for Transport; Minister for Rail",), ("Economic Secretary",)]
    build_database([folder], tmp_path / "clean.db", directory)
    assert canonical(db_path) == canonical(tmp_path / "clean.db")


def longform(path: Path, answers: dict[int, str]) -> None:
    "A longform file of our own (API id -> full answer), in the table the real files use."
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.execute("create table Dict (key blob unique not null, value blob not null)")
        connection.executemany("insert into Dict (key, value) values (?, ?)", [
            (str(api_id).encode(), json.dumps({"question_text": None, "answer_text": answer}).encode())
            for api_id, answer in answers.items()])
    connection.close()


def test_a_full_text_is_applied_whichever_of_it_and_its_question_comes_first(tmp_path):
    """An update gives full texts only to the questions it wrote and those whose full text it
    wrote: a full text arriving after its clipped question, and a clipped question arriving
    after its full text, are both applied, as in a clean build."""
    full = "Word " * 80

    def clipped(number: int) -> dict:
        return answered(number, full[:255] + "...")

    folder = tmp_path / "sources"
    write(folder / "api" / "2024-07.json", [clipped(1), clipped(2)])
    longform(folder / "longform" / "2024-07.sqlite", {9200002: f"<p>{full}</p>"})
    db_path = tmp_path / "answers.db"
    assert build_database([folder], db_path).full_texts_applied == 1
    longform(folder / "longform" / "2024-08.sqlite", {9200001: f"<p>{full}</p>", 9200003: f"<p>{full}</p>"})
    assert build_database([folder], db_path).full_texts_applied == 1  # question 1's, arrived late
    write(folder / "api" / "2024-08.json", [clipped(3)])
    third = build_database([folder], db_path)
    assert third.full_texts_applied == 1 and not third.rebuilt  # question 3, its full text held
    with sqlite3.connect(db_path) as connection:
        assert connection.execute("select sum(answer_is_clipped) from questions").fetchone() == (0,)
    connection.close()
    build_database([folder], tmp_path / "clean.db")
    assert canonical(db_path) == canonical(tmp_path / "clean.db")


def test_an_unchanged_source_file_is_known_by_its_stat_and_not_read_again(tmp_path, monkeypatch):
    from answers import build

    folder = tmp_path / "api"
    month_files(folder)
    db_path = tmp_path / "answers.db"
    monkeypatch.setattr(build, "SETTLED_SECONDS", -1)  # the files were written just now
    build_database([folder], db_path)
    hashed, sha256 = [], build.file_sha256
    monkeypatch.setattr(build, "file_sha256", lambda path: hashed.append(path) or sha256(path))

    report = build_database([folder], db_path)

    assert hashed == [] and all(f.skipped for f in report.files)
    digests = (tmp_path / "answers.db.digests.json").stat()

    changed = sorted(folder.glob("*.json"))[0]
    status = changed.stat()
    text = changed.read_text(encoding="utf-8")
    changed.write_text(text.replace("Heading 1", "Heading 9"), encoding="utf-8")  # the same size
    os.utime(changed, ns=(status.st_atime_ns, status.st_mtime_ns))  # and the same mtime
    report = build_database([folder], db_path)

    assert hashed == [changed] and report.generation == 2  # told apart by its change time
    assert (tmp_path / "answers.db.digests.json").stat().st_mtime_ns != digests.st_mtime_ns


def test_a_build_that_writes_no_database_writes_no_digests(tmp_path, monkeypatch):
    from answers import build

    folder = tmp_path / "api"
    month_files(folder)
    db_path = tmp_path / "answers.db"
    monkeypatch.setattr(build, "SETTLED_SECONDS", 3600)  # nothing recorded by the first build
    build_database([folder], db_path)
    monkeypatch.setattr(build, "SETTLED_SECONDS", -1)  # the files have settled since

    build_database([folder], db_path)

    assert not (tmp_path / "answers.db.digests.json").exists()


def test_a_source_file_changed_just_before_it_was_read_is_read_again(tmp_path, monkeypatch):
    from answers import build

    folder = tmp_path / "api"
    month_files(folder)
    db_path = tmp_path / "answers.db"
    monkeypatch.setattr(build, "SETTLED_SECONDS", 3600)
    build_database([folder], db_path)
    hashed, sha256 = [], build.file_sha256
    monkeypatch.setattr(build, "file_sha256", lambda path: hashed.append(path) or sha256(path))

    build_database([folder], db_path)

    assert sorted(hashed) == sorted(folder.glob("*.json"))


def test_what_a_killed_build_left_beside_the_database_goes_even_when_nothing_changed(tmp_path):
    # A build killed after the database was replaced, while it saved a record beside it (the
    # sources' digests, the member directory) or removed its working copy, leaves those
    # behind; the next build finds nothing new to read, yet must not keep them.
    folder = tmp_path / "api"
    month_files(folder)
    db_path = tmp_path / "answers.db"
    build_database([folder], db_path)
    before = sorted(path.name for path in tmp_path.iterdir())
    leftovers = [".answers.db.digests.json.k1lled.tmp", ".answers.db.members.json.k1lled.tmp",
                 ".answers.db.building", ".answers.db.building-by-day"]
    for name in leftovers:
        (tmp_path / name).write_text("half written")

    report = build_database([folder], db_path)

    assert report.generation == 0  # nothing read again
    assert sorted(path.name for path in tmp_path.iterdir()) == before


FULL = "Word " * 80  # a full answer, which the API clips


def corrected(number: int, text: str) -> dict:
    "Question `number`'s answer, corrected on 2 September."
    value = answered(number, text)
    value["value"].update(answerIsCorrection=True, dateAnswerCorrected="2024-09-02T00:00:00")
    return value


def built_completed(tmp_path: Path) -> tuple[Path, Path]:
    "Question 1, its answer clipped by the API and completed from a longform file: (sources, database)."
    folder, db_path = tmp_path / "sources", tmp_path / "answers.db"
    write(folder / "api" / "2024-07.json", [answered(1, FULL[:255] + "...")])
    longform(folder / "longform" / "2024-07.sqlite", {9200001: f"<p>{FULL}</p>"})
    assert build_database([folder], db_path).full_texts_applied == 1
    return folder, db_path


def row_as_in_a_clean_build(folder: Path, db_path: Path, tmp_path: Path, columns: str) -> tuple:
    "Question 1's `columns`, once the whole database is found the same as a clean build's."
    build_database([folder], tmp_path / "clean.db")
    assert canonical(db_path) == canonical(tmp_path / "clean.db")
    with sqlite3.connect(db_path) as connection:
        row = connection.execute(f"select {columns} from questions").fetchone()
    connection.close()
    return row


def test_a_correction_to_an_answer_completed_from_its_full_text_is_an_update(tmp_path):
    """The clipped answer a correction replaces is the earlier answer a clean build keeps, its
    original: an update, whose row held the full text, keeps the same without building afresh."""
    folder, db_path = built_completed(tmp_path)
    write(folder / "api" / "2024-09.json", [corrected(1, "<p>Corrected.</p>")])
    update = build_database([folder], db_path)
    assert update.rebuild_reason is None and update.changed == 1
    assert row_as_in_a_clean_build(folder, db_path, tmp_path, "answer_html, original_answer_html") == (
        "<p>Corrected.</p>", f"<p>{FULL[:255]}...</p>")


def test_an_earlier_answer_met_late_is_compared_with_the_clipped_answer_as_given(tmp_path):
    """A correction whose clipped answer begins as its full text does, completed from it; then a
    file earlier by path brings the answer from before the correction, clipped alike. A clean
    build compares that with the correction's clipped answer, the same, and derives no original
    answer: nor does the update, though its row holds the full text."""
    clipped = FULL[:255] + "..."
    folder, db_path = tmp_path / "sources", tmp_path / "answers.db"
    write(folder / "api" / "2024-09.json", [corrected(1, clipped)])
    longform(folder / "longform" / "2024-07.sqlite", {9200001: f"<p>{FULL}</p>"})
    assert build_database([folder], db_path).full_texts_applied == 1
    write(folder / "api" / "2024-07.json", [answered(1, clipped)])
    assert build_database([folder], db_path).rebuild_reason is None
    assert row_as_in_a_clean_build(folder, db_path, tmp_path, "answer_html, original_answer_html") == (
        f"<p>{FULL}</p>", None)


def test_a_new_full_text_for_a_question_completed_from_another_is_built_afresh(tmp_path):
    """A later longform file gives another full text of an answer an earlier build completed:
    a clean build completes it from the later one, from the clipped texts as given, which the
    update does not all hold; so it builds afresh, and ends the same."""
    folder, db_path = built_completed(tmp_path)
    longform(folder / "longform" / "2024-08.sqlite", {9200001: f"<p>{FULL}And more.</p>"})
    update = build_database([folder], db_path)
    assert update.rebuild_reason == (f"a new full text of {key(1)} replaces the one an earlier "
                                     "build completed it from")
    assert row_as_in_a_clean_build(folder, db_path, tmp_path, "answer_html") == (f"<p>{FULL}And more.</p>",)


def test_a_correction_that_comes_with_its_new_full_text_is_an_update(tmp_path):
    "The corrected answer, clipped, is completed from the new full text, as in a clean build."
    folder, db_path = built_completed(tmp_path)
    later = "Term " * 80
    write(folder / "api" / "2024-09.json", [corrected(1, later[:255] + "...")])
    longform(folder / "longform" / "2024-09.sqlite", {9200001: f"<p>{later}</p>"})
    update = build_database([folder], db_path)
    assert update.rebuild_reason is None and update.full_texts_applied == 1
    assert row_as_in_a_clean_build(folder, db_path, tmp_path, "answer_html, original_answer_html") == (
        f"<p>{later}</p>", f"<p>{FULL[:255]}...</p>")


def test_an_update_waits_for_a_reader_then_says_so_and_changes_nothing(tmp_path, monkeypatch):
    "A program reading the database holds it past the update's wait: a clear error, nothing lost."
    from answers import build

    monkeypatch.setattr(build, "BUSY_SECONDS", 0.2)
    folder, db_path, before = built_then_answered(tmp_path)
    reader = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True, isolation_level=None)
    reader.execute("begin")
    assert reader.execute("select count(*) from questions").fetchone() == (5,)

    with pytest.raises(build.DatabaseInUse, match="held open by another program"):
        build_database([folder], db_path)
    assert reader.execute("select count(*) from questions where answer_html is not null").fetchone() == (3,)
    reader.close()
    assert canonical(db_path) == before and not db_path.with_name("answers.db-journal").exists()
    update = build_database([folder], db_path)
    assert not update.rebuilt and update.changed == 1
    build_database([folder], tmp_path / "clean.db")
    assert canonical(db_path) == canonical(tmp_path / "clean.db")
