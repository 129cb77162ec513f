"""`answers serve`: the archive and Datasette side by side, started as a user starts them and
stopped with Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from answers import serve
from answers.build import build_database
from answers.serve import free_port, port_is_free
from conftest import CORPUS

ANSWERS = Path(sys.executable).with_name("answers")
HOME_PAGE = "<!doctype html><title>Written Answers Archive</title><h1>Written Answers Archive</h1>\n"


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory) -> Path:
    "A small build: a real database, and a one-page site standing in for build/site."
    build = tmp_path_factory.mktemp("build")
    build_database([CORPUS / "samples" / "api-edge-cases.json"], build / "answers.db")
    (build / "site").mkdir()
    (build / "site" / "index.html").write_text(HOME_PAGE, encoding="utf-8")
    return build


def start(build_dir: Path, site_port: int, datasette_port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [str(ANSWERS), "serve", "--build", str(build_dir),
         "--site-port", str(site_port), "--datasette-port", str(datasette_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wait_until_up(url: str, process: subprocess.Popen, attempts: int = 150) -> httpx.Response:
    for _ in range(attempts):
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.stdout.read()}")
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


@pytest.mark.corpus
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_answers_both_servers_and_stops_cleanly(build_dir, stop_signal):
    site_port, datasette_port = free_port(), free_port()
    process = start(build_dir, site_port, datasette_port)
    try:
        api = wait_until_up(f"http://127.0.0.1:{datasette_port}/answers/questions.json?_shape=array&_size=5",
                            process)
        home = httpx.get(f"http://127.0.0.1:{site_port}/", timeout=5)
    finally:
        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=30)

    assert api.status_code == 200
    rows = api.json()
    assert len(rows) == 5
    assert all(row["key"].startswith("commons-") and row["url"].endswith("/") for row in rows)
    assert home.status_code == 200
    assert home.text == HOME_PAGE

    assert process.returncode == 0, output
    assert f"Archive:   http://127.0.0.1:{site_port}/" in output
    assert "Stopped." in output
    assert port_is_free(site_port) and port_is_free(datasette_port)


@pytest.mark.corpus
def test_serve_counts_tables_once_into_an_inspect_file(build_dir):
    site_port, datasette_port = free_port(), free_port()
    process = start(build_dir, site_port, datasette_port)
    try:
        wait_until_up(f"http://127.0.0.1:{datasette_port}/answers.json", process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    counts = json.loads((build_dir / serve.SERVING_FOLDER / "counts.json").read_text())
    assert counts["answers"]["tables"]["questions"]["count"] == 59  # the samples' 59 records


@pytest.mark.corpus
def test_serve_refuses_a_port_in_use(build_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = taken.getsockname()[1]
        result = subprocess.run(
            [str(ANSWERS), "serve", "--build", str(build_dir),
             "--site-port", str(free_port()), "--datasette-port", str(busy)],
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{busy}" in result.stderr


def test_serve_without_a_build_says_what_to_do(tmp_path):
    result = subprocess.run([str(ANSWERS), "serve", "--build", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "run `make build` first" in result.stderr


def test_servers_listen_on_tcp_sockets_so_that_responses_are_not_held_back():
    # asyncio disables Nagle's algorithm only on sockets that name TCP as their protocol:
    # with protocol 0 each keep-alive response waited ~40 ms for a delayed ACK.
    sock = serve.bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_a_port_is_free_again_once_its_server_has_closed():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        assert not port_is_free(port)
    assert port_is_free(port)
    assert port_is_free(free_port())


@pytest.mark.corpus
def test_serve_after_an_update_killed_part_way_serves_the_database_as_it_was(tmp_path):
    """A killed update leaves its changes half written in the database file and undone only by
    its rollback journal, which a database opened immutable (as Datasette serves it) ignores:
    served as it lies, the file gave rows of the unfinished update (its indexes broken)."""
    from test_build_incremental import KILLED_IN_ITS_TRANSACTION, answered, month_files, write

    folder, db_path = tmp_path / "api", tmp_path / "answers.db"
    _, current = month_files(folder)
    build_database([folder], db_path)
    with sqlite3.connect(db_path) as db:
        before = [key for (key,) in db.execute("select key from questions order by key")]
    write(current, [answered(3, "<p>Three answered.</p>"), answered(4, "<p>Four refused.</p>", "2024-08-09"),
                    answered(5, "<p>Five answered.</p>"), answered(6, "<p>Six corrected figures.</p>", "2024-08-10")])
    killed = subprocess.run([sys.executable, "-c", KILLED_IN_ITS_TRANSACTION, str(folder), str(db_path)])
    assert killed.returncode == -signal.SIGKILL
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text(HOME_PAGE, encoding="utf-8")

    site_port, datasette_port = free_port(), free_port()
    process = start(tmp_path, site_port, datasette_port)
    try:
        served = wait_until_up(f"http://127.0.0.1:{datasette_port}/answers/questions.json"
                               "?_shape=array&_col=key", process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert sorted(row["key"] for row in served.json()) == before
    counts = json.loads((tmp_path / serve.SERVING_FOLDER / "counts.json").read_text())
    assert counts["answers"]["tables"]["questions"]["count"] == 5


@pytest.mark.corpus
def test_a_running_server_keeps_serving_what_it_started_with_while_a_build_updates(tmp_path):
    """A build updates the database in place: a server reading that very file (immutable)
    failed every query after it with "database disk image is malformed". It serves its own
    copy, whole, until it is started again."""
    from test_build_incremental import answered, month_files, write

    folder, db_path = tmp_path / "api", tmp_path / "answers.db"
    _, current = month_files(folder)
    first = [answered(number, f"<p>Answer {number} {'words ' * 200}</p>") for number in range(3, 400)]
    write(current, first)
    build_database([folder], db_path)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text(HOME_PAGE, encoding="utf-8")
    count = "answers.json?_shape=array&sql=select+count(*)+as+n,+max(length(answer_html))+as+longest+from+questions"

    site_port, datasette_port = free_port(), free_port()
    process = start(tmp_path, site_port, datasette_port)
    try:
        before = wait_until_up(f"http://127.0.0.1:{datasette_port}/{count}", process).json()
        write(current, first + [answered(number, f"<p>New {number} {'more ' * 300}</p>", "2024-08-09")
                                for number in range(400, 700)])
        assert not build_database([folder], db_path).rebuilt
        during = httpx.get(f"http://127.0.0.1:{datasette_port}/{count}", timeout=5)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert before[0]["n"] == 399
    assert during.status_code == 200 and during.json() == before
