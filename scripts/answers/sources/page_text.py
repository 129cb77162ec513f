"""Reader for the text of a scraped question page (the layout of the seed page).

One file holds one page, and yields one `Question` or one `SourceError`:

    Offences against Children: Internet                      <- heading
    (asked on 21st November 2018) - View Source              <- date tabled
    Asked by: Jane Doe (Labour - Somewhere)                  <- optional
    Question to the Home Office:                             <- answering body
    To ask the Secretary of State for ...                    <- question paragraph(s)
    Answered by
    Victoria Atkins Portrait                                 <- noise
    Victoria Atkins                                          <- answering member
    Secretary of State for Health and Social Care            <- title line, as published
    This question was answered on 29th November 2018         <- date answered
    We have prioritised ...                                  <- answer paragraph(s)
    Reticulating Splines                                     <- noise

A page with no "Answered by" and no "answered on" line is an unanswered question.

What the page leaves out, and how it is filled in:

- House: the page does not say. Lords questions are put "To ask His (or Her) Majesty's
  Government ..."; Commons questions "To ask the <minister> ...", and Scottish Parliament
  ones "To ask the Scottish Government (or Executive) ...". A UIN starting "HL" also
  means the Lords. Otherwise the house is "Unknown".
- UIN: used when the page shows one ("UIN 12345", "HL1234" on a line of its own);
  otherwise None, and the question's key is built from `model.content_id` (a digest of the
  heading and the question text), so the same page always gets the same key.
- Answerer's title: the line under the answerer's name is kept exactly as printed in
  `answerer_title_as_published`. Such pages print the member's current office, which is
  often a later one than the office held on the answer date.

Page noise (UI labels such as "View Source", "<Name> Portrait", "Reticulating Splines",
share links) is removed only where a line is exactly a known noise pattern, so that real text
is never dropped.

Character set: pages are read as UTF-8 (a byte order mark is ignored). A file that is not
valid UTF-8 but is valid Windows-1252 throughout (what Windows tools save: "£" as 0xA3,
curly quotes as 0x91-0x94) is decoded as Windows-1252: every byte then maps to the
character it was written for, so nothing is lost; the record's location says
"decoded as cp1252" so that the guess stays visible. A file mixing UTF-8 sequences with
other bytes, or holding bytes that Windows-1252 leaves undefined, is rejected with the
offset of the first bad byte, because no single decoding would be faithful to it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ..model import MemberRef, Question, RecordError, SourceError, name_member_id
from .files import UnreadableFile, base_name, never_superseded, read_text

FORMAT = "page-text"

# .txt files that sit among other sources and are not pages: parlparse's list of file
# write times, found beside its XML.
NOT_PAGES = {"changedates.txt"}

# Lines that page chrome puts between the parts of a page. Compared whole, ignoring case
# and spacing.
NOISE_LINES = {
    "view source", "source page", "view source page", "- view source",
    "reticulating splines", "loading", "loading...",
    "tweet", "share", "share this", "share this page", "share on twitter", "share on x",
    "share on facebook", "share on linkedin", "share on whatsapp", "share via email",
    "email", "print", "copy link", "link copied", "copied", "bookmark",
    "hansard", "view hansard", "parallel parliament", "written question",
    "back to top", "read more", "read less", "show more", "show less",
    "cookie settings", "accept cookies", "accept all cookies",
}

MONTHS = {name: number for number, name in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august",
     "september", "october", "november", "december"], start=1)}
DATE = r"(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]+),?\s+(\d{4})"

ASKED_ON = re.compile(r"^\(?\s*asked on\s+" + DATE + r"\s*\)?(?:\s*-\s*view source)?$",
                      re.IGNORECASE)
ANSWERED_ON = re.compile(r"^this question was answered on\s+" + DATE + r"\.?$", re.IGNORECASE)
HOLDING_ON = re.compile(r"^this question received a holding answer on\s+" + DATE + r"\.?$",
                        re.IGNORECASE)
QUESTION_TO = re.compile(r"^question to (?:the )?(.+?)\s*:$", re.IGNORECASE)
ASKED_BY = re.compile(r"^asked by:?\s+(.+?)(?:\s*\((.*)\))?$", re.IGNORECASE)
ANSWERED_BY = re.compile(r"^answered by:?(?:\s+(.+))?$", re.IGNORECASE)
UIN_LINE = re.compile(r"^\(?(?:UIN:?\s*(HL\s?\d+|\d+)|(HL\d+))\)?$", re.IGNORECASE)
PORTRAIT = re.compile(r"^(.+?)\s+Portrait$")

LORDS_FORM = re.compile(r"^to ask (?:his|her) majesty[’']s government\b", re.IGNORECASE)
SCOTTISH_FORM = re.compile(r"^to ask the scottish (?:government|executive)\b", re.IGNORECASE)
COMMONS_FORM = re.compile(r"^to ask the\b", re.IGNORECASE)

# What a peer's page shows where an MP's shows a constituency.
NOT_CONSTITUENCIES = {"life peer", "hereditary", "excepted hereditary", "bishops", "bishop"}

@dataclass
class Line:
    number: int  # 1-based, in the file
    text: str  # stripped; "" for blank lines and for removed noise


superseded = never_superseded


def matches(path: Path) -> bool:
    name = base_name(path).lower()
    return name.endswith(".txt") and name not in NOT_PAGES


def read(path: Path) -> Iterator[Question | SourceError]:
    file = str(path)
    try:
        text, note = read_text(path)
    except UnreadableFile as error:
        yield SourceError(file, "file", str(error))
        return
    try:
        question = parse_page(text)
    except RecordError as error:
        yield SourceError(file, f"line {error.line}", str(error))
        return
    if note:
        question.location = f"{question.location}; {note}"
    yield question


# -- text to lines -----------------------------------------------------------------------------

def page_lines(text: str) -> list[Line]:
    "The page's lines, stripped, with noise lines blanked (so that they still split paragraphs)."
    raw = [line.strip() for line in text.splitlines()]
    lines = []
    for index, line in enumerate(raw):
        lines.append(Line(index + 1, "" if is_noise(line, raw[index + 1:]) else line))
    return lines


def is_noise(line: str, following: list[str]) -> bool:
    if " ".join(line.lower().split()) in NOISE_LINES:
        return True
    portrait = PORTRAIT.match(line)
    if portrait:
        # "Victoria Atkins Portrait" is the alt text of a photo, followed by the name itself.
        name = portrait.group(1)
        upcoming = next((text for text in following if text), "")
        return upcoming.startswith(name) or strip_asked_by(upcoming).startswith(name)
    return False


def strip_asked_by(line: str) -> str:
    match = re.match(r"^asked by:?\s+", line, re.IGNORECASE)
    return line[match.end():] if match else ""


# -- lines to a question ---------------------------------------------------------------------

def parse_page(text: str) -> Question:
    lines = page_lines(text)
    if not any(line.text for line in lines):
        raise RecordError("empty page", line=1)
    asked = find(lines, ASKED_ON)
    if asked is None:
        raise RecordError("no '(asked on <date>)' line: not a question page",
                          line=first_text(lines).number)
    heading = heading_before(lines, asked)
    date_tabled = parse_date(ASKED_ON.match(lines[asked].text), lines[asked].number)
    question_to = find(lines, QUESTION_TO, start=asked + 1)
    answered_by = find(lines, ANSWERED_BY, start=asked + 1)
    answered_on = find(lines, ANSWERED_ON, start=asked + 1)
    question_end = first_of(answered_by, answered_on, default=len(lines))
    question_start = (question_to if question_to is not None and question_to < question_end
                      else asked) + 1
    question_lines = [line for line in lines[question_start:question_end]
                      if not is_metadata(line.text)]
    paragraphs = split_paragraphs(question_lines)
    if not paragraphs:
        raise RecordError("no question text", line=lines[question_start - 1].number)
    question_text = "\n\n".join("\n".join(p) for p in paragraphs)
    answer = parse_answer(lines, answered_by, answered_on)
    # The answer is text as printed: metadata is looked for only above it.
    header = lines[:answered_on + 1] if answered_on is not None else lines
    uin = find_uin(header)
    return Question(
        house=infer_house(question_text, uin),
        uin=uin,
        date_tabled=date_tabled,
        heading=heading.text,
        answering_body=(QUESTION_TO.match(lines[question_to].text).group(1)
                        if question_to is not None and question_to < question_end else None),
        asking_member=asking_member(header),
        question_text=question_text,
        location=f"line {heading.number}",
        **answer,
    )


def find(lines: list[Line], pattern: re.Pattern, start: int = 0) -> int | None:
    "The index of the first line from `start` that matches the pattern."
    for index in range(start, len(lines)):
        if pattern.match(lines[index].text):
            return index
    return None


def first_of(*indexes: int | None, default: int) -> int:
    present = [index for index in indexes if index is not None]
    return min(present) if present else default


def first_text(lines: list[Line]) -> Line:
    return next(line for line in lines if line.text)


def is_metadata(text: str) -> bool:
    "Lines that describe the question rather than being part of it."
    return bool(ASKED_BY.match(text) or UIN_LINE.match(text) or HOLDING_ON.match(text))


def heading_before(lines: list[Line], asked: int) -> Line:
    "The heading: the nearest line of text above the '(asked on ...)' line."
    for line in reversed(lines[:asked]):
        if line.text and not is_metadata(line.text):
            return line
    raise RecordError("no heading above the '(asked on ...)' line", line=lines[asked].number)


def parse_date(match: re.Match, line_number: int) -> str:
    day, month_name, year = match.groups()
    month = MONTHS.get(month_name.lower())
    if month is None:
        raise RecordError(f"unknown month {month_name!r}", line=line_number)
    try:
        return date(int(year), month, int(day)).isoformat()
    except ValueError:
        raise RecordError(f"no such date: {day} {month_name} {year}", line=line_number) from None


def split_paragraphs(lines: list[Line]) -> list[list[str]]:
    "Runs of non-blank lines; blank lines (any number of them) separate paragraphs."
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line.text:
            current.append(line.text)
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return paragraphs


def parse_answer(lines: list[Line], answered_by: int | None, answered_on: int | None) -> dict:
    "The answer's fields: who answered, under what title, when, and the answer itself."
    if answered_by is None and answered_on is None:
        return {}  # not answered yet
    if answered_on is None:
        raise RecordError("'Answered by' with no 'This question was answered on <date>' line",
                          line=lines[answered_by].number)
    fields = {"date_answered": parse_date(ANSWERED_ON.match(lines[answered_on].text),
                                          lines[answered_on].number)}
    if answered_by is not None and answered_by < answered_on:
        fields.update(answerer(lines[answered_by], lines[answered_by + 1:answered_on]))
    holding = find(lines[:answered_on + 1], HOLDING_ON)
    if holding is not None:
        fields["date_holding_answer"] = parse_date(HOLDING_ON.match(lines[holding].text),
                                                   lines[holding].number)
    paragraphs = split_paragraphs(lines[answered_on + 1:])
    if paragraphs:
        fields["answer_html"] = "\n".join(
            "<p>" + "<br>\n".join(html.escape(text, quote=False) for text in paragraph) + "</p>"
            for paragraph in paragraphs
        )
    return fields


def answerer(answered_by: Line, block: list[Line]) -> dict:
    """The answering member and the title line printed under the name. Name and title may
    also share the 'Answered by' line ("Answered by Victoria Atkins")."""
    texts = [line.text for line in block if line.text and not is_metadata(line.text)]
    inline = ANSWERED_BY.match(answered_by.text).group(1)
    if inline:
        texts.insert(0, inline)
    if not texts:
        return {}
    name, titles = texts[0], texts[1:]
    return {
        "answering_member": MemberRef(id=name_member_id(name), name=name),
        "answerer_title_as_published": " ".join(titles) or None,
    }


def asking_member(lines: list[Line]) -> MemberRef | None:
    "The member from 'Asked by: Name (Party - Constituency)', when the page has that line."
    index = find(lines, ASKED_BY)
    if index is None:
        return None
    name, details = ASKED_BY.match(lines[index].text).groups()
    party = constituency = None
    if details:
        party, _, constituency = (part.strip() for part in details.partition(" - "))
        if constituency.lower() in NOT_CONSTITUENCIES:
            constituency = ""
    return MemberRef(id=name_member_id(name), name=name, party=party or None,
                     constituency=constituency or None)


def find_uin(lines: list[Line]) -> str | None:
    "A UIN the page shows on a line of its own ('UIN 12345', 'HL1234')."
    for line in lines:
        match = UIN_LINE.match(line.text)
        if match:
            return (match.group(1) or match.group(2)).replace(" ", "").upper()
    return None


def infer_house(question_text: str, uin: str | None) -> str:
    "The house, from the UIN's form or the wording of the question (see the module docstring)."
    if uin and uin.startswith("HL"):
        return "Lords"
    if LORDS_FORM.match(question_text):
        return "Lords"
    if SCOTTISH_FORM.match(question_text):
        return "Scottish Parliament"
    if COMMONS_FORM.match(question_text):
        return "Commons"
    return "Unknown"
