"""Archives built from hostile input of our own making, for the pages, site and browser tests.

`build_site_from_questions` stores hand-made records directly and builds pages and site from
them. `build_hostile_site` writes a source file of every format with a script payload in every
field a reader takes (see `write_hostile_sources`), then runs the whole build (db, pages, site,
search index) over them.
"""

from __future__ import annotations

import csv
import html
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import sqlite_utils

from answers import pages, search, site
from answers.build import BuildReport, build_database
from answers.model import Question
from answers.render import SiteConfig
from answers.store import Store


def store_questions(db_path: Path, questions: list[Question]) -> None:
    "Store these records in the database at `db_path` (adding to what it holds)."
    db = sqlite_utils.Database(db_path)
    store = Store(db)
    for question in questions:
        store.add_question(question, source_id=None)
    store.flush()
    db.conn.commit()  # the store leaves its last write (the answering bodies) uncommitted
    db.close()


def build_site_from_questions(folder: Path, questions: list[Question]) -> Path:
    "Store these records, write their pages and the site; returns the site's folder."
    db_path = folder / "answers.db"
    store_questions(db_path, questions)
    pages.write_pages(db_path, folder / "pages")
    site.build_site(db_path, folder / "pages", folder / "site", SiteConfig(), workers=1)
    return folder / "site"


# -- hostile sources of every format -------------------------------------------------------

# Each kind of payload calls alert() its own way; `{tag}` says which file and field it sits in,
# so that a dialog names exactly what got through.
PAYLOADS = {
    "script": "<script>alert('{tag}')</script>",
    "img": "<img src=x onerror=\"alert('{tag}')\">",
    "link": "<a href=\"javascript:alert('{tag}')\">link</a>",
    "svg": "<svg onload=\"alert('{tag}')\"></svg>",
    "breakout": "\"><script>alert('{tag}')</script>",
    "quote": "'><img src=x onerror=alert('{tag}')>",
    "entities": "&lt;script&gt;alert('{tag}')&lt;/script&gt;",
    "numeric": "&#60;img src=x onerror=alert('{tag}')&#62;",
    "markdown": "[x](javascript:alert('{tag}')) ![y](x\" onerror=\"alert('{tag}'))",
    "autolink": "<javascript:alert('{tag}')>",
    "url": "javascript:alert('{tag}')",
    "rawtext": "</title></textarea></script></style><script>alert('{tag}')</script>",
    "iframe": "<iframe srcdoc=\"<script>alert('{tag}')</script>\"></iframe>",
    "toggle": "<details open ontoggle=\"alert('{tag}')\">x</details>",
    "refresh": "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert('{tag}')\">",
}


def payload(kind: str, tag: str) -> str:
    return PAYLOADS[kind].format(tag=f"{tag}.{kind}")


def api_member(kind: str, role: str, member_id: int) -> dict:
    return {"id": member_id, "name": payload(kind, f"api.{role}.name"),
            "party": payload(kind, f"api.{role}.party"),
            "memberFrom": payload(kind, f"api.{role}.memberFrom")}


def api_record(kind: str, number: int, clipped: bool) -> dict:
    "One official API record with a payload in every text field (clipped: as the list gives it)."
    def field(name: str) -> str:
        return payload(kind, f"api{'.clipped' if clipped else ''}.{name}")

    question, answer = field("questionText"), "<p>" + field("answerText") + "</p>"
    if clipped:  # what the list endpoint gives: 255 characters, and 255 plus '...'
        question = (field("clippedQuestion") + " " + "q" * 255)[:255]
        answer = (field("clippedAnswer") + " " + "a" * 255)[:255] + "..."
    api_id = 990_000 + number * 2 + clipped
    return {"value": {
        "id": api_id, "house": "Lords" if number % 2 else "Commons",
        "uin": field("uin"), "heading": field("heading"),
        "dateTabled": "2025-02-03T00:00:00", "dateForAnswer": "2025-02-10T00:00:00",
        "dateAnswered": "2025-02-05T00:00:00", "dateAnswerCorrected": "2025-02-06T00:00:00",
        "dateHoldingAnswer": "2025-02-04T00:00:00",
        "questionText": question, "answerText": answer,
        "originalAnswerText": field("originalAnswerText"),
        "answeringBodyId": 9900 + number, "answeringBodyName": field("answeringBodyName"),
        "askingMemberId": api_id + 1000, "askingMember": api_member(kind, "askingMember",
                                                                    api_id + 1000),
        "answeringMemberId": api_id + 2000, "answeringMember": api_member(
            kind, "answeringMember", api_id + 2000),
        "correctingMemberId": api_id + 3000, "correctingMember": api_member(
            kind, "correctingMember", api_id + 3000),
        "groupedQuestions": [field("groupedQuestions")],
        "groupedQuestionsDates": [{"questionUin": field("groupedQuestionsDates"),
                                   "dateTabled": "2025-02-03T00:00:00"}],
        "isWithdrawn": False, "isNamedDay": True, "memberHasInterest": True,
        "answerIsHolding": False, "answerIsCorrection": True,
    }}


def write_api_sources(folder: Path) -> None:
    "API JSON (whole and clipped records) and the longform full texts of the clipped ones."
    records, full_texts = [], []
    for number, kind in enumerate(PAYLOADS):
        records.append(api_record(kind, number, clipped=False))
        clipped = api_record(kind, number, clipped=True)["value"]
        records.append({"value": clipped})
        full_texts.append((str(clipped["id"]).encode(), json.dumps({
            "question_text": clipped["questionText"] + " " + payload(kind, "longform.question"),
            "answer_text": "<p>" + html.escape(clipped["answerText"][:-3]) + "</p>"
                           + payload(kind, "longform.answer"),
        }).encode()))
    (folder / "hostile-api.json").write_text(json.dumps(records), encoding="utf-8")
    with closing(sqlite3.connect(folder / "hostile-longform.sqlite")) as longform:
        longform.execute("create table Dict (key blob, value blob)")
        longform.executemany("insert into Dict values (?, ?)", full_texts)
        longform.commit()


