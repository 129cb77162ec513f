"""The official API JSON reader: every response shape, the record fields, clipping, damaged
files, and what the store makes of the real corpus (duplicates, later snapshots)."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from answers.build import BuildReport, build_database
from answers.model import MemberRef, Question, SourceError
from answers.sources import api_json
from conftest import CORPUS, FIXTURES

API = CORPUS / "uk-parliament-wq-api-json"
SAMPLES = CORPUS / "samples"
NOVEMBER = API / "2024-11.json.gz"
NOVEMBER_EARLY = API / "versions" / "2d7767813a29" / "2024-11.json.gz"
NOVEMBER_MIDDLE = API / "versions" / "80e86de686ca" / "2024-11.json.gz"
MARCH_WITH_REPEATS = API / "versions" / "e0fefccfc78c" / "2026-03.json.gz"
OWN = FIXTURES / "api"


def read_all(path: Path) -> list:
    return list(api_json.read(path))


def by_id(records) -> dict[int, Question]:
    return {record.api_id: record for record in records if isinstance(record, Question)}


def errors(records) -> list[tuple[str, str]]:
    return [(e.location, e.reason) for e in records if isinstance(e, SourceError)]


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def build(tmp: Path, *inputs: Path, name: str = "answers.db") -> tuple[BuildReport, sqlite3.Connection]:
    db_path = tmp / name
    report = build_database(list(inputs), db_path)
    connection = sqlite3.connect(db_path)
    connection.row_factory = sqlite3.Row
    return report, connection


@pytest.fixture(scope="module")
def samples() -> dict[int, Question]:
    records = read_all(SAMPLES / "api-edge-cases.json")
    assert errors(records) == []
    return by_id(records)


@pytest.fixture(scope="module")
def categories() -> dict[str, list[int]]:
    named = json.loads((SAMPLES / "api-edge-cases-categories.json").read_text())
    grouped: dict[str, list[int]] = {}
    for api_id, category in named.items():
        grouped.setdefault(category, []).append(int(api_id))
    return grouped


# -- names ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, handled", [
    ("2024-11.json", True), ("2024-11.json.gz", True), ("PAGE.JSON", True),
    ("2024-11.sqlite.gz", False), ("answers.jsonl", False), ("notes.txt", False),
])
def test_matches_json_files_plain_or_gzipped(name, handled):
    assert api_json.matches(Path(name)) is handled


# -- one record, field by field ------------------------------------------------------------

@pytest.mark.corpus
def test_maps_every_field_of_a_list_record(samples):
    assert samples[1674556] == Question(
        house="Commons",
        uin="4784",
        date_tabled="2023-12-01",
        date_answered="2023-12-06",
        date_for_answer="2023-12-06",
        heading="Ministry of Defence: Procurement",
        answering_body="Ministry of Defence",
        answering_body_id=11,
        asking_member=MemberRef(id="483"),
        answering_member=MemberRef(id="4519"),
        question_text=(
            "To ask the Secretary of State for Defence, with reference to page 53 of his "
            "Department's Annual Report and Accounts 2022-23, if he will publish the latest "
            "version of his Department\u2019s Sustainable Procurement Working Group strategic plan."
        ),
        answer_html=(
            "<p>There are currently no plans for the Sustainable Procurement Working Group "
            "(SPWG) 'Strategic Plan' to be published.</p>"
        ),
        is_named_day=True,
        api_id=1674556,
        official_url="https://questions-statements.parliament.uk/written-questions/detail/2023-12-01/4784",
        location="record 1 (id 1674556)",
    )
    assert samples[1674556].key == "commons-2023-12-01-4784"


@pytest.mark.corpus
def test_reads_all_59_samples_in_file_order(samples):
    assert len(samples) == 59
    locations = [q.location for q in samples.values()]
    assert locations[0] == "record 1 (id 1674556)"
    assert locations[-1].startswith("record 59 ")


@pytest.mark.corpus
def test_clipped_answers_are_flagged_and_short_ones_are_not(samples, categories):
    clipped = categories["answered_clipped_with_longform"] + categories["answered_clipped_no_longform"]
    for api_id in clipped:
        question = samples[api_id]
        assert question.answer_is_clipped, api_id
        # The list endpoint's 255 characters and "..." become one escaped paragraph.
        assert question.answer_html.startswith("<p>") and question.answer_html.endswith("...</p>")
    for api_id in categories["answered_short"]:
        assert not samples[api_id].answer_is_clipped, api_id


@pytest.mark.corpus
def test_questions_of_255_characters_are_flagged_clipped(samples):
    for question in samples.values():
        assert question.question_is_clipped == (len(question.question_text) == 255)
    assert sum(q.question_is_clipped for q in samples.values()) >= 10


@pytest.mark.corpus
def test_unanswered_questions_have_no_answer(samples, categories):
    for api_id in categories["unanswered"]:
        question = samples[api_id]
        assert (question.answer_html, question.date_answered, question.answer_is_clipped) == (None, None, False)


@pytest.mark.corpus
def test_holding_answers_are_flagged(samples, categories):
    assert [(samples[i].is_holding, samples[i].date_holding_answer) for i in categories["holding"]] == [
        (True, "2024-11-18"), (True, "2024-11-18"), (True, "2024-11-19"),
    ]


@pytest.mark.corpus
def test_questions_answered_after_a_holding_answer_keep_both_dates(samples, categories):
    for api_id in categories["holding_date_then_answered"]:
        question = samples[api_id]
        assert not question.is_holding
        assert (question.date_holding_answer, question.date_answered) == ("2023-12-06", "2023-12-07")
        assert question.answer_html


@pytest.mark.corpus
def test_corrections_carry_their_date_and_correcting_member(samples, categories):
    corrections = [samples[i] for i in categories["correction"]]
    assert [(q.is_correction, q.date_answer_corrected, q.correcting_member) for q in corrections] == [
        (True, "2024-01-12", MemberRef(id="4801")),
        (True, "2023-12-21", MemberRef(id="4044")),
        (True, "2023-12-18", MemberRef(id="4825")),
        (True, "2024-01-10", MemberRef(id="4462")),
        (True, "2024-01-23", MemberRef(id="4528")),
    ]
    # The list endpoint never gives the answer before correction.
    assert all(q.original_answer_html is None for q in corrections)


@pytest.mark.corpus
def test_member_interest_and_missing_headings(samples, categories):
    assert all(samples[i].member_has_interest for i in categories["member_has_interest"])
    assert [samples[i].heading for i in categories["answered_no_heading"]] == [None, None, None]


@pytest.mark.corpus
def test_non_ascii_text_is_kept(samples, categories):
    texts = [samples[i].question_text + (samples[i].answer_html or "") for i in categories["non_ascii"]]
    assert all(not text.isascii() for text in texts)


@pytest.mark.corpus
def test_grouped_questions_become_keys_with_their_own_dates(samples):
    assert samples[1674559].grouped_keys == ["commons-2023-12-04-4933", "commons-2023-12-04-4938"]
    assert samples[1674584].grouped_keys == ["commons-2023-12-01-4848", "commons-2023-12-01-4850"]


def test_grouped_uin_without_a_date_takes_the_question_date(tmp_path):
    record = {"value": {"id": 1, "house": "Commons", "uin": "10", "dateTabled": "2024-01-05T00:00:00",
                        "groupedQuestions": ["11", "12"],
                        "groupedQuestionsDates": [{"questionUin": "11", "dateTabled": "2024-01-04T00:00:00"}]}}
    [question] = read_all(write_json(tmp_path / "grouped.json", [record]))
    assert question.grouped_keys == ["commons-2024-01-04-11", "commons-2024-01-05-12"]


def test_plain_answer_entities_are_decoded_once_then_escaped():
    assert api_json.answer_as_html("R&amp;D, M&S, &quot;cure&quot;, a <b> & &notit") == (
        '<p>R&amp;D, M&amp;S, "cure", a &lt;b&gt; &amp; &amp;notit</p>'
    )


# -- response shapes -----------------------------------------------------------------------

def test_list_responses_and_single_question_responses_in_one_file():
    records = read_all(OWN / "responses.json")
    assert errors(records) == []
    assert [(q.key, q.location) for q in records] == [
        ("commons-2024-07-01-301", "record 1 (id 9000301)"),
        ("commons-2024-07-01-302", "record 2 (id 9000302)"),
        ("commons-2024-07-02-303", "record 3 (id 9000303)"),
    ]
    assert records[0].heading is None  # "" in the API
    single = records[2]
    # A single-question response gives HTML: kept as HTML, never clipped.
    assert single.answer_html.startswith("<p>About 700,000 pupils sat GCSEs.</p><table>")
    assert single.original_answer_html == "<p>About 600,000 pupils sat GCSEs.</p>"
    assert (single.is_correction, single.date_answer_corrected, single.answer_is_clipped) == (True, "2024-07-20", False)
    assert single.asking_member == MemberRef(id="4001", name="Alex Example", party="Independent",
                                             constituency="Exampleton")


@pytest.mark.corpus
@pytest.mark.parametrize("shape", ["envelope", "single", "bare", "concatenated"])
def test_each_api_shape_alone(tmp_path, shape):
    records = json.loads((SAMPLES / "api-edge-cases.json").read_text())[:2]
    path = tmp_path / "page.json"
    if shape == "envelope":
        write_json(path, {"results": records, "totalResults": 2})
    elif shape == "single":
        write_json(path, {"value": records[0]["value"], "links": records[0]["links"]})
    elif shape == "bare":
        write_json(path, records[0]["value"])
    else:
        path.write_text("\n".join(json.dumps(r) for r in records))
    expected = [1674556, 1674560] if shape in ("envelope", "concatenated") else [1674556]
    assert [q.api_id for q in read_all(path)] == expected


def test_an_empty_list_is_no_records_and_no_error(tmp_path):
    assert read_all(write_json(tmp_path / "2024-06.json", [])) == []


# -- damaged input -------------------------------------------------------------------------

def test_truncated_json_keeps_the_records_before_the_damage():
    records = read_all(OWN / "truncated.json")
    assert [q.key for q in records[:2]] == ["commons-2024-05-01-101", "lords-2024-05-02-hl102"]
    assert errors(records) == [
        ("after record 2", "invalid JSON at byte 919: Invalid control character at"),
    ]


@pytest.mark.corpus
def test_truncated_gzip_keeps_the_records_before_the_damage(tmp_path):
    text = (SAMPLES / "api-edge-cases.json").read_bytes()
    packed = gzip.compress(text)
    path = tmp_path / "cut.json.gz"
    path.write_bytes(packed[: len(packed) // 2])
    records = read_all(path)
    questions = [r for r in records if isinstance(r, Question)]
    assert 10 < len(questions) < 59
    [(location, reason)] = errors(records)
    assert location == f"after record {len(questions)}"
    assert reason.startswith("gzip data ends early, after ")
    assert "; JSON ends early, at byte " in reason or "; invalid JSON at byte " in reason
    every_id = list(by_id(read_all(SAMPLES / "api-edge-cases.json")))
    assert [q.api_id for q in questions] == every_id[: len(questions)]


@pytest.mark.corpus
def test_a_truncated_list_response_keeps_its_complete_records(tmp_path):
    records = json.loads((SAMPLES / "api-edge-cases.json").read_text())[:3]
    text = json.dumps([{"results": records, "totalResults": 3}])
    path = tmp_path / "cut.json"
    path.write_text(text[: text.index('"id": 1674569')])
    result = read_all(path)
    assert [q.api_id for q in result[:2]] == [1674556, 1674560]
    assert len(result) == 3 and result[2].location == "after record 2"


def test_empty_file_is_one_error():
    assert errors(read_all(OWN / "empty.json")) == [("file", "empty file")]


def test_not_gzip_is_one_error(tmp_path):
    path = tmp_path / "page.json.gz"
    path.write_bytes(b"[{}]")
    [(location, reason)] = errors(read_all(path))
    assert location == "after record 0" and reason.startswith("not readable as gzip")


def test_bad_records_are_rejected_and_the_rest_read():
    records = read_all(OWN / "bad-records.json")
    assert errors(records) == [
        ("record 1", "no question id"),
        ("record 2", "record is not an object but a string"),
        ("record 3 (id 9000203)", "dateTabled is not a date: '3 June 2024'"),
        ("record 4 (id 9000204)", "unknown house 'Senedd'"),
        ("record 6 (id 9000206)", "groupedQuestions is a number, not a list"),
    ]
    good = records[4]
    assert (good.api_id, good.answer_html) == (
        9000205, '<p>The yield is published by HMRC &amp; the OBR: see "Receipts" &lt;table 2&gt;.</p>',
    )


# -- through the store: the real corpus ----------------------------------------------------

@pytest.fixture(scope="module")
def whole_corpus(tmp_path_factory):
    return build(tmp_path_factory.mktemp("api"), API)


@pytest.mark.corpus
def test_whole_api_corpus_gives_one_row_per_question(whole_corpus):
    report, db = whole_corpus
    assert tuple(db.execute("select count(*), count(distinct api_id) from questions").fetchone()) == (55988, 55988)
    assert db.execute(
        "select count(*) from (select 1 from questions group by date_tabled, uin having count(*) > 1)"
    ).fetchone()[0] == 0
    assert db.execute("select count(*) from questions where answer_html is not null").fetchone()[0] == 21511
    assert report.rejected == 0 and db.execute("select count(*) from rejects").fetchone()[0] == 0


@pytest.mark.corpus
def test_whole_api_corpus_accounts_for_every_record(whole_corpus):
    report, db = whole_corpus
    assert len(report.files) == 22
    assert all(f.balanced() for f in report.files)
    rows = db.execute("select path, read, stored, duplicates, rejected from sources").fetchall()
    assert len(rows) == 22
    assert all(row["read"] == row["stored"] + row["duplicates"] + row["rejected"] for row in rows)
    assert sum(row["read"] for row in rows) == 59916


@pytest.mark.corpus
def test_repeated_rows_in_one_snapshot_collapse(tmp_path):
    report, db = build(tmp_path, MARCH_WITH_REPEATS)
    [file] = report.files
    assert (file.read, file.stored, file.duplicates, file.rejected) == (2333, 2079, 254, 0)
    assert db.execute("select count(*) from questions").fetchone()[0] == 2079


def unique_ids(*paths: Path) -> set[int]:
    return {q.api_id for path in paths for q in read_all(path)}


def answered_later() -> Question:
    "A real question unanswered in the early snapshot and answered in the main file."
    early = by_id(read_all(NOVEMBER_EARLY))
    main = by_id(read_all(NOVEMBER))
    later = [main[i] for i in early if early[i].answer_html is None and main.get(i) and main[i].answer_html]
    assert len(later) > 10
    return later[0]


@pytest.mark.parametrize("first, then", [
    ([NOVEMBER_EARLY, NOVEMBER_MIDDLE], [NOVEMBER]),
    ([NOVEMBER], [NOVEMBER_EARLY, NOVEMBER_MIDDLE]),
])
@pytest.mark.corpus
def test_a_later_answer_wins_whatever_order_files_come_in(tmp_path, first, then):
    question = answered_later()
    staging = tmp_path / "sources"
    staging.mkdir()
    # Files are added in two builds, the second bringing its files to the existing database;
    # the numbered names keep the same order should the second build start afresh.
    for number, path in enumerate(first):
        shutil.copy(path, staging / f"{number}-{path.parent.name}-{path.name}")
    build(tmp_path, staging)
    for number, path in enumerate(then, start=len(first)):
        shutil.copy(path, staging / f"{number}-{path.parent.name}-{path.name}")
    report, db = build(tmp_path, staging)
    row = db.execute(
        "select answer_html, date_answered, is_holding from questions where api_id = :id",
        {"id": question.api_id},
    ).fetchone()
    assert row["answer_html"] and row["date_answered"] == question.date_answered
    assert db.execute("select count(*) from questions").fetchone()[0] == len(
        unique_ids(NOVEMBER, NOVEMBER_EARLY, NOVEMBER_MIDDLE)
    )
    assert all(f.balanced() for f in report.files)


# -- through the store: holding answers and corrections ------------------------------------

def sample_record(api_id: int) -> dict:
    records = json.loads((SAMPLES / "api-edge-cases.json").read_text())
    return next(r for r in records if r["value"]["id"] == api_id)


def earlier_snapshot(record: dict, **changes) -> dict:
    return {"value": {**record["value"], **changes}, "links": record["links"]}


@pytest.mark.corpus
@pytest.mark.parametrize("holding_first", [True, False])
def test_substantive_answer_replaces_a_holding_answer(tmp_path, holding_first):
    answered = sample_record(1674671)  # holding answer on 2023-12-06, answered on 2023-12-07
    holding = earlier_snapshot(
        answered, answerIsHolding=True, dateAnswered="2023-12-06T00:00:00",
        answerText="I will reply to the hon. Member as soon as possible.",
    )
    names = ("a.json", "b.json") if holding_first else ("b.json", "a.json")
    write_json(tmp_path / names[0], [holding])
    write_json(tmp_path / names[1], [answered])
    report, db = build(tmp_path, tmp_path / "a.json", tmp_path / "b.json")
    row = db.execute("select * from questions").fetchone()
    assert (row["is_holding"], row["date_holding_answer"], row["date_answered"]) == (0, "2023-12-06", "2023-12-07")
    assert row["answer_text"].startswith("It is for individual local commissioners to allocate funding")
    # Stored in the file whose snapshot is kept, whichever file came first: the holding answer's is a duplicate.
    assert sorted((f.stored, f.duplicates) for f in report.files) == [(0, 1), (1, 0)]


@pytest.mark.corpus
@pytest.mark.parametrize("correction_first", [True, False])
def test_a_correction_keeps_the_answer_it_corrects(tmp_path, correction_first):
    corrected = sample_record(1675274)
    before = earlier_snapshot(
        corrected, answerIsCorrection=False, dateAnswerCorrected=None, correctingMemberId=None,
        answerText="The Learning Support Fund is not available to pharmacy students.",
    )
    names = ("b.json", "a.json") if correction_first else ("a.json", "b.json")
    write_json(tmp_path / names[0], [before])
    write_json(tmp_path / names[1], [corrected])
    build(tmp_path, tmp_path / "a.json")  # the first file alone, then the second added to it
    _, db = build(tmp_path, tmp_path / "a.json", tmp_path / "b.json")
    row = db.execute("select * from questions").fetchone()
    correction = (row["is_correction"], row["date_answer_corrected"], row["correcting_member_id"])
    assert correction == (1, "2023-12-21", "4044")
    assert row["answer_text"].startswith("The Learning Support Fund (LSF) is available broadly")
    if not correction_first:
        assert row["original_answer_html"] == "<p>The Learning Support Fund is not available to pharmacy students.</p>"


def test_original_answer_from_the_source_is_stored(tmp_path):
    _, db = build(tmp_path, OWN / "responses.json")
    row = db.execute("select * from questions where api_id = 9000303").fetchone()
    assert row["original_answer_html"] == "<p>About 600,000 pupils sat GCSEs.</p>"
    assert (row["is_correction"], row["date_answer_corrected"]) == (1, "2024-07-20")
    assert "<table>" in row["answer_html"] and row["answer_is_clipped"] == 0
