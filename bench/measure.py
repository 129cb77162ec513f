"""Measuring helpers for the benchmarks: run a command and take its wall time and the peak
memory of its largest process, and describe the machine the figures come from.

Reads nothing but /proc and the commands' own results; writes nothing.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measured:
    """One run of a command: wall seconds, peak resident memory of its largest process, and
    the CPU seconds (user and system) of it and the descendants it waited for, which a busy
    machine inflates far less than the wall time."""

    seconds: float
    peak_mb: float
    output: str = ""
    cpu_seconds: float = 0.0


def run_measured(command: list[str], cwd: Path | None = None, env: dict | None = None) -> Measured:
    """Run a command to completion. Its peak memory comes from wait4, which reports the largest
    resident set of the process and of every descendant it waited for (render workers,
    Pagefind), the figure `/usr/bin/time -v` prints. A failing command raises: a benchmark of a
    broken build means nothing."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command, output)
    return Measured(seconds, usage.ru_maxrss / 1024, output, usage.ru_utime + usage.ru_stime)


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
        "Python": platform.python_version(),
        "Hugo": tool_version(["hugo", "version"]),
        "wrk": tool_version(["wrk", "--version"]),
        "system": f"{platform.system()} {platform.release()}",
    }
