"""Keeping the archive current: new and changed questions from the official Written Questions API.

`fetch` pages through the questions tabled, answered or corrected in a date range, in both
Houses, and asks for the full text of every record the list endpoint clipped. It keeps the raw
responses as the API returned them, one gzip file a month under `content/api/`:

- `content/api/YYYY-MM.json.gz`: a JSON list of list-page envelopes (`{results, totalResults}`)
  and single-question responses (`{value, links}`), in the order they were fetched. The month
  is the month of the date range a response was fetched for. A page whose every record the
  file already holds, byte for byte, is not added (nor is a single-question response the file
  already holds), so fetching unchanged data changes no file. Records repeated across pages
  are kept as returned: the database build collapses them.
- `content/api/.fetch-state.json`: the end date of the last complete fetch, and the progress
  of an unfinished one (which query, which `skip`, counters), saved after every page.
- `content/api/.fetch-journal.jsonl`: responses fetched but not yet filed into the month
  files, one JSON line each, flushed to disk before the progress that counts them is saved.
  A fetch files them at its end, and first thing after a crash.

Month files and the state are written atomically (a temporary file, then `os.replace`) with
deterministic bytes (gzip without a timestamp or name, no clock time in any data), so an
interrupted fetch never leaves a torn file and an unchanged month keeps its sha256.

This module never prints: it reports through the `on_event` callback and returns a summary.
"""

from __future__ import annotations

import calendar
import email.utils
import gzip
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path

import httpx

from .sources import api_json

DEFAULT_API_URL = "https://questions-statements-api.parliament.uk/api/writtenquestions"
HOUSES = ("Commons", "Lords")
# Each kind of date the list endpoint filters on, with its query parameter prefix: together
# they catch new questions, answers that arrived, and corrections to old answers.
KINDS = ("tabled", "answered", "corrected")
MAX_TAKE = 100  # the API's largest page
DEFAULT_DAYS = 30  # the first fetch, with no state and no --since, looks back this far
STATE_NAME = ".fetch-state.json"
JOURNAL_NAME = ".fetch-journal.jsonl"


class FetchError(Exception):
    "The API could not be read, even after retrying."


class InvalidResponse(ValueError):
    "A response that is not the JSON the API promises (truncated, or the wrong shape)."


def user_agent() -> str:
    try:
        version = metadata.version("written-answers-archive")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"written-answers-archive/{version}"


# -- settings, events and the summary ----------------------------------------------------------

@dataclass
class Settings:
    """How to reach the API and how politely.

    `api_url` is the root of the Written Questions API: the fetcher asks for
    `{api_url}/questions` (the list) and `{api_url}/questions/{id}` (one question in full).
    """

    api_url: str = DEFAULT_API_URL
    houses: tuple[str, ...] = HOUSES
    take: int = MAX_TAKE
    rate: float = 2.0  # requests a second at most; 0 for no limit
    timeout: float = 30.0  # seconds for any one request
    max_retries: int = 5  # further attempts after a failed request
    backoff: float = 1.0  # seconds before the first retry, doubling each time
    max_backoff: float = 120.0  # no wait is longer than this, whatever Retry-After says
    max_passes: int = 3  # times a date range is paged through before its count is trusted

    def __post_init__(self):
        if not 1 <= self.take <= MAX_TAKE:
            raise ValueError(f"take must be between 1 and {MAX_TAKE}")
        if self.rate < 0:
            raise ValueError("rate must not be negative")
        self.api_url = self.api_url.rstrip("/")


@dataclass(frozen=True)
class Event:
    "Progress, for a progress bar: `windows_done` of `windows` date ranges are complete."

    kind: str  # "page", "full_text", "retry" or "window"
    window: str  # the current query, in words
    windows_done: int
    windows: int
    records: int = 0  # records of the current query seen so far
    total: int = 0  # records the current query has, as the API last said
    detail: str = ""


@dataclass
class Summary:
    "What a fetch did. Counts cover the whole run, across any interruptions it resumed from."

    since: str
    until: str
    resumed: bool = False
    pages: int = 0
    records: int = 0  # as returned, duplicates across pages included
    unique_ids: int = 0
    full_texts: int = 0
    full_texts_missing: int = 0  # clipped records the API had no single response for
    retries: int = 0
    repasses: int = 0  # date ranges paged through again because records went missing
    files_changed: list[str] = field(default_factory=list)


