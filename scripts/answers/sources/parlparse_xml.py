"""Reader for TheyWorkForYou's parlparse XML: one file per day of written answers.

Commons (`answers2009-10-29a.xml`), Lords (`lordswrans2009-10-29a.xml`) and the Scottish
Parliament (`spwa2009-10-29.xml`). Each file is a flat run of elements: `major-heading` (the
answering department), `minor-heading` (the subject), one or more `ques` and then the `reply`
that answers them all.

parlparse writes a new letter each time it re-parses a day (`...26a`, `...26b`, ... `...26f`);
only the latest letter holds the day, so an earlier letter beside a later one reads as nothing.

The files carry no date tabled: the file's day is the day the answers were published, which
becomes `date_answered` (and, by the model's identity rule, the date in the key).
"""

from __future__ import annotations

import copy
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from string import ascii_lowercase
from urllib.parse import urljoin

from ..model import MemberRef, Question, SourceError, name_member_id
from .files import UnreadableFile, base_name, read_bytes

FORMAT = "parlparse-xml"

FILE_NAME = re.compile(
    r"^(?P<prefix>answers|lordswrans|spwa)(?P<date>\d{4}-\d{2}-\d{2})(?P<letter>[a-z]?)\.xml$"
)
HOUSE_BY_PREFIX = {"answers": "Commons", "lordswrans": "Lords", "spwa": "Scottish Parliament"}

# The Scottish Parliament's party abbreviations, spelled out as the other sources spell parties.
SCOTTISH_PARTIES = {
    "Lab": "Labour",
    "Con": "Conservative",
    "LD": "Liberal Democrat",
    "SNP": "Scottish National Party",
    "Green": "Scottish Green Party",
    "SSP": "Scottish Socialist Party",
    "SSCUP": "Scottish Senior Citizens Unity Party",
    "Sol": "Solidarity",
    "Ind": "Independent",
    "NPA": "No Party Affiliation",
}
# "Peter Peacock (Highlands and Islands) (Lab)": name, then constituency or region, then party.
SCOTTISH_SPEAKER = re.compile(
    r"^(?P<name>[^()]+?)\s*\((?P<place>[^()]+)\)\s*\((?P<party>[^()]+)\)$"
)

# Commons major headings are printed in capitals; these words stay in capitals when the
# heading is put in title case.
ACRONYMS = {"HM", "UK", "EU", "UN", "NHS", "BBC", "HMRC", "GCHQ", "NATO"}
SMALL_WORDS = {"and", "of", "the", "for", "in", "on", "to", "a", "an", "at", "by", "with"}

NUMBERED_PART = re.compile(r"^\(\d+\)\s*")


def matches(path: Path) -> bool:
    return FILE_NAME.match(base_name(Path(path))) is not None


@dataclass(frozen=True)
class Day:
    "What the file's name says: which house, which day, which version."

    file: str
    prefix: str
    house: str
    date: str
    letter: str


@dataclass
class Block:
    "A run of questions and the replies that answer them, under one heading."

    heading: str | None
    body: str | None
    questions: list[ET.Element] = field(default_factory=list)
    replies: list[ET.Element] = field(default_factory=list)


def superseded(path: Path) -> bool:
    "Whether a later version (letter) of the same day sits beside this file."
    path = Path(path)
    return is_superseded(path, day_of(path))


def read(path: Path) -> Iterator[Question | SourceError]:
    path = Path(path)
    day = day_of(path)
    if is_superseded(path, day):
        return
    try:
        data = read_bytes(path)
    except UnreadableFile as error:  # a damaged .gz, or an unreadable file
        yield SourceError(day.file, "file", str(error))
        return
    try:
        root = parse(data)
    except ET.ParseError as error:
        line, column = error.position
        yield SourceError(day.file, f"line {line}, column {column}", parse_message(error))
        return
    for block in blocks(root):
        yield from block_records(block, day)


def day_of(path: Path) -> Day:
    found = FILE_NAME.match(base_name(path))
    if found is None:
        raise ValueError(f"not a parlparse written answers file: {path}")
    prefix = found["prefix"]
    return Day(str(path), prefix, HOUSE_BY_PREFIX[prefix], found["date"], found["letter"])


def is_superseded(path: Path, day: Day) -> bool:
    """Whether the same folder holds a later version (letter) of the same day. Asking for
    each later name keeps this cheap in a folder of thousands of days."""
    for letter in ascii_lowercase:
        if letter <= day.letter:
            continue
        for suffix in (".xml", ".xml.gz"):
            if (path.parent / f"{day.prefix}{day.date}{letter}{suffix}").exists():
                return True
    return False


