"""Members: names for member ids, names to ids, and the office held on the answer date."""

from __future__ import annotations

import pytest
import sqlite_utils

from answers import store
from answers.build import build_database
from answers.members import (
    IFG_SOURCE,
    PARLPARSE_XML_SOURCE,
    MemberDirectory,
    Post,
    ReferenceFiles,
    elections,
    normalise_name,
    posts_in_body,
    repair_reversed_ranges,
)
from answers.model import MemberRef, Question
from answers.sources import page_text
from conftest import CORPUS, FIXTURES, SEEDS

MEMBERS = CORPUS / "members"
PARLPARSE_MEMBERS = CORPUS / "parlparse-members"
MINIMAL = FIXTURES / "members" / "minimal"


@pytest.fixture(scope="module")
def directory() -> MemberDirectory:
    return MemberDirectory.load([MEMBERS, PARLPARSE_MEMBERS])


@pytest.fixture(scope="module")
def minimal() -> MemberDirectory:
    return MemberDirectory.load([MINIMAL])


def answered(**fields) -> Question:
    base = dict(house="Commons", uin="1", date_tabled="2024-09-02", heading="Heading",
                question_text="To ask a question.", answer_html="<p>An answer.</p>")
    return Question(**{**base, **fields})


def build(questions: list[Question], directory: MemberDirectory) -> sqlite_utils.Database:
    "A database holding these questions, written through the store as a build writes them."
    db = sqlite_utils.Database(memory=True)
    writer = store.Store(db, directory)
    source_id = db["sources"].insert({"path": "test", "format": "test", "sha256": "0"}).last_pk
    for question in questions:
        writer.add_question(question, source_id)
    writer.flush()
    directory.apply_offices(db)
    return db


# -- names for ids ----------------------------------------------------------------------


@pytest.mark.parametrize("member_id, expected", [
    ("4399", MemberRef("4399", "Victoria Atkins", "Conservative", "Louth and Horncastle",
                       "Commons")),
    ("5031", MemberRef("5031", "Mark Ferguson", "Labour", "Gateshead Central and Whickham",
                       "Commons")),
    ("4125", MemberRef("4125", "Catherine McKinnell", "Labour", "Newcastle upon Tyne North",
                       "Commons")),
    # The current surname, not the one of her maiden speech; the party of mid-2026.
    ("4475", MemberRef("4475", "Suella Braverman", "Reform UK", "Fareham and Waterlooville",
                       "Commons")),
    # A former MP now a peer: the peerage name, and no constituency.
    ("4154", MemberRef("4154", "Lord Deben", "Conservative", None, "Lords")),
    # Named only by the 2024 election results and the lists of current MPs.
    ("5231", MemberRef("5231", "Mr Adnan Hussain", "Independent", "Blackburn", "Commons")),
])
@pytest.mark.corpus
def test_mnis_ids_get_current_name_party_and_seat(directory, member_id, expected):
    assert directory.resolve(MemberRef(member_id), "2025-01-01") == expected


@pytest.mark.corpus
def test_an_id_the_maiden_speeches_give_two_names_takes_the_election_results(directory):
    # The maiden-speech file puts 3958 on both Fiona Bruce and Jason McCartney (3953).
    assert directory.resolve(MemberRef("3958")).name == "Fiona Bruce"
    assert directory.resolve(MemberRef("name:jason-mccartney", name="Jason McCartney")).id == "3953"


@pytest.mark.corpus
def test_fields_a_source_gives_are_kept(directory):
    ref = MemberRef("4399", name="Victoria Atkins MP", party="Conservative Party")
    assert directory.resolve(ref) == MemberRef(
        "4399", "Victoria Atkins MP", "Conservative Party", "Louth and Horncastle", "Commons")


@pytest.mark.corpus
def test_unknown_ids_are_left_as_they_are(directory):
    assert directory.resolve(MemberRef("99999999")) == MemberRef("99999999")
    scottish = MemberRef("uk.org.publicwhip/member/80001", name="Someone")
    assert directory.resolve(scottish) == scottish


# -- names to ids -----------------------------------------------------------------------


