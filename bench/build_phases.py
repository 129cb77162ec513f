"""One `answers build`, what `make build` runs, in this process with each stage timed apart:
the database (`build.build_database`), the pages (`pages.write_pages`), the site's rendering
(`site.build_site`) and its search indexing (`search.update_index`).

Run as its own process by bench/build.py: `python bench/build_phases.py build SOURCES… OPTIONS…`
(the arguments of `answers build`). Reads and writes what `answers build` does; prints its
output, then one JSON line: each stage's wall and CPU seconds and peak memory (MB), the pages
the site stage rendered and the questions the search stage indexed. The search stage runs
beside the pages and site stages, from the end of the db stage (cli.search_beside), so their
spans overlap: each stage's CPU seconds are the whole process's over its span, and only the
build's total wall and CPU seconds add up.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

from answers import build, cli, pages, search, site

STAGES = {"db": (build, "build_database"), "pages": (pages, "write_pages"),
          "render": (site, "build_site"), "search": (search, "update_index")}
figures: dict = {f"{stage}_{kind}": 0.0 for stage in STAGES for kind in ("s", "cpu_s", "peak_mb")}


def cpu_seconds() -> float:
    "User and system time of this process and of the children it waited for."
    return sum(usage.ru_utime + usage.ru_stime for usage in
               (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


def own_peak_mb() -> float:
    "This process's peak resident memory since `reset_peak` (VmHWM)."
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    "Start this process's peak afresh, so that each stage gets its own (Linux: clear_refs 5)."
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # the peak then carries over from the stages before


def timed(stage: str, function):
    def run_stage(*args, **kwargs):
        reset_peak()
        started, started_cpu = time.perf_counter(), cpu_seconds()
        result = function(*args, **kwargs)
        figures[f"{stage}_s"] = time.perf_counter() - started
        figures[f"{stage}_cpu_s"] = cpu_seconds() - started_cpu
        # Children's peak only grows: the render workers', then Pagefind's if it is larger.
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        figures[f"{stage}_peak_mb"] = max(own_peak_mb(), children if stage in ("render", "search") else 0)
        if stage == "render":
            figures.update(pages=result.question_pages, rendered=result.rendered)
        if stage == "search":
            figures["indexed"] = sum(result.indexed.values())
        return result
    return run_stage


def timed_beside() -> None:
    """The search index made beside the pages and site stages, in a process of its own
    (`search.IndexingProcess`, whose `update_index` is not this process's): timed from its
    start to the end of its process, and its CPU seconds its own and its Pagefind processes',
    both written down in a pipe as it ends. (Not this process's CPU from its start to its
    result: that span holds the pages and site stages too.)"""
    start, result, index_in_child = (search.IndexingProcess.start, search.IndexingProcess.result,
                                     search.index_in_child)
    span = {}

    def start_timed(db_path, site_dir):
        span.update(started=time.perf_counter(), ended=os.pipe())
        return start(db_path, site_dir)

    def index_timed(sender, db_path, site_dir):  # in the indexing's process
        try:
            index_in_child(sender, db_path, site_dir)
        finally:
            os.write(span["ended"][1], f"{time.perf_counter()!r} {cpu_seconds()!r}".encode())

    def result_timed(indexing):
        try:
            report = result(indexing)
        finally:
            os.close(span["ended"][1])
            with os.fdopen(span["ended"][0], "rb") as ended:
                written = ended.read()
        ended, cpu = written.split() if written else (time.perf_counter(), None)
        figures["search_s"] = float(ended) - span["started"]
        if cpu is not None:  # a process killed before it wrote has no figure
            figures["search_cpu_s"] = float(cpu)
        figures["search_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        figures["indexed"] = sum(report.indexed.values())
        return report

    search.IndexingProcess.start = staticmethod(start_timed)
    search.IndexingProcess.result = result_timed
    search.index_in_child = index_timed


def main(arguments: list[str]) -> None:
    for stage, (module, name) in STAGES.items():
        setattr(module, name, timed(stage, getattr(module, name)))
    timed_beside()
    cli.cli.main(args=arguments, prog_name="answers", standalone_mode=False)
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1:])