# -- the date ranges a fetch asks for ------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    "One query: questions of one House with one kind of date within [start, end]."

    house: str
    kind: str
    start: date
    end: date

    @property
    def month(self) -> str:
        return self.start.strftime("%Y-%m")

    def params(self) -> dict[str, str]:
        return {
            f"{self.kind}WhenFrom": self.start.isoformat(),
            f"{self.kind}WhenTo": self.end.isoformat(),
            "house": self.house,
            # Withdrawn questions are left out unless asked for; the archive marks them.
            "includeWithdrawn": "true",
        }

    def describe(self) -> str:
        return f"{self.house} {self.kind} {self.start.isoformat()}..{self.end.isoformat()}"


def month_ranges(since: date, until: date) -> Iterator[tuple[date, date]]:
    "[since, until] cut at month ends, so that each piece files into one month."
    start = since
    while start <= until:
        last_day = calendar.monthrange(start.year, start.month)[1]
        end = min(until, start.replace(day=last_day))
        yield start, end
        start = end + timedelta(days=1)


def plan_windows(since: date, until: date, houses: Iterable[str]) -> list[Window]:
    return [
        Window(house, kind, start, end)
        for start, end in month_ranges(since, until)
        for house in houses
        for kind in KINDS
    ]


# -- politeness: rate limit, retries, timeouts ----------------------------------------------------

class Throttle:
    "Spaces requests at least 1/rate seconds apart, on an injectable clock."

    def __init__(self, rate: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self.last: float | None = None

    def wait(self) -> None:
        if self.interval and self.last is not None:
            remaining = self.last + self.interval - self.clock()
            if remaining > 0:
                self.sleep(remaining)
        self.last = self.clock()


class Transient(Exception):
    "A failure worth retrying, with the wait the server asked for (if it asked)."

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


def retry_after_seconds(header: str | None) -> float | None:
    "Retry-After as seconds: either a number of seconds or an HTTP date."
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Client:
    """GETs JSON from the API: rate-limited, retried with exponential backoff on 429, 5xx,
    timeouts, dropped connections and truncated or malformed JSON."""

    def __init__(self, settings: Settings, sleep=time.sleep, clock=time.monotonic,
                 on_retry: Callable[[str], None] = lambda reason: None, transport=None):
        self.settings = settings
        self.sleep = sleep
        self.on_retry = on_retry
        self.throttle = Throttle(settings.rate, clock, sleep)
        self.http = httpx.Client(
            headers={"User-Agent": user_agent(), "Accept": "application/json"},
            timeout=settings.timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def list_page(self, window: Window, skip: int) -> dict:
        params = {**window.params(), "skip": str(skip), "take": str(self.settings.take)}
        return self.get(f"{self.settings.api_url}/questions", params, check_list_page)

    def question(self, api_id: int) -> dict | None:
        "The full record of one question, or None when the API has no such question."
        url = f"{self.settings.api_url}/questions/{api_id}"
        return self.get(url, {}, lambda body: check_question(body, api_id), missing_ok=True)

    def get(self, url: str, params: dict, check, missing_ok: bool = False):
        attempt = 0
        while True:
            try:
                return self.attempt(url, params, check, missing_ok)
            except Transient as failure:
                if attempt >= self.settings.max_retries:
                    raise FetchError(f"{url}: {failure} (gave up after {attempt + 1} attempts)") from failure
                self.on_retry(str(failure))
                self.sleep(self.delay(attempt, failure.retry_after))
                attempt += 1

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.settings.max_backoff)
        return min(self.settings.backoff * 2 ** attempt, self.settings.max_backoff)

    def attempt(self, url: str, params: dict, check, missing_ok: bool):
        self.throttle.wait()
        try:
            response = self.http.get(url, params=params)
        except httpx.TimeoutException as error:
            raise Transient(f"timed out ({type(error).__name__})") from error
        except httpx.TransportError as error:
            raise Transient(f"connection failed ({error})") from error
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code == 429 or response.status_code >= 500:
            raise Transient(f"HTTP {response.status_code}",
                            retry_after_seconds(response.headers.get("Retry-After")))
        if response.status_code != 200:
            raise FetchError(f"{response.request.url}: HTTP {response.status_code}")
        try:
            return check(response.json())
        except (ValueError, InvalidResponse) as error:
            raise Transient(f"invalid JSON ({error})") from error


def check_list_page(body) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise InvalidResponse("no results list")
    if not isinstance(body.get("totalResults"), int):
        raise InvalidResponse("no totalResults")
    for item in body["results"]:
        record_id(item)
    return body


def check_question(body, api_id: int) -> dict:
    if record_id(body) != api_id:
        raise InvalidResponse(f"asked for question {api_id}, got another")
    return body


def record_id(item) -> int:
    value = item.get("value") if isinstance(item, dict) else None
    api_id = value.get("id") if isinstance(value, dict) else None
    if not isinstance(api_id, int) or isinstance(api_id, bool):
        raise InvalidResponse("a record without an id")
    return api_id


# -- what a record needs -------------------------------------------------------------------------

def is_clipped(value: dict) -> bool:
    "Whether the list endpoint cut this record's question or answer."
    return (api_json.question_is_clipped(value.get("questionText"))
            or api_json.answer_is_clipped(value.get("answerText")))


def stage(value: dict) -> list:
    """Where a question is in its life. A full text fetched at another stage (before the
    answer came, or before a correction) is out of date, and is fetched again."""
    return [value.get("dateAnswered"), value.get("dateAnswerCorrected"),
            value.get("dateHoldingAnswer"), bool(value.get("answerIsHolding")),
            bool(value.get("isWithdrawn"))]


def response_values(response: dict) -> list[dict]:
    "The question records in a list page or a single-question response."
    if "results" in response:
        return [item["value"] for item in response["results"]]
    return [response["value"]]


def canonical(value: dict) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# -- files ---------------------------------------------------------------------------------------

def write_atomically(path: Path, data: bytes) -> bool:
    "Replace the file's bytes in one step. False (and nothing written) if they are the same."
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)  # temporary files are private; content is not
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return True


