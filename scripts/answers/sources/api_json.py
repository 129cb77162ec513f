"""Reader for the official Written Questions API's JSON (questions-statements-api.parliament.uk).

One file may hold any of the shapes the API returns, alone or gathered in a list:

- a list of `{"value": {...}, "links": [...]}` records (the `results` of one list response);
- a list response itself: `{"results": [...], "totalResults": N}`;
- a single-question response: `{"value": {...}}`;
- a list whose items are any of these (the raw page responses of one fetch).

The list endpoint clips text: `questionText` to 255 characters and `answerText` to 255
characters followed by "..." (plain text, no markup). Such records are flagged as clipped so
that the full text from the longform files can replace them later.

A damaged file (invalid JSON, a truncated download) keeps every complete record before the
damage and reports the damage once, with its byte offset.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from ..model import (
    HOUSES,
    HTML_START,
    MemberRef,
    Question,
    RecordError,
    SourceError,
    answer_is_clipped,
    make_key,
    question_is_clipped,
)
from .files import base_name, never_superseded, read_salvaging

FORMAT = "api-json"

OFFICIAL_URL = "https://questions-statements.parliament.uk/written-questions/detail/{date}/{uin}"


ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")

superseded = never_superseded


def matches(path: Path) -> bool:
    return base_name(path).lower().endswith(".json")


def read(path: Path) -> Iterator[Question | SourceError]:
    file = str(path)
    text, damage = load_text(path)
    if damage is None and not text.strip():
        yield SourceError(file, "file", "empty file")
        return
    count = 0
    pieces = decode_documents(text)
    for piece in pieces:
        if isinstance(piece, Damage):
            damage = join_damage(piece.describe(text), damage)
            break
        for item in flatten(piece):
            count += 1
            yield question_or_error(item, count, file)
    if damage is not None:
        yield SourceError(file, f"after record {count}", damage)


# -- bytes to text -------------------------------------------------------------------------

def load_text(path: Path) -> tuple[str, str | None]:
    """The file's text and, when it is damaged, why: decompression and decoding stop at the
    damage but keep everything before it, so that the records there can still be read."""
    data, damage = read_salvaging(path)
    try:
        return data.decode("utf-8-sig"), damage
    except UnicodeDecodeError as error:
        reason = f"invalid UTF-8 at byte {error.start}"
        return data[: error.start].decode("utf-8-sig"), join_damage(reason, damage)


def join_damage(reason: str, earlier: str | None) -> str:
    return f"{earlier}; {reason}" if earlier else reason


# -- text to JSON values, salvaging what precedes any damage -----------------------------

class Damage:
    "Where the JSON stopped making sense."

    def __init__(self, position: int, message: str):
        self.position = position
        self.message = message

    def describe(self, text: str) -> str:
        offset = len(text[: self.position].encode("utf-8"))
        if self.position >= len(text):
            return f"JSON ends early, at byte {offset}"
        return f"invalid JSON at byte {offset}: {self.message}"


DECODER = json.JSONDecoder()
WHITESPACE = re.compile(r"\s*")


def skip_space(text: str, position: int) -> int:
    return WHITESPACE.match(text, position).end()


def decode_documents(text: str) -> Iterator:
    """Every JSON value in the text (usually one; several when responses were concatenated),
    then a `Damage` if the text breaks off. A broken list or list response is read element
    by element so that its complete records still come through."""
    position = skip_space(text, 0)
    while position < len(text):
        try:
            value, position = DECODER.raw_decode(text, position)
        except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
            yield from salvage(text, position, error)
            return
        yield value
        position = skip_space(text, position)


def unreadable_value(error: Exception) -> str:
    "Why a value cannot be read: nested too deep, a number too long, or invalid JSON."
    if isinstance(error, json.JSONDecodeError):
        return error.msg
    if isinstance(error, RecursionError):
        return "value nested too deeply to read"
    return f"value cannot be read: {error}"


def salvage(text: str, position: int, error: Exception) -> Iterator:
    if text.startswith("[", position):
        yield from salvage_array(text, position)
    elif text.startswith("{", position):
        yield from salvage_object(text, position)
    elif isinstance(error, json.JSONDecodeError):
        yield Damage(error.pos, error.msg)
    else:
        yield Damage(position, unreadable_value(error))


def salvage_array(text: str, position: int) -> Iterator:
    "The complete elements of a broken array, then the Damage."
    position = skip_space(text, position + 1)
    if text.startswith("]", position):
        return
    while True:
        try:
            value, position = DECODER.raw_decode(text, position)
        except json.JSONDecodeError as error:
            yield from salvage(text, position, error)
            return
        except (ValueError, RecursionError) as error:  # a sound element too deep or too long
            yield Damage(position, unreadable_value(error))
            return
        yield value
        position = skip_space(text, position)
        if text.startswith(",", position):
            position = skip_space(text, position + 1)
        elif text.startswith("]", position):
            return
        else:
            yield Damage(position, "expected ',' or ']' between list items")
            return


def salvage_object(text: str, position: int) -> Iterator:
    """The records of a broken list response (`{"results": [...]}`), then the Damage.
    Any other broken object (a broken record) is lost whole: half a record is no record."""
    position = skip_space(text, position + 1)
    while True:
        name = start = None
        try:
            name, position = DECODER.raw_decode(text, position)
            position = skip_space(text, position)
            if not isinstance(name, str) or not text.startswith(":", position):
                yield Damage(position, "expected a member name and ':' in an object")
                return
            position = skip_space(text, position + 1)
            start = position
            value, position = DECODER.raw_decode(text, position)
        except json.JSONDecodeError as error:
            if name == "results" and text.startswith("[", start):
                yield from salvage_array(text, start)
            else:
                yield Damage(error.pos, error.msg)
            return
        except (ValueError, RecursionError) as error:
            yield Damage(start or position, unreadable_value(error))
            return
        if name == "results":
            yield value
        position = skip_space(text, position)
        if text.startswith(",", position):
            position = skip_space(text, position + 1)
        else:
            yield Damage(position, "expected ',' between object members")
            return


def flatten(value) -> Iterator:
    "The question-level items of any API shape: lists and list responses are opened up."
    if isinstance(value, list):
        for item in value:
            yield from flatten(item)
    elif isinstance(value, dict) and "results" in value and "value" not in value:
        yield from flatten(value["results"])
    else:
        yield value


# -- one record ------------------------------------------------------------------------------

def question_or_error(item, number: int, file: str) -> Question | SourceError:
    location = record_location(item, number)
    try:
        return to_question(unwrap(item), location)
    except RecordError as error:
        return SourceError(file, location, str(error))


def record_location(item, number: int) -> str:
    value = item.get("value", item) if isinstance(item, dict) else None
    api_id = value.get("id") if isinstance(value, dict) else None
    if isinstance(api_id, (int, str)) and not isinstance(api_id, bool):
        return f"record {number} (id {api_id})"
    return f"record {number}"


def unwrap(item) -> dict:
    "The question object of a `{value, links}` record (or a bare question object)."
    if not isinstance(item, dict):
        raise RecordError(f"record is not an object but {json_type(item)}")
    value = item.get("value", item)
    if not isinstance(value, dict):
        raise RecordError(f"'value' is not an object but {json_type(value)}")
    return value


def json_type(value) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def to_question(value: dict, location: str) -> Question:
    api_id = required_id(value)
    house = required_house(value)
    uin = required_uin(value)
    date_tabled = iso_date(value, "dateTabled", required=True)
    question_text = optional_str(value, "questionText")
    answer_text = optional_str(value, "answerText")
    return Question(
        house=house,
        uin=uin,
        date_tabled=date_tabled,
        date_answered=iso_date(value, "dateAnswered"),
        date_for_answer=iso_date(value, "dateForAnswer"),
        date_holding_answer=iso_date(value, "dateHoldingAnswer"),
        date_answer_corrected=iso_date(value, "dateAnswerCorrected"),
        heading=(optional_str(value, "heading") or "").strip() or None,
        answering_body=(optional_str(value, "answeringBodyName") or "").strip() or None,
        answering_body_id=optional_int(value, "answeringBodyId"),
        asking_member=member(value, "asking"),
        answering_member=member(value, "answering"),
        correcting_member=member(value, "correcting"),
        question_text=question_text,
        answer_html=answer_as_html(answer_text),
        original_answer_html=answer_as_html(optional_str(value, "originalAnswerText")),
        is_holding=flag(value, "answerIsHolding"),
        is_withdrawn=flag(value, "isWithdrawn"),
        is_named_day=flag(value, "isNamedDay"),
        is_correction=flag(value, "answerIsCorrection"),
        member_has_interest=flag(value, "memberHasInterest"),
        question_is_clipped=question_is_clipped(question_text),
        answer_is_clipped=answer_is_clipped(answer_text),
        grouped_keys=grouped_keys(value, house, date_tabled),
        api_id=api_id,
        official_url=OFFICIAL_URL.format(date=date_tabled, uin=uin),
        location=location,
    )


def required_id(value: dict) -> int:
    api_id = value.get("id")
    if isinstance(api_id, str) and api_id.strip().isdigit():
        return int(api_id)
    if not isinstance(api_id, int) or isinstance(api_id, bool):
        raise RecordError("no question id")
    return api_id


def required_house(value: dict) -> str:
    house = value.get("house")
    if not house:
        raise RecordError("no house")
    if house not in HOUSES:
        raise RecordError(f"unknown house {house!r}")
    return house


def required_uin(value: dict) -> str:
    uin = value.get("uin")
    if isinstance(uin, int) and not isinstance(uin, bool):
        uin = str(uin)
    if not isinstance(uin, str) or not uin.strip():
        raise RecordError("no uin")
    return uin.strip()


def optional_str(value: dict, name: str) -> str | None:
    text = value.get(name)
    if text is None or isinstance(text, str):
        return text
    raise RecordError(f"{name} is {json_type(text)}, not text")


def optional_int(value: dict, name: str) -> int | None:
    number = value.get(name)
    if number is None or (isinstance(number, int) and not isinstance(number, bool)):
        return number
    raise RecordError(f"{name} is {json_type(number)}, not a number")


def flag(value: dict, name: str) -> bool:
    setting = value.get(name)
    if setting is None or isinstance(setting, bool):
        return bool(setting)
    raise RecordError(f"{name} is {json_type(setting)}, not true or false")


def iso_date(value: dict, name: str, required: bool = False) -> str | None:
    "An API timestamp ('2024-08-30T00:00:00') as an ISO date ('2024-08-30')."
    text = value.get(name)
    if text in (None, ""):
        if required:
            raise RecordError(f"no {name}")
        return None
    return parse_date(text, name)


def parse_date(text, name: str) -> str:
    if not isinstance(text, str):
        raise RecordError(f"{name} is {json_type(text)}, not a date")
    try:
        # The API gives Westminster dates at midnight: the calendar date is the date meant,
        # so it is taken as written, never shifted by a time zone.
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        raise RecordError(f"{name} is not a date: {text!r}") from None


def member(value: dict, role: str) -> MemberRef | None:
    """The asking/answering/correcting member. The list endpoint gives only the id; where a
    response carries the member object, its name, party and constituency are kept too."""
    member_id = optional_int(value, f"{role}MemberId")
    details = value.get(f"{role}Member")
    if not isinstance(details, dict):
        details = {}
    if member_id is None:
        member_id = details.get("id") if isinstance(details.get("id"), int) else None
    if member_id is None or member_id <= 0:
        return None
    return MemberRef(
        id=str(member_id),
        name=text_or_none(details.get("name")),
        party=text_or_none(details.get("party")),
        constituency=text_or_none(details.get("memberFrom")),
    )


def text_or_none(text) -> str | None:
    return text.strip() or None if isinstance(text, str) else None


def answer_as_html(text: str | None) -> str | None:
    """Answer text as HTML: markup from a single-question response is kept as it is (the
    store sanitizes it); the list endpoint's plain text is escaped into paragraphs."""
    if text is None or not text.strip():
        return None
    if HTML_START.match(text):
        return text
    paragraphs = [line.strip() for line in decode_entities(text).splitlines() if line.strip()]
    return "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in paragraphs)


