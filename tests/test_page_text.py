"""The page-text reader: the seed page from ../shared/seeds, and small pages for edge cases."""

from __future__ import annotations

import gzip
import re

import pytest
import sqlite_utils

from answers.build import build_database
from answers.model import MemberRef, Question, SourceError, content_id
from answers.sources import page_text, reader_for
from conftest import FIXTURES, SEEDS

PAGES = FIXTURES / "pages"
SEED = SEEDS / "000_2a41393b050c1048.txt"
NOISE = ("View Source", "Portrait", "Reticulating Splines", "Tweet", "Source Page")


def read_one(path):
    records = list(page_text.read(path))
    assert len(records) == 1
    return records[0]


def paragraphs(answer_html):
    return re.findall(r"<p>(.*?)</p>", answer_html, re.DOTALL)


@pytest.fixture(scope="module")
def seed():
    return read_one(SEED)


@pytest.mark.corpus
def test_seed_fields(seed):
    assert isinstance(seed, Question)
    assert (seed.heading, seed.date_tabled, seed.date_answered, seed.answering_body, seed.house) == (
        "Offences against Children: Internet", "2018-11-21", "2018-11-29", "Home Office", "Commons")
    assert seed.question_text == (
        "To ask the Secretary of State for the Home Department, what steps he is taking to "
        "ensure that children are safe from online grooming.")
    assert seed.answering_member == MemberRef(id="name:victoria-atkins", name="Victoria Atkins")
    assert seed.answerer_title_as_published == "Secretary of State for Health and Social Care"
    assert seed.asking_member is None
    assert seed.uin is None
    assert seed.location == "line 1"


@pytest.mark.corpus
def test_seed_answer_paragraphs(seed):
    found = paragraphs(seed.answer_html)
    assert len(found) == 5
    assert found[0].startswith(
        "We have prioritised child sexual abuse as a national threat and are helping the police")
    assert found[0].endswith(
        "further funding of the Regional Organised Crime Units (ROCUs) to target online "
        "grooming of children.")
    assert "£460 million" in found[0]
    assert found[4] == (
        "Collaborative working between Police forces and the NCA is resulting in around 400 "
        "arrests each month for online CSEA offences, and the safe-guarding of around 500 "
        "children each month.")
    assert "no ‘no-go areas’ of inquiry" in found[2]


@pytest.mark.corpus
def test_seed_has_no_page_noise(seed):
    for name, value in vars(seed).items():
        for noise in NOISE:
            assert noise not in str(value), (name, noise)


@pytest.mark.corpus
def test_seed_key_is_stable_and_documented(seed):
    again = read_one(SEED)
    assert again.key == seed.key
    # The documented rule: no UIN on the page, so the content id stands in for it.
    assert seed.key == f"commons-2018-11-21-{content_id(seed)}"
    assert seed.url == f"commons/2018-11-21/{content_id(seed)}/"


def test_matches_pages_but_not_parlparse_change_lists(tmp_path):
    assert page_text.matches(SEED)
    assert page_text.matches(tmp_path / "page.txt.gz")
    assert page_text.matches(tmp_path / "PAGE.TXT")
    assert not page_text.matches(tmp_path / "changedates.txt")
    assert not page_text.matches(tmp_path / "page.json")
    assert reader_for(SEED) is page_text


@pytest.mark.corpus
def test_gzipped_page_reads_like_the_plain_one(tmp_path, seed):
    packed = tmp_path / "seed.txt.gz"
    packed.write_bytes(gzip.compress(SEED.read_bytes()))
    assert read_one(packed).record_hash() == seed.record_hash()


def test_crlf_bom_and_asking_member():
    page = read_one(PAGES / "crlf_bom.txt")
    assert page.heading == "School Meals: Free Provision"  # no BOM left on the heading
    assert (page.date_tabled, page.date_answered) == ("2021-03-01", "2021-03-02")
    assert page.asking_member == MemberRef(
        id="name:jane-doe", name="Jane Doe", party="Labour", constituency="Somewhere")
    assert page.answering_member == MemberRef(id="name:john-roe", name="John Roe")
    assert page.answerer_title_as_published == "Minister of State (Education)"
    assert page.answering_body == "Department for Education"
    assert page.answer_html == (
        "<p>The information requested is published annually.</p>\n"
        "<p>It is available in the Schools, pupils and their characteristics statistics.</p>")
    assert "\r" not in page.question_text


def test_extra_blank_lines_and_ordinal_dates():
    page = read_one(PAGES / "blank_lines.txt")
    assert page.heading == "Roads: Potholes"
    assert page.location == "line 4"
    assert (page.date_tabled, page.date_answered) == ("2019-01-03", "2019-01-22")
    assert page.question_text == (
        "To ask the Secretary of State for Transport, what funding he has allocated to "
        "repair potholes;\n\nand if he will make a statement.")
    assert page.answerer_title_as_published == "Parliamentary Under-Secretary (Department for Transport)"
    assert page.answer_html == (
        "<p>£420 million was allocated in the Budget.</p>\n"
        "<p>Local authorities decide how it is spent.<br>\n"
        "First line of a list<br>\nSecond line of a list</p>")


@pytest.mark.parametrize("line, expected", [
    ("(asked on 1st March 2021)", "2021-03-01"),
    ("(asked on 2nd April 2020) - View Source", "2020-04-02"),
    ("(asked on 3rd May 2019)", "2019-05-03"),
    ("(asked on 22nd June 2018)", "2018-06-22"),
    ("(asked on 31st December 2017)", "2017-12-31"),
    ("(asked on 9 September 2016)", "2016-09-09"),
])
def test_asked_on_dates(tmp_path, line, expected):
    path = tmp_path / "page.txt"
    path.write_text(f"Heading\n\n{line}\n\nQuestion to the Home Office:\n\nTo ask the Home Secretary, why.\n")
    assert read_one(path).date_tabled == expected