def gzip_json(value) -> bytes:
    "JSON, gzipped without a timestamp or file name: the same data always gives the same bytes."
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


class MonthFile:
    "The responses of one month, and what they already say."

    def __init__(self, path: Path):
        self.path = path
        self.responses: list = []
        if path.exists():
            self.responses = json.loads(gzip.decompress(path.read_bytes()))
        self.held: set[str] = set()  # every record held, from pages and single responses
        self.singles: set[str] = set()  # the records of single-question responses
        self.full_texts: dict[int, list] = {}  # id -> stage of the full text held
        for response in self.responses:
            self.note(response)

    def note(self, response: dict) -> None:
        values = [canonical(value) for value in response_values(response)]
        self.held.update(values)
        if "results" not in response:
            self.singles.update(values)
            self.full_texts[response["value"]["id"]] = stage(response["value"])

    def adds_anything(self, response: dict) -> bool:
        """A page adds records not held yet. A single-question response is kept unless the
        same one is held: even when its text equals the listed text (a question of exactly
        255 characters), it is what shows that the text is whole."""
        held = self.held if "results" in response else self.singles
        return any(canonical(value) not in held for value in response_values(response))

    def add(self, response: dict) -> bool:
        "Keep a response unless it adds nothing. True if kept."
        kept = self.adds_anything(response)
        if kept:
            self.responses.append(response)
        self.note(response)
        return kept

    def has_full_text(self, value: dict) -> bool:
        return self.full_texts.get(value["id"]) == stage(value)

    def save(self) -> bool:
        return write_atomically(self.path, gzip_json(self.responses))


