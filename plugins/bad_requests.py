"""Datasette plugin: a malformed query parameter is the client's error (400), not the server's.

Datasette 0.65 answers some bad parameters with 500: a `_sort` or `_sort_desc` naming no column
("Cannot sort table by x"), and values it parses without checking (`_next=zz` on a view,
`_timelimit=abc`, `_through=x`). Those are turned into 400s with Datasette's own error shape
(`{"ok": false, "error": ..., "status": 400, "title": null}` as JSON, error.html as HTML); every
other error keeps its status.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from datasette import hookimpl
from datasette.handle_exception import handle_exception as datasette_error_page
from datasette.utils.asgi import BadRequest
from datasette.views.base import DatasetteError

# Where Datasette parses a table page's parameters: a ValueError raised there means a bad one.
PARAMETER_PARSING_CODE = {("views", "table.py"), ("datasette", "filters.py")}


def raised_while_parsing_parameters(exception: BaseException) -> bool:
    "Whether Datasette's own table code raised the exception (not our code, not SQLite)."
    datasette_frames = [
        frame for frame in traceback.extract_tb(exception.__traceback__)
        if "datasette" in Path(frame.filename).parts
    ]
    if not datasette_frames:
        return False
    last = Path(datasette_frames[-1].filename)
    return (last.parent.name, last.name) in PARAMETER_PARSING_CODE


def bad_request_message(exception: BaseException) -> str | None:
    "The message of a 400 for the exception, or None when it is not a bad parameter."
    if isinstance(exception, DatasetteError) and exception.status == 500 \
            and exception.message.startswith("Cannot sort table by "):
        return exception.message
    if isinstance(exception, ValueError) and raised_while_parsing_parameters(exception):
        return f"Invalid parameter: {exception}"
    return None


@hookimpl
def handle_exception(datasette, request, exception):
    message = bad_request_message(exception)
    if message is None:
        return None
    return datasette_error_page(datasette, request, BadRequest(message))
