"""Datasette as the archive serves it (metadata.yml, plugins/, templates/datasette/, the
production settings), driven through Datasette's own client over a database built from real
data: the API edge-case samples, the seed page and one month of API JSON with its longform file."""

from __future__ import annotations

import asyncio
import csv
import html
import io
import json
import re
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import quote, urlsplit

import feedparser
import pytest
from datasette.app import Datasette

from answers import serve
from answers.build import build_database
from answers.members import MemberDirectory
from conftest import CORPUS

pytestmark = pytest.mark.datasette_in_process  # runs last: see conftest

ARCHIVE_URL = "http://archive.test/"
CORRECTED = "commons-2024-08-30-3283"  # Schools: Finance, corrected on 2024-11-26
HOLDING = "commons-2024-11-12-13768"  # still a holding answer in the samples
VICTORIA_ATKINS = "4399"


@pytest.fixture(scope="session")
def answers_db(tmp_path_factory, seeds) -> Path:
    db_path = tmp_path_factory.mktemp("datasette") / "answers.db"
    inputs = [
        CORPUS / "samples" / "api-edge-cases.json",
        seeds,
        CORPUS / "uk-parliament-wq-api-json" / "2024-08.json.gz",
        CORPUS / "uk-parliament-wq-longform-sqlite" / "2024-08.sqlite.gz",
    ]
    directory = MemberDirectory.load([CORPUS / "members"])
    build_database(inputs, db_path, directory)
    return db_path


@pytest.fixture(scope="session")
def sql(answers_db):
    "Run SQL against the test database directly: the figures the API must agree with."
    connection = sqlite3.connect(answers_db)

    def run(query: str, params: dict | None = None) -> list[tuple]:
        return connection.execute(query, params or {}).fetchall()

    yield run
    connection.close()


@pytest.fixture(scope="session")
def datasette(answers_db) -> Datasette:
    return serve.make_datasette(answers_db, archive_url=ARCHIVE_URL)


@pytest.fixture(scope="session")
def get(datasette):
    "GET a path from Datasette in-process; one event loop for the whole session."
    loop = asyncio.new_event_loop()

    def fetch(path: str):
        return loop.run_until_complete(datasette.client.get(path))

    yield fetch
    loop.close()


def rows_of(get, path: str) -> list[dict]:
    response = get(path)
    assert response.status_code == 200, response.text[:500]
    return response.json()


# -- the questions table ---------------------------------------------------------------------


def test_questions_table_json_is_a_light_page_latest_answers_first(get, sql):
    data = get("/answers/questions.json").json()
    assert data["filtered_table_rows_count"] == sql("select count(*) from questions")[0][0]
    assert len(data["rows"]) == 20  # metadata.yml: size 20, as every row carries its answer
    answered = [row[data["columns"].index("date_answered")] for row in data["rows"]]
    assert answered == sorted(answered, reverse=True)
    assert answered[0] == sql("select max(date_answered) from questions")[0][0]


def test_shape_array_gives_a_question_as_an_object(get):
    rows = rows_of(get, f"/answers/questions.json?_shape=array&key={CORRECTED}")
    assert len(rows) == 1
    question = rows[0]
    assert question["heading"] == "Schools: Finance"
    assert question["answering_body"] == "Department for Education"
    assert question["date_tabled"] == "2024-08-30"
    assert question["date_answered"] == "2024-09-09"
    assert question["date_answer_corrected"] == "2024-11-26"
    assert question["url"] == "commons/2024-08-30/3283/"
    assert question["question_text"].startswith("To ask the Secretary of State for Education")


def test_answering_body_facet_counts_equal_sql_counts(get, sql):
    data = get("/answers/questions.json?_size=0").json()
    facet = {item["value"]: item["count"] for item in data["facet_results"]["answering_body"]["results"]}
    expected = dict(sql("select answering_body, count(*) from questions group by answering_body"))
    assert facet  # at least one body
    assert facet == {body: expected[body] for body in facet}
    assert facet["Department of Health and Social Care"] == expected["Department of Health and Social Care"]


def test_question_list_facets_by_year_answered(get, sql):
    data = get("/answers/question_list.json?_size=0").json()
    years = {item["value"]: item["count"] for item in data["facet_results"]["year_answered"]["results"]}
    expected = dict(sql("select substr(date_answered, 1, 4), count(*) from questions "
                        "where date_answered is not null group by 1"))
    assert years == expected
    assert years["2024"] > 1000


