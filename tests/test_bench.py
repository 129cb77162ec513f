"""The benchmarks' own inputs: the changes they file look to the db stage like what a fetch
files, synthetic questions are labelled and keyed apart from real ones, and wrk's report reads
back as the figures it prints, and the scale benchmark's projection follows the growth it
measured, and a command's peak memory is its own. No time is asserted."""

from __future__ import annotations

import datetime
import gzip
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from answers.sources import api_json  # noqa: E402
from edits import CurrentMonth  # noqa: E402
from load import parse_wrk  # noqa: E402
from measure import idle_memory_reclaim, run_measured, set_aside  # noqa: E402
from scale import FIGURES, growth_exponent, per_question_ratios, projected, synthetic  # noqa: E402

WRK_REPORT = """Running 8s test @ http://127.0.0.1:8001/answers/question_list.json
  2 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    70.12ms   20.01ms 300.00ms   80.00%
  Latency Distribution
     50%   64.50ms
     75%   80.00ms
     90%  100.00ms
     99%    1.20s
  1100 requests in 8.00s, 30.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:    137.50
Transfer/sec:      3.75MB
"""


def test_wrk_report_gives_percentiles_in_milliseconds_rate_and_errors():
    result = parse_wrk(WRK_REPORT)
    assert (result.p50_ms, result.p99_ms, result.requests_per_s) == (64.5, 1200.0, 137.5)
    assert result.errors == 6  # one read error, two timeouts, three non-2xx answers


def test_synthetic_copy_moves_every_key_and_says_it_is_synthetic():
    real = {"id": 1725947, "uin": "3283", "groupedQuestions": ["3284"],
            "groupedQuestionsDates": [{"questionUin": "3284", "dateTabled": "2024-08-30T00:00:00"}],
            "heading": "Schools: Finance"}
    copy = synthetic(real, 2)
    assert (copy["id"], copy["uin"], copy["groupedQuestions"]) == (21725947, "SYN2-3283", ["SYN2-3284"])
    assert copy["groupedQuestionsDates"][0]["questionUin"] == "SYN2-3284"
    assert copy["heading"] == "Schools: Finance" and real["uin"] == "3283"  # the real record untouched


def test_current_month_changes_read_as_an_answer_then_a_correction(corpus, tmp_path):
    today = datetime.date(2026, 11, 30)
    month = CurrentMonth(tmp_path, corpus / "uk-parliament-wq-api-json" / "2024-08.json.gz", today)
    month.file([month.bench_question(answered=False)])
    month.file([month.bench_question(answered=True)])
    month.file([month.correction()])
    assert month.path == tmp_path / "api" / "2026-11.json.gz"
    responses = json.loads(gzip.decompress(month.path.read_bytes()))
    assert [len(response["results"]) for response in responses] == [1, 1, 1]
    unanswered, answered, corrected = list(api_json.read(month.path))
    assert unanswered.key == answered.key == "commons-2026-11-27-bench-1"
    assert (unanswered.date_answered, answered.date_answered) == (None, "2026-11-30")
    assert corrected.key == month.old_key() and corrected.is_correction
    assert "this sentence was added to the answer.]" in corrected.answer_html


def scale_row(copies: float, power: float) -> dict:
    "Figures of a made-up run at a size, each growing as size ** power (the db stage's CPU 1.5)."
    questions = int(50_000 * copies)
    row = {"copies": copies, "questions": questions, "measured": True, "disk_mb": copies * 1000}
    row.update({name: 2.0 * copies ** power for name in FIGURES})
    row["db_cpu"] = 2.0 * copies ** 1.5
    return row


def test_the_scale_projection_follows_the_growth_fitted_from_1x_up():
    measured = [scale_row(0.5, 3.0), scale_row(1, 1.0), scale_row(2, 1.0), scale_row(4, 1.0)]
    assert round(growth_exponent(measured, "pages_cpu"), 6) == 1.0  # the noisy 0.5x is left out
    assert round(growth_exponent(measured, "db_cpu"), 6) == 1.5
    at_16x = projected(measured, 800_000)
    assert round(at_16x["pages_cpu"], 6) == round(scale_row(16, 1.0)["pages_cpu"], 6)
    assert round(at_16x["db_cpu"], 6) == round(scale_row(16, 1.0)["db_cpu"], 6)
    assert not at_16x["measured"] and at_16x["disk_mb"] == 16_000
    # Per question against 1x: flat stages read 1.00; the db stage's cost per question doubles.
    assert per_question_ratios(scale_row(4, 1.0), measured[1]) == "2.00 / 1.00 / 1.00 / 1.00"


def test_a_run_cut_short_states_every_goal_and_which_were_not_measured():
    from measure import Measured
    from report import goals_markdown
    from run import Compared, judge

    cold = Compared("cold", [(Measured(40.0, 2000.0, "", 38.0), Measured(200.0, 300.0, "", 170.0))])
    goals = judge({}, [cold], [])
    assert len(goals) == 9
    verdicts = {goal.text: (goal.verdict, goal.measured) for goal in goals}
    assert verdicts["site stage cold >= 0.6x Hugo's pages/s"] == ("**no**", "0.20x")
    assert verdicts["peak memory of every stage <= 4 GB"] == ("yes", "largest 300 MB")
    assert verdicts["fresh through make build <= 90 s"] == ("not measured", "not measured in this run")
    assert "| site stage warm (template change) >= 2.5x Hugo's pages/s | not measured in this run | not measured |" \
        in goals_markdown(goals)


