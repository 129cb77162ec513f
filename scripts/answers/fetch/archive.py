"""The fetched responses on disk: the month files, the journal and the fetch state.

Reads and writes, under `content/api/`:

- `YYYY-MM.json.gz`: a JSON list of list-page envelopes (`{results, totalResults}`) and
  single-question responses (`{value, links}`), in the order they were fetched. The month is
  the month of the date range a response was fetched for. A page whose every record the file
  already holds, byte for byte, is not added (nor is a single-question response the file
  already holds), so fetching unchanged data changes no file. Records repeated across pages
  are kept as returned: the database build collapses them.
- `.fetch-state.json`: the end date of the last complete fetch, and the progress of an
  unfinished one (which query, which `skip`, counters), saved after every page.
- `.fetch-journal.jsonl`: responses fetched but not yet filed into the month files, one JSON
  line each, flushed to disk before the progress that counts them is saved. A fetch files
  them at its end, and first thing after a crash.

Month files and the state are replaced atomically (`atomic.write_atomically`) with
deterministic bytes (gzip without a timestamp or name, no clock time in any data), so an
interrupted fetch never leaves a torn file and an unchanged month keeps its sha256.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..atomic import remove_temporary_files, write_atomically
from ..model import answer_is_clipped, question_is_clipped

STATE_NAME = ".fetch-state.json"
JOURNAL_NAME = ".fetch-journal.jsonl"
MONTH = re.compile(r"\d{4}-\d{2}")


# -- what a record needs -------------------------------------------------------------------------

def is_clipped(value: dict) -> bool:
    "Whether the list endpoint cut this record's question or answer."
    return (question_is_clipped(value.get("questionText"))
            or answer_is_clipped(value.get("answerText")))


def stage(value: dict) -> list:
    """Where a question is in its life. A full text fetched at another stage (before the
    answer came, or before a correction) is out of date, and is fetched again."""
    return [value.get("dateAnswered"), value.get("dateAnswerCorrected"),
            value.get("dateHoldingAnswer"), bool(value.get("answerIsHolding")),
            bool(value.get("isWithdrawn"))]


def months_listed_in(value: dict) -> set[str]:
    "The months ('YYYY-MM') whose queries list this record, from its own dates."
    dates = (value.get(name) for name in ("dateTabled", "dateAnswered", "dateAnswerCorrected"))
    months = {str(day)[:7] for day in dates if day}
    return {month for month in months if MONTH.fullmatch(month)}  # never a stray file name


def response_values(response: dict) -> list[dict]:
    "The question records in a list page or a single-question response."
    if "results" in response:
        return [item["value"] for item in response["results"]]
    return [response["value"]]


def canonical(value: dict) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# -- files on disk -----------------------------------------------------------------------------

def save_if_changed(path: Path, data: bytes) -> bool:
    "Replace the file's bytes, synced to disk. False (and nothing written) if they are the same."
    if path.exists() and path.read_bytes() == data:
        return False
    write_atomically(path, data, durable=True)
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
        self.full_texts: dict[int, dict] = {}  # id -> the latest single response held
        for response in self.responses:
            self.note(response)

    def note(self, response: dict) -> None:
        values = [canonical(value) for value in response_values(response)]
        self.held.update(values)
        if "results" not in response:
            self.singles.update(values)
            self.full_texts[response["value"]["id"]] = response

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

    def full_text(self, value: dict) -> dict | None:
        "The single response held for this listed record, if fetched at the record's stage."
        response = self.full_texts.get(value["id"])
        if response is not None and stage(response["value"]) == stage(value):
            return response
        return None

    def has_full_text(self, value: dict) -> bool:
        return self.full_text(value) is not None

    def save(self) -> bool:
        return save_if_changed(self.path, gzip_json(self.responses))


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

    def held_full_text(self, value: dict) -> dict | None:
        """A single response already held for this listed record at its stage, in any month
        file that could hold it: the months of its dates (a question is listed in the month
        it was tabled, answered or corrected in) and the months this fetch has loaded."""
        names = sorted(set(self.months) | months_listed_in(value))
        for name in names:
            response = self.month(name).full_text(value)
            if response is not None:
                return response
        return None

    def keep(self, month: str, response: dict) -> None:
        "Journal a response that adds something to its month; drop one that adds nothing."
        if self.month(month).add(response):
            self.journal.append(month, response)
            self.pending.add(month)

    def remove_leftovers(self) -> None:
        """The temporary files of a fetch killed while it saved a month file or the state
        (`.NAME.<random>.tmp`, see atomic.py): no later save has their names."""
        remove_temporary_files(self.folder)

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
    full_texts_reused: int = 0  # held already (for another month's file): copied, not asked
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
        save_if_changed(self.path, text.encode("utf-8"))