def test_question_list_leaves_out_the_answers(get, sql):
    rows = rows_of(get, "/answers/question_list.json?_shape=array&_size=5")
    assert len(rows) == 5
    assert not {"answer_html", "answer_text", "original_answer_html"} & set(rows[0])
    assert rows[0]["year_answered"] == rows[0]["date_answered"][:4]


@pytest.mark.parametrize("table", ["questions", "question_list"])
def test_search_finds_the_expected_question(get, table):
    rows = rows_of(get, f"/answers/{table}.json?_shape=array&_search=gigabit")
    keys = {row["key"] for row in rows}
    # "Broadband: Scotland": the word is only in its answer.
    assert "commons-2024-08-30-3361" in keys
    assert all(row["answering_body"] for row in rows)


def test_csv_export_of_chosen_columns(get):
    response = get(f"/answers/questions.csv?key={CORRECTED}&_col=heading&_col=answering_body")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain") or "csv" in response.headers["content-type"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows == [{"key": CORRECTED, "heading": "Schools: Finance",
                     "answering_body": "Department for Education"}]


# -- canned queries ----------------------------------------------------------------------------


def test_search_query_ranks_and_highlights(get):
    rows = rows_of(get, "/answers/search.json?_shape=array&q=gigabit")
    by_key = {row["key"]: row for row in rows}
    assert by_key["commons-2024-08-30-3361"]["heading"] == "Broadband: Scotland"
    assert "Project <mark>Gigabit</mark>" in by_key["commons-2024-08-30-3361"]["snippet"]
    assert by_key["commons-2024-08-30-3361"]["url"] == "commons/2024-08-30/3361/"


def test_answers_per_body_per_month(get, sql):
    body = "Department for Education"
    rows = rows_of(get, f"/answers/answers_per_body_per_month.json?_shape=array&body={body}")
    expected = sql(
        "select substr(date_answered, 1, 7), count(*), sum(is_holding) from questions "
        "where answering_body = :body and date_answered is not null group by 1 order by 1 desc",
        {"body": body},
    )
    assert [(r["month"], r["answers"], r["holding_answers"]) for r in rows] == expected
    assert {r["answering_body"] for r in rows} == {body}


def test_answers_per_body_per_month_without_a_body_covers_every_answer(get, sql):
    rows = rows_of(get, "/answers/answers_per_body_per_month.json?_shape=array")
    total = sql("select count(*) from questions where date_answered is not null")[0][0]
    assert sum(row["answers"] for row in rows) == total


def test_late_answers_at_least_some_days_late(get, sql):
    rows = rows_of(get, "/answers/late_answers.json?_shape=array&min_days=30")
    expected = {key for (key,) in sql(
        "select key from questions where julianday(date_answered) - julianday(date_for_answer) >= 30"
    )}
    assert {row["key"] for row in rows} == expected
    late = {row["key"]: row for row in rows}
    assert late["commons-2024-08-30-2977"]["days_late"] == 76  # due 2024-09-03, answered 2024-11-18
    assert all(row["days_late"] >= 30 for row in rows)


def test_holding_answers(get, sql):
    rows = rows_of(get, "/answers/holding_answers.json?_shape=array&body=Department of Health and Social Care")
    by_key = {row["key"]: row for row in rows}
    assert by_key[HOLDING]["still_holding"] == 1
    assert by_key["commons-2023-12-01-4848"]["still_holding"] == 0  # answered since
    expected = sql("select count(*) from questions where answering_body = 'Department of Health and Social Care' "
                   "and (is_holding = 1 or date_holding_answer is not null)")[0][0]
    assert len(rows) == expected


def test_corrections_name_the_correcting_member(get, sql):
    rows = rows_of(get, "/answers/corrections.json?_shape=array")
    by_key = {row["key"]: row for row in rows}
    corrected = by_key[CORRECTED]
    assert corrected["date_answer_corrected"] == "2024-11-26"
    assert corrected["correcting_member_id"] == "4125"
    assert corrected["correcting_member"] == sql("select name from members where id = '4125'")[0][0]
    assert corrected["correcting_member"]
    assert len(rows) == sql("select count(*) from questions "
                            "where is_correction = 1 or date_answer_corrected is not null")[0][0]