def test_a_case_run_in_pairs_is_judged_and_shown_by_its_median_pair():
    from measure import Measured
    from run import Compared, judge, pairs_text

    def pair(hugo: float, ours: float, peak: float = 200.0) -> tuple:
        return Measured(hugo, 2000.0, "", hugo), Measured(ours, peak, "", ours)

    # Ratios 0.60x, 0.50x, 0.85x in the order run: the figure is the median's, not the first's,
    # the last's, the best's or the mean (0.65x); the largest memory of any pair counts.
    cold = Compared("cold", [pair(24.0, 40.0), pair(20.0, 40.0), pair(25.5, 30.0, 900.0)])
    assert cold.median() == cold.pairs[0]
    warm = Compared("warm: template changed", [pair(20.0, 8.0), pair(20.0, 10.0)])  # 2.50x and 2.00x
    verdicts = {goal.text: (goal.verdict, goal.measured) for goal in judge({}, [cold, warm], [])}
    assert verdicts["site stage cold >= 0.6x Hugo's pages/s"] == ("yes", "0.60x")
    assert verdicts["site stage warm (template change) >= 2.5x Hugo's pages/s"] == ("yes", "2.50x")
    assert verdicts["peak memory of every stage <= 4 GB"] == ("yes", "largest 900 MB")
    assert pairs_text(cold) == ("; the median of 3 pairs in turn: 0.60x (24.0 s / 40.0 s), 0.50x (20.0 s / 40.0 s), "
                                "0.85x (25.5 s / 30.0 s)")
    assert pairs_text(Compared("no change", [pair(20.0, 0.2)])) == ""


def test_the_benchmarks_document_keeps_the_scale_section_another_benchmark_wrote(tmp_path):
    from report import write_markdown

    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\nold intro\n\n## Figures\n\nold\n\n## Scale\n\n| questions |\n|---|\n| 55,989 |\n")
    write_markdown(doc, "# Benchmarks\n\nnew intro", [("Figures", "new")], keep="Scale")
    assert doc.read_text() == ("# Benchmarks\n\nnew intro\n\n## Figures\n\nnew\n\n"
                               "## Scale\n\n| questions |\n|---|\n| 55,989 |\n")


def test_a_last_runs_folder_is_set_aside_whole_and_the_next_run_starts_from_none(tmp_path):
    out, into = tmp_path / "bench", tmp_path / "bench-set-aside"
    for run in ("first", "second"):
        set_aside(out, into)
        out.mkdir()  # as the bench's fresh build needs it: new and empty
        (out / "page.html").write_text(run)
    set_aside(out, into)
    set_aside(out, into)  # nothing there: nothing moved
    assert not out.exists()
    assert sorted(folder.joinpath("page.html").read_text() for folder in into.iterdir()) == ["first", "second"]


def test_a_commands_peak_memory_is_its_own_not_the_measuring_process():
    """Linux reports, as a child's peak memory, at least the peak of the process it was started
    from: a stage measured after the benchmark itself held hundreds of megabytes reported as
    much. Started through the launcher, each command's figure is its own."""
    held = bytearray(256 * 2**20)
    held[::4096] = b"x" * len(held[::4096])  # every page touched: resident
    del held
    small = run_measured(["true"])
    large = run_measured([sys.executable, "-c", "x = bytearray(160 * 2**20); x[::4096] = b'x' * len(x[::4096])"])
    assert small.peak_mb < 64
    assert 160 <= large.peak_mb < 256
    assert large.cpu_seconds > 0


def test_a_commands_system_time_is_reported_apart_within_its_cpu_time():
    "Making files is the kernel's work: a command that makes many shows it as system time."
    made = run_measured([sys.executable, "-c", "import os, tempfile\n"
                         "with tempfile.TemporaryDirectory() as d:\n"
                         "    for i in range(20000): os.close(os.open(f'{d}/{i}', os.O_CREAT | os.O_WRONLY))"])
    assert 0 < made.system_seconds <= made.cpu_seconds


def test_a_command_killed_by_a_signal_is_reported_killed_as_when_it_was_started_directly():
    "A stage the kernel kills for want of memory is reported so, not as an exit status of the launcher's making."
    with pytest.raises(subprocess.CalledProcessError) as failed:
        run_measured([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
    assert failed.value.returncode == -signal.SIGKILL
    assert "SIGKILL" in str(failed.value)


def damon_monitor(root: Path, name: str, state: str, action: str, least_age: int) -> None:
    "A DAMON monitor as Linux lists it: its state, one context's aggregation and one scheme."
    monitor = root / name
    context = monitor / "contexts" / "0"
    scheme = context / "schemes" / "0"
    (context / "monitoring_attrs" / "intervals").mkdir(parents=True)
    (scheme / "access_pattern" / "age").mkdir(parents=True)
    (monitor / "state").write_text(state + "\n")
    (context / "monitoring_attrs" / "intervals" / "aggr_us").write_text("5000000\n")
    (scheme / "action").write_text(action + "\n")
    (scheme / "access_pattern" / "age" / "min").write_text(f"{least_age}\n")


def test_the_machine_facts_say_whether_idle_memory_is_paged_out_and_after_how_long(tmp_path):
    assert idle_memory_reclaim(tmp_path / "none") == "kept (no DAMON pageout found)"
    damon_monitor(tmp_path, "0", "off", "pageout", 12)  # not running
    damon_monitor(tmp_path, "1", "on", "stat", 12)  # running, only counting
    assert idle_memory_reclaim(tmp_path) == "kept (no DAMON pageout found)"
    damon_monitor(tmp_path, "2", "on", "pageout", 12)  # ages count aggregations of 5 s
    assert idle_memory_reclaim(tmp_path) == "paged out once idle 60 s (DAMON)"
