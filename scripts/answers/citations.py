"""Citations: references in question and answer text to other written questions.

Reads the `questions` table of a built database and writes its `citations` table: one row per
reference found ("pursuant to the Answer of 12 December 2023 to Question 4982", "PQ UIN 7203",
"HL4404"), with the question it cites where the archive holds exactly one question it can be. The pages
read the resolved ones back through `queries.citation_links` and link them in the text here.

How a reference is resolved:
- A UIN names a question only within a parliamentary session: UINs restart each session.
  Sessions are read from the data (`Sessions`): within a house, UINs grow with the date
  tabled, and a day whose lowest UIN falls to half the previous day's starts a new session.
- A reference with a date (the date answered, or tabled) matches the question of that house
  and UIN whose date tabled, answered, holding answer or correction is that date (rule
  `uin+date`). Where none has, but the archive's snapshot of a question of that UIN predates
  its answer (no answer yet), was tabled up to half a year before the date and in the same
  session, that question is the one (rule `uin+later-answer`).
- A reference with no date matches the question of that UIN in the citing question's own
  session, tabled no later than the citing text was written (rule `uin+session`).
- Nothing found: `unresolved` (the cited question is not in the archive). More than one
  question fits: `ambiguous`, and no link is made. A wrong link is worse than none.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import sqlite_utils

from . import urls

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

MONTHS = {name: number for number, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
    ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sept", "sep"),
    ("october", "oct"), ("november", "nov"), ("december", "dec")), start=1) for name in names}
MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
DATE = re.compile(
    rf"\b(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\s+(?P<month>{MONTH_NAMES})\b\.?(?:,?\s+(?P<year>\d{{4}}))?",
    re.IGNORECASE)

# The words that say a number is a question's: "Question", "Written Parliamentary Question",
# "PQ", "WPQ", "UIN", and combinations ("Question UIN", "PQ UIN", "PQ Answer").
CUE = (r"(?:(?:written\s+)?(?:parliamentary\s+)?(?:questions?|answers?)|w?pqs?)"
       r"(?:\s+(?:uins?|numbers?|no\.|nos\.|ref(?:erence)?s?\.?|answer))?"
       r"|uins?")
NUMBER = r"(?:hl\s?[0-9]{1,6}|[0-9]{2,6})"
# A number after a cue word, with any further numbers listed after it ("Questions 1652 and
# 1653", "UIN 15923 and UIN 15934"), or a Lords number standing alone ("HL4404").
REFERENCE = re.compile(
    rf"\b(?:(?P<cue>{CUE})[\s,:#\u200b]*(?P<first>{NUMBER})"
    rf"(?P<more>(?:\s*(?:,|and|&|or)\s*(?:(?:{CUE})\s*)?{NUMBER}\b)*)"
    r"|(?P<lords>HL[0-9]{1,6}))\b(?![/.,-]?[0-9])",
    re.IGNORECASE)
LISTED_NUMBER = re.compile(NUMBER, re.IGNORECASE)
# A date written just after a reference: "UIN 7203 on 21 December 2023", "PQ 5332 (answered
# on 3 May 2024)", "Question 614, given on 10 November 2023".
DATE_AFTER = re.compile(
    r"\s*,?\s*\(?\s*(?:(?:which\s+)?(?:was\s+)?(?:answered|given|tabled|dated|published)\s+)?"
    r"(?:on|of|dated)\s+(?:the\s+)?$", re.IGNORECASE)
# How far before a reference its date may be written: "the Answer of 28th February 2024,
# Official Report, PQ 5332" (26 characters between); past this a date belongs to other words.
DATE_BEFORE_REACH = 60
# A reference to a question numbered below this, with no date and only "Question" or "answer"
# as its cue, is more often a numbered item of a consultation or a report ("HC 1243, Question
# 25"): it is recorded but not resolved.
SMALL_NUMBER = 100
BARE_CUES = {"question", "answer", "written answer"}
# UINs from 900001 up are the separate series given to questions tabled while the House is not
# sitting: they never start low, so they say nothing about where a session starts.
RECESS_SERIES = 900_000
# The longest a cited answer is taken to have come after its question was tabled, when the
# archive holds the question but not yet its answer.
ANSWER_WITHIN_DAYS = 183


@dataclass(frozen=True)
class Reference:
    "One reference as written in a text."
    field: str  # 'question' or 'answer'
    start: int  # offset of the matched text in that field
    matched_text: str
    house: str
    uin: str  # as the archive writes it: '4982', 'HL4404'
    cited_date: str | None  # ISO date written with the reference, the year inferred if absent
    weak: bool  # a number below SMALL_NUMBER with only "Question" or "answer" for a cue, no date

    @property
    def normalised(self) -> str:
        return f"{self.house} {self.uin}" + (f" {self.cited_date}" if self.cited_date else "")


def normal_uin(number: str) -> tuple[str, str | None]:
    "'HL 4404' -> ('HL4404', 'Lords'); '4982' -> ('4982', None: the house of the citing text)."
    number = re.sub(r"\s+", "", number).upper()
    return number, ("Lords" if number.startswith("HL") else None)


def written_date(match: re.Match, written_on: str | None) -> str | None:
    """The ISO date a date match names. With no year, the latest such day on or before the
    day the text was written ("the Answer of 16 November", written in December 2023)."""
    day, month = int(match["day"]), MONTHS[match["month"].lower()]
    try:
        if match["year"]:
            return date(int(match["year"]), month, day).isoformat()
        if not written_on:
            return None
        written = date.fromisoformat(written_on[:10])
        guess = date(written.year, month, day)
        return (guess if guess <= written else date(written.year - 1, month, day)).isoformat()
    except ValueError:
        return None  # "31 September", "23 July 2925" stays a reference without a date


def date_for(text: str, start: int, end: int, previous_end: int, written_on: str | None):
    """The date written with a reference at text[start:end]: the last date shortly before it
    (after any earlier reference), or else one that follows it ('... on 21 December 2023')."""
    window_start = max(previous_end, start - DATE_BEFORE_REACH - 30)
    # A full stop between a date and the reference ends the sentence the date belongs to.
    before = [m for m in DATE.finditer(text, window_start, start)
              if start - m.end() <= DATE_BEFORE_REACH and "." not in text[m.end():start].replace("No.", "")]
    if before:
        return written_date(before[-1], written_on)
    after = DATE.search(text, end, end + 60)
    if after and DATE_AFTER.fullmatch(text[end:after.start()]):
        return written_date(after, written_on)
    return None


def find_references(text: str | None, field: str, house: str, written_on: str | None) -> list[Reference]:
    "Every reference to a question in one text, in order."
    if not text:
        return []
    references: list[Reference] = []
    previous_end = 0
    for match in REFERENCE.finditer(text):
        numbers = ([match["lords"]] if match["lords"]
                   else [match["first"]] + LISTED_NUMBER.findall(match["more"] or ""))
        cited_date = date_for(text, match.start(), match.end(), previous_end, written_on)
        bare_question = bool(match["cue"]) and match["cue"].lower().rstrip("s") in BARE_CUES
        for number in numbers:
            uin, cited_house = normal_uin(number)
            number_value = uin_number(uin)
            weak = (bare_question and not cited_date and not uin.startswith("HL")
                    and number_value is not None and number_value < SMALL_NUMBER)
            references.append(Reference(field, match.start(), match.group(), cited_house or house,
                                        uin, cited_date, weak))
        previous_end = match.end()
    return references


# -- sessions --------------------------------------------------------------------------


UIN_NUMBER = re.compile(r"(?:HL\s*)?([0-9]{1,9})", re.IGNORECASE)


def uin_number(uin: str | None) -> int | None:
    "The number of a UIN ('HL4404' -> 4404); None for anything else a source may hold."
    match = UIN_NUMBER.fullmatch(uin or "")
    return int(match[1]) if match else None


# The lowest UIN of each house and date tabled, in one pass over an index (schema.py's
# questions_day_uin): a UIN written as a plain number is read by SQLite, any other by `uin_number`.
# A day's lowest is then the least of its dates' (a date tabled may carry a time).
LOWEST_UIN_BY_DATE = """
    select house, date_tabled, min(case
        when cast(cast(uin as integer) as text) = uin and cast(uin as integer) between 0 and 999999999
        then cast(uin as integer) else uin_number(uin) end)
    from questions where date_tabled is not null group by house, date_tabled"""


class Sessions:
    """The parliamentary sessions the data shows, per house: spans of days tabled between two
    restarts of the UIN sequence. A day with no question tabled between two spans belongs to
    no known session: nothing is assumed about where the boundary lay."""

    def __init__(self, lowest_by_day: dict[str, list[tuple[str, int]]]):
        self.spans: dict[str, list[tuple[str, str]]] = {}
        for house, days in lowest_by_day.items():
            spans: list[list[str]] = []
            previous = None
            for day, lowest in sorted(days):
                if previous is None or lowest < previous / 2:
                    spans.append([day, day])
                spans[-1][1] = day
                previous = lowest
            self.spans[house] = [(first, last) for first, last in spans]

    @classmethod
    def from_database(cls, db: sqlite_utils.Database) -> Sessions:
        db.conn.create_function("uin_number", 1, uin_number, deterministic=True)
        lowest: dict[tuple[str, str], int] = {}
        for house, tabled, number in db.execute(LOWEST_UIN_BY_DATE):
            if number is not None and number < RECESS_SERIES:
                slot = (house, tabled[:10])
                lowest[slot] = min(number, lowest.get(slot, number))
        by_house: dict[str, list[tuple[str, int]]] = {}
        for (house, day), number in lowest.items():
            by_house.setdefault(house, []).append((day, number))
        return cls(by_house)

    def of(self, house: str, day: str | None) -> tuple[str, str] | None:
        "The span of the session a day tabled lies in, or None where no data shows it."
        index = self.index(house, day)
        if index is None:
            return None
        first, last = self.spans[house][index]
        return (first, last) if day[:10] <= last else None

    def until(self, house: str, day: str | None) -> str | None:
        """The first day of the session after the one a question tabled on `day` lies in:
        its answer came before then (a question lapses when its session ends)."""
        index = self.index(house, day)
        if index is None:
            return None
        spans = self.spans[house]
        return spans[index + 1][0] if index + 1 < len(spans) else "9999-12-31"

    def index(self, house: str, day: str | None) -> int | None:
        if not day:
            return None
        spans = self.spans.get(house, [])
        index = bisect_right([first for first, _ in spans], day[:10]) - 1
        return index if index >= 0 else None


# -- resolving -------------------------------------------------------------------------


DATE_COLUMNS = ("date_tabled", "date_answered", "date_holding_answer", "date_answer_corrected")


CANDIDATE_COLUMNS = ", ".join(("key", "house", "uin") + DATE_COLUMNS)


class Archive:
    """The questions a reference can cite, by house and UIN: read as references ask for them
    (a few thousand distinct UINs are cited in the whole archive; an update cites a handful)."""

    def __init__(self, db: sqlite_utils.Database, sessions: Sessions | None = None):
        "`sessions`: those of `db`, if already read."
        self.db = db
        self.by_uin: dict[tuple[str, str], list[dict]] = {}
        # UINs held otherwise than a reference writes them ('hl 4404', '4982 '), by how it
        # does: few, and found from the UIN index. Any other is found by its own value.
        self.unusual: dict[tuple[str, str], list[dict]] = {}
        for row in db.query(f"""select {CANDIDATE_COLUMNS} from questions where rowid in
                                 (select rowid from questions where uin glob '*[^0-9A-Z]*')"""):
            uin, _ = normal_uin(row["uin"])
            if uin != row["uin"]:
                self.unusual.setdefault((row["house"], uin), []).append(row)
        self.sessions = sessions or Sessions.from_database(db)

    def candidates(self, house: str, uin: str) -> list[dict]:
        "The questions of this house whose UIN, as a reference writes it (`normal_uin`), is `uin`."
        if (house, uin) not in self.by_uin:
            self.by_uin[house, uin] = [*self.db.query(
                f"select {CANDIDATE_COLUMNS} from questions where uin = ? and house = ?", [uin, house]),
                *self.unusual.get((house, uin), [])]
        return self.by_uin[house, uin]

    def resolve(self, reference: Reference, citing: dict, written_on: str | None):
        "(status, rule, cited key or None) for one reference."
        candidates = self.candidates(reference.house, reference.uin)
        if reference.cited_date:
            fits = [row for row in candidates
                    if any((row[column] or "")[:10] == reference.cited_date for column in DATE_COLUMNS)]
            if fits:
                return verdict(fits, "uin+date")
            return verdict(self.answered_later(candidates, reference), "uin+later-answer")
        if reference.weak:
            return "unresolved", "small-number", None
        session = self.sessions.of(citing["house"], citing["date_tabled"])
        if session is None or reference.house != citing["house"]:
            return "unresolved", "uin+session", None
        first, last = session
        fits = [row for row in candidates if row["date_tabled"]
                and first <= row["date_tabled"][:10] <= min(last, (written_on or last)[:10])]
        return verdict(fits, "uin+session")


    def answered_later(self, candidates: list[dict], reference: Reference) -> list[dict]:
        """The questions a dated reference can cite when none has that date: the archive's
        snapshot of the question was taken before its answer (the reference's date) was given.
        Such a question has no answer here, was tabled no more than half a year before that
        date, and in the same session (before the next session began)."""
        day = date.fromisoformat(reference.cited_date)
        fits = []
        for row in candidates:
            tabled = row["date_tabled"]
            if row["date_answered"] or not tabled:
                continue
            if not 0 <= (day - date.fromisoformat(tabled[:10])).days <= ANSWER_WITHIN_DAYS:
                continue
            if reference.cited_date < (self.sessions.until(row["house"], tabled) or ""):
                fits.append(row)
        return fits


def verdict(fits: list[dict], rule: str):
    if len(fits) == 1:
        return "resolved", rule, fits[0]["key"]
    if not fits:
        return "unresolved", rule, None
    return "ambiguous", rule, None


def citing_texts(row: dict):
    "(field, text, the day the text was written) for a question's two texts."
    yield "question", row["question_text"], row["date_tabled"]
    yield "answer", row["answer_text"], row["date_answered"] or row["date_tabled"]


def citations_of(row: dict, archive: Archive) -> list[dict]:
    "The citations rows for one citing question."
    rows = []
    for field, text, written_on in citing_texts(row):
        for reference in find_references(text, field, row["house"], written_on):
            status, rule, cited = archive.resolve(reference, row, written_on)
            rows.append({
                "citing_key": row["key"], "field": field, "position": reference.start,
                "uin": reference.uin, "house": reference.house, "reference": reference.normalised,
                "cited_date": reference.cited_date, "matched_text": reference.matched_text,
                "rule": rule, "status": status, "cited_key": cited,
            })
    return rows


CITING_COLUMNS = "key, house, date_tabled, date_answered, question_text, answer_text"
SESSIONS_META = "citation_sessions"  # the sessions the table was resolved against, as JSON


def write_citations(db: sqlite_utils.Database, changed: list[str] | None = None,
                    sessions: Sessions | None = None) -> dict[str, int]:
    """Find and resolve the references in the questions' texts into the `citations` table.
    Given the keys of the questions that changed, only the citations that can differ are made
    again: those of the changed questions, and those citing a UIN a changed question holds (its
    dates decide which question a reference fits). Everything is made again when there is no
    table yet, or the sessions the data shows moved (`sessions`: those of `db`, if already read).
    Returns the count of references by status."""
    archive = Archive(db, sessions)
    sessions = json.dumps(archive.sessions.spans, sort_keys=True)
    if changed is None or "citations" not in db.table_names() or held_sessions(db) != sessions:
        create_table(db)
        citing = db.query(f"select {CITING_COLUMNS} from questions order by key")
    else:
        keys = sorted(set(changed) | citing_changed_uins(db, changed))
        db.conn.executemany("delete from citations where citing_key = ?", [(key,) for key in keys])
        citing = db.query(f"select {CITING_COLUMNS} from questions where key in "
                          "(select value from json_each(?)) order by key", [json.dumps(keys)])
    db["citations"].insert_all((found for row in citing for found in citations_of(row, archive)),
                               batch_size=1000, replace=True)
    db["meta"].upsert({"name": SESSIONS_META, "value": sessions}, pk="name")
    counts = {"found": 0, "resolved": 0, "unresolved": 0, "ambiguous": 0}
    for status, count in db.execute("select status, count(*) from citations group by status"):
        counts[status] = count
        counts["found"] += count
    return counts


def create_table(db: sqlite_utils.Database) -> None:
    db["citations"].drop(ignore=True)
    db["citations"].create(
        {"citing_key": str, "field": str, "position": int, "uin": str, "house": str,
         "reference": str, "cited_date": str, "matched_text": str, "rule": str, "status": str,
         "cited_key": str},
        pk=("citing_key", "field", "position", "uin"),
        foreign_keys=[("citing_key", "questions", "key"), ("cited_key", "questions", "key")],
    )
    for columns in (["cited_key"], ["status"]):
        db["citations"].create_index(columns)


def held_sessions(db: sqlite_utils.Database) -> str | None:
    if "meta" not in db.table_names():
        return None
    row = db.execute("select value from meta where name = ?", [SESSIONS_META]).fetchone()
    return row[0] if row else None


def citing_changed_uins(db: sqlite_utils.Database, changed: list[str]) -> set[str]:
    "The questions with a reference to the house and UIN of a changed question."
    pairs = [[row["house"], normal_uin(row["uin"])[0]] for row in db.query(
        "select house, uin from questions where uin is not null and key in "
        "(select value from json_each(?))", [json.dumps(changed)])]
    return {key for (key,) in db.execute(
        "select distinct citing_key from citations where (house, uin) in (select "
        "json_extract(value, '$[0]'), json_extract(value, '$[1]') from json_each(?))", [json.dumps(pairs)])}


# -- pages: links in the text and the list of citing questions ------------------------------


def link_targets(cites: list[dict], field: str) -> dict[str, str]:
    """UIN -> the url to link it to, in one text. A UIN this text cites as two different
    questions (two references with different dates) is not linked at all."""
    targets: dict[str, set[str]] = {}
    for cite in cites:
        if cite["field"] == field and cite.get("url"):
            targets.setdefault(cite["uin"], set()).add(cite["url"])
    return {uin: found.pop() for uin, found in targets.items() if len(found) == 1}


def link_references(soup_root, targets: dict[str, str], make_link) -> None:
    """Wrap each reference in the text nodes of parsed HTML (BeautifulSoup) whose UIN has a
    target in a link made by `make_link(text, url)`. Text already inside a link is left alone;
    the words stay exactly as written."""
    if not targets:
        return
    for node in list(soup_root.find_all(string=True)):
        if node.find_parent("a") is not None or not REFERENCE.search(node):
            continue
        pieces = split_references(str(node), targets)
        if len(pieces) > 1:
            node.replace_with(*[make_link(text, url) if url else text for text, url in pieces])


def split_references(text: str, targets: dict[str, str]) -> list[tuple[str, str | None]]:
    "A text cut into (piece, url to link it to or None), each cited number its own piece."
    pieces: list[tuple[str, str | None]] = []
    done = 0
    for match in REFERENCE.finditer(text):
        spans = [match.span("lords")] if match["lords"] else [match.span("first")]
        if match["more"]:
            offset = match.start("more")
            spans += [(offset + m.start(), offset + m.end())
                      for m in LISTED_NUMBER.finditer(match["more"])]
        for start, end in spans:
            url = targets.get(normal_uin(text[start:end])[0])
            if url:
                if start == match.start("first") and match["cue"]:
                    start = match.start()  # the first number carries its cue: "Question 4982"
                pieces += [(text[done:start], None), (text[start:end], url)]
                done = end
    pieces.append((text[done:], None))
    return [(piece, url) for piece, url in pieces if piece]


def page_facts(key: str, links: tuple, questions: dict[str, dict]) -> dict:
    """A page's front matter about citations: `cites` (what its texts cite, with the cited
    page's url) and `cited_by` (the questions citing it: key, url, UIN, title, date tabled).
    Both are part of the page, so a page is written again when a new citation of it arrives."""
    cites, cited_by = links
    facts: dict[str, list[dict]] = {}
    outgoing = [dict(cite, url=questions[cite["key"]]["url"])
                for cite in cites.get(key, []) if cite["key"] in questions]
    if outgoing:
        facts["cites"] = outgoing
    citing = [questions[other] for other in cited_by.get(key, []) if other in questions]
    if citing:
        facts["cited_by"] = [
            {name: value for name, value in (
                ("key", row["key"]), ("url", row["url"]), ("uin", row["uin"]),
                ("title", row["title"]),  # urls.question_title, via queries.load_question_index
                ("date_tabled", row["date_tabled"])) if value}
            for row in sorted(citing, key=lambda row: (row["date_tabled"] or "", row["key"]))]
    return facts


def body_links(meta: dict) -> dict[str, dict[str, str]]:
    "For each text of a page: UIN -> the relative link its references get (from `cites`)."
    here = meta.get("url", "")
    cites = [dict(cite, url=urls.relative(here, cite["url"])) for cite in meta.get("cites", [])]
    return {field: link_targets(cites, field) for field in ("question", "answer")}


def linked_soup(markup: str, targets: dict[str, str] | None) -> BeautifulSoup:
    "Parsed HTML with its resolved references linked; the text itself is unchanged."
    from bs4 import BeautifulSoup  # here: the db stage, which resolves citations, parses no HTML

    soup = BeautifulSoup(markup, "html.parser")

    def make_link(text: str, url: str):
        link = soup.new_tag("a", href=url)
        link.string = text
        return link

    link_references(soup, targets or {}, make_link)
    return soup
