"""Measuring helpers for the benchmarks: run a command and take its wall time and the peak
memory of its largest process, and describe the machine the figures come from.

Reads nothing but /proc and the commands' own results; writes nothing.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

LAUNCHER = Path(__file__).resolve().with_name("launch.py")
# Where Linux lists DAMON's monitors and what each does with the memory it watches.
DAMON_MONITORS = Path("/sys/kernel/mm/damon/admin/kdamonds")


@dataclass
class Measured:
    """One run of a command: wall seconds, peak resident memory of its largest process, and
    the CPU seconds (user and system) of it and the descendants it waited for, which a busy
    machine inflates far less than the wall time, and the system's part of them: the kernel's
    work making files, which on this disk grows several times over for minutes after many
    files were removed (`set_aside`), whoever removed them."""

    seconds: float
    peak_mb: float
    output: str = ""
    cpu_seconds: float = 0.0
    system_seconds: float = 0.0


def run_measured(command: list[str], cwd: Path | None = None, env: dict | None = None) -> Measured:
    """Run a command to completion. Its peak memory comes from wait4, which reports the largest
    resident set of the process and of every descendant it waited for (render workers,
    Pagefind), the figure `/usr/bin/time -v` prints; the command is started by `launch.py`, so
    that the figure is not this process's own (see there). A failing command raises: a
    benchmark of a broken build means nothing."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "usage.json"
        process = subprocess.run([sys.executable, str(LAUNCHER), str(report), *command], cwd=cwd, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            raise subprocess.CalledProcessError(process.returncode, command, process.stdout)
        usage = json.loads(report.read_text(encoding="utf-8"))
    return Measured(seconds, usage["peak_kb"] / 1024, process.stdout, usage["cpu_seconds"],
                    usage["system_seconds"])


def set_aside(folder: Path, into: Path) -> None:
    """Move a folder into `into` at once, to be removed when the measuring is done. Removing a
    built archive (hundreds of thousands of files) takes minutes on this disk, and for minutes
    afterwards each file made on it searches past those removed (ext4 without a journal:
    `recently_deleted`): the fresh build measured just after removing the last run's folder
    took 152 s, against 110-135 s in three runs with nothing removed before them."""
    if folder.exists():
        into.mkdir(parents=True, exist_ok=True)
        folder.rename(into / f"{folder.name}-{time.time_ns()}")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def memory_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def tool_version(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return "missing"
    return (result.stdout or result.stderr).strip().splitlines()[0] if result.stdout or result.stderr else "?"


def machine() -> dict[str, str]:
    "What the figures were measured on."
    return {
        "cores": str(os.cpu_count()),
        "memory": f"{memory_gb():.1f} GB",
        # Which build: a distribution's (profile-guided) and a plain source build differ by about a tenth.
        "Python": f"{platform.python_version()} ({os.path.realpath(sys.executable)})",
        "Hugo": tool_version(["hugo", "version"]),
        "wrk": tool_version(["wrk", "--version"]),
        "system": f"{platform.system()} {platform.release()}",
        "memory left idle": idle_memory_reclaim(),
    }


def idle_memory_reclaim(monitors: Path = DAMON_MONITORS) -> str:
    """Whether the kernel pages out memory left idle (a DAMON monitor running a `pageout`
    scheme), and after how long. On a virtual machine that gives freed memory back to its host,
    such memory is slow to touch again: a first copy into it ran at about 115 MB/s where a
    second ran at 3 GB/s, so a build that writes gigabytes of new files pays for it in system
    time, run by run as much as the memory the machine has let go of."""
    found = []
    for scheme in sorted(monitors.glob("*/contexts/*/schemes/*")):
        monitor, context = scheme.parents[3], scheme.parents[1]
        try:
            if ((monitor / "state").read_text().strip() != "on"
                    or (scheme / "action").read_text().strip() != "pageout"):
                continue
            aggregation_us = int((context / "monitoring_attrs" / "intervals" / "aggr_us").read_text())
            least_age = int((scheme / "access_pattern" / "age" / "min").read_text())
        except (OSError, ValueError):
            continue
        found.append(f"paged out once idle {least_age * aggregation_us / 1e6:g} s (DAMON)")
    return "; ".join(found) or "kept (no DAMON pageout found)"
