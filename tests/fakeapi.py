"""A local stand-in for the Written Questions API, for tests that must not touch the internet.

It serves real records (from the corpus) the way the API does: `GET .../questions` pages
through them with `skip` and `take`, filters on the tabled/answered/corrected dates and the
House, and wraps a page in `{results, totalResults}`; `GET .../questions/{id}` gives one
question with its full text. It can also misbehave on cue: rate limiting (429 with
Retry-After), server errors, a response slower than the client's timeout, truncated JSON, and
live data that shifts between pages.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PREFIX = "/api/writtenquestions/questions"
DATE_FIELDS = {"tabled": "dateTabled", "answered": "dateAnswered", "corrected": "dateAnswerCorrected"}
MAX_TAKE = 100


def load_month(corpus: Path, month: str) -> tuple[list[dict], dict[int, dict]]:
    """The list records of one month of the API corpus, and the longform full texts by id."""
    listing = json.loads(gzip.decompress(
        (corpus / "uk-parliament-wq-api-json" / f"{month}.json.gz").read_bytes()))
    sqlite_bytes = gzip.decompress(
        (corpus / "uk-parliament-wq-longform-sqlite" / f"{month}.sqlite.gz").read_bytes())
    # SQLite reads a database from a file (these were saved in WAL mode, which rules out
    # reading them from memory), so the gunzipped bytes go to a temporary folder first.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{month}.sqlite"
        path.write_bytes(sqlite_bytes)
        db = sqlite3.connect(path)
        try:
            rows = db.execute("select key, value from Dict").fetchall()
        finally:
            db.close()
    full_texts = {int(key): json.loads(value) for key, value in rows}
    return [item["value"] for item in listing], full_texts


def clip_for_list(value: dict) -> dict:
    """A full record as the list endpoint shows it: the question cut to 255 characters, the
    answer stripped of markup and cut to 255 characters followed by '...'."""
    clipped = dict(value)
    if clipped.get("questionText"):
        clipped["questionText"] = clipped["questionText"][:255]
    if clipped.get("answerText"):
        plain = re.sub(r"<[^>]+>", "", clipped["answerText"])
        clipped["answerText"] = plain[:255] + "..." if len(plain) > 255 else plain
    return clipped


@dataclass
class Request:
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    status: int = 0


@dataclass
class FakeApi:
    """`records` are list-view records (as the list endpoint returns them); `full_texts`
    maps an id to `{"question_text", "answer_text"}` for the single-question endpoint, which
    answers 404 for any other id."""

    records: list[dict]
    full_texts: dict[int, dict] = field(default_factory=dict)
    faults: dict[int, str] = field(default_factory=dict)  # request number (from 1) -> fault
    arrivals: dict[int, int] = field(default_factory=dict)  # id -> list pages before it appears
    moves: dict[int, int] = field(default_factory=dict)  # id -> list pages before it moves up
    slow_seconds: float = 0.6
    retry_after: str = "7"
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self):
        self.lock = threading.Lock()
        self.list_requests = 0
        self.front: list[int] = []  # ids that arrived or moved: listed first, newest first

    # -- serving --------------------------------------------------------------------------------

    def __enter__(self) -> FakeApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                api.handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        "The API root to give the fetcher (it appends /questions)."
        host, port = self.server.server_address
        return f"http://{host}:{port}/api/writtenquestions"

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        params = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        request = Request(parts.path, params, dict(handler.headers))
        with self.lock:
            self.requests.append(request)
            fault = self.faults.get(len(self.requests))
            status, body = self.route(parts.path, params, served=fault is None)
        request.status = 200 if fault == "slow" else {"429": 429, "500": 500}.get(fault, status)
        try:
            self.respond(handler, fault, status, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting, as it should

    def respond(self, handler, fault: str | None, status: int, body: bytes) -> None:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if fault == "429":
            status, body = 429, b'{"status":429,"title":"Too many requests"}'
            headers["Retry-After"] = self.retry_after
        elif fault == "500":
            status, body = 500, b'{"status":500,"title":"Internal server error"}'
        elif fault == "truncated":
            body = body[: len(body) // 2]
        elif fault == "slow":
            time.sleep(self.slow_seconds)
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def route(self, path: str, params: dict[str, str], served: bool) -> tuple[int, bytes]:
        if path.rstrip("/").lower() == PREFIX:
            return 200, encode(self.list_page(params, served))
        if path.lower().startswith(PREFIX + "/") and path.rsplit("/", 1)[-1].isdigit():
            response = self.question(int(path.rsplit("/", 1)[-1]))
            return (200, encode(response)) if response else (404, b'{"status":404}')
        return 404, b'{"status":404}'

    # -- the API's behaviour --------------------------------------------------------------------

    def list_page(self, params: dict[str, str], served: bool = True) -> dict:
        "One page; data shifts are timed by the pages served whole (not those faulted)."
        self.shift_data()
        self.list_requests += served
        matching = [value for value in self.ordered() if self.matches(value, params)]
        skip = int(params.get("skip", 0))
        take = min(int(params.get("take", 20)), MAX_TAKE)
        return {
            "results": [with_links(value) for value in matching[skip: skip + take]],
            "totalResults": len(matching),
        }

    def shift_data(self) -> None:
        "Live data: records arrive, or move up the order, after a number of list requests."
        for api_id, after in list(self.arrivals.items()) + list(self.moves.items()):
            if after == self.list_requests and api_id not in self.front:
                self.front.insert(0, api_id)

    def ordered(self) -> list[dict]:
        by_id = {value["id"]: value for value in self.records}
        waiting = {api_id for api_id in self.arrivals if api_id not in self.front}
        first = [by_id[api_id] for api_id in self.front]
        rest = [value for value in self.records
                if value["id"] not in self.front and value["id"] not in waiting]
        return first + rest

    @staticmethod
    def matches(value: dict, params: dict[str, str]) -> bool:
        if params.get("house") and value.get("house") != params["house"]:
            return False
        for kind, name in DATE_FIELDS.items():
            start, end = params.get(f"{kind}WhenFrom"), params.get(f"{kind}WhenTo")
            if not (start or end):
                continue
            day = (value.get(name) or "")[:10]
            if not day or (start and day < start) or (end and day > end):
                return False
        return True

    def question(self, api_id: int) -> dict | None:
        listed = next((value for value in self.records if value["id"] == api_id), None)
        full = self.full_texts.get(api_id)
        if listed is None or full is None:
            return None
        value = dict(listed)
        value["questionText"] = full["question_text"]
        if listed.get("answerText") and full.get("answer_text"):
            value["answerText"] = full["answer_text"]
        return with_links(value)

    # -- what the tests look at -----------------------------------------------------------------

    def served(self, kind: str) -> list[Request]:
        "Requests answered in full: 'list' pages or single 'question's."
        wanted = (lambda path: path == PREFIX) if kind == "list" else (lambda path: path != PREFIX)
        return [request for number, request in enumerate(self.requests, start=1)
                if wanted(request.path) and number not in self.faults]


def with_links(value: dict) -> dict:
    return {"value": value,
            "links": [{"rel": "self", "href": f"/Questions/{value['id']}", "method": "GET"}]}


def encode(response: dict) -> bytes:
    return json.dumps(response, ensure_ascii=False).encode("utf-8")
