"""Timeliness: whether House of Commons written questions were answered by their date for answer.

Reads the `timeliness` query in `metadata.yml`: the one definition of the figures, run by the
Datasette API and, for the site, by `queries.timeliness_figures`. Gives each question page its
status (`question_status`, in the page's front matter) and the figures and chart of the
timeliness listings (`write_page`: `timeliness/`; `by_body`: a section of each body's page).

Definitions, stated on the timeliness page too:
- on time: the substantive answer (`date_answered` while `is_holding` is 0) is dated on or
  before the date for answer; late: after it; days late are calendar days.
- a holding answer is not an answer: while it is the latest answer the question is unanswered.
- unanswered past due: no substantive answer and the date for answer is before the archive's
  latest date (`queries.timeliness_as_of`: the latest date tabled, answered or
  holding-answered in the database, not today, so that the same database always gives the
  same pages).
- only Commons questions count: other houses set their own expectations and are left out.
Working days are not counted: the sitting calendar is not in the data.
"""

from __future__ import annotations

import datetime
import functools
import os
from pathlib import Path

from . import urls

ROOT = Path(__file__).resolve().parents[2]
METADATA = ROOT / "metadata.yml"
ALL_BODIES = "All answering bodies"
ALL_MONTHS = "All months"
HOUSE = "Commons"


def query_sql() -> str:
    "The `timeliness` canned query of metadata.yml: what both the site and the API run."
    status = os.stat(METADATA)
    return metadata_query(str(METADATA), status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=4)
def metadata_query(path: str, modified_ns: int, size: int) -> str:
    """The query as the file holds it, read once for each version of the file (by its time and
    size): parsing the whole of metadata.yml costs more than a build's other uses of it."""
    import yaml  # here: a build with nothing to do never reads the query

    with open(path, encoding="utf-8") as file:
        metadata = yaml.load(file, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # LibYAML's, if built
        return metadata["databases"]["answers"]["queries"]["timeliness"]["sql"]


def real_day(value: str | None) -> datetime.date | None:
    "An ISO date as a date, or None if it is missing or not a real date ('2024-02-30')."
    try:
        return datetime.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def question_status(row: dict, latest: str | None) -> dict | None:
    """A question's timeliness as its page shows it, or None where none applies (another
    house, withdrawn, no date for answer, or a date for answer or answer date that is not a
    real date). `row` holds the questions table's columns; `latest` is `queries.timeliness_as_of`.

    status: 'on time', 'late' (with days_late), 'past due' (unanswered after its date for
    answer) or 'not yet due'. A page states no count of days past due: that count would change
    every page of an unanswered question each time the archive's latest date moves, where the
    status changes once."""
    due, answered = real_day(row.get("date_for_answer")), real_day(row.get("date_answered"))
    if row.get("house") != HOUSE or not due or row.get("is_withdrawn"):
        return None
    if row.get("date_answered") and not answered:
        return None
    if answered and not row.get("is_holding"):
        late = (answered - due).days
        return {"status": "late", "days_late": late} if late > 0 else {"status": "on time"}
    if latest and due < real_day(latest):
        return {"status": "past due"}
    return {"status": "not yet due"}


def page_facts(row: dict, latest: str | None) -> dict:
    "What a question page's front matter says of its timeliness (nothing where none applies)."
    status = question_status(row, latest)
    return {"timeliness": status} if status else {}


# -- the listings ------------------------------------------------------------------------


def by_body(rows: list[dict]) -> dict[str, list[dict]]:
    "Answering body name (or ALL_BODIES) -> its rows, months in order, then all months."
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["answering_body"], []).append(row)
    return groups


def figure_order(row: dict) -> tuple:
    "Where a row of figures comes in the query's order: the archive's first, then by body, month, kind."
    body = row["answering_body"]
    return body != ALL_BODIES, body is not None, body or "", row["month"], row["kind"]


def replace_groups(rows: list[dict], fresh: list[dict], bodies: set[str], months: set[str]) -> list[dict]:
    """The figures `rows` with those of these bodies (every month of each), and the archive's
    of these months and of all months, replaced by `fresh`: what the query gives for them now.
    A question counts only in its body's rows and the archive's of its month and of all months,
    so when only questions of these bodies and months changed, the other rows stand."""
    def replaced(row: dict) -> bool:
        body, month = row["answering_body"], row["month"]
        return body in bodies or body == ALL_BODIES and (month in months or month == ALL_MONTHS)
    return sorted([row for row in rows if not replaced(row)] + fresh, key=figure_order)


