"""The life of a question: the events its page's timeline shows, worked out from its facts.

Reads a question page's front matter (pages.front_matter: the dates, the flags and the
timeliness status) and gives the events the question has had, in date order: tabled, due
for answer (named day or ordinary), holding answer, answered (with how late), answer
corrected, withdrawn. Writes nothing; the site stage passes the events to
`templates/site/_timeline.html`, which words them.

A date that is not a real date (a source's '2024-02-30', kept as given) cannot be placed by
its value, so it keeps its place in a question's natural course: right after the event
before it. The sources give no date for a withdrawal; it comes last, undated.
"""

from __future__ import annotations

from .timeliness import real_day

# The natural course of a question: the order of events on the same day, and of those whose
# date is not a real one.
COURSE = ("tabled", "due", "holding", "answered", "corrected", "withdrawn")


def events(meta: dict) -> list[dict]:
    """The question's events, each {'kind', 'date' (as given, or None), 'real' (whether the
    date is a real date)} with the facts its wording needs, in date order."""
    found = [event for event in (
        dated("tabled", meta.get("date_tabled")),
        due_event(meta),
        holding_event(meta),
        answered_event(meta),
        corrected_event(meta),
        {"kind": "withdrawn", "date": None, "real": False} if meta.get("is_withdrawn") else None,
    ) if event is not None]
    return sorted(found, key=sort_key_for(found))


def dated(kind: str, value, **facts) -> dict | None:
    "An event on the day `value` (a date as the source gave it), or None when there is no day."
    if value in (None, ""):
        return None
    value = str(value)
    return {"kind": kind, "date": value, "real": real_day(value) is not None, **facts}


def due_event(meta: dict) -> dict | None:
    "Due for answer: a named day or an ordinary question, and whether it is now past due."
    status = (meta.get("timeliness") or {}).get("status")
    return dated("due", meta.get("date_for_answer"), named_day=bool(meta.get("is_named_day")),
                 past_due=status == "past due")


def holding_event(meta: dict) -> dict | None:
    """A holding answer. While it is the latest answer (`is_holding`), the answer date is the
    holding answer's own (the sources give both the same day) if no holding date is given."""
    day = meta.get("date_holding_answer")
    if not day and meta.get("is_holding"):
        day = meta.get("date_answered")
    return dated("holding", day)


def answered_event(meta: dict) -> dict | None:
    "The substantive answer, with its timeliness (on time, or how many days late) where it has one."
    if meta.get("is_holding"):
        return None
    timeliness = meta.get("timeliness") or {}
    return dated("answered", meta.get("date_answered"), status=timeliness.get("status"),
                 days_late=timeliness.get("days_late"))


def corrected_event(meta: dict) -> dict | None:
    return dated("corrected", meta.get("date_answer_corrected"), member=meta.get("correcting_member"))


def sort_key_for(found: list[dict]):
    """Date order, ties in the natural course. An event without a real date sorts as if on
    the day of the event before it in the natural course (or first, if none is before it);
    an undated withdrawal sorts last."""
    place, previous = {}, ""
    for event in found:  # in the natural course, as events() lists them
        if event["date"] is None:
            place[id(event)] = "\uffff"
            continue
        previous = place[id(event)] = event["date"] if event["real"] else previous

    def key(event: dict) -> tuple[str, int]:
        return place[id(event)], COURSE.index(event["kind"])

    return key
