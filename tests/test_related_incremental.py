"""Asked before under incremental builds: after each change the `related` and `related_queries`
tables, and the pages showing the lists, equal a clean build's from the same files (and member
reference files), on real corpus questions on overlapping subjects, whose lists are not empty."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from answers import build, pages, related
from answers.members import MemberDirectory

SUBJECTS = ("Agriculture", "Special Educational Needs", "Schools", "Housing", "Asylum", "Undocumented Migrants")
MONTHS = ("2024-11", "2024-12")
LATER = "2026-01-01T00:00:00"  # an answer date that outranks every snapshot of the corpus


def month_of_questions(corpus: Path, month: str) -> list[dict]:
    return [record["value"] for record in
            json.loads(gzip.decompress((corpus / "uk-parliament-wq-api-json" / f"{month}.json.gz").read_bytes()))]


def corpus_question(corpus: Path, month: str, uin: str) -> dict:
    return next(value for value in month_of_questions(corpus, month) if value["uin"] == uin)


def corpus_questions(corpus: Path) -> list[dict]:
    "The API's questions on SUBJECTS tabled in MONTHS, in the order they were tabled."
    values = [value for month in MONTHS for value in month_of_questions(corpus, month)
              if (value["heading"] or "").startswith(SUBJECTS)]
    return sorted(values, key=lambda value: (value["dateTabled"], value["id"]))


def key_of(value: dict) -> str:
    return f"commons-{value['dateTabled'][:10]}-{value['uin']}"


def tables(db_path: Path) -> tuple[list, list]:
    with sqlite_utils.Database(db_path) as db:
        return (list(db.execute("select * from related order by key, rank")),
                list(db.execute("select * from related_queries order by key")))


def listing(db_path: Path, key: str) -> set[str]:
    "The questions whose lists name `key`."
    with sqlite_utils.Database(db_path) as db:
        return {row[0] for row in db.execute("select key from related where related_key = ?", [key])}


def lists(db_path: Path, key: str) -> list[str]:
    "The questions a question's list names, closest first."
    with sqlite_utils.Database(db_path) as db:
        return [row[0] for row in db.execute("select related_key from related where key = ? order by rank", [key])]


def tree(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


class Archive:
    """Source files given one step at a time to an incremental build, each step checked against a
    clean build; with `members`, the member reference folder both builds read, as it is then."""

    def __init__(self, folder: Path, members: Path | None = None):
        self.folder, self.files, self.members = folder, [], members
        self.sources = folder / "sources"
        self.sources.mkdir()
        self.db_path, self.pages_dir = folder / "incremental" / "answers.db", folder / "incremental" / "pages"
        self.steps = 0
        self.checks = 0  # clean builds made, each in a folder of its own

    def add(self, *values: dict) -> build.BuildReport:
        "A new file holding these snapshots (later files rank higher), then an incremental build."
        self.steps += 1
        path = self.sources / f"{self.steps:02d}.json"
        path.write_text(json.dumps([{"value": value} for value in values]), encoding="utf-8")
        self.files.append(path)
        return self.build()

    def remove(self, number: int) -> build.BuildReport:
        self.files.pop(number).unlink()
        return self.build()

    def member_directory(self) -> MemberDirectory | None:
        return MemberDirectory.load([self.members]) if self.members else None

    def build(self) -> build.BuildReport:
        report = build.build_database(self.files, self.db_path, self.member_directory())
        pages.write_pages(self.db_path, self.pages_dir)
        self.check()
        return report

    def check(self) -> None:
        self.checks += 1
        clean = self.folder / f"clean-{self.checks}"
        build.build_database(self.files, clean / "answers.db", self.member_directory())
        pages.write_pages(clean / "answers.db", clean / "pages")
        assert tables(self.db_path) == tables(clean / "answers.db")
        assert tree(self.pages_dir) == tree(clean / "pages")
        self.clean = clean / "answers.db"


def most_listed(folder: Path, values: list[dict]) -> dict:
    "Of these questions, the one most listed by later questions in a clean build of them all."
    folder.mkdir()
    source = folder / "all.json"
    source.write_text(json.dumps([{"value": value} for value in values]), encoding="utf-8")
    build.build_database([source], folder / "answers.db")
    with sqlite_utils.Database(folder / "answers.db") as db:
        (key,) = db.execute("select related_key from related group by related_key order by count(*) desc, "
                            "related_key limit 1").fetchone()
    return next(value for value in values if key_of(value) == key)


def unanswered(value: dict) -> dict:
    return dict(value, dateAnswered=None, answerText=None, answeringMemberId=None, answerIsHolding=None)


def test_every_list_equals_a_clean_builds_after_each_kind_of_change(tmp_path, corpus):
    questions = corpus_questions(corpus)
    # Held back: it arrives after the questions tabled after it, and some of them list it.
    late = most_listed(tmp_path / "probe", questions[len(questions) // 3:2 * len(questions) // 3])
    base = [value for value in questions if value is not late]
    archive = Archive(tmp_path)
    archive.add(*base)
    related_rows, _ = tables(archive.db_path)
    assert len(related_rows) > 500

    # A new question, the latest: its own list only.
    last = base[-1]
    new = unanswered(dict(last, id=last["id"] + 10_000_000, uin="990001", askingMemberId=last["askingMemberId"] + 1,
                          dateTabled="2025-01-06T00:00:00"))
    report = archive.add(new)
    assert report.related.questions == 1 and tables(archive.db_path)[0] != related_rows

    # Its answer arrives, then is corrected: no list changes, none is made again.
    answered = dict(new, dateAnswered="2025-01-10T00:00:00", answerText="<p>An answer.</p>",
                    answeringMemberId=last["answeringMemberId"])
    assert archive.add(answered).related.questions == 0
    corrected = dict(answered, answerIsCorrection=True, dateAnswerCorrected="2025-01-12T00:00:00",
                     answerText="<p>A corrected answer, much longer than the answer it corrects.</p>")
    assert archive.add(corrected).related.questions == 0

    # A question arriving late: it enters the lists of questions tabled after it.
    archive.add(late)
    assert listing(archive.clean, key_of(late))

    # An old question reworded onto another subject: it leaves the lists it was in, enters others.
    old = base[len(base) // 10]
    other = next(value for value in base if not value["heading"].startswith(old["heading"].split(":")[0]))
    listed_before = listing(archive.db_path, key_of(old))
    archive.add(dict(old, heading=other["heading"], questionText=other["questionText"], dateAnswered=LATER))
    assert listing(archive.db_path, key_of(old)) != listed_before

    # A question asked again by the member whose later question lists it (the same session):
    # it leaves that list.
    with sqlite_utils.Database(archive.db_path) as db:
        lister, listed_key = db.execute("select key, related_key from related where rank = 1 order by key").fetchone()
        lister_asker = db.execute("select asking_member_id from questions where key = ?", [lister]).fetchone()[0]
    moved = next(value for value in base + [late] if key_of(value) == listed_key)
    archive.add(dict(moved, askingMemberId=int(lister_asker), dateAnswered=LATER))
    assert lister not in listing(archive.db_path, listed_key)

    # Withdrawn: no list changes.
    assert archive.add(dict(base[-2], isWithdrawn=True, dateAnswered=LATER)).related.questions == 0

    # A file removed (the late question's): the database is built afresh.
    assert archive.remove(3).rebuilt


def api_question(number: int, tabled: str, uin: str, asker: int, heading: str, text: str) -> dict:
    return {"id": number, "uin": uin, "house": "Commons", "dateTabled": f"{tabled}T00:00:00",
            "askingMemberId": asker, "heading": heading, "questionText": text}


def test_a_late_question_that_starts_a_session_changes_the_lists_of_the_same_askers_after_it(tmp_path):
    "The same member's earlier question is listed only from an earlier session: sessions move too."
    to_transport = "To ask the Secretary of State for Transport, "
    archive = Archive(tmp_path)
    fares = "Bus Services: Fares"
    archive.add(api_question(1, "2024-09-02", "2000", 1, fares, to_transport + "what the bus fare cap costs."),
                api_question(2, "2024-09-03", "2100", 2, fares, to_transport + "whether the bus fare cap stays."),
                api_question(3, "2024-10-01", "6000", 1, fares, to_transport + "when the bus fare cap ends."))
    asked_again = "commons-2024-10-01-6000"
    # The same member, the same session: not listed.
    assert asked_again not in listing(archive.db_path, "commons-2024-09-02-2000")
    # A question on another subject, tabled late, whose UIN restarts the series: a session
    # began on 2024-09-20, so the first question is from an earlier session than the third.
    report = archive.add(api_question(4, "2024-09-20", "1", 3, "Prisons: Overcrowding",
                                      "To ask the Secretary of State for Justice, how many prisons are overcrowded."))
    assert asked_again in listing(archive.db_path, "commons-2024-09-02-2000")
    assert report.related.questions == 2  # the late question's own list, and the one it moved


def test_a_late_question_on_an_earlier_day_moves_the_windows_of_the_questions_after_it(tmp_path, monkeypatch):
    "A list is chosen from the last WINDOW questions before its day: a late arrival can push one out."
    monkeypatch.setattr(related, "WINDOW", 3)
    to_transport = "To ask the Secretary of State for Transport, "
    fares = "Bus Services: Fares"
    archive = Archive(tmp_path)
    archive.add(*[api_question(number, f"2024-09-0{number}", f"{2000 + number}", number, fares,
                               to_transport + f"whether the bus fare cap covers rural route {number}.")
                  for number in range(1, 6)])
    fourth, fifth = "commons-2024-09-04-2004", "commons-2024-09-05-2005"
    assert set(lists(archive.db_path, fourth)) == {"commons-2024-09-01-2001", "commons-2024-09-02-2002",
                                                "commons-2024-09-03-2003"}
    assert set(lists(archive.db_path, fifth)) == {"commons-2024-09-02-2002", "commons-2024-09-03-2003",
                                               "commons-2024-09-04-2004"}
    # On another subject, tabled on the third day: the fourth and fifth questions' windows
    # now start a day later, and each leaves out the earliest question it listed.
    report = archive.add(api_question(6, "2024-09-03", "2100", 6, "Prisons: Overcrowding",
                                      "To ask the Secretary of State for Justice, how many prisons are overcrowded."))
    assert set(lists(archive.db_path, fourth)) == {"commons-2024-09-02-2002", "commons-2024-09-03-2003"}
    assert set(lists(archive.db_path, fifth)) == {"commons-2024-09-03-2003", "commons-2024-09-04-2004"}
    assert report.related.questions == 3  # the late question's own list, and the two it moved


def test_a_question_arriving_on_the_first_day_of_a_later_questions_window_enters_its_list(tmp_path, monkeypatch):
    monkeypatch.setattr(related, "WINDOW", 3)
    to_transport = "To ask the Secretary of State for Transport, "
    fares = "Bus Services: Fares"

    def on_fares(number: int, day: str) -> dict:
        return api_question(number, day, f"{2000 + number}", number, fares,
                            to_transport + f"whether the bus fare cap covers rural route {number}.")
    archive = Archive(tmp_path)
    archive.add(on_fares(1, "2024-09-01"), on_fares(2, "2024-09-01"), on_fares(3, "2024-09-02"),
                on_fares(4, "2024-09-03"), on_fares(5, "2024-09-04"))
    last = "commons-2024-09-04-2005"
    # Four questions before its day: its window starts on the second day.
    assert set(lists(archive.db_path, last)) == {"commons-2024-09-02-2003", "commons-2024-09-03-2004"}
    # One more on the second day: still three, so the window stays, and the new one enters.
    report = archive.add(on_fares(6, "2024-09-02"))
    assert set(lists(archive.db_path, last)) == {"commons-2024-09-02-2003", "commons-2024-09-02-2006",
                                                 "commons-2024-09-03-2004"}
    # Its own list, the one it entered, and the third day's, whose window now starts a day later.
    assert report.related.questions == 3


# -- the members' constituencies ---------------------------------------------------------------

# The current MPs as the Department for Education publishes them: one a row, with the MNIS id
# and the constituency (`pcon_name`) a member sits for.
MEMBERS_FILE = Path("members") / "dfe-mp-lookup" / "mp_lookup.csv"


def members_folder(folder: Path, corpus: Path) -> Path:
    "A member reference folder holding the corpus's list of current MPs."
    members = folder / "members"
    members.mkdir()
    shutil.copyfile(corpus / MEMBERS_FILE, members / MEMBERS_FILE.name)
    return members


def publish_members(members: Path, change: Callable[[list[dict]], list[dict]]) -> None:
    "A newer list of current MPs in place of the folder's: its rows, as `change` makes them."
    path = members / MEMBERS_FILE.name
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file)
        fields, rows = reader.fieldnames, change(list(reader))
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fields, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)


def query_terms(db_path: Path, key: str) -> list[str]:
    "The terms a question's list was made from, as `related_queries` holds them."
    with sqlite_utils.Database(db_path) as db:
        return json.loads(db.execute("select terms from related_queries where key = ?", [key]).fetchone()[0])


def constituency_of(db_path: Path, member: str) -> str | None:
    with sqlite_utils.Database(db_path) as db:
        row = db.execute("select constituency from members where id = ?", [member]).fetchone()
    return row[0] if row else None


def test_lists_follow_a_new_members_file_that_moves_a_member_or_loses_a_constituency(tmp_path, corpus):
    """A newer members file gives a member asking questions another constituency, or no longer
    lists one: the questions that named the old one as a place now keep its name as words."""
    members = members_folder(tmp_path, corpus)
    archive = Archive(tmp_path, members)
    archive.add(*corpus_questions(corpus))
    # Sir John Hayes (350) asks about "(a) South Holland and the Deepings constituency and (b)
    # Lincolnshire"; David Reed (5347) about farmers "in (a) East Devon and (b) Exmouth and
    # Exeter East constituency".
    hayes, reed = "commons-2024-11-11-13396", "commons-2024-11-11-13647"
    assert constituency_of(archive.db_path, "350") == "South Holland and the Deepings"
    hayes_terms, reed_terms = query_terms(archive.db_path, hayes), query_terms(archive.db_path, reed)

    # He sits for a constituency of another name (as after a boundary review): no member sits
    # for his old one, which his questions now keep as words.
    publish_members(members, lambda rows: [dict(row, pcon_name="Spalding and Bourne") if row["member_id"] == "350"
                                           else row for row in rows])
    assert archive.build().rebuilt  # a members file changed: every list is made again
    assert constituency_of(archive.db_path, "350") == "Spalding and Bourne"
    assert query_terms(archive.db_path, hayes) != hayes_terms
    assert query_terms(archive.db_path, reed) == reed_terms

    # His member no longer listed, Exmouth and Exeter East is no constituency the archive knows.
    publish_members(members, lambda rows: [row for row in rows if row["member_id"] != "5347"])
    assert archive.build().rebuilt
    assert constituency_of(archive.db_path, "5347") is None
    assert query_terms(archive.db_path, reed) != reed_terms


def test_a_member_new_to_the_archive_brings_a_constituency_earlier_questions_name(tmp_path, corpus):
    """Mike Amesbury, no longer in the list of current MPs, asked in November 2024 about
    "children's mental health services in Runcorn and Helsby constituency". The constituency
    comes into the archive with its next member's first question: the earlier question's list
    is made again without the place, in an incremental build."""
    runcorn = corpus_question(corpus, "2024-11", "13487")
    # The questions on mental health and children tabled before it, for its list.
    before = [value for value in month_of_questions(corpus, "2024-11")
              if (value["heading"] or "").startswith(("Mental Health", "Children"))
              and value["dateTabled"] < runcorn["dateTabled"]]
    archive = Archive(tmp_path, members_folder(tmp_path, corpus))
    archive.add(*corpus_questions(corpus), *before, runcorn)
    assert constituency_of(archive.db_path, "4667") is None
    terms = query_terms(archive.db_path, key_of(runcorn))
    listed = lists(archive.db_path, key_of(runcorn))
    assert listed

    # Sarah Pochin (5403), the member for Runcorn and Helsby since 2025, asks her first question.
    report = archive.add(corpus_question(corpus, "2026-01", "104443"))
    assert not report.rebuilt
    assert constituency_of(archive.db_path, "5403") == "Runcorn and Helsby"
    now = query_terms(archive.db_path, key_of(runcorn))
    assert now != terms and set(now) < set(terms)  # the place's words left out, nothing else
    # Its own score no longer counts the place's rare words: a question it shares fewer words
    # with now reaches the floor and is listed.
    now_listed = lists(archive.db_path, key_of(runcorn))
    assert now_listed[:len(listed)] == listed and len(now_listed) > len(listed)
    assert report.related.questions == 2  # the new question's list, and the earlier one's


def with_member_details(value: dict, constituency: str) -> dict:
    "A question as the API's single-question response gives it: the asking member's details with it."
    member = {"id": value["askingMemberId"], "name": "Alex Example", "memberFrom": constituency}
    return dict(value, askingMember=member)


def test_an_earlier_file_arriving_late_gives_its_members_constituency(tmp_path):
    """A member sat for Bristol West until 2024, then for Bristol Central. An older file, which
    sorts before the files held, arrives late: a clean build takes the member's constituency from
    it (the first file by name), so the later question's words lose "Bristol West"."""
    to_environment = "To ask the Secretary of State for Environment, Food and Rural Affairs, "
    archive = Archive(tmp_path)
    archive.add(with_member_details(api_question(
        1, "2024-11-04", "12000", 77, "Rivers: Pollution", to_environment + "what steps she is taking to reduce "
        "sewage discharges into the river Frome in Bristol West."), "Bristol Central"))
    older = archive.sources / "00.json"
    older.write_text(json.dumps([{"value": with_member_details(api_question(
        2, "2019-11-04", "9000", 77, "Rivers: Pollution", to_environment + "what steps she is taking to reduce "
        "sewage discharges into the river Avon."), "Bristol West")}]), encoding="utf-8")
    archive.files.insert(0, older)
    archive.build()


def test_a_new_constituency_whose_words_the_askers_own_kept_apart_changes_the_lists_naming_it(tmp_path):
    """The asker's own constituency is left out of a question's words first: "Runcorn Halton and
    Helsby constituency", asked by Halton's member, leaves "Runcorn and Helsby constituency",
    left out too once Runcorn and Helsby's member brings it into the archive."""
    to_health = "To ask the Secretary of State for Health and Social Care, "
    archive = Archive(tmp_path)
    archive.add(with_member_details(api_question(
        1, "2024-11-01", "100", 10, "Mental Health Services: Children", to_health + "what the waiting times are "
        "for children's mental health services in Runcorn Halton and Helsby constituency."), "Halton"))
    key = "commons-2024-11-01-100"
    terms = query_terms(archive.db_path, key)
    report = archive.add(with_member_details(api_question(
        2, "2024-11-05", "200", 20, "Roads: Repairs", to_health + "what roads need repair."), "Runcorn and Helsby"))
    assert report.related.questions == 2
    assert set(query_terms(archive.db_path, key)) == set(terms) - {"runcorn", "helsbi"}
