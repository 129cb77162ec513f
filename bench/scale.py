"""Scale benchmark (`make bench-scale N=…`): the whole pipeline (db, pages, site with search)
over the real corpus and synthetic copies of it, at growing sizes, to see how time per question
and peak memory grow.

Synthetic questions are real API records with new keys, labelled as synthetic in the data: an
id raised by 10,000,000 a copy, a UIN prefixed `SYN<copy>-` (so keys read
`commons-2024-08-30-syn1-3283`), in files named `synthetic-copy-<copy>-<month>.json.gz`. They are
written under `build/scale/inputs/`, never in content/. Below the corpus's size, a share of it
is used instead (every 2nd or 4th record of each API month, real keys). Sizes double from a
quarter of the corpus (SCALE_FROM, default 0.25: 0.25x, 0.5x, 1x, 2x, 4x…) while the next one is
expected to fit in the time budget (SCALE_MINUTES, default 40) and the free disk; sizes up to
N that were not run are projected from the growth fitted over the sizes that were (from 1x up),
and are marked as projected.

Each stage is measured in wall time, in CPU time (user and system, of the stage and the
processes it waited for: a machine shared with other work inflates it far less than the wall
time) and in peak memory; the search index also by its bundles, the largest in questions.

Reads content/ and ../shared/corpus; writes build/scale/ (the figures also as
`build/scale/results.json`; the builds are removed once the figures are written) and the "Scale"
section of docs/BENCHMARKS.md. Prints a table.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path

from answers import search
from build import Build
from measure import load_average, machine, set_aside
from report import Table, megabytes

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
API = CORPUS / "uk-parliament-wq-api-json"
OUT = ROOT / "build" / "scale"
DOC = ROOT / "docs" / "BENCHMARKS.md"
SET_ASIDE = OUT / "set-aside"
MEMBERS = [CORPUS / "members", CORPUS / "parlparse-members"]
ID_STEP = 10_000_000
STAGES = ("db", "pages", "render", "search")
MEMORY_GOAL_MB = 4096


def synthetic(value: dict, copy: int) -> dict:
    "A real record under new keys: its id, UIN and grouped questions' UINs all moved."
    prefix = f"SYN{copy}-"
    value = dict(value, id=value["id"] + copy * ID_STEP, uin=prefix + str(value["uin"]))
    value["groupedQuestions"] = [prefix + str(uin) for uin in value.get("groupedQuestions") or []]
    value["groupedQuestionsDates"] = [dict(entry, questionUin=prefix + str(entry.get("questionUin")))
                                      for entry in value.get("groupedQuestionsDates") or []]
    return value


def write_copy(copy: int, folder: Path) -> None:
    "One synthetic copy of every month of the API JSON, one file per month."
    folder.mkdir(parents=True, exist_ok=True)
    for month in sorted(API.glob("*.json.gz")):
        items = json.loads(gzip.decompress(month.read_bytes()))
        moved = [{"value": synthetic(item["value"], copy), "links": item.get("links", [])} for item in items]
        data = json.dumps(moved, ensure_ascii=False, separators=(",", ":")).encode()
        target = folder / f"synthetic-copy-{copy:03d}-{month.name}"
        target.write_bytes(gzip.compress(data, compresslevel=1, mtime=0))


def write_share(share: float, folder: Path) -> None:
    "A share of every month of the API JSON (every n-th record, real keys kept), one file per month."
    folder.mkdir(parents=True, exist_ok=True)
    step = round(1 / share)
    for month in sorted(API.glob("*.json.gz")):
        items = json.loads(gzip.decompress(month.read_bytes()))[::step]
        data = json.dumps(items, ensure_ascii=False, separators=(",", ":")).encode()
        (folder / f"share-1-in-{step}-{month.name}").write_bytes(gzip.compress(data, compresslevel=1, mtime=0))


def api_sources(size: float, folder: Path) -> list[Path]:
    "The API JSON for a size: a share of the real months below 1x; above, the real months and copies."
    if size < 1:
        write_share(size, folder)
        return [folder]
    for copy in range(1, int(size)):
        write_copy(copy, folder)
    return [API, folder] if size > 1 else [API]


def run_size(size: float) -> dict:
    """A fresh build at a size (a multiple of the corpus's API questions), with content/ and the
    longform full texts; its figures per stage. Its inputs and output are kept until the end."""
    synthetic_dir = OUT / "inputs" / f"{size:g}x"
    set_aside(synthetic_dir, SET_ASIDE)
    out = OUT / f"{size:g}x"
    set_aside(out, SET_ASIDE)
    sources = [ROOT / "content", *api_sources(size, synthetic_dir), CORPUS / "uk-parliament-wq-longform-sqlite"]
    build = Build(out, sources, MEMBERS)
    figures = build.run()
    with sqlite3.connect(build.db) as connection:
        questions = connection.execute("select count(*) from questions").fetchone()[0]
    disk = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    result = {"copies": size, "questions": questions, "measured": True, "disk_mb": disk / 2**20,
              "db_s": figures.db.seconds, "pages_s": figures.pages.seconds,
              "render_s": figures.phases["render_s"], "search_s": figures.phases["search_s"],
              "db_cpu": figures.db.cpu_seconds, "pages_cpu": figures.pages.cpu_seconds,
              "render_cpu": figures.phases["render_cpu_s"], "search_cpu": figures.phases["search_cpu_s"],
              "db_mb": figures.db.peak_mb, "pages_mb": figures.pages.peak_mb,
              "site_mb": figures.site.peak_mb, "load": load_average(), **bundle_sizes(build.db)}
    return result


def bundle_sizes(db_path: Path) -> dict:
    "How the search index is cut at this size: its bundles, and the questions in the largest."
    with sqlite3.connect(db_path) as connection:
        urls = [url for (url,) in connection.execute("select url from questions where url is not null")]
    shards = search.split_shards(urls, search.SHARD_LIMIT)
    return {"bundles": len(shards), "largest_bundle": max(map(len, shards.values()), default=0)}


FIGURES = [f"{stage}_s" for stage in STAGES] + [f"{stage}_cpu" for stage in STAGES] + \
    ["db_mb", "pages_mb", "site_mb"]


def growth_exponent(points: list[dict], name: str) -> float:
    """The power of the size that a figure grows by: a least-squares line through the logs of
    the measured sizes from 1x up (all of them if fewer than two are), 1 with one size."""
    from_corpus = [row for row in points if (row["copies"] or 0) >= 1]
    points = [row for row in (from_corpus if len(from_corpus) > 1 else points) if row[name] > 0]
    if len(points) < 2:
        return 1.0
    xs = [math.log(row["questions"]) for row in points]
    ys = [math.log(row[name]) for row in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def projected(measured: list[dict], questions: int) -> dict:
    "Figures at a size not run: each grown from the largest measured size by its fitted power."
    last = measured[-1]
    result = {"copies": None, "questions": questions, "measured": False, "load": "",
              "disk_mb": last["disk_mb"] * questions / last["questions"], "bundles": None,
              "largest_bundle": None}
    for name in FIGURES:
        result[name] = last[name] * (questions / last["questions"]) ** growth_exponent(measured, name)
    return result


def per_question_ratios(row: dict, base: dict | None) -> str:
    "Each stage's CPU time per question as a multiple of that at the corpus's own size."
    if not base:
        return ""
    return " / ".join(f"{(row[f'{stage}_cpu'] / row['questions']) / (base[f'{stage}_cpu'] / base['questions']):.2f}"
                      for stage in STAGES)


def table_of(results: list[dict]) -> Table:
    table = Table(["questions", "measured?", "wall time", "wall per 1,000 questions",
                   "CPU db / pages / render / search", "CPU per question ÷ 1x's",
                   "peak memory db / pages / site", "search bundles (largest)", "output on disk", "load average"])
    base = next((row for row in results if row["measured"] and row["copies"] == 1), None)
    for row in results:
        total = sum(row[f"{stage}_s"] for stage in STAGES)
        bundles = f"{row['bundles']:,} ({row['largest_bundle']:,})" if row["bundles"] else ""
        table.add(f"{row['questions']:,}", "projected" if not row["measured"]
                  else "measured (run before)" if row.get("earlier") else "measured",
                  f"{total / 60:.1f} min", f"{total / row['questions'] * 1000:.2f} s",
                  " / ".join(f"{row[f'{stage}_cpu']:.0f} s" for stage in STAGES),
                  per_question_ratios(row, base),
                  " / ".join(megabytes(row[name]) for name in ("db_mb", "pages_mb", "site_mb")),
                  bundles, f"{row['disk_mb'] / 1024:.1f} GB", row["load"])
    return table


def write_section(table: Table, target: int, budget: float) -> None:
    "Replace the Scale section of docs/BENCHMARKS.md (the last one), keeping the rest."
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    text = text.split("\n## Scale\n")[0].rstrip() + "\n"
    facts = machine()
    section = f"""
## Scale

`make bench-scale N={target}` (`bench/scale.py`): fresh builds of the whole pipeline (db, pages,
site with downloads and search) over the real corpus plus synthetic copies of its API JSON
(real records with new ids and UINs prefixed `SYN<copy>-`, in files named
`synthetic-copy-…`, written under `build/scale/`), or below 1x a share of its API records (every
2nd or 4th), always with `content/` and the longform full texts; doubling the size while the
next size was expected to fit a {budget:.0f}-minute budget and the free disk. CPU time is user
and system time of each stage and the processes it waited for (render workers, Pagefind): on a
machine shared with other work it is the steadier measure of cost per question; "÷ 1x's" divides
each stage's CPU time per question by that at the corpus's own size (the goal: at most 1.2).
Peak memory is that of each stage's largest process (the goal: at most {MEMORY_GOAL_MB:,} MB); the site
stage's is that of its main process (the listings), a render worker or Pagefind, each
started afresh (`bench/launch.py`). Search bundles hold at most
{search.SHARD_LIMIT:,} questions each (`search.SHARD_LIMIT`). Rows marked *projected* were
not run: each figure is grown from the largest measured size as a power of the size, the power
fitted by least squares through the measured sizes from 1x up; rows marked *measured (run
before)* come from the run this one went on from (SCALE_EARLIER). Machine: {facts['cores']} cores,
{facts['memory']}, Python {facts['Python']}.

{table.markdown()}
"""
    DOC.write_text(text + section, encoding="utf-8")


def earlier_results(path: str | None) -> list[dict]:
    """The measured sizes of an earlier run on this machine (its results.json), for a run that
    goes on from where that one stopped (SCALE_EARLIER, with SCALE_FROM the next size)."""
    if not path:
        return []
    return [dict(row, earlier=True) for row in json.loads(Path(path).read_text(encoding="utf-8"))
            if row["measured"]]


def main() -> None:
    target = int(os.environ.get("N") or (sys.argv[1] if len(sys.argv) > 1 else 1_000_000))
    budget = float(os.environ.get("SCALE_MINUTES") or 40)
    started = time.perf_counter()
    results = earlier_results(os.environ.get("SCALE_EARLIER"))
    size = float(os.environ.get("SCALE_FROM") or 0.25)
    while True:
        print(f"Building {size:g}x the corpus (load average {load_average()})…", flush=True)
        results.append(run_size(size))
        print(table_of(results).text(), flush=True)
        last = results[-1]
        spent = (time.perf_counter() - started) / 60
        next_minutes = (last["db_s"] + last["pages_s"] + last["render_s"] + last["search_s"]) / 60 * 2.2
        free_gb = shutil.disk_usage(ROOT).free / 2**30
        if last["questions"] >= target or spent + next_minutes > budget or \
                last["disk_mb"] * 2.5 / 1024 > free_gb - 10:
            break
        size *= 2
    (OUT / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    measured = list(results)
    size = results[-1]["questions"] * 2
    while size < target:
        results.append(projected(measured, size))
        size *= 2
    if results[-1]["questions"] < target:
        results.append(projected(measured, target))
    table = table_of(results)
    print(table.text())
    write_section(table, target, budget)
    print(f"\n{(time.perf_counter() - started) / 60:.1f} min; written to {DOC.relative_to(ROOT)}; "
          f"removing the builds…", flush=True)
    for folder in [SET_ASIDE, OUT / "inputs", *(OUT / f"{row['copies']:g}x" for row in measured
                                                  if not row.get("earlier"))]:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