def parse(data: bytes) -> ET.Element:
    """The document's root. The parser honours the declared encoding and the entities the
    inline DOCTYPE defines (&pound; and the like); it fetches nothing from outside."""
    parser = ET.XMLParser()
    parser.feed(data)
    return parser.close()


def parse_message(error: ET.ParseError) -> str:
    "The parser's message without the position, which the location already gives."
    return re.sub(r":\s*line \d+, column \d+$", "", str(error))


# -- the run of elements ------------------------------------------------------------------


def blocks(root: ET.Element) -> Iterator[Block]:
    """Group the day's elements into blocks: the questions since the last heading or reply,
    with the replies that follow them. Headings and redirects are not records themselves."""
    body: str | None = None
    heading: str | None = None
    block = Block(heading, body)
    for element in root:
        if element.tag == "ques":
            if block.replies:
                yield block
                block = Block(heading, body)
            block.questions.append(element)
        elif element.tag == "reply":
            block.replies.append(element)
        elif element.tag in ("major-heading", "minor-heading"):
            if block.questions or block.replies:
                yield block
            if element.tag == "major-heading":
                body = body_from_heading(element_text(element)) or body
                heading = None
            else:
                heading = element_text(element) or None
            block = Block(heading, body)
    if block.questions or block.replies:
        yield block


def body_from_heading(text: str) -> str | None:
    """The answering body a major heading names. The Scottish files open with a heading for
    the day ('Written Answers Monday 26 October 2009'), which names no body."""
    if not text or text.startswith("Written Answers"):
        return None
    return title_case(text) if text.isupper() else text


def title_case(text: str) -> str:
    "'WORK AND PENSIONS' -> 'Work and Pensions'; acronyms stay in capitals."
    def fix(match: re.Match) -> str:
        word = match.group(0)
        if word in ACRONYMS:
            return word
        if match.start() > 0 and word.lower() in SMALL_WORDS:
            return word.lower()
        return word.capitalize()

    return re.sub(r"[A-Za-z]+", fix, text)


# -- one block -> records -------------------------------------------------------------------


def block_records(block: Block, day: Day) -> Iterator[Question | SourceError]:
    if not block.questions:
        for reply in block.replies:
            yield SourceError(day.file, gid(reply, "reply"), "reply with no question before it")
        return
    answer = answer_of(block.replies)
    questions = [
        question
        for element in block.questions
        for question in questions_of(element, block, answer, day)
    ]
    if len(questions) > 1:
        keys = [question.key for question in questions]
        for question in questions:
            question.grouped_keys = [key for key in keys if key != question.key]
    yield from questions


@dataclass
class Answer:
    html: str | None = None
    date_holding_answer: str | None = None


def answer_of(replies: list[ET.Element]) -> Answer:
    "The answer the replies give together (one reply, as a rule)."
    parts = [reply_html(reply) for reply in replies]
    holding_dates = [date for _, date in parts if date]
    return Answer(
        html="\n".join(text for text, _ in parts if text) or None,
        date_holding_answer=holding_dates[0] if holding_dates else None,
    )


def questions_of(element: ET.Element, block: Block, answer: Answer, day: Day) -> list[Question]:
    """The questions one `ques` element asks. A Commons or Lords member often tables several
    questions at once, printed as one `ques` with a question number on each paragraph: each
    number is a question of its own, and all of them share the reply."""
    location = gid(element, "ques")
    parts = question_parts(element)
    answerer = member_of(block.replies[0], day.house) if block.replies else None
    holding = element.get("holdingdate") or answer.date_holding_answer
    questions = []
    # A question printed without its reply keeps the file's day as its date all the same:
    # it is the only date the file gives, and the key needs one.
    for uin, text in parts:
        questions.append(Question(
            house=day.house,
            uin=uin or element.get("spid") or None,
            date_tabled=None,
            date_answered=day.date,
            date_holding_answer=holding,
            heading=block.heading,
            answering_body=block.body,
            asking_member=member_of(element, day.house),
            answering_member=answerer if answer.html else None,
            question_text=text or None,
            answer_html=answer.html,
            official_url=element.get("url") or None,
            location=f"{location}#{uin}" if len(parts) > 1 else location,
        ))
    return questions


def question_parts(element: ET.Element) -> list[tuple[str | None, str]]:
    """(question number, plain text) for each question in a `ques`.

    Paragraphs before the first numbered one are a shared opening ('To ask the Secretary of
    State for Northern Ireland'); a numbered part '(2) what types of ...;' completes it.
    Unnumbered paragraphs after a numbered one continue it.
    """
    opening: list[str] = []
    parts: list[tuple[str | None, list[str]]] = []
    for paragraph in element.iter("p"):
        text = element_text(paragraph)
        number = paragraph.get("qnum")
        if number:
            parts.append((number.strip(), [text]))
        elif parts:
            parts[-1][1].append(text)
        else:
            opening.append(text)
    if not parts:
        return [(None, "\n\n".join(t for t in opening if t))]
    return [(number, join_part(opening, paragraphs)) for number, paragraphs in parts]


