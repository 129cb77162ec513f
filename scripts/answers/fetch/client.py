"""The HTTP client for the Written Questions API, and its manners.

Reads the API over HTTPS: `{api_url}/questions` (a page of the list) and
`{api_url}/questions/{id}` (one question in full). Requests are spaced by a rate limit, name
the project in their User-Agent, time out, and are retried with exponential backoff (or the
server's Retry-After) on 429, 5xx, dropped connections and truncated or malformed JSON; a
response is checked for the shape the API promises before it is returned. Writes nothing.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from .run import Window

DEFAULT_API_URL = "https://questions-statements-api.parliament.uk/api/writtenquestions"
HOUSES = ("Commons", "Lords")
MAX_TAKE = 100  # the API's largest page


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

