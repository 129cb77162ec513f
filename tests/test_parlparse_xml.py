"""The TheyWorkForYou parlparse XML reader: Commons, Lords and Scottish Parliament days."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest
import sqlite_utils

from answers.build import BuildReport, build_database
from answers.model import MemberRef, Question, SourceError, make_key
from answers.sources import parlparse_xml
from conftest import CORPUS, FIXTURES

PARLPARSE = CORPUS / "twfy-parlparse-xml"
OWN = FIXTURES / "parlparse"
LATEST_COMMONS = ["answers2009-10-26f.xml", "answers2009-10-27c.xml",
                  "answers2009-10-28c.xml", "answers2009-10-29a.xml"]


def records(path: Path) -> list:
    return list(parlparse_xml.read(path))


def questions_by_uin(path: Path) -> dict[str, Question]:
    return {r.uin: r for r in records(path) if isinstance(r, Question)}


# -- the whole corpus through the store ------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[sqlite_utils.Database, BuildReport]:
    db_path = tmp_path_factory.mktemp("parlparse") / "answers.db"
    report = build_database([PARLPARSE], db_path)
    return sqlite_utils.Database(db_path), report


def parlparse_rows(db: sqlite_utils.Database, sql_where: str = "1", params=None) -> list[dict]:
    "Questions stored from parlparse files (other readers may claim other files in the folder)."
    query = ("select q.*, s.path as source_path from questions q join sources s"
             " on s.id = q.source_id where s.format = 'parlparse-xml' and " + sql_where)
    return [dict(row) for row in db.query(query, params or {})]


@pytest.mark.corpus
def test_questions_per_house(built):
    db, _ = built
    counts = {row["house"]: row["n"] for row in db.query(
        "select q.house, count(*) as n from questions q join sources s on s.id = q.source_id"
        " where s.format = 'parlparse-xml' group by q.house")}
    # Commons: 1,340 `ques` elements in the latest versions ask 1,436 numbered questions
    # (a member's numbered list is one `ques`). Lords: 3 days are here (one was set aside),
    # 90 `ques` asking 102 numbered questions. Scottish: 256 `ques`, one question each.
    assert counts == {"Commons": 1436, "Lords": 102, "Scottish Parliament": 256}


@pytest.mark.corpus
def test_question_numbers_in_the_files_are_all_stored(built):
    db, _ = built
    commons_numbers = sum(
        len(re.findall(r'qnum="', (PARLPARSE / "wrans" / name).read_text("latin-1")))
        for name in LATEST_COMMONS
    )
    commons_ques = sum(
        (PARLPARSE / "wrans" / name).read_text("latin-1").count("<ques ")
        for name in LATEST_COMMONS
    )
    assert (commons_ques, commons_numbers) == (1340, 1436)
    stored = {row["uin"] for row in parlparse_rows(db, "q.house = 'Commons'")}
    assert len(stored) == 1436 - 1  # 296062 is answered on the 26th and again on the 28th


@pytest.mark.corpus
def test_every_file_balances_without_rejects_or_collisions(built):
    _, report = built
    files = [f for f in report.files if f.format == "parlparse-xml"]
    assert len(files) + len(report.superseded) == 13 + 3 + 5
    for file in files:
        assert file.balanced(), file
        assert (file.rejected, file.duplicates) == (0, 0), file


@pytest.mark.corpus
def test_superseded_versions_contribute_nothing(built):
    _, report = built
    read = {Path(f.path).name: f.read for f in report.files if f.format == "parlparse-xml"}
    superseded = ["answers2009-10-26a.xml", "answers2009-10-26b.xml", "answers2009-10-26c.xml",
                  "answers2009-10-26d.xml", "answers2009-10-26e.xml", "answers2009-10-27a.xml",
                  "answers2009-10-27b.xml", "answers2009-10-28a.xml", "answers2009-10-28b.xml"]
    assert sorted(Path(path).name for path in report.superseded) == superseded
    assert not set(superseded) & set(read)
    assert [read[name] for name in LATEST_COMMONS] == [500, 328, 291, 317]


@pytest.mark.corpus
def test_a_later_version_arriving_replaces_the_earlier_in_the_database(tmp_path):
    """An incremental build that gains a later version of a day rebuilds, so that what only
    the earlier version held (112 questions in 26e) does not linger."""
    folder = tmp_path / "wrans"
    folder.mkdir()
    shutil.copy(PARLPARSE / "wrans" / "answers2009-10-26e.xml", folder)
    db_path = tmp_path / "answers.db"
    first = build_database([folder], db_path)
    shutil.copy(PARLPARSE / "wrans" / "answers2009-10-26f.xml", folder)
    second = build_database([folder], db_path)
    db = sqlite_utils.Database(db_path)
    keys = {row["key"] for row in db.query("select key from questions")}
    sources_held = [Path(row["path"]).name for row in db.query("select path from sources")]
    db.close()
    assert first.files[0].read == 112 and second.rebuilt
    assert [Path(path).name for path in second.superseded] == ["answers2009-10-26e.xml"]
    assert sources_held == ["answers2009-10-26f.xml"]
    assert keys == {q.key for q in records(folder / "answers2009-10-26f.xml")
                    if isinstance(q, Question)}


@pytest.mark.corpus
def test_each_identity_is_stored_once_with_the_documented_key(built):
    db, _ = built
    rows = parlparse_rows(db)
    identities = {(row["house"], row["date_answered"], row["uin"]) for row in rows}
    assert len(identities) == len(rows) == 1436 + 102 + 256
    for row in rows:
        assert row["date_tabled"] is None
        assert row["key"] == make_key(row["house"], row["date_answered"], row["uin"])


@pytest.mark.corpus
def test_house_follows_the_folder(built):
    db, _ = built
    houses = {"wrans": "Commons", "lordswrans": "Lords", "sp-written": "Scottish Parliament"}
    seen = set()
    for row in parlparse_rows(db):
        folder = Path(row["source_path"]).parent.name
        assert row["house"] == houses[folder], row["key"]
        seen.add(folder)
    assert seen == set(houses)


@pytest.mark.corpus
def test_a_known_commons_question(built):
    db, _ = built
    row = db["questions"].get("commons-2009-10-29-292659")
    assert {name: row[name] for name in (
        "house", "uin", "date_tabled", "date_answered", "heading", "answering_body",
        "asking_member_id", "answering_member_id", "question_text", "url", "source_location",
        "official_url", "grouped_keys")} == {
        "house": "Commons",
        "uin": "292659",
        "date_tabled": None,
        "date_answered": "2009-10-29",
        "heading": "Charities",
        "answering_body": "Work and Pensions",
        "asking_member_id": "uk.org.publicwhip/member/2038",
        "answering_member_id": "uk.org.publicwhip/member/1491",
        "question_text": "To ask the Secretary of State for Work and Pensions what grants her "
                         "Department made to charitable organisations in each of the last "
                         "five years.",
        "url": "commons/2009-10-29/292659/",
        "source_location": "uk.org.publicwhip/wrans/2009-10-29a.292659.q0",
        "official_url": "http://www.publications.parliament.uk/pa/cm200809/cmhansrd/cm091029/"
                        "text/91029w0001.htm#09102942001237",
        "grouped_keys": None,
    }
    assert row["answer_html"].startswith("<p>The only grant payments made to a charitable "
                                         "organisation by the Department for Work and Pensions")
    assert "<table>" in row["answer_html"]
    assert "<td>2008-09</td> <td>3,814</td>" in row["answer_html"]
    assert "<td><i> £000</i></td>" in row["answer_html"]
    assert db["members"].get("uk.org.publicwhip/member/2038")["name"] == "Bob Spink"
    assert db["members"].get("uk.org.publicwhip/member/1491")["name"] == "Jonathan R Shaw"


@pytest.mark.corpus
def test_grouped_scottish_questions_share_the_reply_and_point_at_each_other(built):
    db, _ = built
    first = db["questions"].get("scottish-parliament-2009-10-26-s3w-28168")
    second = db["questions"].get("scottish-parliament-2009-10-26-s3w-28169")
    assert json.loads(first["grouped_keys"]) == [second["key"]]
    assert json.loads(second["grouped_keys"]) == [first["key"]]
    assert first["answer_html"] == second["answer_html"]
    assert first["answer_html"].startswith(
        "<p>I refer the member to the answer to question S3W-27103 on 6 October 2009.")
    # The source's relative link now leads to the Parliament's site.
    assert ('href="http://www.scottish.parliament.uk/Apps2/Business/PQA/Default.aspx"'
            in first["answer_html"])
    assert (first["heading"], first["answering_body"]) == ("Constitution", "Scottish Executive")
    assert first["answering_member_id"] == second["answering_member_id"] == (
        "uk.org.publicwhip/member/80381")


@pytest.mark.corpus
def test_scottish_speaker_names_give_constituency_and_party(built):
    db, _ = built
    asker = db["members"].get("uk.org.publicwhip/member/80312")
    assert {name: asker[name] for name in ("name", "party", "constituency", "house")} == {
        "name": "George Foulkes", "party": "Labour", "constituency": "Lothians",
        "house": "Scottish Parliament",
    }
    answerer = db["members"].get("uk.org.publicwhip/member/80381")
    assert (answerer["name"], answerer["party"]) == ("Michael Russell", None)


@pytest.mark.corpus
def test_a_numbered_list_of_questions_becomes_one_question_per_number(built):
    db, _ = built
    uins = ["294335", "294343", "294347", "294349"]
    rows = {uin: db["questions"].get(f"commons-2009-10-26-{uin}") for uin in uins}
    assert rows["294343"]["question_text"] == (
        "To ask the Secretary of State for Northern Ireland what types of accommodation sex "
        "offenders occupy in prisons in Northern Ireland.")
    assert rows["294349"]["question_text"] == (
        "To ask the Secretary of State for Northern Ireland whether sex offenders are planned "
        "to be housed in the Foyleview Resettlement Unit of HMP Magilligan.")
    for uin, row in rows.items():
        assert json.loads(row["grouped_keys"]) == [
            f"commons-2009-10-26-{other}" for other in uins if other != uin]
        assert row["answer_html"] == rows["294335"]["answer_html"]
        assert row["answering_body"] == "Northern Ireland"


@pytest.mark.corpus
def test_lords_questions(built):
    db, _ = built
    row = db["questions"].get("lords-2009-10-29-hl5932")
    assert (row["heading"], row["asking_member_id"], row["answering_member_id"]) == (
        "Alpacas and Llamas", "uk.org.publicwhip/lord/100098", "uk.org.publicwhip/lord/100164")
    assert row["answering_body"] is None  # Lords days have no department headings
    assert "compensation of £750 for each TB-affected alpaca" in row["answer_html"]


@pytest.mark.corpus
def test_entities_come_through_as_characters(built):
    db, _ = built
    rows = parlparse_rows(db)
    texts = "".join((row["question_text"] or "") + (row["answer_html"] or "") for row in rows)
    assert "&pound;" not in texts and "&rsquo;" not in texts and "&nbsp;" not in texts
    sp = db["questions"].get("scottish-parliament-2009-10-26-s3w-28169")
    assert "Lord Goldsmith’s legal opinion" in sp["question_text"]
    assert sum("£" in (row["answer_html"] or "") for row in rows) > 100


@pytest.mark.corpus
def test_holding_answer_line_becomes_a_date(built):
    db, _ = built
    row = db["questions"].get("commons-2009-10-29-295709")
    assert row["date_holding_answer"] == "2009-10-28"
    assert "holding answer" not in row["answer_html"]
    assert row["answer_html"].startswith("<p>ATOS Healthcare has provided guidance")
    scottish = db["questions"].get("scottish-parliament-2009-10-27-s3w-27767")
    assert scottish["date_holding_answer"] == "2009-10-26"


@pytest.mark.corpus
def test_answering_bodies_in_title_case(built):
    db, _ = built
    bodies = {(row["house"], row["answering_body"]) for row in parlparse_rows(db)}
    commons = {body for house, body in bodies if house == "Commons"}
    assert {"Work and Pensions", "Business, Innovation and Skills", "House of Commons Commission",
            "Solicitor-General", "Culture Media and Sport", "Home Department"} <= commons
    assert len(commons) == 26 and None not in commons
    assert {body for house, body in bodies if house == "Scottish Parliament"} == {
        "Scottish Executive", "Scottish Parliamentary Corporate Body"}


@pytest.mark.corpus
def test_scottish_question_status_files_are_not_answers():
    status_files = sorted((PARLPARSE / "sp-questions").glob("*.xml"))
    assert len(status_files) == 6
    assert not any(parlparse_xml.matches(path) for path in status_files)


# -- naming ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("answers2009-10-26a.xml", True),
    ("lordswrans2009-10-29a.xml", True),
    ("spwa2009-10-30.xml", True),
    ("answers2009-10-26f.xml.gz", True),
    ("changedates.txt", False),
    ("up-to-2009-10-26T08:20:00.445366.xml", False),
    ("answers.xml", False),
    ("debates2009-10-26a.xml", False),
])
def test_matches(name, expected):
    assert parlparse_xml.matches(Path(name)) is expected


@pytest.mark.parametrize("heading, expected", [
    ("WORK AND PENSIONS", "Work and Pensions"),
    ("FOREIGN AND COMMONWEALTH AFFAIRS", "Foreign and Commonwealth Affairs"),
    ("BUSINESS, INNOVATION AND SKILLS", "Business, Innovation and Skills"),
    ("SOLICITOR-GENERAL", "Solicitor-General"),
    ("HM TREASURY", "HM Treasury"),
    ("Scottish Executive", "Scottish Executive"),
    ("Written Answers Monday 26 October 2009", None),
])
def test_body_from_heading(heading, expected):
    assert parlparse_xml.body_from_heading(heading) == expected


@pytest.mark.parametrize("spoken, expected", [
    ("David Stewart (Highlands and Islands) (Lab)", ("David Stewart", "Highlands and Islands",
                                                     "Labour")),
    ("John Farquhar Munro (Ross, Skye and Inverness West) (LD)",
     ("John Farquhar Munro", "Ross, Skye and Inverness West", "Liberal Democrat")),
    ("Robin Harper (Lothians) (Green)", ("Robin Harper", "Lothians", "Scottish Green Party")),
    ("Someone (Somewhere) (Xyz)", ("Someone", "Somewhere", "Xyz")),
    ("Lord Davies of Oldham", ("Lord Davies of Oldham", None, None)),
])
def test_split_speaker_name(spoken, expected):
    assert parlparse_xml.split_speaker_name(spoken) == expected


# -- hand-written fixtures -----------------------------------------------------------------


def test_malformed_file_is_one_error_with_the_parsers_message_and_line():
    path = OWN / "malformed" / "answers2020-01-06a.xml"
    [error] = records(path)
    assert isinstance(error, SourceError)
    assert (error.file, error.location, error.reason) == (
        str(path), "line 9, column 19", "mismatched tag")


def test_reply_without_question_is_an_error_and_the_rest_still_reads():
    path = OWN / "orphans" / "spwa2020-01-07.xml"
    errors = [r for r in records(path) if isinstance(r, SourceError)]
    assert [(e.location, e.reason) for e in errors] == [
        ("uk.org.publicwhip/spwa/2020-01-07.S5W-00001.r0", "reply with no question before it")]
    assert sorted(questions_by_uin(path)) == ["S5W-00002", "S5W-00003", "S5W-00004"]


def test_question_without_reply_is_kept_unanswered():
    harbours = questions_by_uin(OWN / "orphans" / "spwa2020-01-07.xml")["S5W-00002"]
    assert (harbours.answer_html, harbours.answering_member, harbours.grouped_keys) == (
        None, None, [])
    assert harbours.question_text == "To ask the Scottish Executive what it will spend on harbours."
    assert harbours.asking_member == MemberRef(
        id="uk.org.publicwhip/member/80002", name="Dan Asker", party="Liberal Democrat",
        constituency="Orkney Islands", house="Scottish Parliament")
    assert (harbours.heading, harbours.answering_body, harbours.date_answered) == (
        "Harbours", "Scottish Executive", "2020-01-07")


def test_fixture_group_with_entities_links_and_holding_date():
    found = questions_by_uin(OWN / "orphans" / "spwa2020-01-07.xml")
    cost, opening = found["S5W-00003"], found["S5W-00004"]
    assert cost.answer_html == opening.answer_html == (
        '<p>The pier cost £4.2 million and opens in spring – see the <a href="http://www.'
        'scottish.parliament.uk/Apps2/Business/PQA/Default.aspx">Minister’s answers</a>.</p>')
    assert cost.grouped_keys == ["scottish-parliament-2020-01-07-s5w-00004"]
    assert opening.grouped_keys == ["scottish-parliament-2020-01-07-s5w-00003"]
    assert (cost.date_holding_answer, opening.date_holding_answer) == ("2020-01-03", None)
    assert cost.answering_member == MemberRef(
        id="uk.org.publicwhip/member/80001", name="Cara Minister", house="Scottish Parliament")


def test_external_entities_are_never_fetched():
    [error] = records(OWN / "hostile" / "answers2020-01-09a.xml")
    assert isinstance(error, SourceError)
    assert error.reason == "undefined entity &secret;"


def test_an_earlier_letter_reads_as_nothing_whatever_it_holds():
    versions = OWN / "versions"
    assert records(versions / "lordswrans2020-01-08a.xml") == []
    latest = questions_by_uin(versions / "lordswrans2020-01-08b.xml")
    assert {uin: q.question_text for uin, q in latest.items()} == {
        "HL1": "To ask Her Majesty's Government how many bees there are.",
        "HL2": "To ask Her Majesty's Government how many wasps there are.",
    }
    assert latest["HL1"].grouped_keys == ["lords-2020-01-08-hl2"]


def test_gzipped_files_read_and_supersede_like_plain_ones(tmp_path):
    versions = OWN / "versions"
    shutil.copy(versions / "lordswrans2020-01-08a.xml", tmp_path)
    gzipped = tmp_path / "lordswrans2020-01-08b.xml.gz"
    gzipped.write_bytes(gzip.compress((versions / "lordswrans2020-01-08b.xml").read_bytes()))
    assert records(tmp_path / "lordswrans2020-01-08a.xml") == []
    plain = questions_by_uin(versions / "lordswrans2020-01-08b.xml")
    zipped = questions_by_uin(gzipped)
    assert {uin: q.record_hash() for uin, q in zipped.items()} == {
        uin: q.record_hash() for uin, q in plain.items()}


def test_damaged_gzip_is_one_error(tmp_path):
    damaged = tmp_path / "answers2020-01-10a.xml.gz"
    damaged.write_bytes(gzip.compress(b"<publicwhip></publicwhip>")[:12])
    [error] = records(damaged)
    assert isinstance(error, SourceError)
    assert error.location == "file" and error.reason.startswith("gzip data ends early")


def test_build_keeps_good_files_beside_bad_ones(tmp_path):
    report = build_database(
        [OWN / "malformed", OWN / "orphans", OWN / "versions"], tmp_path / "answers.db")
    db = sqlite_utils.Database(tmp_path / "answers.db")
    by_name = {Path(f.path).name: (f.read, f.stored, f.duplicates, f.rejected)
               for f in report.files}
    assert by_name == {
        "answers2020-01-06a.xml": (1, 0, 0, 1),
        "spwa2020-01-07.xml": (4, 3, 0, 1),
        "lordswrans2020-01-08b.xml": (2, 2, 0, 0),
    }
    assert [Path(path).name for path in report.superseded] == ["lordswrans2020-01-08a.xml"]
    reasons = sorted(row["reason"] for row in db["rejects"].rows)
    assert reasons == ["mismatched tag", "reply with no question before it"]
    assert db["questions"].count == 5
