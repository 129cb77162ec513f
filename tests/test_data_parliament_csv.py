"""The data.parliament.uk CSV reader: the whole shared CSV corpus, and small files for edge cases."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import sqlite_utils

from answers.build import build_database
from answers.model import MemberRef, Question, SourceError
from answers.sources import data_parliament_csv as reader
from answers.sources import reader_for
from conftest import CORPUS, FIXTURES

CSV_CORPUS = CORPUS / "data-parliament-uk-answered-csv"
EDGE = FIXTURES / "csv"


def by_location(records):
    return {record.location: record for record in records}


# -- the whole corpus, through the store ---------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    db_path = tmp_path_factory.mktemp("csv") / "answers.db"
    report = build_database([CSV_CORPUS], db_path)
    db = sqlite_utils.Database(db_path)
    yield report, db
    db.close()


def relative(report_file):
    return str(Path(report_file.path).relative_to(CSV_CORPUS))


@pytest.mark.corpus
def test_every_row_is_accounted_for(built):
    report, db = built
    counts = {relative(f): (f.read, f.stored, f.duplicates, f.rejected) for f in report.files}
    assert counts == {
        "Data/ag/ag_archived_pqs.csv": (932, 932, 0, 0),
        # The root file (read first) holds 361 rows identical to those of ddcms' file: they
        # collapse, and are stored in the later path's file, whose copy is kept.
        "Data/archived_pqs.csv": (361, 0, 361, 0),
        "Data/beis/beis_archived_pqs.csv": (3139, 3139, 0, 0),
        "Data/cc/cc_archived_pqs.csv": (117, 117, 0, 0),
        "Data/cdl/cdl_archived_pqs.csv": (10, 10, 0, 0),
        "Data/co/co_archived_pqs.csv": (5571, 5571, 0, 0),
        "Data/dclg/dclg_archived_pqs.csv": (500, 500, 0, 0),
        "Data/dcms/dcms_archived_pqs.csv": (2712, 2712, 0, 0),
        "Data/ddcms/ddcms_archived_pqs.csv": (532, 532, 0, 0),
        "tests/testthat/examples/archived_pqs.csv": (1000, 1000, 0, 0),
    }
    assert all(f.balanced() for f in report.files)
    assert db["questions"].count == 14874 - 361
    assert db["rejects"].count == 0
    sources = db.execute("select sum(read), sum(stored), sum(duplicates), sum(rejected) "
                         "from sources").fetchone()
    assert sources == (14874, 14513, 361, 0)


@pytest.mark.corpus
def test_reused_uins_stay_apart(built):
    _, db = built
    rows = db.execute("select key, house, date_tabled, date_answered, answering_body from questions "
                      "where uin = 'HL2437' order by date_tabled").fetchall()
    assert rows == [
        ("lords-2014-10-27-hl2437", "Lords", "2014-10-27", "2014-11-10", "Cabinet Office"),
        ("lords-2015-10-05-hl2437", "Lords", "2015-10-05", "2015-10-14", "Cabinet Office"),
    ]
    reused = db.execute(
        """select count(*) from (select uin from questions q join sources s on s.id = q.source_id
           where s.path like '%/co_archived_pqs.csv' group by uin
           having count(distinct date_tabled) = 2)""").fetchone()[0]
    assert reused == 80


@pytest.mark.corpus
def test_houses_follow_the_question_id(built):
    _, db = built
    assert dict(db.execute("select house, count(*) from questions group by house").fetchall()) == {
        "Commons": 12233, "Lords": 2322 - 42}  # the root file's 42 Lords rows are duplicates
    assert db.execute("select count(*) from questions where house = 'Lords' "
                      "and uin not like 'HL%'").fetchone()[0] == 0


@pytest.mark.corpus
def test_na_answer_dates_are_null(built):
    _, db = built
    assert db.execute("select count(*) from questions where date_answered is null").fetchone()[0] == 13


@pytest.mark.corpus
def test_sample_row_as_stored(built):
    _, db = built
    row = db.execute(
        """select q.house, q.date_tabled, q.date_answered, q.answering_body, q.question_text,
                  a.name, a.party, a.constituency, b.name, q.source_location
           from questions q join members a on a.id = q.asking_member_id
           join members b on b.id = q.answering_member_id
           where q.key = 'lords-2014-10-21-hl2235'""").fetchone()
    assert row == (
        "Lords", "2014-10-21", "2014-11-04", "Cabinet Office",
        "To ask Her Majesty’s Government how many Ministers are presently unpaid (1) in the "
        "House of Lords, and (2) in the House of Commons.",
        "Lord Trefgarne", None, None, "Lord Wallace of Saltaire", "row 2 (Question_ID HL2235)")


@pytest.mark.corpus
def test_names_are_reordered(built):
    _, db = built
    members = dict(db.execute("select id, name from members").fetchall())
    assert members["name:jim-shannon"] == "Jim Shannon"
    assert members["name:dame-caroline-spelman"] == "Dame Caroline Spelman"
    assert members["name:lord-wallace-of-saltaire"] == "Lord Wallace of Saltaire"
    assert not [name for name in members.values() if "," in name]
    shannon = db.execute("select party, constituency from members "
                         "where id = 'name:jim-shannon'").fetchone()
    assert shannon == ("Democratic Unionist Party", "Strangford")


@pytest.mark.corpus
def test_answering_bodies_by_file(built):
    _, db = built
    rows = db.execute(
        """select s.path, q.answering_body, count(*) from questions q
           join sources s on s.id = q.source_id group by 1, 2""").fetchall()
    bodies = {(str(Path(path).relative_to(CSV_CORPUS)), body): count for path, body, count in rows}
    assert bodies == {
        ("Data/ag/ag_archived_pqs.csv", "Attorney General"): 932,
        ("Data/beis/beis_archived_pqs.csv",
         "Department for Business, Energy and Industrial Strategy"): 3139,
        ("Data/cc/cc_archived_pqs.csv", "Church Commissioners"): 117,
        ("Data/cdl/cdl_archived_pqs.csv", "Chancellor of the Duchy of Lancaster"): 10,
        ("Data/co/co_archived_pqs.csv", "Cabinet Office"): 5571,
        ("Data/dclg/dclg_archived_pqs.csv", "Department for Communities and Local Government"): 500,
        # Renamed on 3 July 2017: answers from then on come from the renamed department.
        ("Data/dcms/dcms_archived_pqs.csv", "Department for Culture, Media and Sport"): 2628,
        ("Data/dcms/dcms_archived_pqs.csv", "Department for Digital, Culture, Media and Sport"): 84,
        # Data/archived_pqs.csv repeats these 532 rows exactly; the later file is the provenance.
        ("Data/ddcms/ddcms_archived_pqs.csv", "Department for Digital, Culture, Media and Sport"): 532,
        ("tests/testthat/examples/archived_pqs.csv", "Ministry of Justice"): 1000,
    }


@pytest.mark.corpus
def test_answer_html_is_kept_and_sanitized(built):
    _, db = built
    answer_html, answer_text = db.execute(
        "select answer_html, answer_text from questions where key = 'lords-2014-10-21-hl2235'"
    ).fetchone()
    assert answer_html.startswith("<p>I refer my noble friend to the answer I gave to Lord "
                                  "Jopling on 26 September, <em>Official Report</em>, Column")
    assert answer_text.startswith("I refer my noble friend to the answer I gave to Lord Jopling "
                                  "on 26 September, Official Report, Column WA399 and WA400.")


# -- reading single files ----------------------------------------------------------------------

def test_matches_only_archived_pqs_files():
    assert reader.matches(Path("Data/co/co_archived_pqs.csv"))
    assert reader.matches(Path("archived_pqs.csv.gz"))
    assert not reader.matches(Path("Data/co/co_writtenPQs.csv"))
    assert not reader.matches(Path("members/ifg-ministers-database/data/person.csv"))
    assert reader_for(CSV_CORPUS / "Data" / "archived_pqs.csv") is reader


@pytest.mark.parametrize("path, body", [
    ("x/co_archived_pqs.csv.gz", "Cabinet Office"),
    ("Data/archived_pqs.csv", "Department for Culture, Media and Sport"),
    ("tests/testthat/examples/archived_pqs.csv", "Ministry of Justice"),
    ("elsewhere/archived_pqs.csv", None),
    ("x/xyz_archived_pqs.csv", None),
])
def test_body_from_the_file_name(path, body):
    assert reader.body_name(reader.body_names(Path(path)), "2016-01-01") == body


@pytest.mark.corpus
def test_cdl_file_reads_exactly():
    records = list(reader.read(CSV_CORPUS / "Data/cdl/cdl_archived_pqs.csv"))
    assert len(records) == 10 and all(isinstance(r, Question) for r in records)
    first = records[0]
    assert (first.house, first.uin, first.date_tabled, first.answering_body) == (
        "Commons", "50664", "2016-10-27", "Chancellor of the Duchy of Lancaster")
    # This row's Party is "Not found": no party rather than a party called that.
    assert first.asking_member == MemberRef(
        id="name:mark-hendrick", name="Mark Hendrick", party=None, constituency="Preston",
        house="Commons")
    assert records[1].asking_member.party == "Labour"
    assert first.official_url is None


@pytest.mark.corpus
def test_gzipped_file_reads_the_same(tmp_path):
    source = CSV_CORPUS / "Data/cdl/cdl_archived_pqs.csv"
    packed = tmp_path / "cdl_archived_pqs.csv.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    plain = [r.record_hash() for r in reader.read(source)]
    assert [r.record_hash() for r in reader.read(packed)] == plain


def test_bad_rows_are_reported_and_the_rest_read():
    records = list(reader.read(EDGE / "bad_rows_archived_pqs.csv"))
    errors = [(r.location, r.reason) for r in records if isinstance(r, SourceError)]
    assert errors == [
        ("row 3", "no Question_ID"),
        ("row 4 (Question_ID 1003)", "no Question_Date"),
        ("row 5 (Question_ID 1004)", "Question_Date is not a date: '01/03/2016'"),
        ("row 6 (Question_ID 1005)", "8 fields where the header has 9"),
        ("row 8 (Question_ID 1007)", "Question_Date is not a date: '2016-02-30'"),
    ]
    good = by_location(r for r in records if isinstance(r, Question))
    assert sorted(good) == ["row 10 (Question_ID 1008)", "row 2 (Question_ID 1001)",
                            "row 7 (Question_ID HL1006)"]
    first = good["row 2 (Question_ID 1001)"]
    assert first.question_text == "To ask the Minister for the Cabinet Office, what the cost was of The Report."
    assert first.answer_html == "<p>The cost was £5.</p><p>Second paragraph.</p>"
    assert first.answering_member.name == "John Roe"
    assert first.answering_body is None  # "bad_rows" names no department
    peer = good["row 7 (Question_ID HL1006)"]
    assert (peer.house, peer.date_answered, peer.answer_html) == ("Lords", None, "<p>Line one,\nline two.</p>")
    assert peer.asking_member == MemberRef(id="name:lord-smith-of-somewhere",
                                           name="Lord Smith of Somewhere", house="Lords")
    assert good["row 10 (Question_ID 1008)"].answering_member is None


def test_unknown_header_is_one_error():
    records = list(reader.read(EDGE / "unknown_header_archived_pqs.csv"))
    assert [(r.location, r.reason) for r in records] == [
        ("row 1", "unknown header: QID, Text, Date")]


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "co_archived_pqs.csv"
    path.write_bytes(b"")
    assert [r.reason for r in reader.read(path)] == ["empty file"]


def test_windows_1252_file_is_decoded_and_says_so():
    [record] = reader.read(EDGE / "cp1252" / "cdl_archived_pqs.csv")
    assert record.answer_html == "<p>It was £1,130 – as “expected”.</p>"
    assert record.question_text.endswith("what the fund’s income was.")
    assert record.answering_member.name == "Sir Patrick McLoughlin"
    assert record.location == "row 2 (Question_ID 50665); decoded as cp1252, not UTF-8"


def test_mixed_encoding_rejects_only_the_bad_row():
    path = EDGE / "mixed" / "co_archived_pqs.csv"
    records = list(reader.read(path))
    offset = path.read_bytes().index(b"\xa35")
    assert [(type(r).__name__, r.location) for r in records] == [
        ("Question", "row 2 (Question_ID 2001)"),
        ("SourceError", "row 3 (Question_ID 2002)"),
        ("Question", "row 4 (Question_ID 2003)"),
    ]
    assert records[1].reason == f"not valid UTF-8 at byte {offset}"
    assert records[0].answer_html == "<p>Cafés.</p>"