class Journal:
    """Responses fetched and not yet filed: one JSON line each, flushed and synced before the
    progress that counts them is saved. A torn last line (a crash mid-write) is ignored."""

    def __init__(self, path: Path):
        self.path = path

    def append(self, month: str, response: dict) -> None:
        line = json.dumps({"month": month, "response": response}, ensure_ascii=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def entries(self) -> Iterator[tuple[str, dict]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                yield entry["month"], entry["response"]

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


class Archive:
    "The month files under content/api/, loaded as a fetch needs them."

    def __init__(self, folder: Path):
        self.folder = folder
        self.journal = Journal(folder / JOURNAL_NAME)
        self.months: dict[str, MonthFile] = {}
        self.pending: set[str] = set()  # months with responses in the journal only

    def month(self, name: str) -> MonthFile:
        if name not in self.months:
            self.months[name] = MonthFile(self.folder / f"{name}.json.gz")
        return self.months[name]

    def keep(self, month: str, response: dict) -> None:
        "Journal a response that adds something to its month; drop one that adds nothing."
        if self.month(month).add(response):
            self.journal.append(month, response)
            self.pending.add(month)

    def file_journal(self) -> list[str]:
        """Write the journalled responses into their month files, then empty the journal.
        Safe to repeat: a response already filed adds nothing the second time."""
        for month, response in self.journal.entries():
            if self.month(month).add(response):
                self.pending.add(month)
        changed = [str(self.months[name].path) for name in sorted(self.pending)
                   if self.months[name].save()]
        self.pending.clear()
        self.journal.clear()
        return changed


# -- progress that survives an interruption ------------------------------------------------------

@dataclass
class Run:
    "An unfinished fetch: its range, where it is, and its counts so far."

    since: str
    until: str
    houses: list[str]
    window: int = 0
    skip: int = 0
    passes: int = 1
    window_ids: list[int] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # full texts the API did not have: id, stage
    pages: int = 0
    records: int = 0
    full_texts: int = 0
    full_texts_missing: int = 0
    retries: int = 0
    repasses: int = 0


class State:
    "The small JSON file that says what was fetched last, and how far an unfinished fetch got."

    def __init__(self, path: Path):
        self.path = path
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        self.last_fetch: str | None = data.get("last_fetch")
        self.run: Run | None = Run(**data["run"]) if data.get("run") else None

    def save(self) -> None:
        data = {"last_fetch": self.last_fetch, "run": asdict(self.run) if self.run else None}
        text = json.dumps(data, indent=1, sort_keys=True) + "\n"
        write_atomically(self.path, text.encode("utf-8"))


def choose_run(state: State, since: date | None, until: date | None, today: date,
               houses: Iterable[str]) -> tuple[Run, bool]:
    """The run to do: the unfinished one, unless the dates asked for differ from its dates;
    otherwise a new one from --since, or from the last fetch, or from DEFAULT_DAYS ago."""
    houses = list(houses)
    pending = state.run
    if pending is not None and pending.houses == houses:
        if since is None or since.isoformat() == pending.since:
            if until is None or until.isoformat() == pending.until:
                return pending, True
    if since is None:
        since = (date.fromisoformat(state.last_fetch) if state.last_fetch
                 else today - timedelta(days=DEFAULT_DAYS))
    until = until or today
    if since > until:
        raise ValueError(f"since ({since}) is after until ({until})")
    return Run(since.isoformat(), until.isoformat(), houses), False


# -- the fetch ----------------------------------------------------------------------------------

class Fetcher:
    "Works through a run's windows page by page, saving progress after every page."

    def __init__(self, run: Run, state: State, archive: Archive, client: Client,
                 settings: Settings, on_event: Callable[[Event], None]):
        self.run = run
        self.state = state
        self.archive = archive
        self.client = client
        self.settings = settings
        self.on_event = on_event
        self.windows = plan_windows(date.fromisoformat(run.since), date.fromisoformat(run.until),
                                    run.houses)
        self.seen = set(run.ids)

    def fetch_all(self) -> None:
        while self.run.window < len(self.windows):
            window = self.windows[self.run.window]
            self.fetch_window(window)
            self.next_window(window)

    def fetch_window(self, window: Window) -> None:
        while True:
            page = self.client.list_page(window, self.run.skip)
            results = page["results"]
            self.archive.keep(window.month, page)
            self.fetch_full_texts(window, results)
            self.count_page(results)
            self.state.save()
            self.emit("page", window, total=page["totalResults"])
            if self.window_done(results, page["totalResults"]):
                if not self.repass_needed(page["totalResults"]):
                    return

    def window_done(self, results: list, total: int) -> bool:
        "The last page, or (when paging again) as soon as every record has been seen."
        complete = len(self.run.window_ids) >= total
        return not results or self.run.skip >= total or (self.run.passes > 1 and complete)

    def repass_needed(self, total: int) -> bool:
        """Records move between pages while we page (the API lists live data): a record that
        arrives at the front pushes another onto the next page too, where we see it twice,
        and is itself never on a page we ask for. If fewer records came than the API counts,
        page through the range again until they are all seen; the records already held add
        nothing to the files."""
        if len(self.run.window_ids) >= total or self.run.passes >= self.settings.max_passes:
            return False
        self.run.passes += 1
        self.run.repasses += 1
        self.run.skip = 0
        self.state.save()
        return True

    def count_page(self, results: list) -> None:
        ids = [item["value"]["id"] for item in results]
        self.run.skip += len(results)
        self.run.pages += 1
        self.run.records += len(results)
        in_window = set(self.run.window_ids)
        self.run.window_ids.extend(sorted(set(ids) - in_window))
        new = set(ids) - self.seen
        self.seen.update(new)
        self.run.ids.extend(sorted(new))

    def fetch_full_texts(self, window: Window, results: list) -> None:
        month = self.archive.month(window.month)
        for item in results:
            value = item["value"]
            wanted = f"{value['id']} {json.dumps(stage(value))}"
            if not is_clipped(value) or month.has_full_text(value) or wanted in self.run.missing:
                continue
            response = self.client.question(value["id"])
            if response is None:
                self.run.missing.append(wanted)
                self.run.full_texts_missing += 1
                continue
            self.archive.keep(window.month, response)
            self.run.full_texts += 1
            self.emit("full_text", window, detail=str(value["id"]))

    def next_window(self, window: Window) -> None:
        self.run.window += 1
        self.run.skip = 0
        self.run.passes = 1
        self.run.window_ids = []
        self.state.save()
        self.emit("window", window)

    def count_retry(self, reason: str) -> None:
        self.run.retries += 1
        if self.run.window < len(self.windows):
            self.emit("retry", self.windows[self.run.window], detail=reason)

    def emit(self, kind: str, window: Window, total: int = 0, detail: str = "") -> None:
        self.on_event(Event(kind, window.describe(), self.run.window, len(self.windows),
                            len(self.run.window_ids), total, detail))


def fetch(
    content: Path,
    since: date | None = None,
    until: date | None = None,
    settings: Settings | None = None,
    on_event: Callable[[Event], None] = lambda event: None,
    today: date | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    transport: httpx.BaseTransport | None = None,
) -> Summary:
    """Fetch the questions tabled, answered or corrected from `since` to `until` (inclusive)
    into `content/api/`, resuming an unfinished fetch of the same range where it stopped.

    Without `since`, a fetch starts from the end date of the last complete fetch (that day is
    asked for again, since it may have grown), or DEFAULT_DAYS before today on the first fetch.
    """
    settings = settings or Settings()
    folder = Path(content) / "api"
    archive = Archive(folder)
    files_changed = archive.file_journal()  # what a crashed fetch left behind
    state = State(folder / STATE_NAME)
    run, resumed = choose_run(state, since, until, today or date.today(), settings.houses)
    state.run = run
    client = Client(settings, sleep=sleep, clock=clock, transport=transport)
    fetcher = Fetcher(run, state, archive, client, settings, on_event)
    client.on_retry = fetcher.count_retry
    try:
        state.save()
        fetcher.fetch_all()
    finally:
        client.close()
        # Whether the fetch finished or not, what it fetched goes into the month files (the
        # saved progress already counts it), and its counts are kept for the resumed run.
        files_changed += archive.file_journal()
        state.save()
    state.last_fetch = max(filter(None, [state.last_fetch, run.until]))
    state.run = None
    state.save()
    return summarize(run, resumed, sorted(set(files_changed)))


def summarize(run: Run, resumed: bool, files_changed: list[str]) -> Summary:
    return Summary(
        since=run.since, until=run.until, resumed=resumed, pages=run.pages,
        records=run.records, unique_ids=len(set(run.ids)), full_texts=run.full_texts,
        full_texts_missing=run.full_texts_missing, retries=run.retries,
        repasses=run.repasses, files_changed=files_changed,
    )