def test_impossible_date_is_rejected_with_its_line(tmp_path):
    path = tmp_path / "page.txt"
    path.write_text("Heading\n(asked on 30th February 2021)\nQuestion to the Home Office:\n"
                    "To ask the Home Secretary, why.\n")
    error = read_one(path)
    assert isinstance(error, SourceError)
    assert (error.location, error.reason) == ("line 2", "no such date: 30 February 2021")


def test_unanswered_question():
    page = read_one(PAGES / "unanswered.txt")
    assert (page.date_answered, page.answer_html, page.answering_member) == (None, None, None)
    assert page.answerer_title_as_published is None
    assert page.asking_member == MemberRef(
        id="name:sam-lee", name="Sam Lee", party="Conservative", constituency="Northtown and Southby")
    assert page.question_text == (
        "To ask the Secretary of State for Health and Social Care, whether he plans to "
        "abolish hospital car parking charges.")
    assert page.answering_body == "Department of Health and Social Care"


def test_lords_page_with_uin_and_peer():
    page = read_one(PAGES / "lords.txt")
    assert (page.house, page.uin) == ("Lords", "HL1234")
    assert page.key == "lords-2016-07-05-hl1234"
    assert page.asking_member == MemberRef(
        id="name:lord-smith-of-somewhere", name="Lord Smith of Somewhere",
        party="Conservative", constituency=None)
    assert page.answering_member.name == "Lord Gardiner of Kimble"
    assert page.question_text.startswith("To ask Her Majesty’s Government what plans")
    assert "HL1234" not in page.question_text


@pytest.mark.parametrize("question, house", [
    ("To ask His Majesty's Government what plans they have.", "Lords"),
    ("To ask Her Majesty’s Government what plans they have.", "Lords"),
    ("To ask the Secretary of State for Defence, how many ships.", "Commons"),
    ("To ask the Scottish Government what its ferry timetable is.", "Scottish Parliament"),
    ("Why are the ferries late?", "Unknown"),
])
def test_house_from_the_wording(tmp_path, question, house):
    path = tmp_path / "page.txt"
    path.write_text(f"Heading\n(asked on 1st May 2020)\nQuestion to the Department:\n{question}\n")
    assert read_one(path).house == house


@pytest.mark.parametrize("name, location, reason", [
    ("no_heading.txt", "line 1", "no heading above the '(asked on ...)' line"),
    ("not_a_page.txt", "line 1", "no '(asked on <date>)' line: not a question page"),
])
def test_not_a_page_is_an_error_with_a_reason(name, location, reason):
    error = read_one(PAGES / name)
    assert isinstance(error, SourceError)
    assert (error.file, error.location, error.reason) == (str(PAGES / name), location, reason)


def test_page_without_question_text_is_an_error(tmp_path):
    path = tmp_path / "page.txt"
    path.write_text("Heading\n\n(asked on 1st May 2020)\n\nQuestion to the Home Office:\n\nReticulating Splines\n")
    error = read_one(path)
    assert (error.location, error.reason) == ("line 5", "no question text")


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "page.txt"
    path.write_bytes(b"\xef\xbb\xbf\r\n\r\n")
    assert read_one(path).reason == "empty page"


def test_windows_1252_page_is_decoded_and_says_so():
    page = read_one(PAGES / "cp1252.txt")
    assert page.answer_html == (
        "<p>The average dual fuel bill was £1,130 – the “standard” tariff cost more.</p>")
    assert page.location == "line 1; decoded as cp1252, not UTF-8"


def test_mixed_encodings_are_rejected_with_the_byte_offset():
    data = (PAGES / "mixed_encoding.txt").read_bytes()
    error = read_one(PAGES / "mixed_encoding.txt")
    assert isinstance(error, SourceError)
    offset = data.index(b"\xa35")
    assert error.reason.startswith(f"not valid UTF-8 at byte {offset}, and the file also holds")


def test_answer_markup_is_escaped_text():
    page = read_one(PAGES / "script_answer.txt")
    assert "<script" not in page.answer_html and "<img" not in page.answer_html
    assert paragraphs(page.answer_html) == [
        "Staff are told never to run &lt;script&gt;alert('x')&lt;/script&gt; from emails.",
        'Nor to open &lt;img src=x onerror="alert(1)"&gt; attachments &amp; links.',
    ]
    assert page.question_text.endswith("guidance is given on <b>phishing</b> emails.")


@pytest.mark.corpus
def test_stored_answer_never_becomes_markup(tmp_path):
    db_path = tmp_path / "answers.db"
    report = build_database([PAGES / "script_answer.txt", SEED], db_path)
    assert [(f.read, f.stored, f.rejected) for f in report.files] == [(1, 1, 0), (1, 1, 0)]
    db = sqlite_utils.Database(db_path)
    row = db.execute("select answer_html, answer_text from questions where heading = :h",
                     {"h": "Cyber Security: Phishing"}).fetchone()
    answer_html, answer_text = row
    assert "<script" not in answer_html and "<img" not in answer_html
    assert "&lt;script&gt;" in answer_html
    assert "never to run <script>alert('x')</script> from emails." in answer_text
    seed_row = db.execute("select house, answerer_title_as_published, date_answered from questions "
                          "where heading = :h", {"h": "Offences against Children: Internet"}).fetchone()
    assert seed_row == ("Commons", "Secretary of State for Health and Social Care", "2018-11-29")