def join_part(opening: list[str], paragraphs: list[str]) -> str:
    first = paragraphs[0]
    if opening and NUMBERED_PART.match(first):
        # One of a numbered list: the opening and the part make one sentence, which ends
        # where the list item ended with a semicolon.
        sentence = " ".join(opening + [NUMBERED_PART.sub("", first)])
        first = re.sub(r";\s*(and|or)?$", ".", sentence)
        return "\n\n".join(t for t in [first] + paragraphs[1:] if t)
    return "\n\n".join(t for t in opening + paragraphs if t)


# -- members ----------------------------------------------------------------------------------


def member_of(element: ET.Element, house: str) -> MemberRef | None:
    "The speaker of a `ques` or `reply`, with the Scottish constituency and party split out."
    speaker_id = (element.get("speakerid") or "").strip()
    spoken_name = " ".join((element.get("speakername") or "").split())
    if not speaker_id and not spoken_name:
        return None
    name, constituency, party = split_speaker_name(spoken_name)
    if not speaker_id or speaker_id == "unknown":
        if not name:
            return None
        speaker_id = name_member_id(name)
    return MemberRef(id=speaker_id, name=name or None, party=party,
                     constituency=constituency, house=house)


def split_speaker_name(text: str) -> tuple[str, str | None, str | None]:
    "'David Stewart (Highlands and Islands) (Lab)' -> name, constituency or region, party."
    found = SCOTTISH_SPEAKER.match(text)
    if found is None:
        return text, None, None
    party = found["party"].strip()
    return found["name"], found["place"].strip(), SCOTTISH_PARTIES.get(party, party)


# -- text and HTML ------------------------------------------------------------------------------


def gid(element: ET.Element, tag: str) -> str:
    return element.get("id") or f"{tag} without an id"


def element_text(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def reply_html(reply: ET.Element) -> tuple[str, str | None]:
    """The reply's inner HTML and the date of any holding answer it records.

    parlparse marks up the answer in HTML plus a few elements of its own: `phrase` (dates,
    references) is unwrapped to its text, and the 'holding answer <date>' line becomes a
    date. Relative links are made absolute against the page the reply came from.
    """
    reply = copy.deepcopy(reply)
    for element in reply.iter():
        element.tag = element.tag.lower()
    holding_date = take_holding_answer(reply)
    unwrap(reply, "phrase")
    absolute_links(reply, reply.get("url"))
    return inner_html(reply), holding_date


def take_holding_answer(reply: ET.Element) -> str | None:
    "Remove the 'holding answer 28 October 2009' paragraph and return its ISO date."
    for paragraph in list(reply.findall("p")):
        if paragraph.get("class") != "holdinganswer":
            continue
        date = paragraph.find("phrase[@class='date']")
        if date is not None and date.get("code"):
            reply.remove(paragraph)
            return date.get("code")
    return None


def unwrap(element: ET.Element, tag: str) -> None:
    "Replace every `tag` element inside `element` by its content."
    for child in list(element):
        unwrap(child, tag)
    index = 0
    while index < len(element):
        if element[index].tag == tag:
            lift(element, index)
        else:
            index += 1


def lift(parent: ET.Element, index: int) -> None:
    "Put the text and children of parent[index] in its place."
    child = parent[index]
    children = list(child)
    append_text(parent, index, child.text)
    parent.remove(child)
    for offset, grandchild in enumerate(children):
        parent.insert(index + offset, grandchild)
    if children:
        children[-1].tail = (children[-1].tail or "") + (child.tail or "")
    else:
        append_text(parent, index, child.tail)


def append_text(parent: ET.Element, index: int, text: str | None) -> None:
    "Add text just before parent[index]: to the previous sibling's tail or the parent's text."
    if not text:
        return
    if index == 0:
        parent.text = (parent.text or "") + text
    else:
        parent[index - 1].tail = (parent[index - 1].tail or "") + text


def absolute_links(element: ET.Element, base_url: str | None) -> None:
    if not base_url:
        return
    for link in element.iter("a"):
        href = link.get("href")
        if href:
            link.set("href", urljoin(base_url, href.strip()))


def inner_html(element: ET.Element) -> str:
    pieces = [html.escape(element.text or "", quote=False)]
    pieces.extend(ET.tostring(child, encoding="unicode", method="html") for child in element)
    return "".join(pieces).strip()
