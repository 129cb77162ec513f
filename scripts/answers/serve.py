"""Serve what the build made: the static archive and, beside it, Datasette over the database.

Both run in this one process: the archive (build/site) with Python's http.server in a thread,
Datasette with uvicorn in the main thread. Ctrl-C or SIGTERM stops Datasette gracefully, then
the archive's server; both sockets are closed before `serve` returns.

`make_datasette` is the one place the Datasette configuration is assembled (metadata.yml, our
plugins, our templates, the settings below), so that the tests exercise what production serves.
`free_port` and `port_is_free` are for those who start `serve` and stop it again (the tests, the
benchmarks, the soak).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import uvicorn
import yaml
from datasette.app import Datasette

from . import settings as defaults

PROJECT = Path(__file__).resolve().parents[2]
METADATA = PROJECT / "metadata.yml"
PLUGINS = PROJECT / "plugins"
DATASETTE_TEMPLATES = PROJECT / "templates" / "datasette"

# Measured on the whole corpus (see the README's API section for the figures).
SETTINGS = {
    # Suggesting facets costs more than the rest of a table page put together; the facets
    # configured in metadata.yml are still computed.
    "suggest_facets": False,
    # Generous, so that primary-key lookups never fail under load, yet a runaway ?sql= query
    # is still stopped.
    "sql_time_limit_ms": 3000,
    "facet_time_limit_ms": 1000,
    "max_returned_rows": 1000,
    "default_page_size": 50,
    # The database is immutable between builds.
    "default_cache_ttl": 3600,
}


# Internal queries (facet counts, table counts, schema lookups) whose results are kept: the
# database is immutable while it is served, so that a result never goes stale.
CACHED_QUERIES = 1024


class ArchiveDatasette(Datasette):
    """Datasette, with what it recomputes on every request over a file that never changes kept.

    Measured on the whole corpus: Datasette 0.65 deep-copies the whole metadata (descriptions
    and ready-made queries) for each table permission check, 1.2 ms of a row's 4 ms; the five
    facets and the row count of the default question_list cost 55 of its 60 ms. With their
    queries kept, joining each facet value's absolute URL and the schema lookups (a thread hop
    each) were still half of its time: those are kept too."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._table_allows: dict[tuple[str, str], list] = {}
        for database in self.databases.values():
            if not database.is_mutable and not database.is_memory:
                database.execute = keep_internal_results(database.execute)
                for name in SCHEMA_LOOKUPS:
                    setattr(database, name, keep_schema_answers(getattr(database, name)))
        self._joined_urls = functools.lru_cache(maxsize=JOINED_URLS)(self._join_url)

    def _table_permission_allows(self, database, table):
        # metadata.yml is read once, at start: its rules cannot change while serving.
        key = (database, table)
        if key not in self._table_allows:
            self._table_allows[key] = super()._table_permission_allows(database, table)
        return self._table_allows[key]

    def absolute_url(self, request, path):
        # A table page links each facet value by an absolute URL, and urllib's urljoin made
        # them half of the default question_list's time: the same request URL and path give
        # the same URL, so each is joined once.
        return self._joined_urls(request.url, str(path))

    def _join_url(self, request_url: str, path: str) -> str:
        return super().absolute_url(SimpleNamespace(url=request_url), path)


def keep_internal_results(execute):
    """Database.execute that keeps the results of whole (untruncated) queries: the facet and
    count queries of table pages. Truncated queries, a page's rows and ?sql=, run each time."""
    results = {}

    @functools.wraps(execute)
    async def execute_keeping_results(sql, params=None, truncate=False, **kwargs):
        if truncate:
            return await execute(sql, params, truncate=truncate, **kwargs)
        key = (sql, json.dumps(params, sort_keys=True, default=str), json.dumps(kwargs, sort_keys=True))
        if key not in results:
            if len(results) >= CACHED_QUERIES:
                results.pop(next(iter(results)))
            results[key] = await execute(sql, params, truncate=truncate, **kwargs)
        return results[key]

    return execute_keeping_results


# Schema lookups Datasette makes on every table page, each by a hop to a database thread (a
# dozen a question_list page): their answers hold as long as the file is served.
SCHEMA_LOOKUPS = ("table_columns", "table_column_details", "primary_keys", "fts_table",
                  "foreign_keys_for_table")
# Absolute URLs kept: a table page with its facets links about fifty.
JOINED_URLS = 4096


def keep_schema_answers(lookup):
    "A Database schema lookup (by table name) that asks each table once; callers get a copy."
    answers = {}

    @functools.wraps(lookup)
    async def lookup_once(table):
        if table not in answers:
            answers[table] = await lookup(table)
        return copy.deepcopy(answers[table])

    return lookup_once


class ServeError(Exception):
    "The servers could not start."


@dataclass(frozen=True)
class ServeOptions:
    site_dir: Path
    db_path: Path
    host: str = defaults.HOST.default
    site_port: int = defaults.SITE_PORT.default
    datasette_port: int = defaults.DATASETTE_PORT.default

    @property
    def site_url(self) -> str:
        return f"http://{self.host}:{self.site_port}/"

    @property
    def datasette_url(self) -> str:
        return f"http://{self.host}:{self.datasette_port}/"


def load_metadata(path: Path = METADATA, archive_url: str | None = None) -> dict:
    "metadata.yml, with the archive's address replaced when it is served elsewhere."
    metadata = yaml.safe_load(path.read_text(encoding="utf-8"))
    if archive_url:
        metadata.setdefault("plugins", {}).setdefault("answer_html", {})["archive_url"] = archive_url
    return metadata


