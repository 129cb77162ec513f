"""What a question page's front matter may hold: the one place that knows its shape.

Reads a page's front matter (its text, or the mapping `pages.parse_front_matter` gives) and
writes nothing: a front matter that parses yet has the wrong shape (a `title` that is a list,
no `url`, an `asking_member` that is text, a date YAML read as a date) raises `pages.PageError`,
naming the key and what is wrong, before any template sees it. The shape is what
`pages.front_matter` writes, and every key the question page's templates read is of the type
they need there (site.QUESTION_TEMPLATES; `StrictUndefined` makes a key they read without
testing for it a required one).

Any other key a person adds is kept, so long as the page's JSON twin can hold it exactly: YAML
can also give dates, sets, binary data, pairs, numbers that are not finite and keys that are
not text, none of which JSON writes back as they were read.

Checked wherever the site stage parses a page's front matter (a page the render cache holds was
checked when it was kept): about 7 µs of CPU a page as the pages stage writes it, 0.4 s over the
archive's 56,000 pages, kept down by checking each value of a plain kind in place, without a call.
"""

from __future__ import annotations

import datetime
import math
import reprlib
from dataclasses import dataclass

from . import pages
from .pages import PageError

NoneType = type(None)
# The kinds of value a key may hold, by their exact types: True is not a whole number here,
# and a subclass of text (none of JSON's own) is not text.
TEXT = frozenset({str})
MAYBE_TEXT = frozenset({str, NoneType})  # where pages.py writes null: a grouped question's UIN, date, heading
FLAG = frozenset({bool})
COUNT = frozenset({int})


class Record:
    """A mapping with these keys: `required` ones, `optional` ones (absent where the page has
    none), and `needs`: keys required whenever another is there (key: the keys it needs). Any
    other key may hold anything JSON holds."""

    def __init__(self, required: dict, optional: dict | None = None, needs: dict | None = None):
        self.required = tuple(required)
        self.shapes = {**(optional or {}), **required}  # key: the shape of its value
        self.needs = needs or {}


@dataclass(frozen=True)
class ListOf:
    "A list, each item of this shape."
    item: object


@dataclass(frozen=True)
class Pair:
    "A list of exactly two values, each of this shape (JSON writes a pair as such a list)."
    item: frozenset


MEMBER = Record(required={"id": TEXT},
                optional={"name": TEXT, "party": TEXT, "constituency": TEXT, "house": TEXT, "url": TEXT})

# What each key of a page's front matter holds (pages.front_matter and the modules it calls).
FRONT_MATTER = Record(
    required={
        "key": TEXT, "url": TEXT, "title": TEXT, "house": TEXT,
        **dict.fromkeys(pages.FLAGS, FLAG), "has_answer": FLAG, "has_original_answer": FLAG,
    },
    optional={
        **dict.fromkeys(("uin", "date_tabled", "date_for_answer", "date_answered", "date_holding_answer",
                         "date_answer_corrected", "heading", "heading_url", "answerer_title_as_published",
                         "answering_member_office", "answering_member_office_source", "official_url",
                         "source_location"), TEXT),
        "api_id": COUNT,
        "asking_member": MEMBER, "answering_member": MEMBER, "correcting_member": MEMBER,
        "answering_body": Record(required={"name": TEXT}, optional={"slug": TEXT, "url": TEXT}),
        "source": Record(required={"file": TEXT, "format": TEXT}),
        # pages.group_facts: a question not in the archive is only its key.
        "group": ListOf(Record(
            required={"key": TEXT, "current": FLAG},
            optional={"url": TEXT, "uin": MAYBE_TEXT, "date_tabled": MAYBE_TEXT, "heading": MAYBE_TEXT,
                      "title": MAYBE_TEXT, "question_text": TEXT, "asking_member": MEMBER},
            needs={"url": ("uin", "date_tabled")})),
        # answer_diff.page_facts
        "answer_changes": Record(required={"segments": ListOf(Pair(TEXT)), "deleted_words": COUNT,
                                           "added_words": COUNT}),
        # citations.page_facts
        "cites": ListOf(Record(required={"key": TEXT, "url": TEXT}, optional={"uin": TEXT, "field": TEXT})),
        "cited_by": ListOf(Record(required={"key": TEXT, "url": TEXT, "title": TEXT},
                                  optional={"uin": TEXT, "date_tabled": TEXT})),
        # timeliness.page_facts
        "timeliness": Record(required={"status": TEXT}, optional={"days_late": COUNT}),
        # pages.asked_before_facts
        "asked_before": ListOf(Record(required={"url": TEXT, "title": TEXT},
                                      optional={"date_tabled": TEXT, "asker": TEXT})),
    },
)