@pytest.mark.parametrize("ref, member_id", [
    (MemberRef("name:victoria-atkins", name="Victoria Atkins"), "4399"),
    (MemberRef("name:victoria-atkins"), "4399"),  # the slug alone is enough
    (MemberRef("name:x", name="Rt Hon Victoria Atkins MP"), "4399"),
    (MemberRef("name:x", name="VICTORIA ATKINS"), "4399"),
    (MemberRef("name:sian-berry", name="Sian Berry"), "5314"),  # Siân in the data
    (MemberRef("name:x", name="Suella Fernandes"), "4475"),  # an earlier name still finds her
    (MemberRef("name:x", name="Baroness Neville-Rolfe"), "4284"),
    (MemberRef("name:x", name="Lord Bridges of Headley"), "4535"),
])
@pytest.mark.corpus
def test_a_unique_name_becomes_the_mnis_id_and_keeps_the_name(directory, ref, member_id):
    resolved = directory.resolve(ref, "2018-01-01")
    assert resolved.id == member_id
    assert resolved.name == (ref.name or directory.members[member_id].name)


@pytest.mark.corpus
def test_name_resolution_fills_party_and_seat(directory):
    resolved = directory.resolve(MemberRef("name:victoria-atkins", name="Victoria Atkins"))
    assert resolved == MemberRef("4399", "Victoria Atkins", "Conservative",
                                 "Louth and Horncastle", "Commons")


@pytest.mark.corpus
@pytest.mark.parametrize("ref", [
    MemberRef("name:mike-wood", name="Mike Wood"),  # two MPs: Batley (401), Dudley South (4384)
    MemberRef("name:nobody-at-all", name="Nobody At All"),
    MemberRef("name:x", name="Mr"),
])
def test_ambiguous_or_unknown_names_stay_names(directory, ref):
    assert directory.resolve(ref) == ref


def test_two_members_with_one_name_are_never_guessed(minimal):
    ref = MemberRef("name:alex-smith", name="Alex Smith")
    assert minimal.resolve(ref) == ref
    assert minimal.resolve(MemberRef("name:zoe-o-brien", name="Zoe O’Brien")).id == "9003"
    assert minimal.resolve(MemberRef("name:zoe-o-brien")).id == "9003"


@pytest.mark.parametrize("name, normal", [
    ("Rt Hon Sir Keir Starmer KC MP", "keir starmer"),
    ("Dame Siân Berry", "sian berry"),
    ("Ms  DIANE  Abbott", "diane abbott"),
    ("Emma Lewell-Buck", "emma lewell buck"),
    ("Zoë O'Brien", "zoe o brien"),
    ("Lord Bridges of Headley", "lord bridges of headley"),
])
def test_normalise_name(name, normal):
    assert normalise_name(name) == normal


# -- parlparse ids (2009) ---------------------------------------------------------------


@pytest.mark.corpus
def test_parlparse_ids_get_names_from_all_members_and_peers(directory):
    assert directory.resolve(MemberRef("uk.org.publicwhip/member/1491")) == MemberRef(
        "uk.org.publicwhip/member/1491", "Jonathan R Shaw", "Labour", "Chatham & Aylesford",
        "Commons")
    assert directory.resolve(MemberRef("uk.org.publicwhip/lord/100004")) == MemberRef(
        "uk.org.publicwhip/lord/100004", "Lord Addington", "Liberal Democrat", None, "Lords")


@pytest.mark.corpus
def test_shaw_answering_for_work_and_pensions_gets_the_dwp_post(directory):
    question = answered(uin="296000", date_tabled="2009-10-29", date_answered="2009-10-29",
                        answering_body="Work and Pensions",
                        answering_member=MemberRef("uk.org.publicwhip/member/1491"))
    row = build([question], directory)["questions"].get(question.key)
    assert row["answering_member_office"] == (
        "Parliamentary Under-Secretary (Disabled People), Department for Work and Pensions")
    assert row["answering_member_office_source"] == PARLPARSE_XML_SOURCE