def test_member_questions_asked_and_answered(get, sql):
    rows = rows_of(get, f"/answers/member_questions.json?_shape=array&member={VICTORIA_ATKINS}")
    expected = sql("select key, asking_member_id = :m from questions "
                   "where asking_member_id = :m or answering_member_id = :m", {"m": VICTORIA_ATKINS})
    assert {(row["key"], row["role"]) for row in rows} == {
        (key, "asked" if asked else "answered") for key, asked in expected
    }
    answered = [row for row in rows if row["role"] == "answered"]
    assert answered and all(row["answered_by"] == "Victoria Atkins" for row in answered)


def test_recent_answers_atom_feed_links_the_archive(get, sql):
    response = get("/answers/recent_answers.atom")
    assert response.status_code == 200
    feed = feedparser.parse(response.text)
    assert feed.feed.title == "Recent answers"
    assert len(feed.entries) == 50
    latest = sql("select max(date_answered) from questions")[0][0]
    assert feed.entries[0].updated.startswith(latest)
    assert all(entry.link.startswith(ARCHIVE_URL) and entry.link.endswith("/") for entry in feed.entries)


# -- pages -------------------------------------------------------------------------------------


def test_row_page_links_the_archive_and_renders_the_answer(get, sql):
    response = get(f"/answers/questions/{CORRECTED}")
    assert response.status_code == 200
    page = response.text
    assert f'href="{ARCHIVE_URL}commons/2024-08-30/3283/"' in page
    answer_html = sql("select answer_html from questions where key = :k", {"k": CORRECTED})[0][0]
    assert answer_html.startswith("<p>")
    assert f'<div class="answer-html">{answer_html}</div>' in page
    assert "&lt;p&gt;" not in page  # the answer is HTML, not its escaped source
    assert f'href="{ARCHIVE_URL}"' in page  # the header links back to the archive


def test_answer_cells_are_cleaned_again(datasette):
    from datasette.plugins import pm

    async def render(value):
        for candidate in pm.hook.render_cell(row=None, value=value, column="answer_html",
                                             table="questions", database="answers",
                                             datasette=datasette):
            return str(await candidate)

    html = asyncio.new_event_loop().run_until_complete(
        render('<p onclick="x()">Yes.</p><script>alert(1)</script><a href="javascript:x()">a</a>')
    )
    assert html == '<div class="answer-html"><p>Yes.</p><a rel="nofollow noopener">a</a></div>'


def test_search_snippets_highlight_only_the_matches(get):
    page = get("/answers/search?q=gigabit").text
    snippets = re.findall(r'<td class="col-snippet">(.*?)</td>', page)
    assert len(snippets) == 2
    assert any("Project <mark>Gigabit</mark> procurements" in snippet for snippet in snippets)
    assert all("<mark>" in snippet and "&lt;" not in snippet for snippet in snippets)


def test_bad_sql_gives_a_clean_400_without_echoing_markup(get):
    attack = "select <script>alert(1)</script> from"
    response = get(f"/answers?sql={attack}")
    assert response.status_code == 400
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    response = get(f"/answers.json?sql={attack}")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()
    assert data["ok"] is False
    assert data["error"] == 'near "<": syntax error'


# -- links: only http(s), and a question's url only within the archive -----------------------

HOSTILE_URLS = [
    "javascript:void(document.title=1)",
    " JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/commons/",
    "https://evil.example/commons/",
]


def links_of(page: str) -> list[str]:
    "Every href and src of a page, unescaped as the browser reads them."
    return [html.unescape(value) for value in re.findall(r'(?:href|src)="([^"]*)"', page)]


def assert_links_are_safe(page: str) -> None:
    for link in links_of(page):
        parts = urlsplit(link.strip())
        assert parts.scheme in ("", "http", "https"), link
        assert parts.netloc != "evil.example", link


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_hostile_url_from_sql_is_shown_as_text_not_a_link(get, url):
    response = get("/answers?sql=" + quote(f"select '{url}' as url, 'k' as key"))
    assert response.status_code == 200
    assert_links_are_safe(response.text)
    assert html.escape(url.strip(), quote=False) in response.text  # still shown, as text


