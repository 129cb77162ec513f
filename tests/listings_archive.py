"""A small archive of our own making for the listings tests: two bodies, a few members and
headings over ten days, with a body of exactly 100 questions so that one more starts a page."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from answers import listings, sitemap
from answers.model import MemberRef, Question
from answers.output import Output
from answers.render import SiteConfig, make_environment
from answers.store import Store

EDUCATION, HOME_OFFICE = "Department for Education", "Home Office"
ASKER, MINISTER, OTHER_MINISTER = (MemberRef("101", "Ann Asker"), MemberRef("201", "Bob Minister"),
                                   MemberRef("202", "Cy Minister"))
LONE_ASKER = MemberRef("103", "Dee Lone")  # asks exactly one question
CONFIG = SiteConfig(base_url="https://answers.example.org/")


def question(number: int, day: str, body: str = EDUCATION, asker: MemberRef = ASKER,
             heading: str = "Schools: Finance") -> Question:
    minister = MINISTER if body == EDUCATION else OTHER_MINISTER
    return Question(house="Commons", uin=str(number), date_tabled=day, date_answered=day,
                    heading=heading, answering_body=body, asking_member=asker,
                    answering_member=minister, question_text=f"Question {number}?",
                    answer_html=f"<p>Answer {number}.</p>")


def make_archive(path: Path) -> sqlite_utils.Database:
    db = sqlite_utils.Database(path)
    store = Store(db)
    for number in range(1, 101):  # 100 for Education: two full pages
        store.add_question(question(number, f"2024-07-{1 + number % 10:02d}"), source_id=None)
    for number in range(101, 108):
        store.add_question(question(number, "2024-07-05", HOME_OFFICE, heading="Police"), source_id=None)
    store.add_question(question(200, "2024-07-03", HOME_OFFICE, LONE_ASKER, heading="Visas"),
                       source_id=None)
    store.flush()
    return db


def add(db: sqlite_utils.Database, *questions: Question) -> set[str]:
    "Store new questions; returns their keys, the change set."
    store = Store(db)
    for new in questions:
        store.add_question(new, source_id=None)
    store.flush()
    return {new.key for new in questions}


def write(db: sqlite_utils.Database, out: Path, changed: set[str] | None = None):
    "The listings and the sitemap, as the site stage writes them; returns the report and the output."
    output = Output(out)
    env = make_environment(CONFIG)
    report = listings.write_listings(db, env, output, CONFIG, changed)
    report.removed += sitemap.write_sitemaps(output, env, db, report)
    output.remove_leftovers(())  # as the stage ends: the notes of the folders written go
    return report, output


def files_of(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}