@pytest.mark.corpus
def test_concurrent_posts_outside_the_body_are_all_listed(directory):
    office = directory.office_on("uk.org.publicwhip/member/1491", "2009-10-29", None)
    assert office == (
        "Minister of State (Disabled People), Regional Affairs; "
        "Parliamentary Under-Secretary (Disabled People), Department for Work and Pensions",
        PARLPARSE_XML_SOURCE)


@pytest.mark.corpus
def test_a_lords_minister_gets_a_data_parliament_post(directory):
    assert directory.office_on("uk.org.publicwhip/lord/100839", "2009-10-26", "Transport") == (
        "Secretary of State for Transport", "parlparse ministers-2010.json (data.parliament.uk)")


# -- offices from the IfG database ------------------------------------------------------


@pytest.mark.corpus
def test_mckinnell_on_2024_09_09_is_minister_for_school_standards(directory):
    assert directory.office_on("4125", "2024-09-09", "Department for Education") == (
        "Minister for School Standards", IFG_SOURCE)


@pytest.mark.corpus
def test_seed_answer_gets_the_home_office_post_held_in_2018(directory):
    seed = next(SEEDS.glob("*.txt"))
    (question,) = [q for q in page_text.read(seed) if isinstance(q, Question)]
    db = build([question], directory)
    row = db["questions"].get(question.key)
    assert row["answering_member_id"] == "4399"
    assert row["date_answered"] == "2018-11-29"
    assert row["answering_member_office"] == "Minister for Safeguarding"
    assert row["answering_member_office_source"] == IFG_SOURCE
    # What the page printed is kept, labelled, apart from the office held then.
    assert row["answerer_title_as_published"] == "Secretary of State for Health and Social Care"
    assert db["members"].get("4399")["name"] == "Victoria Atkins"


@pytest.mark.corpus
def test_without_a_body_every_post_held_that_day_is_listed(directory):
    assert directory.office_on("4399", "2018-11-29", None) == (
        "Minister for Safeguarding; Minister for Women", IFG_SOURCE)


@pytest.mark.corpus
@pytest.mark.parametrize("day", ["2017-11-08", "2024-07-06", "2022-09-01"])
def test_no_office_where_no_post_covers_the_date(directory, day):
    # Before her first post, after her last, and between two posts: never a later office.
    assert directory.office_on("4399", day, "Department of Health and Social Care") is None


@pytest.mark.corpus
def test_a_bare_rank_names_its_department(directory):
    office, _ = directory.office_on("4399", "2022-06-01", "Ministry of Justice")
    assert office == "Minister of State, Ministry of Justice"


@pytest.mark.corpus
def test_reversed_treasury_ranges_end_when_the_next_holder_starts(directory):
    # Lucy Rigby: Economic Secretary from 2025-09-06, "ending" 2025-05-14 in the data;
    # Rachel Blake took the post on 2026-05-14, when Rigby became Chief Secretary.
    assert directory.office_on("5333", "2025-10-29", "Treasury") == (
        "Economic Secretary", IFG_SOURCE)
    assert directory.office_on("5333", "2026-06-01", "Treasury") == (
        "Chief Secretary to the Treasury", IFG_SOURCE)
    assert directory.office_on("4797", "2025-12-01", "Treasury") == (
        "Chief Secretary to the Treasury", IFG_SOURCE)
    assert directory.office_on("4797", "2026-06-01", "Treasury") == (
        "Secretary of State for Health and Social Care", IFG_SOURCE)


def test_a_reversed_range_with_no_later_holder_is_left_out(minimal):
    assert minimal.office_on("9003", "2024-08-01", "Department for Transport") is None
    assert minimal.office_on("9003", "2025-10-01", "Treasury") == ("Economic Secretary", IFG_SOURCE)
    assert minimal.office_on("9003", "2026-06-01", "Treasury") is None


def test_repair_reversed_ranges_keeps_good_rows_untouched():
    rows = [
        {"post_id": "p", "start_date": "2020-01-01", "end_date": "2021-01-01"},
        {"post_id": "p", "start_date": "2022-01-01", "end_date": "2021-06-01"},
        {"post_id": "p", "start_date": "2023-03-01", "end_date": ""},
        {"post_id": "q", "start_date": "2022-01-01", "end_date": "2020-01-01"},
    ]
    assert repair_reversed_ranges(rows) == [
        rows[0],
        {"post_id": "p", "start_date": "2022-01-01", "end_date": "2023-03-01"},
        rows[2],
    ]


