"""The normalized records every reader produces, and the rules that identify and rank them.

A reader turns one source file into a stream of `Question`, `FullText` and `SourceError`
items. Everything after the readers (the store, the pages, the site) only sees these.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, fields

HOUSES = ("Commons", "Lords", "Scottish Parliament")


# The official API's list endpoint clips text: the question to 255 characters without a mark,
# the answer (stripped of its markup) to 255 characters followed by "...". Single-question
# responses give the whole text, the answer as HTML.
QUESTION_CLIP_LENGTH = 255
ANSWER_CLIP_MARK = "..."
ANSWER_CLIP_LENGTH = 255 + len(ANSWER_CLIP_MARK)
# Text that starts with a tag is the HTML of a single-question response; the list endpoint
# gives plain text, which never does (it has no markup at all).
HTML_START = re.compile(r"\s*<(p|div|table|ul|ol|h[1-6]|span|strong|em|b|i|br|blockquote)\b",
                        re.IGNORECASE)


def question_is_clipped(text: str | None) -> bool:
    """Whether the list endpoint may have cut the question. It cuts at 255 characters
    without a mark, so a question of exactly 255 characters may be whole (about 1% are):
    it is flagged all the same, and the full text settles it."""
    return text is not None and len(text) == QUESTION_CLIP_LENGTH


def answer_is_clipped(text: str | None) -> bool:
    "The list endpoint cuts answers to 255 characters and adds '...' (and gives no markup)."
    return (text is not None and len(text) == ANSWER_CLIP_LENGTH
            and text.endswith(ANSWER_CLIP_MARK) and not HTML_START.match(text))


@dataclass(frozen=True)
class SourceError:
    "A record that could not be read: which file, where in it, and why (a reader yields it)."

    file: str
    location: str
    reason: str


class RecordError(ValueError):
    """A record that cannot become a stored Question: raised within a reader or the checks,
    caught for that record alone; the message is the reason given in `rejects`. `line` is
    where in its file the problem is, when a reader knows it."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.line = line


@dataclass(frozen=True)
class MemberRef:
    """A member as one source names them.

    `id` is the MNIS id as a string ("4399") where the source or a name look-up gives it,
    the parlparse id ("uk.org.publicwhip/member/2038") for TheyWorkForYou XML, and
    "name:<slug>" when a source gives only a name.
    """

    id: str
    name: str | None = None
    party: str | None = None
    constituency: str | None = None
    house: str | None = None


@dataclass
class Question:
    """One written question and (when it has one) its answer, as a source printed it."""

    house: str
    uin: str | None
    date_tabled: str | None  # ISO dates throughout: YYYY-MM-DD
    date_answered: str | None = None
    date_for_answer: str | None = None
    date_holding_answer: str | None = None
    date_answer_corrected: str | None = None
    heading: str | None = None
    answering_body: str | None = None
    answering_body_id: int | None = None  # the official API's id, where known
    asking_member: MemberRef | None = None
    answering_member: MemberRef | None = None
    correcting_member: MemberRef | None = None
    # The title line a page printed under the answerer's name. Often the member's *later*
    # office: kept as published, never presented as the office held on the answer date.
    answerer_title_as_published: str | None = None
    question_text: str | None = None
    answer_html: str | None = None  # unsanitized here; the store sanitizes before writing
    original_answer_html: str | None = None  # the answer before a correction
    is_holding: bool = False
    is_withdrawn: bool = False
    is_named_day: bool = False
    is_correction: bool = False
    member_has_interest: bool = False
    question_is_clipped: bool = False
    answer_is_clipped: bool = False
    grouped_keys: list[str] = field(default_factory=list)  # the other questions sharing this answer
    api_id: int | None = None  # id in the official Written Questions API
    official_url: str | None = None
    location: str = ""  # where in its file this record came from, for errors and provenance

    @property
    def key(self) -> str:
        return question_key(self)

    @property
    def url(self) -> str:
        return question_url(self)

    def record_hash(self) -> str:
        "A digest of what the source said, so that exact duplicates collapse."
        # Not dataclasses.asdict: its deep copy of every record was a quarter of a build.
        data = {name: getattr(self, name) for name in HASHED_FIELDS}
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=member_fields)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def freshness(self) -> tuple:
        """How far along in its life this snapshot of the question is.

        A later snapshot (answered where it was not, substantive where it was holding, a
        correction, a later answer date) ranks higher and replaces an earlier one, whatever
        order the files are read in.
        """
        has_answer = bool(self.answer_html)
        return (
            self.date_answer_corrected or "",
            has_answer and not self.is_holding,
            has_answer,
            self.date_answered or "",
            not self.answer_is_clipped,
            not self.question_is_clipped,
        )