def test_the_reported_javascript_url_is_not_a_link(get):
    page = get("/answers?sql=select 'javascript:void(document.title=1)' as url").text
    assert '<td class="col-url">javascript:void(document.title=1)</td>' in page
    assert "archive-link" not in page


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_archive_url_in_sql_gives_null_for_a_hostile_url(get, url):
    rows = rows_of(get, "/answers.json?_shape=array&sql=" + quote(f"select archive_url('{url}') as link"))
    assert rows == [{"link": None}]


def test_a_question_url_becomes_a_link_into_the_archive(get):
    page = get("/answers?sql=" + quote("select 'commons/2024-08-30/3283/' as url")).text
    assert f'<a class="archive-link" href="{ARCHIVE_URL}commons/2024-08-30/3283/"' in page


@pytest.fixture(scope="module")
def hostile_get(answers_db, tmp_path_factory):
    "GET from a copy of the database whose first questions carry hostile urls."
    db_path = tmp_path_factory.mktemp("hostile") / "answers.db"
    shutil.copy(answers_db, db_path)
    connection = sqlite3.connect(db_path)
    keys = [key for (key,) in connection.execute(
        "select key from questions order by key limit ?", (len(HOSTILE_URLS),))]
    with connection:
        connection.executemany("update questions set url = ? where key = ?", zip(HOSTILE_URLS, keys, strict=True))
    connection.close()
    hostile = serve.make_datasette(db_path, archive_url=ARCHIVE_URL)
    loop = asyncio.new_event_loop()
    yield keys, lambda path: loop.run_until_complete(hostile.client.get(path))
    loop.close()


def test_hostile_urls_in_the_data_never_become_links(hostile_get):
    keys, get = hostile_get
    in_list = "key__in=" + quote(",".join(keys))
    for path in (f"/answers/questions?{in_list}", f"/answers/question_list?{in_list}",
                 "/answers/recent_answers?body="):
        response = get(path)
        assert response.status_code == 200, path
        assert_links_are_safe(response.text)
    for key in keys:
        page = get(f"/answers/questions/{key}").text
        assert_links_are_safe(page)
        assert "Read this question and its answer in the archive" not in page


# -- bad parameters are the client's error ------------------------------------------------------


def json_400(get, path: str) -> dict:
    "The JSON error Datasette answers the path with, checked to be a 400."
    response = get(path)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()
    assert data["ok"] is False
    return data


@pytest.mark.parametrize("path", [
    "/answers/questions.json?_sort=nonexistent",
    "/answers/question_list.json?_sort_desc=nonexistent",
    "/answers/members.json?_sort=nonexistent",
])
def test_sorting_by_no_column_is_a_400_in_datasettes_json_shape(get, path):
    assert json_400(get, path) == {"ok": False, "error": "Cannot sort table by nonexistent",
                                   "status": 400, "title": None}


def test_sorting_by_no_column_is_a_400_page(get):
    response = get("/answers/questions?_sort=%3Cb%3Enonexistent")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "Cannot sort table by &lt;b&gt;nonexistent" in response.text
    assert "<b>nonexistent" not in response.text


@pytest.mark.parametrize("path", [
    "/answers/question_list.json?_next=zz",
    "/answers/questions.json?_timelimit=abc",
    "/answers/questions.json?_through=x",
])
def test_unparseable_parameters_are_400s(get, path):
    assert json_400(get, path)["error"].startswith("Invalid parameter: ")


def test_a_good_sort_still_sorts(get, sql):
    rows = rows_of(get, "/answers/question_list.json?_shape=array&_sort=key&_size=3")
    assert [row["key"] for row in rows] == [k for (k,) in sql("select key from questions order by key limit 3")]


# -- bounds on one query: no single call runs past the time limit or fills the memory ------------


def sql_error(get, query: str) -> dict:
    return json_400(get, "/answers.json?sql=" + quote(query))


def test_a_printf_that_would_run_a_minute_is_refused_before_it_runs(get):
    data = sql_error(get, "with recursive c(x) as (select 1 union all select x+1 from c where x<10) "
                          "select sum(length(printf('%.*c',900000000+x,'x'))) from c")
    assert data["error"] == "not authorized to use function: printf"
    assert sql_error(get, "select FORMAT('%.*c', 900000000, 'x')")["error"] == (
        "not authorized to use function: FORMAT")