def test_posts_in_the_answering_body_come_first(minimal):
    assert minimal.office_on("9004", "2025-02-01", "Department for Transport") == (
        "Minister of State, Department for Transport; Minister for Rail", IFG_SOURCE)
    assert minimal.office_on("9004", "2025-02-01", "Cabinet Office") == (
        "Minister of State, Department for Transport; Minister for Rail", IFG_SOURCE)


def post(title: str, organisation: str | None) -> Post:
    return Post(title, organisation, None, None, IFG_SOURCE, title)


@pytest.mark.parametrize("body, expected", [
    ("Treasury", "Economic Secretary"),
    ("Scotland Office", "Parliamentary Under-Secretary of State"),
    ("Women and Equalities", "Minister for Women and Equalities"),
    ("HOME DEPARTMENT", "Minister for Safeguarding"),
    ("Attorney General", "Solicitor General"),
])
def test_answering_body_matching(body, expected):
    posts = [
        post("Economic Secretary", "HM Treasury"),
        post("Parliamentary Under-Secretary of State",
             "Office of the Secretary of State for Scotland"),
        post("Minister for Women and Equalities", "Cabinet Office"),
        post("Minister for Safeguarding", "Home Office"),
        post("Solicitor General", "Attorney General's Office"),
        post("Assistant Whip", "Government Whips-House of Commons"),
    ]
    assert [p.title for p in posts_in_body(posts, body)] == [expected]


# -- the whole pipeline over one month of the API corpus --------------------------------

NON_GOVERNMENT_BODIES = {
    "Speaker's Committee on the Electoral Commission", "House of Commons Commission",
    "Church Commissioners", "Public Accounts Commission",
    "Speaker's Committee for the Independent Parliamentary Standards Authority",
    "Restoration and Renewal Client Board", "Members Estimate Committee",
}


@pytest.fixture(scope="module")
def api_month(tmp_path_factory, directory) -> sqlite_utils.Database:
    db_path = tmp_path_factory.mktemp("members") / "answers.db"
    build_database([CORPUS / "uk-parliament-wq-api-json" / "2024-08.json.gz"], db_path,
                         directory)
    return sqlite_utils.Database(db_path)


@pytest.mark.corpus
def test_api_question_gets_member_name_and_office(api_month):
    (row,) = api_month.query(
        """select q.answering_member_office, q.answering_member_office_source, m.name, m.party
           from questions q join members m on m.id = q.answering_member_id
           where q.api_id = 1725947""")
    assert row == {"answering_member_office": "Minister for School Standards",
                   "answering_member_office_source": IFG_SOURCE,
                   "name": "Catherine McKinnell", "party": "Labour"}


@pytest.mark.corpus
def test_every_government_answer_of_the_month_has_an_office(api_month):
    missing = api_month.execute(
        """select answering_body, count(*) from questions
           where date_answered is not null and answering_member_office is null
           group by answering_body""").fetchall()
    assert {body for body, _ in missing} <= NON_GOVERNMENT_BODIES
    answered_count = api_month.execute(
        "select count(*) from questions where date_answered is not null").fetchone()[0]
    assert answered_count > 1000


@pytest.mark.corpus
def test_every_member_of_the_month_is_named(api_month):
    unnamed = api_month.execute("select id from members where name is null").fetchall()
    assert unnamed == []


@pytest.mark.corpus
def test_member_posts_list_every_post_of_the_members_named(api_month):
    rows = list(api_month.query(
        "select post, organisation, start_date, end_date, source from member_posts "
        "where member_id = '4125' order by start_date"))
    assert rows == [{"post": "Minister for School Standards",
                     "organisation": "Department for Education", "start_date": "2024-07-08",
                     "end_date": "2025-09-06", "source": IFG_SOURCE}]
    asked_only = api_month.execute(
        "select count(*) from member_posts where member_id not in "
        "(select asking_member_id from questions where asking_member_id is not null "
        " union select answering_member_id from questions where answering_member_id is not null"
        " union select correcting_member_id from questions where correcting_member_id is not null)"
    ).fetchone()[0]
    assert asked_only == 0


