"""Datasette plugin: bounds on what one SQL query may build, so that ?sql= cannot exhaust memory.

The time limit (sql_time_limit_ms) is checked between SQLite's virtual-machine steps, but a
single function call such as printf('%.*c', 900000000, 'x') is one step that may run for a
minute and allocate a gigabyte. These limits make such calls fail at once instead:

- no string or blob longer than MAX_VALUE_BYTES (SQLite's "string or blob too big");
- no result with more than MAX_COLUMNS columns;
- no result whose values add up to more than MAX_RESULT_BYTES once read into Python;
- no printf() or format(): even within the length limit, printf('%.*c', 900000000, 'x') loops
  900 million times inside one step (2 s a call, measured), beyond the reach of the time limit.

The largest value the whole corpus stores is 55 KB (a longform answer in full_texts) and the
widest table has 33 columns, so that real queries stay far below these limits.
"""

from __future__ import annotations

import sqlite3

from datasette import hookimpl

MAX_VALUE_BYTES = 1_000_000
MAX_COLUMNS = 100
MAX_RESULT_BYTES = 50_000_000
REFUSED_FUNCTIONS = {"printf", "format"}


class ResultTooLarge(sqlite3.DataError):
    "A query's rows add up to more than MAX_RESULT_BYTES."


class ResultBudget:
    """Counts the bytes of the rows a connection reads, from each query's first row on.

    Datasette reads every query through a new cursor, so a new cursor starts a new count."""

    def __init__(self, limit: int):
        self.limit = limit
        self.cursor = None
        self.used = 0

    def __call__(self, cursor: sqlite3.Cursor, values: tuple) -> sqlite3.Row:
        if cursor is not self.cursor:
            self.cursor, self.used = cursor, 0
        self.used += sum(len(value) for value in values if isinstance(value, (str, bytes)))
        if self.used > self.limit:
            raise ResultTooLarge(
                f"result too large: more than {self.limit:,} bytes; ask for fewer rows or columns")
        return sqlite3.Row(cursor, values)


def refuse_slow_functions(action, arg1, arg2, database, source):
    "SQLite's authorizer: a query naming a refused function fails before it runs."
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in REFUSED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


@hookimpl
def prepare_connection(conn):
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, MAX_COLUMNS)
    conn.set_authorizer(refuse_slow_functions)
    # Datasette reads rows as sqlite3.Row; this keeps that, and counts them.
    conn.row_factory = ResultBudget(MAX_RESULT_BYTES)