def test_a_value_longer_than_the_cap_is_an_error(get):
    data = sql_error(get, "with recursive c(x) as (select 1 union all select x+1 from c where x<100000) "
                          "select length(group_concat('0123456789abcdef')) from c")
    assert data["error"] == "string or blob too big"


def test_a_result_too_large_to_hold_is_an_error(get):
    data = sql_error(get, "with recursive c(x) as (select 1 union all select x+1 from c where x<100) "
                          "select zeroblob(999999) from c")
    assert data["error"].startswith("result too large")


def test_the_largest_stored_values_are_still_served_whole(get, sql):
    longest, length = sql("select api_id, length(answer_html) from full_texts "
                          "order by length(answer_html) desc limit 1")[0]
    assert length > 4_000
    rows = rows_of(get, f"/answers/full_texts.json?_shape=array&api_id={longest}")
    assert len(rows[0]["answer_html"]) == length
    everything = rows_of(get, "/answers.json?_shape=array&sql=" + quote(
        "select key, answer_html, question_text from questions limit 1000"))
    assert len(everything) == 1000


# -- configuration -----------------------------------------------------------------------------


def test_every_public_table_and_column_is_described(get, datasette):
    database = get("/answers.json").json()
    tables = {t["name"]: t["columns"] for t in database["tables"] if not t["hidden"]}
    tables.update({v["name"]: get(f"/answers/{v['name']}.json?_size=0").json()["columns"]
                   for v in database["views"]})
    assert {"questions", "question_list", "members", "answering_bodies", "sources",
            "rejects", "full_texts"} <= set(tables)
    described = datasette.metadata()["databases"]["answers"]["tables"]
    missing = {
        f"{table}.{column}"
        for table, columns in tables.items()
        for column in columns
        if not described.get(table, {}).get("columns", {}).get(column)
    }
    assert missing == set()
    assert all(described[table].get("description") for table in tables)


def test_internal_tables_are_hidden(get):
    tables = {t["name"]: t["hidden"] for t in get("/answers.json").json()["tables"]}
    assert tables["question_snapshots"] is True
    assert tables["meta"] is True
    assert tables["questions_fts"] is True
    assert tables["questions"] is False


def test_members_are_labelled_by_name(get):
    rows = rows_of(get, f"/answers/questions.json?_shape=array&key={CORRECTED}&_labels=on")
    assert rows[0]["answering_member_id"] == {"value": "4125", "label": rows[0]["answering_member_id"]["label"]}
    assert rows[0]["answering_member_id"]["label"] not in ("", "4125")


def test_robots_keep_crawlers_off_arbitrary_sql(get):
    robots = get("/robots.txt").text.splitlines()
    assert "Disallow: /answers?sql=" in robots
    assert "Disallow: /answers/search" in robots
    assert "Disallow: /answers/questions" not in robots


def test_json_is_open_to_other_origins(get):
    response = get("/answers/questions.json?_size=1")
    assert response.headers["access-control-allow-origin"] == "*"


def test_production_settings(get):
    settings = get("/-/settings.json").json()
    assert settings["suggest_facets"] is False
    assert settings["sql_time_limit_ms"] > 20
    assert settings["max_returned_rows"] == serve.SETTINGS["max_returned_rows"]


@pytest.mark.parametrize(
    "snippet, parts",
    [
        ("plain", [("plain", False)]),
        ("a <mark>b</mark> c", [("a ", False), ("b", True), (" c", False)]),
        ("<mark>x</mark><mark>y</mark>", [("x", True), ("y", True)]),
        ("1 < 2 <b>", [("1 < 2 <b>", False)]),
    ],
)
def test_snippet_parts(snippet, parts):
    import importlib.util

    spec = importlib.util.spec_from_file_location("answer_html", serve.PLUGINS / "answer_html.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.snippet_parts(snippet) == parts


def test_metadata_names_the_licences():
    metadata = serve.load_metadata()
    assert metadata["title"] == "Written Answers Archive"
    assert "Open Parliament Licence v3.0" in metadata["license"]
    assert "CC BY 4.0" in metadata["license"]
    assert json.dumps(metadata["databases"]["answers"]["tables"]["member_posts"]).count("CC BY 4.0") == 1