@dataclass(frozen=True)
class FullText:
    "The unclipped text of an official API question, by its API id (the longform files)."

    api_id: int
    question_text: str | None
    answer_html: str | None
    location: str = ""


def member_fields(value: MemberRef) -> list:
    "How a member reference enters a record's digest: its values (as astuple gives them)."
    return [getattr(value, name) for name in MEMBER_FIELDS]


# Field names, looked up once: dataclasses.fields() cost a quarter of each digest.
HASHED_FIELDS = tuple(f.name for f in fields(Question) if f.name != "location")
MEMBER_FIELDS = tuple(f.name for f in fields(MemberRef))


# A slug names a folder of the archive, and a file name may be at most 255 bytes; with room
# left for what is added to a slug (a member's id, a digest), slugs stop well short of that.
SLUG_LIMIT = 150
SLUG_DIGEST = 10  # hex digits of sha256 that tell apart slugs cut to the same words
NOT_SLUG = re.compile(r"[^A-Za-z0-9]+")


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by hyphens: 'Home Office' -> 'home-office'.

    A slug longer than SLUG_LIMIT is cut after a whole word and ends in a digest of the whole
    slug, so that two long names sharing their first words still get two slugs."""
    if text.isascii() and text.isalnum():  # a house, most UINs: no pattern to run (half the cost)
        text = text.lower()
    else:
        text = NOT_SLUG.sub("-", text.replace("&", " and ")).strip("-").lower()
    if len(text) <= SLUG_LIMIT:
        return text or "none"
    digest = hashlib.sha256(text.encode("ascii")).hexdigest()[:SLUG_DIGEST]
    cut = text[:SLUG_LIMIT - SLUG_DIGEST - 1]
    if text[len(cut)] != "-" and "-" in cut:
        cut = cut.rsplit("-", 1)[0]
    return f"{cut.rstrip('-')}-{digest}"


def identity_date(question: Question) -> str:
    """The date half of a question's identity: the date tabled.

    TheyWorkForYou XML gives no date tabled, only the day the answer was published; its
    questions use that date instead. A question with neither is dated "undated".
    """
    return question.date_tabled or question.date_answered or "undated"


def content_id(question: Question) -> str:
    """A stable stand-in for a missing UIN: 'p' + 10 hex digits of sha256 over the heading
    and the question text, whitespace collapsed. The same page always gets the same id."""
    text = f"{question.heading or ''}\n{question.question_text or ''}"
    text = re.sub(r"\s+", " ", text).strip()
    return "p" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def make_key(house: str, date: str, uin: str) -> str:
    """The primary key: house, date tabled and UIN ('commons-2024-08-30-3283').

    UINs are reused from one session to the next, so the UIN alone is not an identity;
    with the house and the date tabled it is.
    """
    return f"{slugify(house)}-{date}-{slugify(uin)}"


def question_key(question: Question) -> str:
    uin = question.uin or content_id(question)
    return make_key(question.house, identity_date(question), uin)


def question_url(question: Question) -> str:
    "The page's path in the archive, relative, ending in '/': 'commons/2024-08-30/3283/'."
    uin = question.uin or content_id(question)
    return f"{slugify(question.house)}/{identity_date(question)}/{slugify(uin)}/"


def name_member_id(name: str) -> str:
    "The member id used when a source gives a name and nothing else."
    return "name:" + slugify(name)