def make_datasette(
    db_path: Path,
    archive_url: str | None = None,
    inspect_file: Path | None = None,
    settings: dict | None = None,
) -> Datasette:
    """Datasette over the database, configured as the archive serves it.

    The database is opened immutable: Datasette may then cache counts (from `inspect_file`)
    and skip locking. The file must be named answers.db: its stem is the database's name.
    """
    inspect_data = json.loads(inspect_file.read_text()) if inspect_file else None
    return ArchiveDatasette(
        immutables=[str(db_path)],
        inspect_data=inspect_data,
        metadata=load_metadata(archive_url=archive_url),
        plugins_dir=str(PLUGINS),
        template_dir=str(DATASETTE_TEMPLATES),
        settings={**SETTINGS, **(settings or {})},
    )


def inspect_path_for(db_path: Path) -> Path:
    return db_path.with_name("counts.json")


def ensure_inspect_file(db_path: Path) -> Path:
    """`datasette inspect` the database into counts.json beside it, unless that is newer.

    Table counts of an immutable database are then read from the file, not counted per request.
    """
    inspect_file = inspect_path_for(db_path)
    if inspect_file.exists() and inspect_file.stat().st_mtime >= db_path.stat().st_mtime:
        return inspect_file
    command = [sys.executable, "-m", "datasette", "inspect", str(db_path),
               "--inspect-file", str(inspect_file)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServeError(f"could not count the tables of {db_path}: {result.stderr.strip()}")
    return inspect_file


def bind(host: str, port: int) -> socket.socket:
    "A listening socket, or ServeError if the port is taken."
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only
    # on connections whose socket says TCP. Without it every keep-alive response waited for a
    # delayed ACK: 50 ms a JSON row, 180 requests a second where Datasette alone serves 600.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror}") from error
    sock.listen(128)
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    "A port nothing listens on now, for a server about to be started (by the tests and benchmarks)."
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    "Whether nothing listens on the port and `serve` could listen there again."
    with socket.socket() as client:
        if client.connect_ex((host, port)) == 0:
            return False
    try:
        bind(host, port).close()  # as `serve` binds: connections just closed do not hold the port
    except ServeError:
        return False
    return True


class SiteServer(ThreadingHTTPServer):
    "http.server over the built site, on a socket bound beforehand."

    daemon_threads = True

    def __init__(self, sock: socket.socket, site_dir: Path):
        handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site_dir))
        super().__init__(sock.getsockname(), handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock


def check_inputs(options: ServeOptions) -> None:
    if not options.db_path.is_file():
        raise ServeError(f"no database at {options.db_path}: run `make build` first")
    if not (options.site_dir / "index.html").is_file():
        raise ServeError(f"no site at {options.site_dir}: run `make build` first")
    if options.db_path.name != "answers.db":
        raise ServeError(f"the database must be named answers.db, not {options.db_path.name}")


# Beside the database: the copy of it this server serves, and its table counts.
SERVING_FOLDER = ".serving"


def serving_copy(db_path: Path) -> Path:
    """The database as it is now, copied for this server alone (named answers.db, in
    `SERVING_FOLDER` beside it), and kept while the database is unchanged since it was taken.
    Datasette opens what it serves immutable, and a build updates the database in place: served
    itself, a running server would read pages half changed and fail with "database disk image
    is malformed", or read what a killed update left for its rollback journal to undo. SQLite's
    backup takes the copy whole, at one moment, and the connection it reads through (opened
    for writing) plays such a journal back first. A new build is served from the next start."""
    snapshot = db_path.parent / SERVING_FOLDER / db_path.name
    snapshot.parent.mkdir(exist_ok=True)
    taken = db_path.stat().st_mtime_ns  # before the copy: a build writing meanwhile makes it newer
    if snapshot.is_file() and snapshot.stat().st_mtime_ns == taken:
        return snapshot
    snapshot.unlink(missing_ok=True)
    try:
        with contextlib.closing(sqlite3.connect(db_path)) as source, \
                contextlib.closing(sqlite3.connect(snapshot)) as target:
            source.backup(target)
    except sqlite3.Error as error:
        snapshot.unlink(missing_ok=True)
        raise ServeError(f"cannot read {db_path}: {error}") from error
    os.utime(snapshot, ns=(taken, taken))  # which state of the database it holds
    return snapshot


def serve(options: ServeOptions) -> None:
    """Serve the archive and Datasette until interrupted (Ctrl-C or SIGTERM)."""
    check_inputs(options)
    served = serving_copy(options.db_path)
    inspect_file = ensure_inspect_file(served)
    datasette = make_datasette(served, options.site_url, inspect_file)
    site_socket = bind(options.host, options.site_port)
    try:
        datasette_socket = bind(options.host, options.datasette_port)
    except ServeError:
        site_socket.close()
        raise
    site_server = SiteServer(site_socket, options.site_dir)
    site_thread = threading.Thread(target=site_server.serve_forever, name="archive-site", daemon=True)
    site_thread.start()
    # uvicorn stops gracefully on SIGINT or SIGTERM, then re-raises the signal with the
    # handler that was there before: making that KeyboardInterrupt for SIGTERM too lets the
    # `finally` below close the archive's server in both cases.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        # No line a request on the terminal: it cost 15% of the requests a second.
        config = uvicorn.Config(datasette.app(), log_level="info", access_log=False, lifespan="on")
        uvicorn.Server(config).run(sockets=[datasette_socket])
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        site_server.shutdown()
        site_server.server_close()
        datasette_socket.close()
        site_thread.join()