def page_text(kind: str, tag: str) -> str:
    "A scraped question page (the seed page's layout) with a payload on every line it reads."
    def field(name: str) -> str:
        return payload(kind, f"{tag}.{name}")

    return "\n".join([
        field("heading"), "", "(asked on 3rd February 2025) - View Source", "",
        f"Asked by: {field('asker')} ({field('party')} - {field('constituency')})", "",
        f"Question to the {field('body')}:", "",
        f"To ask the Secretary of State for Testing, {field('question')}", "",
        "Answered by", field("answerer"), field("title"),
        "This question was answered on 5th February 2025", "",
        field("answer"), "", field("answer2"), "",
    ])


def write_page_sources(folder: Path) -> None:
    for kind in PAYLOADS:
        (folder / f"hostile-{kind}.txt").write_text(page_text(kind, "page"), encoding="utf-8")
    # A file name is shown as the question's provenance: it may hold markup too ('/' aside).
    name = "<img src=x onerror=alert('file.page-text')>.txt"
    (folder / name).write_text(page_text("img", "named-page"), encoding="utf-8")


def xml_markup(tag: str) -> str:
    "Markup a reply may hold as XML elements, each running a script its own way."
    return (f"<script>alert('{tag}.script')</script>"
            f"<img src=\"x\" onerror=\"alert('{tag}.img')\"/>"
            f"<a href=\"javascript:alert('{tag}.link')\">x</a>"
            f"<a href=\" JaVaScRiPt:alert('{tag}.spaced')\">y</a>"
            f"<svg onload=\"alert('{tag}.svg')\"/>"
            f"<iframe srcdoc=\"&lt;script&gt;alert('{tag}.iframe')&lt;/script&gt;\"/>")


def parlparse_block(kind: str, number: int) -> str:
    "One heading, question and reply, with a payload in every element and attribute read."
    def field(name: str) -> str:
        return payload(kind, f"xml.{name}")

    gid = f"uk.org.publicwhip/wrans/2025-02-10a.{number}"
    holding = (f" holdingdate={quoteattr(field('holdingdate'))}" if number % 2 else "")
    holding_line = ("" if number % 2 else
                    f"<p class=\"holdinganswer\">Holding answer <phrase class=\"date\" "
                    f"code={quoteattr(field('phrase.code'))}>{escape(field('phrase'))}"
                    f"</phrase></p>")
    asker = f"speakername={quoteattr(field('speakername'))} url={quoteattr(field('url'))}"
    return f"""<minor-heading id="{gid}.h" nospeaker="true">{escape(field('heading'))}</minor-heading>
<ques id="{gid}.q0" speakerid="unknown" {asker}{holding}>
<p qnum={quoteattr(field('qnum'))}>{escape(field('question'))}</p>
</ques>
<reply id="{gid}.r0" speakerid={quoteattr(field('speakerid'))} speakername="" url={quoteattr(field('base'))}>
{holding_line}<p>{escape(field('answer'))}</p><p>{xml_markup(f"xml.reply.{kind}")}</p>
</reply>
"""


def write_parlparse_source(folder: Path) -> None:
    blocks = "".join(parlparse_block(kind, number) for number, kind in enumerate(PAYLOADS))
    body = escape(payload("script", "xml.major-heading"))
    (folder / "answers2025-02-10a.xml").write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<publicwhip scrapeversion="a" latest="yes">
<major-heading id="uk.org.publicwhip/wrans/2025-02-10a.0.h" nospeaker="true">{body}</major-heading>
{blocks}</publicwhip>
""", encoding="utf-8")


CSV_HEADER = ["Question_MP", "Question_Text", "Question_ID", "MP_Constituency", "Question_Date",
              "Answer_Text", "Answer_MP", "Answer_Date", "Party"]


def write_csv_sources(folder: Path) -> None:
    "data.parliament.uk rows, in a file whose name gives a body and in one whose name is a payload."
    for name, tag in (("co_archived_pqs.csv", "csv"),
                      ("<svg onload=alert('file.csv')>_archived_pqs.csv", "named-csv")):
        with open(folder / name, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(CSV_HEADER)
            for number, kind in enumerate(PAYLOADS):
                row = {column: payload(kind, f"{tag}.{column}") for column in CSV_HEADER}
                row.update(Question_Date=f"2016-03-{number + 1:02d}",
                           Answer_Date=f"2016-04-{number + 1:02d}")
                writer.writerow([row[column] for column in CSV_HEADER])


def write_hostile_sources(folder: Path) -> Path:
    "A source file of every format with a payload in every field its reader takes."
    folder.mkdir(parents=True, exist_ok=True)
    write_api_sources(folder)
    write_page_sources(folder)
    write_parlparse_source(folder)
    write_csv_sources(folder)
    return folder


@dataclass
class HostileSite:
    db: Path
    site: Path
    report: BuildReport


def build_hostile_site(folder: Path) -> HostileSite:
    "The whole build (db, pages, site, search index) over the hostile sources."
    sources = write_hostile_sources(folder / "sources")
    db_path = folder / "answers.db"
    report = build_database([sources], db_path)
    pages.write_pages(db_path, folder / "pages")
    site.build_site(db_path, folder / "pages", folder / "site", SiteConfig(), workers=1)
    search.update_index(db_path, folder / "site")
    return HostileSite(db_path, folder / "site", report)
