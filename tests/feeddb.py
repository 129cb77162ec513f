"""Small databases of hand-made questions for the feed tests, and the feeds written from them."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from answers import feeds
from answers.model import MemberRef, Question
from answers.output import Output
from answers.render import SiteConfig, make_environment
from hostile import store_questions

CONFIG = SiteConfig(base_url="https://answers.example.org/archive/")
ASKER = MemberRef(id="4001", name="Ann Asker")
MINISTER = {"Home Office": MemberRef(id="4100", name="Hugh Minister"),
            "HM Treasury": MemberRef(id="4200", name="Tess Minister"),
            "Cabinet Office": MemberRef(id="4300", name="Carl Minister")}


def answer(uin: str, body: str, answered: str, corrected: str | None = None,
           text: str = "<p>An answer.</p>", **fields) -> Question:
    "An answered Commons question from `body`, tabled a week before it was answered."
    tabled = f"{answered[:8]}{int(answered[8:]) - 7:02d}" if int(answered[8:]) > 7 else answered
    return Question(house="Commons", uin=uin, date_tabled=tabled, date_answered=answered,
                    date_answer_corrected=corrected, is_correction=corrected is not None,
                    heading=fields.pop("heading", f"Question {uin}"), answering_body=body,
                    asking_member=ASKER, answering_member=MINISTER.get(body),
                    question_text=f"To ask about {uin}.", answer_html=text, **fields)


def store(db_path: Path, questions: list[Question]) -> sqlite_utils.Database:
    "Store these questions (adding to what the database holds); returns the database, open."
    store_questions(db_path, questions)
    return sqlite_utils.Database(db_path)


def write(db: sqlite_utils.Database, folder: Path, changed: set[str] | None = None):
    "Write the feeds into `folder`; returns the Output (what it wrote) and the paths removed."
    output = Output(folder)
    removed = feeds.write_feeds(db, make_environment(CONFIG), output, CONFIG, changed)
    return output, removed


def feed_files(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*.xml"))}
