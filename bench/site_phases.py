"""One site build in two timed phases: rendering (`site.build_site`) then search indexing
(`search.update_index`), the two halves of `answers site`, so the benchmarks can report the
search index apart.

Run as its own process by bench/run.py: `python bench/site_phases.py DB PAGES OUT`. Reads the
database and the pages, writes the site as `answers site` does, and prints one JSON line: the
seconds of each phase and the peak memory (MB) of this process and of Pagefind's.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from answers import search, site
from answers.render import SiteConfig


def peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def cpu_seconds() -> float:
    "User and system time of this process and of the children it waited for."
    return sum(usage.ru_utime + usage.ru_stime for usage in
               (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


def main(db_path: Path, pages_dir: Path, out_dir: Path) -> None:
    started, started_cpu = time.perf_counter(), cpu_seconds()
    report = site.build_site(db_path, pages_dir, out_dir, SiteConfig(), workers=2)
    rendered, rendered_cpu = time.perf_counter(), cpu_seconds()
    workers_peak = peak_mb(resource.RUSAGE_CHILDREN)
    result = search.update_index(db_path, out_dir)
    indexed = time.perf_counter()
    figures = {
        "render_s": rendered - started, "search_s": indexed - rendered,
        "render_cpu_s": rendered_cpu - started_cpu, "search_cpu_s": cpu_seconds() - rendered_cpu,
        "render_peak_mb": max(peak_mb(resource.RUSAGE_SELF), workers_peak),
        # Children's peak only grows: when Pagefind stays below the render workers it is not seen.
        "search_peak_mb": peak_mb(resource.RUSAGE_CHILDREN),
        "pages": report.question_pages, "rendered": report.rendered,
        "indexed": sum(result.indexed.values()),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main(*(Path(arg) for arg in sys.argv[1:4]))
