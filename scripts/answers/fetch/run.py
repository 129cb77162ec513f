"""A fetch, from the date range asked for to the month files: the run that drives it.

Plans the queries (each House, each kind of date, cut at month ends), pages through each with
the `client`, asks for the full text of every record the list clipped, and hands every
response to the `archive`, saving progress after each page so that an interrupted fetch
resumes where it stopped. Reads and writes only through those two; never prints: it reports
through the `on_event` callback and returns a `Summary`.
"""

from __future__ import annotations

import calendar
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx

from .archive import STATE_NAME, Archive, Run, State, is_clipped, stage
from .client import Client, Settings

# Each kind of date the list endpoint filters on, with its query parameter prefix: together
# they catch new questions, answers that arrived, and corrections to old answers.
KINDS = ("tabled", "answered", "corrected")
DEFAULT_DAYS = 30  # the first fetch, with no state and no --since, looks back this far


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
    full_texts: int = 0  # asked for and received
    full_texts_reused: int = 0  # already held for another month's file: copied, not asked
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
            if not is_clipped(value) or month.has_full_text(value):
                continue
            held = self.archive.held_full_text(value)
            if held is not None:
                # Listed in an earlier window too (tabled in one month, answered in the
                # next): the month's file gets a copy of the full text, not a second request.
                self.archive.keep(window.month, held)
                self.run.full_texts_reused += 1
                continue
            wanted = f"{value['id']} {json.dumps(stage(value))}"
            if wanted in self.run.missing:
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
    archive.remove_leftovers()
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
        full_texts_reused=run.full_texts_reused,
        full_texts_missing=run.full_texts_missing, retries=run.retries,
        repasses=run.repasses, files_changed=files_changed,
    )
