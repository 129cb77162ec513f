"""The merge, whatever order records arrive in: a small world of month files over a handful of
questions, each record not yet answered, given a holding answer, answered (on one day or
another, in one wording or another), corrected or withdrawn, duplicates allowed, changed from one
version of the files to the next as `make fetch` changes them (records added anywhere, a record
rewritten in place as its answer arrives, a month file appearing before or after the others).
After every version, the database brought up to date in place must be the one a clean build of
that version makes.

Examples are derandomized, so a run in CI always tries the same worlds.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from answers.build import build_database
from test_build_incremental import answered, canonical, record, write

MONTHS = ("2024-07.json", "2024-08.json", "2024-09.json")
QUESTIONS = st.integers(1, 3)
TEXTS = st.sampled_from(["<p>Yes.</p>", "<p>No.</p>"])
DAYS = st.sampled_from(["2024-08-05", "2024-08-09"])


def holding(number: int, day: str) -> dict:
    "A holding answer given on `day`."
    return record(number, answerText="<p>I will reply shortly.</p>", answerIsHolding=True,
                  dateAnswered=f"{day}T00:00:00", dateHoldingAnswer=f"{day}T00:00:00")


def corrected(number: int, text: str, day: str, corrected_on: str) -> dict:
    "An answer corrected on `corrected_on`, as the API gives it."
    snapshot = answered(number, text, day)
    snapshot["value"].update(answerIsCorrection=True, dateAnswerCorrected=f"{corrected_on}T00:00:00",
                             correctingMemberId=4399)
    return snapshot


SNAPSHOTS = st.one_of(
    QUESTIONS.map(record),
    QUESTIONS.map(lambda number: record(number, isWithdrawn=True)),
    st.builds(holding, QUESTIONS, DAYS),
    st.builds(answered, QUESTIONS, TEXTS, DAYS),
    st.builds(corrected, QUESTIONS, TEXTS, DAYS, st.sampled_from(["2024-09-02", "2024-09-03"])),
)
# One change to one file: a record put in at a place (the file made if new), or put in place of
# the record there (a fetch that found the question answered since).
EDITS = st.tuples(st.sampled_from(MONTHS), st.integers(0, 4), st.booleans(), SNAPSHOTS)
VERSIONS = st.lists(st.lists(EDITS, min_size=1, max_size=3), min_size=2, max_size=4)


def apply(files: dict[str, list], edits: list[tuple]) -> None:
    for name, at, in_place, snapshot in edits:
        records = files.setdefault(name, [])
        if in_place and at < len(records):
            records[at] = snapshot
        else:
            records.insert(at, snapshot)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(versions=VERSIONS)
def test_an_update_stores_what_a_clean_build_does_whatever_order_records_arrive_in(versions):
    with tempfile.TemporaryDirectory() as scratch:
        folder, db_path = Path(scratch) / "api", Path(scratch) / "answers.db"
        files: dict[str, list] = {}
        for number, edits in enumerate(versions):
            apply(files, edits)
            for name, records in files.items():
                write(folder / name, records)
            update = build_database([folder], db_path)
            clean_path = Path(scratch) / f"clean-{number}.db"
            build_database([folder], clean_path)
            assert all(file.balanced() for file in update.files)
            assert canonical(db_path) == canonical(clean_path), (
                f"version {number}: {json.dumps(files)}; built afresh: {update.rebuild_reason}")