# -- missing data -----------------------------------------------------------------------


def test_a_cached_directory_is_the_one_loaded_until_its_version_changes(tmp_path, monkeypatch):
    cache = tmp_path / "answers.db.members.json"
    first = MemberDirectory.cached([MINIMAL], cache, "version 1")
    assert first == MemberDirectory.load([MINIMAL]) and cache.is_file()

    def no_parsing(cls, paths):
        raise AssertionError("parsed again")

    with monkeypatch.context() as patched:
        patched.setattr(MemberDirectory, "load", classmethod(no_parsing))
        assert MemberDirectory.cached([MINIMAL], cache, "version 1") == first
    loads = []
    load = MemberDirectory.load.__func__
    monkeypatch.setattr(MemberDirectory, "load",
                        classmethod(lambda cls, paths: loads.append(paths) or load(cls, paths)))
    assert MemberDirectory.cached([MINIMAL], cache, "version 2") == first
    assert len(loads) == 1  # another version: parsed, and saved under it
    cache.write_text('{"version": "version 2", "members": [["1", 2]]}')
    assert MemberDirectory.cached([MINIMAL], cache, "version 2") == first
    assert len(loads) == 2  # a cache this code cannot read is ignored


@pytest.mark.corpus
def test_the_whole_directory_survives_its_cache(directory, tmp_path):
    cache = tmp_path / "members.json"
    MemberDirectory.cached([MEMBERS, PARLPARSE_MEMBERS], cache, "v")
    assert MemberDirectory.cached([], cache, "v") == directory


def test_missing_folders_give_an_empty_directory(tmp_path):
    empty = MemberDirectory.load([tmp_path / "absent"])
    ref = MemberRef("name:victoria-atkins", name="Victoria Atkins")
    assert empty.resolve(ref) == ref
    assert empty.office_on("4399", "2018-11-29", "Home Office") is None


def test_reference_files_are_sorted_by_their_names_gzip_compressed_or_not(tmp_path):
    names = ["2019/current_mps.json", "2024/current_mps.json.gz", "mp_lookup.csv", "candidacies.csv",
             "maiden-speeches.csv.gz", "all-members.xml", "peers-ucl.xml.gz", "people.xml",
             "ministers-2010.json", "ministers.xml", "ifg/appointment.csv", "ifg/person.csv", "notes.txt"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name, encoding="utf-8")
    files = ReferenceFiles.find([tmp_path])
    assert files.current_mps == [tmp_path / "2019/current_mps.json", tmp_path / "2024/current_mps.json.gz"]
    assert (files.dfe, files.candidacies, files.maiden) == (
        [tmp_path / "mp_lookup.csv"], [tmp_path / "candidacies.csv"], [tmp_path / "maiden-speeches.csv.gz"])
    assert (files.all_members, files.peers, files.people, files.ministers_2010, files.ministers_xml) == (
        tmp_path / "all-members.xml", tmp_path / "peers-ucl.xml.gz", tmp_path / "people.xml",
        tmp_path / "ministers-2010.json", tmp_path / "ministers.xml")
    assert files.ifg_folder == tmp_path / "ifg"
    assert len(files.all_files) == len(names)  # the fingerprint covers every file, known or not


def test_a_bad_escape_in_a_list_of_current_mps_is_spelt_out_not_kept(tmp_path):
    # A lone surrogate cannot be written to SQLite: kept, it would stop the build at the member's row.
    path = tmp_path / "current_mps.json"
    path.write_text('[{"id": 4001, "nameDisplayAs": "Ann \\ud800Example", "party": "Lab\\udc80our", '
                    '"membershipFrom": "Seat", "is_mp": true, "statusStartDate": "2024-07-04"}]')
    [(member_id, record)] = list(elections.current_mps_records([path]))
    assert member_id == "4001"
    assert (record.member.name, record.member.party) == ("Ann \\ud800Example", "Lab\\udc80our")