# -- the archive's figures, from tallies kept between builds ------------------------------
#
# The archive's rows of all months read every Commons question: the query takes a third of a
# second over them. A build given the questions that changed keeps instead, for each month,
# how many questions the query's `commons` step gives each (kind, days late, past due, had a
# holding answer), counted by SQLite from that same step for the months a change touches, and
# makes the archive's rows from them as the query's last steps would.

TALLY_SELECT = """
select month, kind, days_late, past_due, had_holding, count(*) as n
from commons group by month, kind, days_late, past_due, had_holding"""


def tally_sql() -> str:
    "The query's steps up to `commons` (each Commons question as the figures count it), tallied."
    sql = query_sql()
    end = sql.index("(", sql.index("commons as (")) + 1
    depth = 1
    while depth:
        depth += {"(": 1, ")": -1}.get(sql[end], 0)
        end += 1
    return sql[:end] + TALLY_SELECT


def tally_rows(tallies: dict[str, list[list]], months: set[str], as_of: str, percent) -> list[dict]:
    """The archive's rows of these months and of all months, in the query's order and shape,
    from `tallies` (month -> its [kind, days_late, past_due, had_holding, n] of `tally_sql`).
    `percent(holding, due)` is the query's rounding of a share (SQLite's `round`)."""
    groups: dict[tuple[str, str], list[list]] = {}
    for month, counts in tallies.items():
        for kind, *values in counts:
            for group_month in ([month, ALL_MONTHS] if month in months else [ALL_MONTHS]):
                groups.setdefault((group_month, kind), []).append(values)
    rows = [tally_row(month, kind, counts, as_of, percent) for (month, kind), counts in groups.items()]
    return sorted(rows, key=figure_order)


def tally_row(month: str, kind: str, counts: list[list], as_of: str, percent) -> dict:
    "One row of figures from the tallies of its questions: SQLite's sums skip nulls, as here."
    def total(test) -> int:
        return sum(n for days_late, past_due, _, n in counts if test(days_late, past_due))

    late = sorted((days_late, n) for days_late, _, _, n in counts if days_late is not None and days_late > 0)
    holding = [had * n for _, _, had, n in counts if had is not None]
    return {"answering_body": ALL_BODIES, "month": month, "kind": kind,
            "due": total(lambda days_late, past_due: True),
            "on_time": total(lambda days_late, past_due: days_late is not None and days_late <= 0),
            "late": sum(n for _, n in late), "median_days_late": median(late),
            "unanswered_past_due": total(lambda days_late, past_due: days_late is None and past_due),
            "not_yet_due": total(lambda days_late, past_due: days_late is None and past_due == 0),
            "holding_answer_percent": percent(sum(holding) if holding else None,
                                              total(lambda days_late, past_due: True)),
            "as_of": as_of}


def median(counted: list[tuple[int, int]]) -> float | None:
    """The query's median of values counted as (value, how many), in order: the middle one, or
    the mean of the two middle ones (None: no values)."""
    count = sum(n for _, n in counted)
    if not count:
        return None
    middle, seen = [], 0
    for value, n in counted:
        # Positions counted from 1, as the query's row_number; one position twice when `count` is odd.
        middle += [value for position in ((count + 1) // 2, (count + 2) // 2) if seen < position <= seen + n]
        seen += n
    return sum(middle) / len(middle)


def write_page(listing, rows: list[dict], bodies: dict[str, dict]) -> None:
    """The archive's timeliness page (`timeliness/`) and its JSON twin. `listing` is the
    listings writer; `bodies` maps names to their pages, for the links to body sections."""
    groups = by_body(rows)
    archive = groups.get(ALL_BODIES, [])
    totals = [row for row in archive if row["month"] == ALL_MONTHS]
    listed = [bodies[name] for name in sorted(groups) if name in bodies]
    latest = rows[0]["as_of"] if rows else None
    listing.page("timeliness.html", urls.TIMELINESS, {
        "title": "Timeliness of answers", "rows": archive, "totals": totals, "as_of": latest,
        "bodies": listed},
        twin={"title": "Timeliness of answers", "as_of": latest, "rows": rows})
