"""Citations between questions: finding references in text, resolving them to the question
they cite (never to a wrong one), the `citations` table, and the links and "Cited by" lists
on the pages. The corpus tests measure precision and recall on a labelled sample of real
references (tests/fixtures/citations/labelled.csv; its README says how it was chosen)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import sqlite_utils
from bs4 import BeautifulSoup

from answers import build, citations, pages, queries, site
from answers.render import SiteConfig, render_markdown

LABELLED = Path(__file__).parent / "fixtures" / "citations" / "labelled.csv"


def found(text: str, written_on: str = "2024-01-10", field: str = "question"):
    return [(r.house, r.uin, r.cited_date) for r in
            citations.find_references(text, field, "Commons", written_on)]


# -- finding references ----------------------------------------------------------------


def test_a_dated_reference_takes_the_date_written_before_it():
    text = ("To ask the Attorney General, pursuant to the Answer of 12 December 2023 to "
            "Question 4982, which other three individuals have received severance payments")
    assert found(text) == [("Commons", "4982", "2023-12-12")]


def test_a_date_after_the_reference_and_an_official_report_citation():
    assert found("I refer the Hon. Member to the answer I gave to Question UIN 7203 on "
                 "21 December 2023.") == [("Commons", "7203", "2023-12-21")]
    assert found("I refer the hon. Member to the answer of 28th February 2024, Official Report, "
                 "PQ 5332.") == [("Commons", "5332", "2024-02-28")]


def test_each_listed_number_is_a_reference_with_its_own_date():
    text = ("pursuant to the Answers of 29 October to Question 11052 and of 8 November to "
            "Question 12117 on Free Schools, and to Questions 1652 and 1653")
    assert found(text, written_on="2024-11-18") == [
        ("Commons", "11052", "2024-10-29"), ("Commons", "12117", "2024-11-08"),
        ("Commons", "1652", None), ("Commons", "1653", None)]


def test_a_date_without_a_year_is_the_latest_such_day_before_the_text_was_written():
    assert found("the Answer of 16 November to Question 881", written_on="2023-12-05") == [
        ("Commons", "881", "2023-11-16")]
    assert found("my answer of 19 December to PQ 20229", written_on="2025-01-07") == [
        ("Commons", "20229", "2024-12-19")]


def test_lords_numbers_are_lords_questions_but_lords_papers_are_not_questions():
    assert found("I refer him to Written Parliamentary Question HL14753.") == [
        ("Lords", "HL14753", None)]
    assert found("the answer given to PQ HL475. The Office") == [("Lords", "HL475", None)]
    assert found("the committee's report, HL 257, published in January 2024") == []


def test_numbers_that_are_not_question_numbers_are_not_references():
    assert found("Border Force does not hold the data to questions 1 and 2 in an easily "
                 "accessible format.") == []
    assert found("within 20 working days of the question 2024/25 figures") == []
    assert found("in answer 2024-25 spending was") == []
    weak = citations.find_references("see HC 1243, Question 25, and", "question", "Commons", None)
    assert [r.weak for r in weak] == [True]


# -- sessions and resolving ------------------------------------------------------------


def test_sessions_start_where_uins_restart_and_recess_uins_are_ignored():
    sessions = citations.Sessions({"Commons": [
        ("2023-12-01", 4770), ("2023-12-19", 7471),
        ("2024-07-17", 1), ("2024-07-30", 2223), ("2024-08-30", 2701), ("2025-01-17", 24618),
        ("2026-05-13", 1)]})
    assert sessions.spans["Commons"] == [("2023-12-01", "2023-12-19"),
                                         ("2024-07-17", "2025-01-17"), ("2026-05-13", "2026-05-13")]
    assert sessions.of("Commons", "2024-11-01") == ("2024-07-17", "2025-01-17")
    assert sessions.of("Commons", "2024-03-01") is None  # between sessions: unknown
    assert sessions.until("Commons", "2024-08-01") == "2026-05-13"


def question(key, uin, tabled, answered=None, text=None, answer=None):
    return {"key": key, "house": "Commons", "uin": uin, "date_tabled": tabled,
            "date_answered": answered, "date_holding_answer": None, "date_answer_corrected": None,
            "question_text": text, "answer_text": answer}


def archive_db(tmp_path, rows) -> sqlite_utils.Database:
    db = sqlite_utils.Database(tmp_path / "answers.db")
    db["questions"].insert_all(rows, pk="key")
    citations.write_citations(db)
    return db


def citations_of(db, key):
    return [(row["uin"], row["status"], row["rule"], row["cited_key"])
            for row in db.query("select * from citations where citing_key = ? order by position, uin",
                                [key])]


def test_a_uin_reused_in_a_later_session_is_never_linked_from_the_earlier_one(tmp_path):
    db = archive_db(tmp_path, [
        question("c-2023-12-01-4800", "4800", "2023-12-01"),
        question("c-2023-12-04-4982", "4982", "2023-12-04", "2023-12-12"),
        question("c-2024-07-17-1", "1", "2024-07-17"),
        question("c-2024-09-01-4982", "4982", "2024-09-01", "2024-09-09"),
        question("c-2024-10-01-5000", "5000", "2024-10-01", text="pursuant to PQ 4982, whether"),
        question("c-2024-10-02-5001", "5001", "2024-10-02",
                 text="pursuant to the Answer of 12 December 2023 to Question 4982, what"),
        question("c-2024-10-03-5002", "5002", "2024-10-03",
                 text="pursuant to the Answer of 2 May 2023 to Question 4982, what"),
    ])
    assert citations_of(db, "c-2024-10-01-5000") == [("4982", "resolved", "uin+session", "c-2024-09-01-4982")]
    assert citations_of(db, "c-2024-10-02-5001") == [("4982", "resolved", "uin+date", "c-2023-12-04-4982")]
    # An earlier session's answer the archive does not hold: unresolved, not the same UIN now.
    assert citations_of(db, "c-2024-10-03-5002") == [("4982", "unresolved", "uin+later-answer", None)]


def test_a_reference_two_questions_fit_is_ambiguous_and_unlinked(tmp_path):
    db = archive_db(tmp_path, [
        question("c-2024-07-17-1", "1", "2024-07-17"),
        question("c-2024-09-01-700", "700", "2024-09-01", "2024-09-09"),
        question("c-2024-09-02-700", "700", "2024-09-02", "2024-09-09"),  # broken source data
        question("c-2024-10-01-900", "900", "2024-10-01", answer="my answer of 9 September 2024 to PQ 700"),
    ])
    assert citations_of(db, "c-2024-10-01-900") == [("700", "ambiguous", "uin+date", None)]
    assert queries.citation_links(db) == ({}, {})


def test_a_question_with_no_answer_yet_is_found_by_the_date_it_was_answered_later(tmp_path):
    db = archive_db(tmp_path, [
        question("c-2025-10-10-79794", "79794", "2025-10-10"),
        question("c-2025-12-01-95000", "95000", "2025-12-01",
                 text="pursuant to the answer of 15 October 2025 to Question 79794, what"),
        question("c-2025-12-01-95001", "95001", "2025-12-01",
                 text="pursuant to the answer of 15 October 2026 to Question 79794, what"),
    ])
    assert citations_of(db, "c-2025-12-01-95000") == [
        ("79794", "resolved", "uin+later-answer", "c-2025-10-10-79794")]
    # A year after tabling is not taken as the same question's answer.
    assert citations_of(db, "c-2025-12-01-95001")[0][1] == "unresolved"


def test_uins_a_source_got_wrong_never_stop_the_pass(tmp_path):
    db = archive_db(tmp_path, [
        question("c-2024-07-17-1", "1", "2024-07-17"),
        question("c-2024-07-18-x", "\u00b2", "2024-07-18"),  # a superscript two: a digit to isdigit()
        question("c-2024-07-19-y", "9" * 5000, "2024-07-19"),
        question("c-2024-07-20-z", "13", "2024-07-20", text="pursuant to PQ \u0661\u0662\u0663 and PQ 12"),
        question("c-2024-07-18-w", "12", "2024-07-18", "2024-07-22"),
    ])
    assert citations_of(db, "c-2024-07-20-z") == [("12", "resolved", "uin+session", "c-2024-07-18-w")]


def test_sessions_read_the_lowest_uin_of_each_day_as_uin_number_does(tmp_path):
    "Whatever way a UIN is written, and a date tabled with a time or without."
    rows = [question(f"c-{n}", uin, tabled) for n, (uin, tabled) in enumerate([
        ("4800", "2023-12-01"), ("0012", "2023-12-01T09:30:00"), ("HL 7", "2023-12-04"),
        ("hl6", "2023-12-04T00:00:00"), ("900001", "2023-12-05"), ("4990", "2023-12-05"),
        ("x12", "2023-12-06"), ("9" * 12, "2023-12-06"), ("-3", "2023-12-06"), ("3", "2023-12-07"),
        ("\u00b2", "2023-12-07"), (None, "2023-12-08"), ("5", None)])]
    db = archive_db(tmp_path, rows)
    lowest: dict[tuple[str, str], int] = {}
    for row in rows:
        number = citations.uin_number(row["uin"])
        if row["date_tabled"] and number is not None and number < citations.RECESS_SERIES:
            slot = (row["house"], row["date_tabled"][:10])
            lowest[slot] = min(number, lowest.get(slot, number))
    by_house: dict[str, list] = {}
    for (house, day), number in lowest.items():
        by_house.setdefault(house, []).append((day, number))
    assert citations.Sessions.from_database(db).spans == citations.Sessions(by_house).spans == {
        "Commons": [("2023-12-01", "2023-12-05"), ("2023-12-07", "2023-12-07")]}  # 12, 6, 4990; 3


def test_a_uin_held_otherwise_than_references_write_it_is_still_found(tmp_path):
    db = archive_db(tmp_path, [
        question("c-2024-07-17-1", "1", "2024-07-17"),
        question("c-2024-07-18-4982", " 4982\t", "2024-07-18", "2024-07-22"),
        dict(question("l-2024-07-19-77", "hl77", "2024-07-19", "2024-07-23"), house="Lords"),
        question("c-2024-08-01-5000", "5000", "2024-08-01",
                 text="pursuant to PQ 4982 and the Answer of 23 July 2024 to HL77, what"),
    ])
    assert citations_of(db, "c-2024-08-01-5000") == [
        ("4982", "resolved", "uin+session", "c-2024-07-18-4982"),
        ("HL77", "resolved", "uin+date", "l-2024-07-19-77")]
    archive = citations.Archive(db)
    assert [row["key"] for row in archive.candidates("Lords", "HL77")] == ["l-2024-07-19-77"]
    assert archive.candidates("Commons", "HL77") == []


# -- links in page text -----------------------------------------------------------------


def test_links_wrap_only_the_reference_and_source_text_stays_text():
    html = ("<p>See &lt;script&gt;alert(1)&lt;/script&gt; and [Question 4982](javascript:x) "
            "and <a href='https://example.org/'>Question 4982</a>, Questions 1652 and 1653.</p>")
    soup = citations.linked_soup(html, {"4982": "../../2023-12-04/4982/", "1653": "../1653/"})
    links = [(a.get_text(), a["href"]) for a in soup.find_all("a")]
    assert links == [("Question 4982", "../../2023-12-04/4982/"), ("Question 4982", "https://example.org/"),
                     ("1653", "../1653/")]
    assert soup.get_text() == BeautifulSoup(html, "html.parser").get_text()
    markdown = pages.html_to_markdown(html, {"4982": "../../2023-12-04/4982/"})
    assert "[Question 4982](../../2023-12-04/4982/)" in markdown
    rendered = BeautifulSoup(render_markdown(markdown), "html.parser")
    assert [a["href"] for a in rendered.find_all("a")] == ["../../2023-12-04/4982/", "https://example.org/"]
    assert rendered.get_text() == BeautifulSoup(html, "html.parser").get_text()


def all_citations(db) -> list[dict]:
    return list(db.query("select * from citations order by citing_key, field, position, uin"))


def test_a_change_makes_again_exactly_the_citations_it_can_alter(tmp_path, monkeypatch):
    "An update equals a full pass, and leaves alone the questions that cite nothing it changed."
    rows = [
        question("c-2024-07-17-1", "1", "2024-07-17"),
        question("c-2024-09-01-700", "700", "2024-09-01"),
        question("c-2024-10-01-900", "900", "2024-10-01", answer="my answer of 9 September 2024 to PQ 700"),
        question("c-2024-10-02-901", "901", "2024-10-02", text="pursuant to PQ 800, what"),
        question("c-2024-07-18-150", "150", "2024-07-18", "2024-07-25"),
        question("c-2024-10-03-902", "902", "2024-10-03", text="pursuant to PQ 150, what"),
    ]
    db = archive_db(tmp_path, rows)
    assert citations_of(db, "c-2024-10-01-900")[0][1:3] == ("resolved", "uin+later-answer")
    assert citations_of(db, "c-2024-10-02-901")[0][1] == "unresolved"
    assert citations_of(db, "c-2024-10-03-902")[0][1] == "resolved"
    # 700 is answered, 800 arrives: the citations of 900 and 901 can change, 902's cannot.
    arrived = [question("c-2024-09-01-700", "700", "2024-09-01", "2024-09-09"),
               question("c-2024-09-02-800", "800", "2024-09-02")]
    db["questions"].upsert_all(arrived, pk="key")
    made_again = []
    monkeypatch.setattr(citations, "citations_of", lambda row, archive: made_again.append(row["key"])
                        or original_citations_of(row, archive))
    counts = citations.write_citations(db, [row["key"] for row in arrived])
    assert sorted(made_again) == ["c-2024-09-01-700", "c-2024-09-02-800", "c-2024-10-01-900",
                                  "c-2024-10-02-901"]
    assert citations_of(db, "c-2024-10-01-900") == [("700", "resolved", "uin+date", "c-2024-09-01-700")]
    assert citations_of(db, "c-2024-10-02-901") == [("800", "resolved", "uin+session", "c-2024-09-02-800")]
    (tmp_path / "clean").mkdir()
    clean = archive_db(tmp_path / "clean", [dict(row) for row in db["questions"].rows])
    assert all_citations(db) == all_citations(clean)
    assert counts == {"found": 3, "resolved": 3, "unresolved": 0, "ambiguous": 0}


def test_sessions_that_move_make_every_citation_again(tmp_path, monkeypatch):
    db = archive_db(tmp_path, [question("c-2024-07-17-1", "1", "2024-07-17"),
                               question("c-2024-10-03-902", "902", "2024-10-03", text="pursuant to PQ 1")])
    # UIN 1 again: a new session starts, and every reference may now fit another question.
    db["questions"].insert(question("c-2024-11-01-1", "1", "2024-11-01"), pk="key")
    made_again = []
    monkeypatch.setattr(citations, "citations_of", lambda row, archive: made_again.append(row["key"])
                        or original_citations_of(row, archive))
    citations.write_citations(db, ["c-2024-11-01-1"])
    assert sorted(made_again) == ["c-2024-07-17-1", "c-2024-10-03-902", "c-2024-11-01-1"]


original_citations_of = citations.citations_of


def api_file(path: Path, *values: dict) -> Path:
    path.write_text(json.dumps([{"value": dict(value, house="Commons")} for value in values]),
                    encoding="utf-8")
    return path


def test_a_new_citation_rewrites_the_cited_page_with_its_cited_by_list(tmp_path):
    "Incremental builds: the cited page is written again when a question citing it arrives."
    cited = api_file(tmp_path / "a.json", {
        "id": 1, "uin": "4982", "dateTabled": "2023-12-04T00:00:00", "dateAnswered": "2023-12-12T00:00:00",
        "heading": "Attorney General: Redundancy Pay", "questionText": "To ask the Attorney General, how many.",
        "answerText": "<p>Three.</p>"})
    citing = api_file(tmp_path / "b.json", {
        "id": 2, "uin": "6774", "dateTabled": "2023-12-13T00:00:00", "heading": "Severance",
        "questionText": "To ask the Attorney General, pursuant to the Answer of 12 December 2023 to "
                        "Question 4982 <on> [pay](javascript:alert(1)), who was paid."})
    db_path, pages_dir = tmp_path / "answers.db", tmp_path / "pages"
    build.build_database([cited], db_path)
    pages.write_pages(db_path, pages_dir)
    assert "cited_by" not in pages.read_page(pages_dir / "commons/2023-12-04/4982/index.md")[0]

    report = build.build_database([cited, citing], db_path)
    assert report.citations == {"found": 1, "resolved": 1, "unresolved": 0, "ambiguous": 0}
    written = pages.write_pages(db_path, pages_dir).written
    assert "commons/2023-12-04/4982/index.md" in written
    meta, _ = pages.read_page(pages_dir / "commons/2023-12-04/4982/index.md")
    assert meta["cited_by"] == [{"key": "commons-2023-12-13-6774", "url": "commons/2023-12-13/6774/",
                                 "uin": "6774", "title": "Severance", "date_tabled": "2023-12-13"}]
    _, body = pages.read_page(pages_dir / "commons/2023-12-13/6774/index.md")
    html = BeautifulSoup(render_markdown(body), "html.parser")
    assert [(a.get_text(), a["href"]) for a in html.find_all("a")] == [
        ("Question 4982", "../../2023-12-04/4982/")]
    assert "Question 4982 <on> [pay](javascript:alert(1)), who was paid." in html.get_text()


# -- over the corpus -------------------------------------------------------------------



def labelled() -> list[dict]:
    with LABELLED.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_the_labelled_sample_is_real_and_large_enough():
    rows = labelled()
    assert len(rows) >= 60
    assert len({row["citing_key"] for row in rows}) >= 60
    assert sum(row["cited"].startswith("commons-") for row in rows) >= 30


def test_precision_and_recall_on_the_labelled_sample(corpus_db, capsys):
    with sqlite_utils.Database(corpus_db) as db:
        links = correct = positives = 0
        for row in labelled():
            linked = {r[0] for r in db.execute(
                "select cited_key from citations where citing_key = ? and field = ? and uin = ?"
                " and status = 'resolved'", [row["citing_key"], row["field"], row["uin"]])}
            truth = row["cited"] if row["cited"].startswith(("commons-", "lords-")) else None
            positives += truth is not None
            links += len(linked)
            correct += truth in linked
        counts = dict(db.execute("select status, count(*) from citations group by status").fetchall())
    precision, recall = correct / links, correct / positives
    with capsys.disabled():
        print(f"\ncitations: precision {correct}/{links} = {precision:.3f}, "
              f"recall {correct}/{positives} = {recall:.3f}; corpus: {sum(counts.values())} found, {counts}")
    assert precision >= 0.95
    assert recall >= 0.9


def test_corpus_citations_are_accounted_for_and_link_only_real_questions(corpus_db):
    with sqlite_utils.Database(corpus_db) as db:
        total = db["citations"].count
        by_status = dict(db.execute("select status, count(*) from citations group by status").fetchall())
        dangling = db.execute("select count(*) from citations c left join questions q on q.key = c.cited_key"
                              " where c.cited_key is not null and q.key is null").fetchone()[0]
        unlinked_resolved = db.execute(
            "select count(*) from citations where (status = 'resolved') != (cited_key is not null)").fetchone()[0]
    assert total > 5000
    assert sum(by_status.values()) == total and set(by_status) <= {"resolved", "unresolved", "ambiguous"}
    assert by_status["resolved"] > 1000
    assert dangling == 0 and unlinked_resolved == 0


@pytest.mark.parametrize("citing, uin, cited", [
    ("commons-2023-12-13-6774", "4982", "commons-2023-12-04-4982"),  # Answer of 12 December 2023
    ("commons-2023-12-18-7351", "7203", "commons-2023-12-15-7203"),  # Question UIN 7203 on 21 December
    ("commons-2023-12-05-5330", "5332", "commons-2023-12-05-5332"),  # answer of 28th February 2024, PQ 5332
    ("commons-2023-12-19-7546", "120718", None),  # answer of 16 February 2022: an earlier session
])
def test_known_references_resolve_to_their_question_or_stay_unlinked(corpus_db, citing, uin, cited):
    with sqlite_utils.Database(corpus_db) as db:
        rows = db.execute("select status, cited_key from citations where citing_key = ? and uin = ?",
                          [citing, uin]).fetchall()
    expected = [("resolved", cited)] if cited else [("unresolved", None)]
    assert rows == expected


def test_a_page_links_the_question_it_cites_and_the_cited_page_lists_it(tmp_path, corpus):
    "6774 (tabled 13 December 2023) cites 4982 (4 December): both in the 2023-12 files."
    db_path = tmp_path / "answers.db"
    build.build_database([corpus / "uk-parliament-wq-api-json" / "2023-12.json.gz",
                          corpus / "uk-parliament-wq-longform-sqlite" / "2023-12.sqlite.gz"], db_path)
    pages.write_pages(db_path, tmp_path / "pages")
    site.build_site(db_path, tmp_path / "pages", tmp_path / "site", SiteConfig(), workers=1)

    citing = read_html(tmp_path / "site" / "commons/2023-12-13/6774/index.html")
    links = [(a.get_text(), a["href"]) for a in citing.select(".prose a")]
    assert ("Question 4982", "../../2023-12-04/4982/") in links
    prose = citing.select_one(".prose").get_text()
    assert "pursuant to the Answer of 12 December 2023 to Question 4982, which" in prose

    cited = read_html(tmp_path / "site" / "commons/2023-12-04/4982/index.html")
    section = cited.select_one("section.cited-by")
    assert section.h2.get_text() == "Cited by"
    entries = {a["href"]: a.get_text() for a in section.select("li a")}
    assert entries["../../2023-12-13/6774/"] == "Attorney General: Redundancy Pay"
    assert "tabled 13 December 2023" in section.get_text()

    # The Markdown of the cited page holds its cited-by list: a new citation rewrites it.
    meta, _ = pages.read_page(tmp_path / "pages" / "commons/2023-12-04/4982/index.md")
    assert "commons-2023-12-13-6774" in [entry["key"] for entry in meta["cited_by"]]


def read_html(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
