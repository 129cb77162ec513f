"""Reader for the answered-questions CSV built from the old data.parliament.uk API.

Files are named `*archived_pqs.csv` (one folder per department) in one of two layouts:

    Question_MP, Question_Text, Question_ID, MP_Constituency, Question_Date,
        Answer_Text, Answer_MP, Answer_Date, Party
    Question_ID, Question_Text, Answer_Text, Question_MP, MP_Constituency,
        Answer_MP, Date, Answer_Date

Each row is one answered question:

- `Question_ID` is the UIN; "HL1234" is a Lords question, a number a Commons one. UINs are
  reused from one session to the next, so rows with the same UIN and different dates are
  different questions (the key includes the date tabled).
- Names: MPs are "Surname, Forename" and become "Forename Surname" ("Spelman, Dame
  Caroline" -> "Dame Caroline Spelman"); peers ("Lord Wallace of Saltaire") and names
  without a comma are kept as given, spacing tidied. Members are known by name only.
- "NA" means no value, in every column; a `Party` of "Not found" too. The party and
  constituency describe the asking member. A Lords question is answered by a Lords minister
  and a Commons question by a Commons one, so both members take the question's house.
- `Answer_Text` is the API's HTML (sanitized later by the store); `Question_Text` carries
  a few `<i>` tags, removed to give plain text.
- No official URL: the rows carry no id that a stable parliament.uk address is made from.

The answering body. The CSV has no department column: the file names it, by the folder
abbreviation in its name ("co_archived_pqs.csv") or, for the two files called just
`archived_pqs.csv`, by its folder. The abbreviations were checked against the questions'
wording ("To ask the Minister for the Cabinet Office ..."):

    co    Cabinet Office                     ag    Attorney General
    beis  Department for Business, Energy and Industrial Strategy
    dclg  Department for Communities and Local Government
    dcms, ddcms and Data/archived_pqs.csv    the department for culture, media and sport
    cc    Church Commissioners               cdl   Chancellor of the Duchy of Lancaster
    dit   Department for International Trade
    examples/archived_pqs.csv                Ministry of Justice

Each body is named as it was when it answered: the Department for Culture, Media and Sport
became the Department for Digital, Culture, Media and Sport on 3 July 2017, and its
folders straddle that day. A file this table does not know gets no answering body.

A record's location is "row N (Question_ID X)", N counting records as a spreadsheet shows
them: the header is row 1, and an answer spread over several lines is still one row.

Bad rows (no Question_ID or Question_Date, a date that is not YYYY-MM-DD, the wrong number
of fields) are reported one by one and the rest of the file is still read; a file whose
header is neither layout is reported once.

Character set: files are UTF-8 (a byte order mark is ignored). A file that is not valid
UTF-8 but holds no UTF-8 sequences at all and is valid Windows-1252 throughout is decoded
as Windows-1252, which maps every byte to the character it was written for; each record's
location then says "decoded as cp1252". Otherwise each row holding bytes that are not UTF-8
is rejected with the file offset of the first such byte, and every other row is read.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

from ..model import MemberRef, Question, RecordError, SourceError, name_member_id
from .files import UnreadableFile, base_name, never_superseded, read_text

FORMAT = "data-parliament-csv"

FILE_SUFFIX = "archived_pqs.csv"
LAYOUTS = (
    {"Question_MP", "Question_Text", "Question_ID", "MP_Constituency", "Question_Date",
     "Answer_Text", "Answer_MP", "Answer_Date", "Party"},
    {"Question_ID", "Question_Text", "Answer_Text", "Question_MP", "MP_Constituency",
     "Answer_MP", "Date", "Answer_Date"},
)
NO_VALUE = {"", "NA", "Not found"}

# Answering bodies by the abbreviation a file name or folder gives: (from date, name) pairs,
# latest last, for bodies renamed within the files' years.
CULTURE = (("", "Department for Culture, Media and Sport"),
           ("2017-07-03", "Department for Digital, Culture, Media and Sport"))
BODIES = {
    "co": (("", "Cabinet Office"),),
    "beis": (("", "Department for Business, Energy and Industrial Strategy"),),
    "dcms": CULTURE,
    "ddcms": CULTURE,
    "ag": (("", "Attorney General"),),
    "dclg": (("", "Department for Communities and Local Government"),),
    "cc": (("", "Church Commissioners"),),
    "cdl": (("", "Chancellor of the Duchy of Lancaster"),),
    "dit": (("", "Department for International Trade"),),
    "moj": (("", "Ministry of Justice"),),
}
# Files named just "archived_pqs.csv": the abbreviation their folder stands for.
FOLDERS = {"data": "dcms", "examples": "moj"}

UNDECODED = re.compile("[\udc80-\udcff]")  # bytes kept by the surrogateescape handler
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TAG = re.compile(r"</?[A-Za-z][^>]*>")

# Answers of several thousand characters are common; the csv module's default limit of
# 128 KiB per field is raised so that only a truly broken file trips it.
FIELD_SIZE_LIMIT = 16 * 1024 * 1024


superseded = never_superseded


def matches(path: Path) -> bool:
    return base_name(path).lower().endswith(FILE_SUFFIX)


def read(path: Path) -> Iterator[Question | SourceError]:
    file = str(path)
    try:
        text, note = read_text(path, keep_undecodable=True)
    except UnreadableFile as error:
        yield SourceError(file, "file", str(error))
        return
    body = body_names(path)
    if csv.field_size_limit() < FIELD_SIZE_LIMIT:
        csv.field_size_limit(FIELD_SIZE_LIMIT)
    records = Records(text)
    header = None
    for number, (start, row) in enumerate(records, start=1):
        if header is None:
            if isinstance(row, csv.Error):
                yield SourceError(file, "row 1", f"unreadable header: {row}")
                return
            header = [name.strip().lstrip("\ufeff") for name in row]
            if set(header) not in LAYOUTS:
                yield SourceError(file, "row 1", f"unknown header: {', '.join(header)}")
                return
            continue
        if row == []:
            continue  # a blank line holds no record
        yield row_record(file, text, header, number, start, row, body, note)
    if header is None:
        yield SourceError(file, "file", "empty file")


# -- bytes to rows -----------------------------------------------------------------------------

class Records:
    "The CSV records of a text, each with the character offset at which it starts."

    def __init__(self, text: str):
        self.consumed = 0
        self.reader = csv.reader(self.lines(text))

    def lines(self, text: str) -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            self.consumed += len(line)
            yield line

    def __iter__(self) -> Iterator[tuple[int, list[str] | csv.Error]]:
        while True:
            start = self.consumed  # the reader pulls lines only as a record needs them
            try:
                row = next(self.reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield start, error
                continue
            yield start, row


# -- one row ---------------------------------------------------------------------------------

def row_record(file: str, text: str, header: list[str], number: int, start: int,
               row: list[str] | csv.Error, body, note: str | None) -> Question | SourceError:
    location = f"row {number}"
    if isinstance(row, csv.Error):
        return SourceError(file, location, f"unreadable CSV: {row}")
    fields = dict(zip(header, row, strict=False))
    uin = clean(fields.get("Question_ID"))
    if uin:
        location = f"row {number} (Question_ID {uin})"
    try:
        check_row(text, header, row, start)
        question = to_question(fields, body)
    except RecordError as error:
        return SourceError(file, location, str(error))
    question.location = f"{location}; {note}" if note else location
    return question


def check_row(text: str, header: list[str], row: list[str], start: int) -> None:
    if len(row) != len(header):
        raise RecordError(f"{len(row)} fields where the header has {len(header)}")
    for value in row:
        undecoded = UNDECODED.search(value)
        if undecoded:
            raise RecordError(f"not valid UTF-8 at byte {byte_offset(text, start, undecoded.group())}")


def byte_offset(text: str, start: int, character: str) -> int:
    "The file offset of the first undecodable byte at or after the record's start."
    index = text.index(character, start)
    return len(text[:index].encode("utf-8", "surrogateescape"))


def to_question(fields: dict[str, str], body) -> Question:
    uin = clean(fields.get("Question_ID"))
    if not uin:
        raise RecordError("no Question_ID")
    date_field = "Question_Date" if "Question_Date" in fields else "Date"
    date_tabled = iso_date(fields, date_field)
    if date_tabled is None:
        raise RecordError(f"no {date_field}")
    date_answered = iso_date(fields, "Answer_Date")
    house = "Lords" if uin.upper().startswith("HL") else "Commons"
    return Question(
        house=house,
        uin=uin,
        date_tabled=date_tabled,
        date_answered=date_answered,
        answering_body=body_name(body, date_answered or date_tabled),
        asking_member=member(fields.get("Question_MP"), house, clean(fields.get("Party")),
                             clean(fields.get("MP_Constituency"))),
        answering_member=member(fields.get("Answer_MP"), house),
        question_text=plain_text(clean(fields.get("Question_Text"))),
        answer_html=clean(fields.get("Answer_Text")),
    )


def clean(value: str | None) -> str | None:
    "A field's value, or None for the source's markers of no value."
    if value is None:
        return None
    value = value.strip()
    return None if value in NO_VALUE else value


def iso_date(fields: dict[str, str], name: str) -> str | None:
    value = clean(fields.get(name))
    if value is None:
        return None
    try:
        if not ISO_DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise RecordError(f"{name} is not a date: {value!r}") from None


def person_name(raw: str | None) -> str | None:
    "'Surname, Forename' as 'Forename Surname'; other forms as given, spacing tidied."
    if raw is None:
        return None
    name = " ".join(raw.split())
    if name.count(",") == 1:
        surname, forename = (part.strip() for part in name.split(","))
        name = f"{forename} {surname}".strip()
    return clean(name)


def member(raw: str | None, house: str, party: str | None = None,
           constituency: str | None = None) -> MemberRef | None:
    name = person_name(raw)
    if name is None:
        return None
    return MemberRef(id=name_member_id(name), name=name, party=party,
                     constituency=constituency, house=house)


class TextOnly(HTMLParser):
    "Collects the text of an HTML fragment, with entities decoded."

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(text: str | None) -> str | None:
    "Question text without the odd `<i>` tag (only text that has a tag is parsed)."
    if text is None or not TAG.search(text):
        return text
    parser = TextOnly()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts).strip() or None


# -- the answering body ---------------------------------------------------------------------

def body_names(path: Path):
    "The answering body's names over time for a file, from its name or folder (or None)."
    name = base_name(path).lower()
    abbreviation = name[: -len(FILE_SUFFIX)].rstrip("_-")
    if not abbreviation:
        abbreviation = FOLDERS.get(path.parent.name.lower(), "")
    return BODIES.get(abbreviation)


def body_name(names, on_date: str) -> str | None:
    "The body's name on a date: the latest name in use by then."
    if names is None:
        return None
    current = None
    for since, name in names:
        if on_date >= since:
            current = name
    return current
