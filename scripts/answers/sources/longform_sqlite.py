"""Reader for the longform files: the full (unclipped) text of official API questions.

Each file is a SQLite database, usually gzipped, with one table `Dict(key BLOB, value BLOB)`:
the key is the question's API id as ASCII digits, the value JSON bytes
`{"question_text": ..., "answer_text": "<p>...</p>" | null | ""}`. An empty or null answer
means the question was not yet answered when the entry was fetched.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..model import FullText, SourceError
from .files import UnreadableFile, base_name, is_gzip, never_superseded, read_bytes

FORMAT = "api-longform"

ENTRIES = "select key, value from Dict order by rowid"


superseded = never_superseded


def matches(path: Path) -> bool:
    return base_name(path).lower().endswith(".sqlite")


def read(path: Path) -> Iterator[FullText | SourceError]:
    file = str(path)
    try:
        with opened_database(path) as connection:
            rows = connection.execute(ENTRIES)
            for key, value in rows:
                yield full_text_or_error(key, value, file)
    except (UnreadableFile, OSError, sqlite3.DatabaseError) as error:
        # Not a database, no Dict table, or a truncated download: the file is unreadable as a
        # whole (SQLite cannot be read past damage the way a JSON list can).
        yield SourceError(file, "file", f"not a readable longform database: {error}")


@contextmanager
def opened_database(path: Path) -> Iterator[sqlite3.Connection]:
    "The database read-only; a gzipped one is first unpacked to a temporary file."
    with tempfile.TemporaryDirectory(prefix="longform-") as folder:
        database = path
        if is_gzip(path):
            database = Path(folder) / base_name(path)
            database.write_bytes(read_bytes(path))
        connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
        try:
            yield connection
        finally:
            connection.close()


def full_text_or_error(key, value, file: str) -> FullText | SourceError:
    location = f"key {describe_key(key)}"
    api_id = parse_key(key)
    if api_id is None:
        return SourceError(file, location, "key is not a question id")
    try:
        entry = json.loads(value)
    except (TypeError, ValueError) as error:  # ValueError covers bad JSON and bad UTF-8
        return SourceError(file, location, f"value is not JSON: {error}")
    except RecursionError:
        return SourceError(file, location, "value is JSON nested too deeply to read")
    if not isinstance(entry, dict):
        return SourceError(file, location, "value is not a JSON object")
    question_text = entry.get("question_text")
    answer_html = entry.get("answer_text")
    for name, text in (("question_text", question_text), ("answer_text", answer_html)):
        if text is not None and not isinstance(text, str):
            return SourceError(file, location, f"{name} is not text")
    if not question_text and not answer_html:
        return SourceError(file, location, "entry has neither question nor answer text")
    return FullText(api_id=api_id, question_text=question_text or None,
                    answer_html=answer_html or None, location=location)


def parse_key(key) -> int | None:
    "The API id a key names: ASCII digits, stored as bytes (or, leniently, text or a number)."
    if isinstance(key, int) and key > 0:
        return key
    if isinstance(key, (bytes, str)):
        text = key.decode("ascii", "replace") if isinstance(key, bytes) else key
        if text.strip().isdigit() and text.strip().isascii():
            return int(text)
    return None


def describe_key(key) -> str:
    if isinstance(key, bytes):
        return key.decode("ascii", "backslashreplace")
    return repr(key) if not isinstance(key, (int, str)) else str(key)