def decode_entities(text: str) -> str:
    """The list endpoint's plain text is the answer with its tags stripped but its entities
    left encoded ('R&amp;D', '&quot;cure&quot;'), beside bare '&'s. Only complete entities
    (with their ';') are decoded, so that text such as '&not' or 'M&S' stays as written."""
    return ENTITY.sub(lambda match: html.unescape(match.group(0)), text)


def grouped_keys(value: dict, house: str, date_tabled: str) -> list[str]:
    """Keys of the questions answered together with this one. Their dates come from
    groupedQuestionsDates; a grouped UIN without a date takes this question's date tabled,
    which is the date of most grouped questions (15,612 of 16,800 in the corpus)."""
    dates = {}
    for name in ("groupedQuestionsDates", "groupedQuestions"):
        if not isinstance(value.get(name) or [], list):
            raise RecordError(f"{name} is {json_type(value[name])}, not a list")
    for entry in value.get("groupedQuestionsDates") or []:
        if isinstance(entry, dict) and entry.get("questionUin"):
            uin = str(entry["questionUin"]).strip()
            date = entry.get("dateTabled")
            dates[uin] = parse_date(date, "groupedQuestionsDates") if date else date_tabled
    for uin in value.get("groupedQuestions") or []:
        if isinstance(uin, (str, int)) and str(uin).strip():
            dates.setdefault(str(uin).strip(), date_tabled)
    return [make_key(house, date, uin) for uin, date in dates.items()]
