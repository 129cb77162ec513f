"""Keeping the archive current: new and changed questions from the official Written Questions API.

`fetch` pages through the questions tabled, answered or corrected in a date range, in both
Houses, asks for the full text of every record the list endpoint clipped (once a question:
a full text already held is reused), and keeps the raw responses as the API returned them,
one gzip file a month under `content/api/`. The package has three parts:

- `client`: the HTTP client, with its rate limit, timeouts and retries;
- `archive`: the month files, the journal and the fetch state on disk;
- `run`: the run that drives a fetch, resumable after an interruption.

Nothing here prints: a fetch reports through its `on_event` callback and returns a summary.
"""

from .archive import JOURNAL_NAME, STATE_NAME, Archive, MonthFile, Run, State, gzip_json, is_clipped
from .client import (
    DEFAULT_API_URL,
    HOUSES,
    MAX_TAKE,
    Client,
    FetchError,
    Settings,
    retry_after_seconds,
)
from .run import Event, Summary, Window, choose_run, fetch, plan_windows

__all__ = [
    "DEFAULT_API_URL", "HOUSES", "JOURNAL_NAME", "MAX_TAKE", "STATE_NAME", "Archive", "Client",
    "Event", "FetchError", "MonthFile", "Run", "Settings", "State", "Summary", "Window",
    "choose_run", "fetch", "gzip_json", "is_clipped", "plan_windows", "retry_after_seconds",
]
