"""The fetcher against a local fake of the Written Questions API serving real corpus records."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import date
from importlib import metadata
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from answers import fetch
from answers.build import build_database
from answers.cli import cli
from answers.sources import discover
from conftest import CORPUS, FIXTURES
from fakeapi import FakeApi, clip_for_list, load_month

NOVEMBER = {"since": date(2024, 11, 1), "until": date(2024, 11, 30)}


class Interrupted(Exception):
    "Stands in for Ctrl-C or a killed process, part way through a fetch."


class FakeClock:
    "Time that passes only when the fetcher sleeps: waits are recorded, never spent."

    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(scope="module")
def november():
    "The 2024-11 list records of the API corpus and the longform full texts of that month."
    return load_month(CORPUS, "2024-11")


@pytest.fixture(scope="module")
def lords_records():
    full = json.loads((FIXTURES / "fetch" / "lords.json").read_text(encoding="utf-8"))
    texts = {value["id"]: {"question_text": value["questionText"], "answer_text": value["answerText"]}
             for value in full}
    return [clip_for_list(value) for value in full], texts


def settings(api: FakeApi, **overrides) -> fetch.Settings:
    options = dict(api_url=api.url, take=20, rate=0, timeout=5, backoff=0.01)
    options.update(overrides)
    return fetch.Settings(**options)


def month_responses(content: Path, month: str = "2024-11") -> list[dict]:
    return json.loads(gzip.decompress((content / "api" / f"{month}.json.gz").read_bytes()))


def listed_ids(responses: list[dict]) -> list[int]:
    "Ids of every record on every list page, repeats included."
    return [item["value"]["id"] for response in responses if "results" in response
            for item in response["results"]]


def full_text_values(responses: list[dict]) -> dict[int, dict]:
    return {response["value"]["id"]: response["value"] for response in responses
            if "results" not in response}


def clipped_ids(records: list[dict]) -> set[int]:
    return {value["id"] for value in records if fetch.is_clipped(value)}


def list_request_keys(requests) -> set[tuple]:
    return {tuple(sorted(request.params.items())) for request in requests}


def stop_after(pages: int):
    "An event handler that interrupts the fetch once it has saved this many pages."
    seen = []

    def on_event(event: fetch.Event) -> None:
        if event.kind == "page":
            seen.append(event)
            if len(seen) == pages:
                raise Interrupted()

    return on_event


# -- the whole story: faults, an interruption, a resume, a build ---------------------------------

@pytest.mark.corpus
def test_fetch_a_month_through_faults_and_an_interruption_then_build(tmp_path, november):
    records, longform = november
    arriving = records[5]["id"]  # arrives while we page, pushing a record onto the next page too
    # The first list page is rate limited; the first three full texts fail once each.
    faults = {1: "429", 3: "500", 5: "truncated", 8: "slow"}
    clock = FakeClock()
    content = tmp_path / "content"
    # The timeout leaves room for a busy machine; only the "slow" response outlasts it.
    with FakeApi(records, longform, faults=faults, arrivals={arriving: 3}, slow_seconds=3) as api:
        options = settings(api, timeout=1.5, max_retries=3)
        with pytest.raises(Interrupted):
            fetch.fetch(content, **NOVEMBER, settings=options, on_event=stop_after(60),
                        sleep=clock.sleep, clock=clock)
        first_run = len(api.requests)
        served_before = list_request_keys(api.served("list"))
        texts_before = {r.path for r in api.served("question")}
        state = json.loads((content / "api" / fetch.STATE_NAME).read_text())
        assert state["last_fetch"] is None
        assert (state["run"]["window"], state["run"]["skip"]) == (0, 60 * 20)
        assert len(set(listed_ids(month_responses(content)))) == 60 * 20 - 1  # one repeat

        summary = fetch.fetch(content, **NOVEMBER, settings=options, sleep=clock.sleep, clock=clock)
        resumed = api.requests[first_run:]

    # Nothing fetched before the interruption was asked for again, but for the first page:
    # the record that arrived there while we paged was missed, and a second pass found it.
    again = served_before & list_request_keys(r for r in resumed if r.path.endswith("/questions"))
    assert [dict(key)["skip"] for key in again] == ["0"] and summary.repasses == 1
    assert not texts_before & {r.path for r in resumed if not r.path.endswith("/questions")}

    responses = month_responses(content)
    ids = listed_ids(responses)
    expected = {value["id"] for value in records}
    assert set(ids) == expected
    pages = [response["results"] for response in responses if "results" in response]
    assert pages[3][0] == pages[2][-1]  # the record pushed onto the next page, kept as returned
    assert pages[3][0]["value"]["id"] == records[60]["id"]  # 60th listed: records[5] came late
    assert summary.unique_ids == len(expected) == 3197
    assert summary.resumed and summary.retries == 4
    assert 7 in clock.sleeps  # the 429's Retry-After was honoured

    wanted = clipped_ids(records) & set(longform)
    full = full_text_values(responses)
    assert set(full) == wanted and summary.full_texts == len(wanted) == 750
    assert summary.full_texts_missing == len(clipped_ids(records) - set(longform))
    sample = sorted(wanted)[0]
    assert full[sample]["questionText"] == longform[sample]["question_text"]

    db_path = tmp_path / "answers.db"
    report = build_database([content], db_path)
    db = sqlite_utils.Database(db_path)
    assert report.rejected == 0 and report.ignored == []
    assert db["questions"].count == len(expected)
    rows = {row["api_id"]: row for row in db["questions"].rows}
    assert all(rows[i]["question_text"] == longform[i]["question_text"] for i in wanted)
    answered = [i for i in wanted if rows[i]["answer_html"] and longform[i]["answer_text"]]
    assert answered and all(rows[i]["answer_is_clipped"] == 0 for i in answered)
    assert all(not rows[i]["answer_text"].endswith("...") for i in answered)


# -- each full text asked for once -------------------------------------------------------------

@pytest.fixture(scope="module")
def summer():
    """July and August 2024 as the list shows them (a question in both files as it stood
    last), less the clipped records with no full text to serve (the API would answer 404);
    and the longform full texts of both months. Many questions tabled in July were answered
    in August, and many tabled in August were answered in September."""
    records, full_texts = {}, {}
    for month in ("2024-07", "2024-08"):
        listed, longform = load_month(CORPUS, month)
        records.update((value["id"], value) for value in listed)
        full_texts.update(longform)
    served = [value for value in records.values()
              if value["id"] in full_texts or not fetch.is_clipped(value)]
    return served, full_texts


@pytest.mark.corpus
def test_a_question_listed_in_two_months_has_its_full_text_asked_for_once(tmp_path, summer):
    records, longform = summer
    faults = {number: "500" for number in range(7, 5000, 31)}  # about 3% of requests
    content = tmp_path / "content"
    with FakeApi(records, longform, faults=faults) as api:
        summary = fetch.fetch(content, since=date(2024, 7, 1), until=date(2024, 9, 30),
                              settings=settings(api, take=100))
        asked = Counter(r.path.rsplit("/", 1)[-1] for r in api.served("question"))
    months = {month: month_responses(content, month)
              for month in ("2024-07", "2024-08", "2024-09")}
    listed = {month: {item["value"]["id"]: item["value"] for response in responses
                      if "results" in response for item in response["results"]}
              for month, responses in months.items()}
    times_listed = Counter(i for ids in listed.values() for i in ids)
    listed_twice = {i for i, times in times_listed.items() if times > 1}
    wanted = clipped_ids(records) & set().union(*listed.values())
    assert len(wanted & listed_twice) > 100  # tabled in one month, answered in the next
    assert asked == Counter({str(api_id): 1 for api_id in wanted})
    assert summary.full_texts == len(wanted) and summary.retries > 0
    # Each month's file still holds the full text of every clipped question it lists.
    for month, responses in months.items():
        full = full_text_values(responses)
        clipped_here = {i for i, value in listed[month].items() if i in wanted}
        assert clipped_here <= set(full)
        assert all(full[i]["questionText"] == longform[i]["question_text"] for i in clipped_here)

    db_path = tmp_path / "answers.db"
    report = build_database([content], db_path)
    assert report.rejected == 0
    rows = {row["api_id"]: row for row in sqlite_utils.Database(db_path)["questions"].rows}
    assert all(rows[i]["question_text"] == longform[i]["question_text"] for i in wanted)
    answered = [i for i in wanted if rows[i]["answer_html"] and longform[i]["answer_text"]]
    assert answered and not any(rows[i]["answer_is_clipped"] for i in answered)


# -- a fetch that changes nothing, and reproducible bytes ---------------------------------------

@pytest.mark.corpus
def test_fetching_unchanged_data_again_changes_no_file(tmp_path, november):
    records, longform = november
    subset = records[:150]
    content = tmp_path / "content"
    with FakeApi(subset, longform) as api:
        fetch.fetch(content, **NOVEMBER, settings=settings(api))
        folder = content / "api"
        before = {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in folder.iterdir()}
        again = fetch.fetch(content, **NOVEMBER, settings=settings(api))
        after = {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in folder.iterdir()}
    assert sorted(before) == [fetch.STATE_NAME, "2024-11.json.gz"]
    assert after["2024-11.json.gz"] == before["2024-11.json.gz"]  # not even rewritten
    # The state is saved as the fetch goes, and ends as it was.
    assert after[fetch.STATE_NAME][0] == before[fetch.STATE_NAME][0]
    assert again.files_changed == [] and again.full_texts == 0
    assert again.unique_ids == 150


@pytest.mark.corpus
def test_the_same_data_fetched_twice_gives_the_same_bytes(tmp_path, november):
    records, longform = november
    with FakeApi(records[:120], longform) as api:
        for name in ("one", "two"):
            fetch.fetch(tmp_path / name, **NOVEMBER, settings=settings(api))
    one = (tmp_path / "one" / "api" / "2024-11.json.gz").read_bytes()
    two = (tmp_path / "two" / "api" / "2024-11.json.gz").read_bytes()
    assert one == two
    assert one[4:8] == b"\0\0\0\0"  # no timestamp in the gzip header
    assert (tmp_path / "one" / "api" / "2024-11.json.gz").stat().st_mode & 0o777 == 0o644


@pytest.mark.corpus
def test_new_data_is_added_and_old_responses_kept(tmp_path, november):
    records, longform = november
    content = tmp_path / "content"
    with FakeApi(records[:40], longform) as api:
        fetch.fetch(content, **NOVEMBER, settings=settings(api))
    first = month_responses(content)
    with FakeApi(records[:60], longform) as api:
        summary = fetch.fetch(content, **NOVEMBER, settings=settings(api))
    second = month_responses(content)
    assert second[: len(first)] == first
    assert set(listed_ids(second)) == {value["id"] for value in records[:60]}
    assert summary.files_changed == [str(content / "api" / "2024-11.json.gz")]


# -- state: the last fetch, the default range, resuming ------------------------------------------

def test_the_state_records_the_last_fetch_and_the_next_fetch_starts_there(tmp_path, lords_records):
    records, texts = lords_records
    content = tmp_path / "content"
    with FakeApi(records, texts) as api:
        first = fetch.fetch(content, settings=settings(api), today=date(2024, 11, 20))
        state = json.loads((content / "api" / fetch.STATE_NAME).read_text())
        second = fetch.fetch(content, settings=settings(api), today=date(2024, 11, 25))
    assert (first.since, first.until) == ("2024-10-21", "2024-11-20")  # DEFAULT_DAYS back
    assert state == {"last_fetch": "2024-11-20", "run": None}
    assert (second.since, second.until) == ("2024-11-20", "2024-11-25")
    assert first.unique_ids == 3  # all three Lords questions fall in the default window


def test_choose_run_resumes_only_the_same_range():
    state = fetch.State(Path("/nonexistent/state.json"))
    state.last_fetch = "2024-11-10"
    state.run = fetch.Run("2024-11-01", "2024-11-30", list(fetch.HOUSES), window=2, skip=40)
    today = date(2024, 12, 3)
    run, resumed = fetch.choose_run(state, None, None, today, fetch.HOUSES)
    assert resumed and (run.window, run.skip) == (2, 40)
    run, resumed = fetch.choose_run(state, date(2024, 11, 5), None, today, fetch.HOUSES)
    assert not resumed and (run.since, run.until, run.window) == ("2024-11-05", "2024-12-03", 0)
    state.run = None
    run, _ = fetch.choose_run(state, None, None, today, fetch.HOUSES)
    assert (run.since, run.until) == ("2024-11-10", "2024-12-03")
    with pytest.raises(ValueError):
        fetch.choose_run(state, date(2024, 12, 9), None, today, fetch.HOUSES)


@pytest.mark.corpus
def test_retries_run_out_then_a_later_fetch_resumes(tmp_path, november):
    records, longform = november
    subset = records[:100]
    content = tmp_path / "content"
    failing = {n: "500" for n in range(12, 16)}  # four failures in a row: one attempt too many
    with FakeApi(subset, longform, faults=failing) as api:
        with pytest.raises(fetch.FetchError, match="HTTP 500"):
            fetch.fetch(content, **NOVEMBER, settings=settings(api, max_retries=3))
        state = json.loads((content / "api" / fetch.STATE_NAME).read_text())
        assert state["run"] is not None
        summary = fetch.fetch(content, **NOVEMBER, settings=settings(api, max_retries=3))
    assert summary.resumed and summary.retries == 3
    assert set(listed_ids(month_responses(content))) == {value["id"] for value in subset}
    assert json.loads((content / "api" / fetch.STATE_NAME).read_text())["run"] is None


@pytest.mark.corpus
def test_a_record_that_moves_between_pages_is_found_by_a_second_pass(tmp_path, november):
    records, longform = november
    subset = records[:100]
    moved = subset[90]["id"]  # jumps to the front after the first page: paging would miss it
    content = tmp_path / "content"
    with FakeApi(subset, longform, moves={moved: 1}) as api:
        summary = fetch.fetch(content, **NOVEMBER, settings=settings(api))
    assert summary.repasses == 1
    assert set(listed_ids(month_responses(content))) == {value["id"] for value in subset}


@pytest.mark.corpus
def test_a_journal_left_by_a_crash_is_filed_and_a_torn_line_ignored(tmp_path, november):
    records, _ = november
    folder = tmp_path / "content" / "api"
    folder.mkdir(parents=True)
    page = {"results": [{"value": records[0], "links": []}], "totalResults": 1}
    journal = folder / fetch.JOURNAL_NAME
    journal.write_text(json.dumps({"month": "2024-11", "response": page}) + "\n"
                       + '{"month": "2024-11", "respo', encoding="utf-8")
    changed = fetch.Archive(folder).file_journal()
    assert changed == [str(folder / "2024-11.json.gz")]
    assert month_responses(tmp_path / "content") == [page]
    assert not journal.exists()


@pytest.mark.corpus
def test_what_a_fetch_killed_while_saving_a_file_left_half_written_is_removed(tmp_path, november):
    # Killed between writing a month file's (or the state's) new bytes and renaming them into
    # place, a fetch leaves the temporary file beside it, under a name no later save reuses.
    records, longform = november
    content = tmp_path / "content"
    folder = content / "api"
    folder.mkdir(parents=True)
    for name in (".2024-11.json.gz.k1lled.tmp", f".{fetch.STATE_NAME}.k1lled.tmp"):
        (folder / name).write_bytes(b"half written")
    with FakeApi(records[:20], longform) as api:
        fetch.fetch(content, **NOVEMBER, settings=settings(api))
    assert sorted(path.name for path in folder.iterdir()) == [fetch.STATE_NAME, "2024-11.json.gz"]


def test_the_build_passes_over_the_fetch_state_and_journal(tmp_path):
    folder = tmp_path / "content" / "api"
    folder.mkdir(parents=True)
    (folder / fetch.STATE_NAME).write_text('{"last_fetch": "2024-11-30", "run": null}')
    (folder / fetch.JOURNAL_NAME).write_text("")
    (folder / "2024-11.json.gz").write_bytes(fetch.gzip_json([]))
    assert discover([tmp_path / "content"]) == [folder / "2024-11.json.gz"]


# -- the requests themselves --------------------------------------------------------------------

def test_requests_use_the_api_parameters_for_both_houses_and_name_the_project(tmp_path, lords_records):
    records, texts = lords_records
    content = tmp_path / "content"
    with FakeApi(records, texts) as api:
        summary = fetch.fetch(content, **NOVEMBER, settings=settings(api))
    lists = [r for r in api.requests if r.path == "/api/writtenquestions/questions"]
    assert {(r.params["house"], next(k for k in r.params if k.endswith("WhenFrom"))) for r in lists} == {
        (house, f"{kind}WhenFrom") for house in ("Commons", "Lords")
        for kind in ("tabled", "answered", "corrected")}
    assert {r.params["tabledWhenTo"] for r in lists if "tabledWhenTo" in r.params} == {"2024-11-30"}
    assert {r.params["take"] for r in lists} == {"20"}
    version = metadata.version("written-answers-archive")
    assert {r.headers["User-Agent"] for r in api.requests} == {f"written-answers-archive/{version}"}
    # Only the long Lords question was clipped by the list; its full text was fetched.
    assert [r.path for r in api.requests if r not in lists] == ["/api/writtenquestions/questions/9000001"]
    full = full_text_values(month_responses(content))
    assert full[9000001]["questionText"] == texts[9000001]["question_text"]
    assert full[9000001]["answerText"].startswith("<p>Bus shelters")
    listed = {item["value"]["id"]: item["value"] for response in month_responses(content)
              if "results" in response for item in response["results"]}
    assert len(listed[9000001]["questionText"]) == 255
    assert listed[9000001]["answerText"].endswith("...") and len(listed[9000001]["answerText"]) == 258
    assert summary.unique_ids == 3 and summary.full_texts == 1


def test_truncated_and_slow_list_pages_are_retried(tmp_path, lords_records):
    records, texts = lords_records
    clock = FakeClock()
    # Requests: Commons tabled (cut short), again, Commons answered, Commons corrected (too
    # slow), again, then the Lords.
    with FakeApi(records, texts, faults={1: "truncated", 4: "slow"}, slow_seconds=3) as api:
        summary = fetch.fetch(tmp_path / "content", **NOVEMBER, sleep=clock.sleep, clock=clock,
                              settings=settings(api, timeout=1.5, backoff=2.0))
    assert summary.retries == 2 and clock.sleeps == [2.0, 2.0]
    assert [r.params.get("house") for r in api.requests][:6] == ["Commons"] * 5 + ["Lords"]
    assert set(listed_ids(month_responses(tmp_path / "content"))) == {9000001, 9000002, 9000003}


def test_requests_are_spaced_by_the_rate_limit(tmp_path, lords_records):
    records, texts = lords_records
    clock = FakeClock()
    with FakeApi(records, texts) as api:
        fetch.fetch(tmp_path / "content", **NOVEMBER, settings=settings(api, rate=2),
                    sleep=clock.sleep, clock=clock)
    assert len(api.requests) == 7  # six queries and one full text
    assert clock.sleeps == [0.5] * 6


def test_backoff_doubles_and_retry_after_is_capped():
    client = fetch.Client(fetch.Settings(backoff=1.0, max_backoff=10.0))
    try:
        assert [client.delay(attempt, None) for attempt in range(5)] == [1, 2, 4, 8, 10]
        assert client.delay(0, 7.0) == 7.0 and client.delay(0, 3600.0) == 10.0
    finally:
        client.close()
    assert fetch.retry_after_seconds("7") == 7.0
    assert fetch.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert fetch.retry_after_seconds("soon") is None


def test_windows_split_at_month_ends():
    windows = fetch.plan_windows(date(2024, 10, 25), date(2024, 11, 3), ["Commons"])
    assert [(w.kind, w.start.isoformat(), w.end.isoformat(), w.month) for w in windows] == [
        ("tabled", "2024-10-25", "2024-10-31", "2024-10"),
        ("answered", "2024-10-25", "2024-10-31", "2024-10"),
        ("corrected", "2024-10-25", "2024-10-31", "2024-10"),
        ("tabled", "2024-11-01", "2024-11-03", "2024-11"),
        ("answered", "2024-11-01", "2024-11-03", "2024-11"),
        ("corrected", "2024-11-01", "2024-11-03", "2024-11"),
    ]


@pytest.mark.corpus
def test_clipped_records_are_those_the_list_endpoint_cut(november):
    records, _ = november
    assert len(clipped_ids(records)) == 2008
    short = {"questionText": "To ask briefly.", "answerText": "A short answer."}
    assert not fetch.is_clipped(short)


# -- the command ---------------------------------------------------------------------------------

def test_the_fetch_command_prints_its_summary(tmp_path, lords_records):
    records, texts = lords_records
    with FakeApi(records, texts) as api:
        result = CliRunner().invoke(cli, [
            "fetch", "--content", str(tmp_path / "content"), "--since", "2024-11-01",
            "--until", "2024-11-30", "--api-url", api.url, "--rate", "0", "--house", "Lords",
        ])
    assert result.exit_code == 0, result.output
    assert ("3 pages, 5 records, 3 unique ids, 1 full texts (0 not found), 0 retries"
            in result.output)  # two of the three were answered: listed twice
    assert f"wrote {tmp_path / 'content' / 'api' / '2024-11.json.gz'}" in result.output