def read_front_matter(header: str) -> dict:
    "The front matter's text -> its mapping (`pages.parse_front_matter`), refused unless of the shape a page's is."
    meta = pages.parse_front_matter(header)
    check_front_matter(meta)
    return meta


def check_front_matter(meta: dict) -> None:
    "Raise `PageError`, naming the key and what is wrong, unless `meta` has a question page's shape."
    try:
        check(meta, FRONT_MATTER)
    except Fault as fault:
        where = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in fault.path)
        subject = f"its front matter's '{where[1:]}'" if where else "its front matter"
        raise PageError(f"{subject} {fault.what}") from None


class Fault(Exception):
    """What is wrong with a value, and where it is (the keys and item positions that lead to it,
    added as the fault rises: no path is made for a value that is right)."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what
        self.path: list = []


def check(value, shape) -> None:
    if type(shape) is frozenset:  # a plain kind: the value's type is one of these
        if type(value) not in shape:
            raise Fault(f"is {kind_of(value)}, not {expected(shape)}")
    elif type(shape) is Record:
        check_record(value, shape)
    elif type(shape) is ListOf:
        check_list(value, shape.item)
    else:
        check_pair(value, shape.item)


def check_record(value, record: Record) -> None:
    if type(value) is not dict:
        raise Fault(f"is {kind_of(value)}, not a mapping")
    shapes = record.shapes
    for key, item in value.items():
        shape = shapes.get(key)
        if type(shape) is frozenset and type(item) in shape:  # most values: no call made for them
            continue
        if shape is None and type(key) is not str:
            raise key_not_text(key)
        try:
            if shape is None:
                check_json(item)
            else:
                check(item, shape)
        except Fault as fault:
            fault.path.insert(0, key)
            raise
    for key in record.required:
        if key not in value:
            raise Fault(f"has no '{key}'")
    for key, needed in record.needs.items():
        if key in value:
            for name in needed:
                if name not in value:
                    raise Fault(f"has a '{key}' but no '{name}'")


def check_list(value, item_shape) -> None:
    if type(value) is not list:
        raise Fault(f"is {kind_of(value)}, not a list")
    for position, item in enumerate(value):
        try:
            check(item, item_shape)
        except Fault as fault:
            fault.path.insert(0, position)
            raise


def check_pair(value, item_shape: frozenset) -> None:
    if type(value) is not list or len(value) != 2:
        raise Fault(f"is {kind_of(value)}, not a pair of {expected(item_shape)}")
    check_list(value, item_shape)


# JSON's own kinds of value: anything else would come back from the JSON twin otherwise than it was read.
JSON_SCALARS = frozenset({str, int, bool, NoneType})


def check_json(value) -> None:
    """A value of a key no page is made with: anything JSON holds exactly. Checked without
    recursion (a person's YAML may nest deeply); each value's way from `value` is a link to its
    parent's (`trail`), spelt out only for a fault: a list as deep as YAML allows holding
    thousands of values would otherwise copy a long path for each."""
    todo = [(value, None)]
    while todo:
        value, trail = todo.pop()
        kind = type(value)
        if kind is dict:
            for inner, item in value.items():
                if type(inner) is not str:
                    raise located(key_not_text(inner), trail)
                todo.append((item, (trail, inner)))
        elif kind is list:
            todo.extend((item, (trail, position)) for position, item in enumerate(value))
        elif kind is float:
            if not math.isfinite(value):
                raise located(Fault(f"is {kind_of(value)}, which JSON cannot hold"), trail)
        elif kind not in JSON_SCALARS:
            raise located(Fault(f"is {kind_of(value)}, which JSON cannot hold as it is"), trail)


def key_not_text(key) -> Fault:
    return Fault(f"has a key that is not text but {kind_of(key)} ({reprlib.repr(key)}), which JSON cannot hold")


def located(fault: Fault, trail: tuple | None) -> Fault:
    "The fault, with the way to its value (`check_json`'s trail) at the start of its path."
    steps = []
    while trail is not None:
        trail, step = trail
        steps.append(step)
    fault.path[:0] = reversed(steps)
    return fault


KIND_NAMES = {
    str: "text", bool: "true or false", int: "a whole number", float: "a number", NoneType: "null",
    list: "a list", dict: "a mapping", tuple: "a pair (YAML's !!omap or !!pairs)", set: "a set",
    bytes: "binary data", datetime.date: "a date (quote it to keep it as text)",
    datetime.datetime: "a date and time (quote it to keep it as text)",
}


def kind_of(value) -> str:
    "What a value is, in words."
    if type(value) is float and not math.isfinite(value):
        return f"a number that is not finite ({value})"
    return KIND_NAMES.get(type(value), f"a {type(value).__name__}")


def expected(kinds: frozenset) -> str:
    "'text', 'text or null', ... ."
    return " or ".join(sorted((KIND_NAMES[kind] for kind in kinds), key=lambda name: name == "null"))
