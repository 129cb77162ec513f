"""Datasette under bounded loopback load: `answers serve` against plain `datasette -i` on the
same database file, one request kind at a time, measured with wrk.

Reads `<build>/answers.db` and `<build>/site/`; starts two servers on free loopback ports and
stops them; writes nothing (Datasette's counts file aside, which `answers serve` keeps beside
the database).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from answers.serve import free_port

BIN = Path(sys.executable).parent
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class LoadResult:
    p50_ms: float
    p99_ms: float
    requests_per_s: float
    errors: int


def wait_until_up(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise RuntimeError(f"no answer from {url} after {seconds:.0f} s")


@contextmanager
def server(command: list[str], url: str):
    "A server in its own process group, up before the block runs and stopped after it."
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        wait_until_up(url)
        yield
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * UNITS[unit]


def parse_wrk(output: str) -> LoadResult:
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+(?:us|ms|s))\s*$", output, re.M))
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|timeout)\D*(\d+)", output))
    errors += sum(int(n) for n in re.findall(r"Socket errors: connect (\d+), read (\d+), write (\d+)", output)[0]) \
        if "Socket errors" in output else 0
    return LoadResult(milliseconds(percentiles["50"]), milliseconds(percentiles["99"]),
                      float(rate.group(1)), errors)


def wrk(url: str, seconds: int, connections: int) -> LoadResult:
    command = ["wrk", "--latency", "-t", "2", "-c", str(connections), "-d", f"{seconds}s",
               "--timeout", "10s", url]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(result.stdout)


def requests_to_make(key: str, body: str) -> dict[str, str]:
    "The request kinds, by name: paths on the `answers` database."
    return {
        "row JSON": f"/answers/questions/{key}.json",
        "question_list.json (default)": "/answers/question_list.json",
        "filtered listing": "/answers/question_list.json?answering_body="
                            + urllib.request.quote(body) + "&_sort_desc=date_answered",
        "full-text search": "/answers/questions.json?_search=school+funding",
    }


def compare(build: Path, key: str, body: str, seconds: int = 8, connections: int = 10):
    """Each request kind against both servers in turn, so both meet the same machine load.
    Yields (name, ours, plain)."""
    ours_port, plain_port = free_port(), free_port()
    ours = [str(BIN / "answers"), "serve", "--build", str(build), "--site-port", str(free_port()),
            "--datasette-port", str(ours_port)]
    plain = [str(BIN / "datasette"), "serve", "-i", str(build / "answers.db"), "-p", str(plain_port)]
    with server(ours, f"http://127.0.0.1:{ours_port}/answers.json"), \
            server(plain, f"http://127.0.0.1:{plain_port}/answers.json"):
        for name, path in requests_to_make(key, body).items():
            mine = wrk(f"http://127.0.0.1:{ours_port}{path}", seconds, connections)
            theirs = wrk(f"http://127.0.0.1:{plain_port}{path}", seconds, connections)
            yield name, mine, theirs
