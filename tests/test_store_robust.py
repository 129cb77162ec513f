"""The database stage under hostile and broken input: no record stops the build, only safe
values are stored, and every record is accounted for (read = stored + duplicates + rejected)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from answers.build import BuildReport, build_database
from answers.checks import is_web_url
from conftest import FIXTURES

ROBUST = FIXTURES / "robust"


def api_record(number: int, **value) -> dict:
    "One official API record (the list endpoint's shape), question number `number`."
    base = {"id": 9100000 + number, "house": "Commons", "uin": str(number),
            "dateTabled": "2024-07-01T00:00:00", "heading": f"Heading {number}",
            "questionText": f"To ask the Secretary of State question {number}."}
    return {"value": dict(base, **value)}


def write_api(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def rows(db_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db_path) as connection:
        return connection.execute(sql).fetchall()


def build(tmp_path: Path, *inputs, name: str = "answers.db") -> tuple[BuildReport, Path]:
    db_path = tmp_path / name
    report = build_database(list(inputs), db_path)
    assert all(f.balanced() for f in report.files), report.files
    return report, db_path


# -- one bad record never stops the build ---------------------------------------------------


def test_alike_body_names_get_distinct_slugs_whatever_the_order(tmp_path):
    names = ["Culture, Media & Sport", "Culture, Media and Sport"]
    slugs = []
    for order in (names, names[::-1]):
        folder = tmp_path / "-".join(order).replace(" ", "")
        for number, (file, body) in enumerate(zip(("a.json", "b.json"), order, strict=True)):
            write_api(folder / file, [api_record(number, answeringBodyName=body)])
        report, db_path = build(folder, folder)
        assert report.rejected == 0
        assert rows(db_path, "select count(*) from questions") == [(2,)]
        slugs.append(dict(rows(db_path, "select name, slug from answering_bodies")))
    assert slugs[0] == slugs[1]
    assert len(set(slugs[0].values())) == 2
    assert slugs[0]["Culture, Media & Sport"] == "culture-media-and-sport"


HOSTILE_RECORDS = {
    "lone surrogate": ('{"value": {"id": 9100005, "house": "Commons", "uin": "5", '
                       '"dateTabled": "2024-07-01T00:00:00", "heading": "Bad \\ud800 text"}}',
                       "heading holds a lone surrogate"),
    "deep nesting": ('{"value": {"id": 9100005, "house": "Commons", "uin": "5", "heading": '
                     + "[" * 1200 + "]" * 1200 + "}}", "nested too deeply"),
    "long integer": ('{"value": {"id": ' + "9" * 4400 + ', "house": "Commons", "uin": "5"}}',
                     "cannot be read"),
    "id beyond 2^63": ('{"value": {"id": 9223372036854775813, "house": "Commons", "uin": "5", '
                       '"dateTabled": "2024-07-01T00:00:00"}}', "64-bit integer"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_RECORDS))
def test_hostile_record_is_rejected_and_the_others_stored(tmp_path, case):
    hostile, reason = HOSTILE_RECORDS[case]
    good = json.dumps(api_record(1))
    path = tmp_path / "in" / "hostile.json"
    path.parent.mkdir()
    path.write_text(f"[{good}, {hostile}]", encoding="utf-8")
    report, db_path = build(tmp_path, path.parent)
    (file,) = report.files
    assert (file.read, file.stored, file.rejected) == (2, 1, 1)
    ((location, why),) = rows(db_path, "select location, reason from rejects")
    assert reason in why and location
    assert rows(db_path, "select uin from questions") == [("1",)]


def test_a_file_name_that_is_not_utf8_is_read_and_recorded_escaped(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsencode(folder) + b"/answers-\xff.json"
    with open(name, "wb") as handle:
        handle.write(json.dumps([api_record(1)]).encode())
    report, db_path = build(tmp_path, folder)
    assert report.rejected == 0
    ((path,),) = rows(db_path, "select path from sources")
    assert path.endswith("answers-\\udcff.json")
    assert rows(db_path, "select count(*) from questions") == [(1,)]


# -- dates, control characters, links --------------------------------------------------------


def test_invalid_dates_are_rejected_before_the_database(tmp_path):
    report, db_path = build(tmp_path, ROBUST / "parlparse")
    reasons = sorted(reason for (reason,) in rows(db_path, "select reason from rejects"))
    assert reasons == [
        "date_answered is not a valid date: '2024-13-45'",
        "date_holding_answer is not a valid date: '2020-02-30'",
        "date_holding_answer is not a valid date: 'yesterday'",
    ]
    assert rows(db_path, "select uin from questions") == [("3003",)]
    dates = rows(db_path, "select date_answered, date_holding_answer from questions")
    assert dates == [("2020-01-10", None)]


def test_control_characters_are_stripped_from_every_text_field(tmp_path):
    record = api_record(1, heading="Bell\u0007 and \u0000null", questionText="Tab\tkept\u000b.",
                        answeringBodyName="Home\u001f Office")
    report, db_path = build(tmp_path, write_api(tmp_path / "in" / "c.json", [record]))
    assert rows(db_path, "select heading, question_text, answering_body from questions") == [
        ("Bell and null", "Tab\tkept.", "Home Office")]
    assert rows(db_path, "select name from answering_bodies") == [("Home Office",)]


def test_only_web_official_urls_are_stored_and_the_others_counted(tmp_path):
    report, db_path = build(tmp_path, ROBUST / "parlparse")
    assert rows(db_path, "select uin, official_url from questions") == [("3003", None)]
    assert report.urls_dropped == 1
    assert rows(db_path, "select sum(urls_dropped) from sources") == [(1,)]
    assert is_web_url("https://www.parliament.uk/x")
    assert not is_web_url("javascript:alert(1)")
    assert not is_web_url("data:text/html,hi")


# -- damaged gzip, no-op builds, symbolic links -----------------------------------------------


def test_a_gzip_file_with_a_bad_checksum_keeps_what_decompressed(tmp_path, corpus):
    month = sorted((corpus / "uk-parliament-wq-api-json").glob("*.json.gz"))[0]
    folder = tmp_path / "in"
    folder.mkdir()
    intact = folder / month.name
    intact.write_bytes(month.read_bytes())
    whole, _ = build(tmp_path, folder, name="whole.db")
    data = bytearray(month.read_bytes())
    data[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
    intact.write_bytes(bytes(data))
    damaged, db_path = build(tmp_path, folder, name="damaged.db")
    (file,) = damaged.files
    assert file.stored == whole.files[0].stored > 100
    assert file.rejected == 1
    ((reason,),) = rows(db_path, "select reason from rejects")
    assert "gzip data damaged within compressed bytes" in reason


def test_a_build_with_nothing_new_leaves_the_database_bytes_alone(tmp_path):
    folder = tmp_path / "in"
    write_api(folder / "a.json", [api_record(1), api_record(2)])
    build(tmp_path, folder)
    before = (tmp_path / "answers.db").read_bytes()
    report, db_path = build(tmp_path, folder)
    assert not report.rebuilt and all(f.skipped for f in report.files)
    assert [f.stored for f in report.files] == [2]
    assert db_path.read_bytes() == before


def test_links_out_of_the_folder_and_dangling_links_are_reported_not_read(tmp_path):
    folder = tmp_path / "in"
    outside = write_api(tmp_path / "elsewhere" / "secret.json", [api_record(7)])
    write_api(folder / "a.json", [api_record(1)])
    (folder / "inside.json").symlink_to(folder / "a.json")
    (folder / "out.json").symlink_to(outside)
    (folder / "gone.json").symlink_to(tmp_path / "missing.json")
    report, db_path = build(tmp_path, folder)
    assert report.links_outside == [str(folder / "out.json")]
    assert report.links_dangling == [str(folder / "gone.json")]
    assert rows(db_path, "select uin from questions") == [("1",)]
    assert sorted(Path(f.path).name for f in report.files) == ["a.json", "inside.json"]


# -- determinism ---------------------------------------------------------------------------


def database_content(db_path: Path) -> dict:
    "What a build stored, with row ids replaced by the paths they stand for."
    return {
        "questions": rows(db_path, """select q.key, q.heading, q.question_text, s.path,
            q.source_location from questions q join sources s on s.id = q.source_id order by 1"""),
        "conflicts": rows(db_path, "select * from snapshot_conflicts order by key, record_hash"),
        "bodies": rows(db_path, "select name, slug, api_id from answering_bodies order by name"),
    }


def test_equal_snapshots_resolve_alike_in_any_order_and_incrementally(tmp_path):
    folder = tmp_path / "in"
    versions = {"a.json": "Version A", "b.json": "Version B"}
    for file, heading in versions.items():
        write_api(folder / file, [api_record(1, heading=heading), api_record(2)])
    (folder / "c.json").write_bytes((folder / "b.json").read_bytes())  # exact copies: the
    (folder / "d.json").write_bytes((folder / "a.json").read_bytes())  # last file ranks highest
    _, clean = build(tmp_path, folder, name="clean.db")
    expected = database_content(clean)
    assert [q[1:4] for q in expected["questions"]][0] == (
        "Version A", "To ask the Secretary of State question 1.", str(folder / "d.json"))
    assert [(key, Path(source).name) for key, _, source, _ in expected["conflicts"]] == [
        ("commons-2024-07-01-1", "c.json")]
    for first in ("a.json", "b.json", "c.json", "d.json"):
        db_path = tmp_path / f"from-{first}.db"
        build_database([folder / first], db_path)
        others = sorted((set(versions) | {"c.json", "d.json"}) - {first})
        report = build_database([folder / first] + [folder / name for name in others],
                                      db_path)
        assert not report.rebuilt
        assert database_content(db_path) == expected, first
