"""Property-based fuzzing of every reader through the store: random and mutated real records,
written to files and read into a database. Whatever the bytes, nothing raises and every record
is accounted for (read = stored + duplicates + rejected).

The seeds are a few real records: three from a corpus month of the official API, three
entries of a corpus longform file (the API fixture stands in where the corpus is missing),
and the small hand-made fixtures of the other formats.
Examples are derandomized, so a run in CI always tries the same inputs.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import tempfile
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from answers import store
from answers.build import FileReport, load_file
from conftest import CORPUS, FIXTURES

FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Pieces a mutation may splice in: what has broken readers and stores before.
HOSTILE = [b"\\ud800", b"\x00", b"\x07", b"\xff\xfe", b"[" * 1100, b"9" * 4400,
           b"9223372036854775813", b"2024-13-45", b"javascript:alert(1)", b"<script>",
           b"]]>", b"&#0;", b"\r\n", b'"', b",", b"{", b"}", b"\xe2\x80"]

records_fuzzed = {"read": 0}


def seed_api_records(count: int = 3) -> list[dict]:
    "Records of a corpus month of the official API, or of the API fixture without the corpus."
    months = sorted((CORPUS / "uk-parliament-wq-api-json").glob("*.json.gz"))
    if months:
        return json.loads(gzip.decompress(months[0].read_bytes()))[:count]  # a list of records
    responses = json.loads((FIXTURES / "api" / "responses.json").read_text(encoding="utf-8"))
    return [record for response in responses for record in response.get("results", [])][:count]


def seed_longform_entries(records: list[dict], count: int = 3) -> list[tuple[bytes, bytes]]:
    "Entries of a corpus longform file, or entries made from the API records without it."
    packed = sorted((CORPUS / "uk-parliament-wq-longform-sqlite").glob("*.sqlite.gz"))
    if not packed:
        return [(str(r["value"]["id"]).encode(), json.dumps(
            {"question_text": r["value"]["questionText"], "answer_text": "<p>Yes.</p>"}).encode())
            for r in records]
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "month.sqlite"
        database.write_bytes(gzip.decompress(packed[0].read_bytes()))
        with sqlite3.connect(database) as connection:
            return connection.execute(
                "select key, value from Dict order by rowid limit ?", [count]).fetchall()


def longform_bytes(entries: list[tuple]) -> bytes:
    "A longform file (a SQLite Dict table) holding the given entries."
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "entries.sqlite"
        with sqlite3.connect(database) as connection:
            connection.execute("create table Dict (key BLOB UNIQUE NOT NULL, value BLOB NOT NULL)")
            connection.executemany("insert or ignore into Dict values (?, ?)", entries)
        connection.close()
        return database.read_bytes()


API_RECORDS = seed_api_records()
LONGFORM_ENTRIES = seed_longform_entries(API_RECORDS)

# One seed file per reader, by the name that reader expects.
SEEDS = {
    "2024-07.json": json.dumps(API_RECORDS).encode(),
    "2023-09.sqlite": longform_bytes(LONGFORM_ENTRIES),
    "answers2020-01-10a.xml": (FIXTURES / "robust" / "parlparse" / "answers2020-01-10a.xml"
                               ).read_bytes(),
    "co_archived_pqs.csv": (FIXTURES / "csv" / "mixed" / "co_archived_pqs.csv").read_bytes(),
    "lords.txt": (FIXTURES / "pages" / "lords.txt").read_bytes(),
}


def read_into_store(name: str, data: bytes) -> FileReport:
    "Write the bytes as a file of that name and read it through a fresh store."
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        target = store.Store(sqlite_utils.Database(memory=True))
        report = load_file(target, path, "sha")
        target.flush()
        rejects = target.db["rejects"].count
    assert report.balanced(), report
    assert rejects == report.rejected
    records_fuzzed["read"] += report.read
    return report


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    "The seed with a few bytes flipped, cut, or spliced with hostile or random pieces."
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "cut", "splice", "random", "truncate"]))
        if kind == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        elif kind == "splice":
            data[at:at] = draw(st.sampled_from(HOSTILE))
        elif kind == "random":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_files_are_read_whole(name):
    report = read_into_store(name, SEEDS[name])
    assert report.read >= 1 and report.stored >= 1


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_mutated_files_never_stop_the_store(name):
    @FUZZ
    @given(data=mutated(SEEDS[name]))
    def check(data):
        read_into_store(name, data)

    check()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats()
    | st.text(alphabet=st.characters(codec=None), max_size=40)
    | st.sampled_from(["", "2024-02-30T00:00:00", "javascript:alert(1)", "Commons", "\ud800"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8),
                                                                      children, max_size=3),
    max_leaves=8,
)


@FUZZ
@given(changes=st.lists(st.tuples(st.integers(0, len(API_RECORDS) - 1), st.text(max_size=25) | st.sampled_from(
    sorted(API_RECORDS[0]["value"])), JSON_VALUES), min_size=1, max_size=6))
def test_api_records_with_random_fields_never_stop_the_store(changes):
    records = json.loads(json.dumps(API_RECORDS))
    for index, name, value in changes:
        records[index]["value"][name] = value
    text = json.dumps(records, ensure_ascii=True, allow_nan=True)
    read_into_store("2024-07.json", text.encode())


@FUZZ
@given(entries=st.lists(st.tuples(
    st.binary(max_size=12) | st.sampled_from([b"1", b"999999999999999999999", b"-4", b"12a"]),
    st.binary(max_size=40) | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | st.sampled_from([value for _, value in LONGFORM_ENTRIES])), max_size=5))
def test_longform_entries_at_random_never_stop_the_store(entries):
    read_into_store("2023-09.sqlite", longform_bytes(entries))


def test_records_fuzzed_are_counted():
    "Runs last in this file: the fuzzing above read records, and every one was accounted for."
    assert records_fuzzed["read"] > 500
