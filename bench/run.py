"""Benchmarks: time and peak memory of each build stage over the shared corpus, then the
response times of the JSON API. Prints figures; asserts nothing.

Run with `make bench` (it builds into build/bench/, leaving build/ alone).
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
BIN = Path(sys.executable).parent
OUT = ROOT / "build" / "bench"
SOURCES = [
    ROOT / "content",
    CORPUS / "uk-parliament-wq-api-json",
    CORPUS / "uk-parliament-wq-longform-sqlite",
    CORPUS / "twfy-parlparse-xml",
    CORPUS / "data-parliament-uk-answered-csv",
]
MEMBERS = [CORPUS / "members", CORPUS / "parlparse-members"]


def run_stage(name: str, command: list[str]) -> None:
    "Run one stage as its own process and print its wall time and peak memory."
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of any child so far: report it only when it grew.
    memory = f"{peak / 1024:.0f} MB" if peak > before else f"<= {before / 1024:.0f} MB"
    print(f"{name:<28}{seconds:>9.1f} s{memory:>14}")


def stages() -> None:
    db = OUT / "answers.db"
    members = [flag for path in MEMBERS for flag in ("--members", str(path))]
    print(f"{'stage':<28}{'time':>11}{'peak memory':>14}")
    if db.exists():
        db.unlink()
    run_stage("db (full corpus, fresh)", [str(BIN / "answers"), "db", *map(str, SOURCES),
                                          "--db", str(db), *members])
    run_stage("db (nothing changed)", [str(BIN / "answers"), "db", *map(str, SOURCES),
                                       "--db", str(db), *members])
    for stage, args in (("pages", ["--db", str(db), "--out", str(OUT / "pages")]),
                        ("site", ["--db", str(db), "--pages", str(OUT / "pages"),
                                  "--out", str(OUT / "site")])):
        if stage_available(stage):
            run_stage(f"{stage} (fresh)", [str(BIN / "answers"), stage, *args])
            run_stage(f"{stage} (nothing changed)", [str(BIN / "answers"), stage, *args])


def stage_available(stage: str) -> bool:
    result = subprocess.run([str(BIN / "answers"), stage, "--help"], capture_output=True)
    return result.returncode == 0


async def api_timings() -> None:
    """Median server time and size of typical API requests, in process (no network), with
    the configuration `answers serve` uses."""
    from answers.serve import ensure_inspect_file, make_datasette

    db_path = OUT / "answers.db"
    ds = make_datasette(db_path, inspect_file=ensure_inspect_file(db_path))
    key = (await ds.client.get("/answers/questions.json?_shape=array&_size=1&_col=key")).json()[0]["key"]
    requests = {
        "table page (default)": "/answers/questions.json",
        "table page, 100 rows": "/answers/questions.json?_size=100",
        "listing without answers, 100": "/answers/question_list.json?_size=100&_nofacet=1",
        "one row": f"/answers/questions/{key}.json",
        "full-text search": "/answers/questions.json?_search=school+funding",
        "facet by body": "/answers/questions.json?_facet=answering_body&_size=0",
    }
    print(f"\n{'API request':<28}{'median':>11}{'size':>14}")
    for name, path in requests.items():
        times, size = [], 0
        for _ in range(7):
            started = time.perf_counter()
            response = await ds.client.get(path)
            times.append(time.perf_counter() - started)
            size = len(response.content)
        print(f"{name:<28}{statistics.median(times) * 1000:>8.0f} ms{size / 1024:>11.0f} KB")


def main() -> None:
    if not CORPUS.is_dir():
        sys.exit(f"The shared corpus is missing: expected {CORPUS}")
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"Benchmarks on {os.cpu_count()} cores, corpus {CORPUS}\n")
    stages()
    asyncio.run(api_timings())


if __name__ == "__main__":
    main()
