"""The pages stage: one Markdown page per question, complete, readable, stable, incremental."""

from __future__ import annotations

import html
import re
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import sqlite_utils
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from answers import pages, store, urls
from answers.manifest import page_manifest_contents, page_manifest_path
from answers.model import MemberRef, Question
from answers.render import render_markdown
from answers.store import Store

SEED_URL = "commons/2018-11-21/p40657d7024/"


# -- HTML answers -> Markdown ------------------------------------------------------------


def test_simple_table_becomes_a_markdown_table():
    html = ("<p>Figures:</p><table><tr><td>Year</td><td>Pupils</td></tr>"
            "<tr><td>2023</td><td>1,204</td></tr></table>")
    assert pages.html_to_markdown(html) == (
        "Figures:\n\n| Year | Pupils |\n| --- | --- |\n| 2023 | 1,204 |")


@pytest.mark.parametrize("table", [
    '<table><tr><td colspan="2">Total</td></tr><tr><td>a</td><td>b</td></tr></table>',
    '<table><tr><td rowspan="2">a</td><td>b</td></tr><tr><td>c</td></tr></table>',
    "<table><caption>Costs</caption><tr><td>a</td></tr></table>",
    "<table><tr><td><p>one</p><p>two</p></td></tr></table>",
    "<table><tr><td>a<br>b</td></tr></table>",
    "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>",
])
def test_table_that_markdown_cannot_hold_stays_html(table):
    markdown = pages.html_to_markdown(table)
    assert markdown.startswith("<table>") and markdown.endswith("</table>")
    assert "| ---" not in markdown


def test_table_kept_as_html_follows_the_archives_sanitizer_rules():
    "Only what an answer may hold: no images, no headings of the page's rank, links marked."
    table = ('<table><tr><td colspan="2"><img src="https://example.org/x.png" alt="x">'
             '<h1>Total</h1><a href="https://example.org/">source</a></td></tr></table>')
    markdown = pages.html_to_markdown(table)
    assert markdown.startswith("<table>") and markdown.endswith("</table>")
    assert "<img" not in markdown and "<h1" not in markdown
    assert markdown == store.sanitize_html(table)
    assert 'rel="nofollow noopener"' in markdown


def test_nested_list_is_indented_for_python_markdown():
    markdown = pages.html_to_markdown("<ul><li>one<ul><li>inner</li></ul></li><li>two</li></ul>")
    assert markdown == "- one\n    - inner\n- two"
    assert render_markdown(markdown).count("<ul>") == 2


def test_ordered_list_keeps_its_start():
    assert pages.html_to_markdown('<ol start="3"><li>c</li><li>d</li></ol>') == "3. c\n4. d"


@pytest.mark.parametrize("text", [
    "Costs rose by 5 * 2 = 10_000 [sic] in `2023`",
    "# not a heading",
    "1. not a list",
    "- not a bullet",
    "a <b>tag</b> & an &amp; entity",
    "a | pipe and a back\\slash",
])
def test_question_text_reads_back_as_the_same_text(text):
    "Markdown's own characters in a question are escaped: the reader sees the text as asked."
    html = render_markdown(pages.text_to_markdown(text))
    import html as html_module
    import re

    plain = html_module.unescape(re.sub(r"<[^>]+>", "", html)).strip()
    assert plain == text
    assert "<h1" not in html and "<li" not in html and "<b>" not in html


# -- pages from the real test archive ----------------------------------------------------


def test_every_question_has_a_page(built_site):
    db = sqlite_utils.Database(built_site.db)
    urls = {row["url"] for row in db.query("select url from questions")}
    written = {str(p.parent.relative_to(built_site.pages)) + "/"
               for p in built_site.pages.glob("**/index.md")}
    assert written == urls
    assert built_site.pages_report.questions == len(urls) > 1000


def test_seed_page_front_matter(built_site):
    meta, body = pages.read_page(built_site.pages / SEED_URL / "index.md")
    assert meta["answering_member"]["name"] == "Victoria Atkins"
    assert meta["answering_member"]["id"] == "4399"
    assert meta["answering_member"]["url"] == "members/4399-victoria-atkins/"
    # The printed title is kept under its own name, apart from the office held then.
    assert meta["answerer_title_as_published"] == "Secretary of State for Health and Social Care"
    assert meta["answering_member_office"] != meta["answerer_title_as_published"]
    assert meta["answering_body"] == {"name": "Home Office", "slug": "home-office",
                                      "url": "bodies/home-office/"}
    assert (meta["date_tabled"], meta["date_answered"]) == ("2018-11-21", "2018-11-29")
    assert meta["title"] == "Offences against Children: Internet"
    # The source file by name and format: never the path it was read from on the build machine.
    assert meta["source"] == {"file": "000_2a41393b050c1048.txt", "format": "page-text"}
    assert body.startswith("## Question\n\nTo ask the Secretary of State for the Home Department")
    assert "## Answer\n\nWe have prioritised child sexual abuse" in body
    assert "Reticulating Splines" not in body


def test_api_page_names_members_and_keeps_the_corrected_state(built_site):
    meta, _ = pages.read_page(built_site.pages / "commons/2024-08-30/3283/index.md")
    assert meta["uin"] == "3283"
    assert meta["asking_member"]["name"] == "Mark Ferguson"
    assert meta["answering_member"]["name"] == "Catherine McKinnell"
    assert meta["answering_member_office"] == "Minister for School Standards"
    assert meta["is_correction"] is True
    assert meta["date_answer_corrected"] == "2024-11-26"
    assert meta["official_url"] == (
        "https://questions-statements.parliament.uk/written-questions/detail/2024-08-30/3283")


def test_api_page_with_full_answer_and_its_table(built_site):
    "The clipped answer was replaced by the full one from the longform file, table and all."
    meta, body = pages.read_page(built_site.pages / "commons/2024-08-30/3171/index.md")
    assert meta["answer_is_clipped"] is False
    assert meta["asking_member"]["name"] == "Mr Richard Holden"
    assert "| --- |" in body or "<table>" in body
    assert "..." not in body[-20:]


def test_pages_are_stable_and_incremental(built_site, tmp_path):
    """Writing again converts and changes nothing; a changed row converts and rewrites only
    its own page, and the pages are those a build from scratch writes."""
    db_path = tmp_path / "answers.db"
    shutil.copy(built_site.db, db_path)
    out = tmp_path / "pages"
    shutil.copytree(built_site.pages, out)
    shutil.copy(page_manifest_path(built_site.pages), page_manifest_path(out))
    again = pages.write_pages(db_path, out)
    assert again.written == [] and again.unchanged == 0  # the change log says none changed
    assert again.rendered == 0 and again.skipped == again.questions

    db = sqlite_utils.Database(db_path)
    db["meta"].upsert({"name": "generation", "value": "2"}, pk="name")  # as the db stage does
    db["questions"].update("commons-2024-08-30-3283", {"answer_html": "<p>Changed.</p>"})
    db.close()
    changed = pages.write_pages(db_path, out)
    assert changed.written == ["commons/2024-08-30/3283/index.md"]
    assert changed.rendered == 1 and changed.skipped == changed.questions - 1
    assert "Changed." in (out / "commons/2024-08-30/3283/index.md").read_text()
    pages.write_pages(db_path, tmp_path / "fresh")
    assert files_of(out) == files_of(tmp_path / "fresh")


def files_of(folder: Path) -> dict:
    """Every file under a folder -> its bytes, and what the manifest beside it records (by
    content: SQLite lays out the same rows differently in a file written in place)."""
    files = {p.relative_to(folder).as_posix(): p.read_bytes()
             for p in sorted(folder.rglob("*")) if p.is_file()}
    return {**files, "manifest": page_manifest_contents(folder)}


# -- edge cases from hand-built rows -----------------------------------------------------


@pytest.fixture
def edge_db(tmp_path):
    db = sqlite_utils.Database(tmp_path / "edge.db")
    store = Store(db)
    whip = MemberRef("uk.org.publicwhip/member/2038", name="Jane Doe", party="Labour")
    minister = MemberRef("name:john-roe", name="John Roe")
    questions = [
        Question(house="Commons", uin="101", date_tabled="2009-10-20", date_answered="2009-10-26",
                 heading="Prisons: Food", answering_body="Ministry of Justice",
                 asking_member=whip, answering_member=minister,
                 question_text="To ask about prison food.", answer_html="<p>Corrected.</p>",
                 original_answer_html="<p>First version.</p>", is_correction=True,
                 date_answer_corrected="2009-11-02", grouped_keys=["commons-2009-10-20-102",
                                                                   "commons-2001-01-01-999"]),
        Question(house="Commons", uin="102", date_tabled="2009-10-20", date_answered="2009-10-26",
                 heading="Prisons: Food", answering_body="Ministry of Justice",
                 asking_member=whip, answering_member=minister, is_holding=True,
                 question_text="To ask more about prison food.",
                 answer_html="<p>I will write.</p>", grouped_keys=["commons-2009-10-20-101"]),
        Question(house="Lords", uin="HL1", date_tabled="2009-10-21", is_withdrawn=True,
                 answering_body="Home Office", question_text="Withdrawn question."),
    ]
    for question in questions:
        store.add_question(question, source_id=None)
    store.flush()
    db.conn.commit()  # the store leaves its last write (the answering bodies) uncommitted
    db.close()
    return tmp_path / "edge.db"


def test_edge_case_pages(edge_db, tmp_path):
    report = pages.write_pages(edge_db, tmp_path / "pages")
    assert report.questions == 3
    meta, body = pages.read_page(tmp_path / "pages/commons/2009-10-20/101/index.md")
    assert meta["asking_member"]["url"].startswith("members/uk-org-publicwhip-member-2038-")
    assert meta["asking_member"]["name"] == "Jane Doe"
    assert meta["answering_member"]["url"].startswith("members/name-john-roe-")
    assert meta["is_correction"] and meta["has_original_answer"]
    assert body.endswith("## Answer\n\nCorrected.\n\n## Original answer\n\nFirst version.\n")
    # The group as one unit: this question marked, a grouped question in the archive with its
    # link, asker and text, one that is not with its key only (last).
    member = meta["asking_member"]
    assert meta["group"] == [
        {"key": "commons-2009-10-20-101", "uin": "101", "url": "commons/2009-10-20/101/",
         "heading": "Prisons: Food", "title": "Prisons: Food", "date_tabled": "2009-10-20",
         "asking_member": member, "question_text": "To ask about prison food.", "current": True},
        {"key": "commons-2009-10-20-102", "uin": "102", "url": "commons/2009-10-20/102/",
         "heading": "Prisons: Food", "title": "Prisons: Food", "date_tabled": "2009-10-20",
         "asking_member": member, "question_text": "To ask more about prison food.", "current": False},
        {"key": "commons-2001-01-01-999", "current": False},
    ]
    holding, _ = pages.read_page(tmp_path / "pages/commons/2009-10-20/102/index.md")
    assert holding["is_holding"] is True
    withdrawn, body = pages.read_page(tmp_path / "pages/lords/2009-10-21/hl1/index.md")
    assert withdrawn["is_withdrawn"] and not withdrawn["has_answer"]
    assert withdrawn["title"] == "Withdrawn question."
    assert "## Answer" not in body


def test_same_row_gives_identical_bytes(edge_db, tmp_path):
    first = pages.write_pages(edge_db, tmp_path / "a")
    second = pages.write_pages(edge_db, tmp_path / "b")
    for relative in first.written:
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()
    assert len(first.written) == len(second.written) == 3


def test_stale_page_is_removed(edge_db, tmp_path):
    out = tmp_path / "pages"
    pages.write_pages(edge_db, out)
    stale = out / "commons/1999-01-01/1/index.md"
    stale.parent.mkdir(parents=True)
    stale.write_text("---\n{}\n---\n")
    report = pages.write_pages(edge_db, out)
    assert report.removed == ["commons/1999-01-01/1/index.md"] and not stale.exists()


def test_a_changed_joined_fact_converts_every_page_that_shows_it(edge_db, tmp_path):
    "A grouped question's heading is shown on the pages grouping it; a member's name on theirs."
    out = tmp_path / "pages"
    pages.write_pages(edge_db, out)
    db = sqlite_utils.Database(edge_db)
    db["questions"].update("commons-2009-10-20-102", {"heading": "Prisons: Meals"})
    db.conn.commit()
    changed = pages.write_pages(edge_db, out)
    assert sorted(changed.written) == ["commons/2009-10-20/101/index.md",
                                       "commons/2009-10-20/102/index.md"]
    assert changed.rendered == 2 and changed.skipped == 1
    db["members"].update("uk.org.publicwhip/member/2038", {"name": "Jane Roe"})
    db.close()
    renamed = pages.write_pages(edge_db, out)
    assert renamed.rendered == 2 and len(renamed.written) == 2
    pages.write_pages(edge_db, tmp_path / "fresh")
    assert files_of(out) == files_of(tmp_path / "fresh")


def test_a_first_build_in_worker_processes_writes_what_one_process_does(edge_db, tmp_path, monkeypatch):
    "Every page of a first build, made in two processes: the same files, manifest and report."
    made = {}
    for workers in (1, 2):
        monkeypatch.setattr(pages, "WORKERS", workers)
        monkeypatch.setattr(pages, "PARALLEL_FROM", 2)
        monkeypatch.setattr(pages, "CHUNK", 1)  # a task a page
        out = tmp_path / f"pages-{workers}"
        stale = out / "commons/1999-01-01/1/index.md"
        stale.parent.mkdir(parents=True)
        stale.write_text("---\n{}\n---\n")
        report = pages.write_pages(edge_db, out)
        assert (report.questions, report.rendered, report.skipped) == (3, 3, 0)
        assert report.removed == ["commons/1999-01-01/1/index.md"]
        made[workers] = (sorted(report.written), files_of(out))
    assert made[2] == made[1]
    assert len(made[2][0]) == 3
    # Nothing changed since: the second build skips every page the workers made.
    again = pages.write_pages(edge_db, tmp_path / "pages-2")
    assert again.skipped == 3 and again.written == []


@pytest.mark.parametrize("workers", [1, 2])
def test_a_first_build_reads_what_every_page_shows_once_and_each_batch_only_the_questions_it_names(
        edge_db, tmp_path, monkeypatch, workers):
    """The members, bodies and citations are read by the build, not again by each worker; each
    batch of pages reads only the questions its pages name, never every question's."""
    loads = tmp_path / "loads"
    load_shared, for_rows = pages.PageContext.load_shared, pages.PageContext.for_rows

    def noted(name, load):
        def noting(*args, **kwargs):
            context = load(*args, **kwargs)
            with loads.open("a") as file:  # a file: a worker's count would stay in the worker
                file.write(f"{name} {len(context.questions)}\n")
            return context
        return noting

    def every_question(*args, **kwargs):
        raise AssertionError("a build read every question at once")

    monkeypatch.setattr(pages.PageContext, "load_shared", classmethod(noted("shared", load_shared.__func__)))
    monkeypatch.setattr(pages.PageContext, "for_rows", noted("batch", for_rows))
    monkeypatch.setattr(pages.PageContext, "load", classmethod(every_question))
    monkeypatch.setattr(pages, "WORKERS", workers)
    monkeypatch.setattr(pages, "PARALLEL_FROM", 2)
    monkeypatch.setattr(pages, "CHUNK", 1)  # a task a page, so that both workers make pages
    report = pages.write_pages(edge_db, tmp_path / "pages")
    assert report.rendered == 3 and len(report.written) == 3
    lines = loads.read_text().splitlines()
    assert lines[0] == "shared 0" and lines.count("shared 0") == 1
    batches = [int(line.split()[1]) for line in lines[1:]]
    # A batch a page, each holding the questions its page names, never all three.
    assert len(batches) == 3 and all(count < 3 for count in batches)


@pytest.mark.parametrize("spoil", ["delete", "corrupt", "truncate", "foreign", "wrong shape", "code"])
def test_without_a_usable_manifest_every_page_is_converted(edge_db, tmp_path, monkeypatch,
                                                           spoil):
    "No manifest, an unreadable one or one from other code: convert all, write nothing new."
    out = tmp_path / "pages"
    pages.write_pages(edge_db, out)
    manifest = page_manifest_path(out)
    if spoil == "delete":
        manifest.unlink()
    elif spoil == "corrupt":
        manifest.write_bytes(b"\xff\x00 not a database")
    elif spoil == "truncate":
        manifest.write_bytes(manifest.read_bytes()[:40])
    elif spoil in ("foreign", "wrong shape"):
        with closing(sqlite3.connect(manifest)) as connection, connection:
            if spoil == "foreign":
                connection.execute("drop table header")
            else:  # every entry of another shape: none stands for its page
                connection.execute("update entries set entry = json_array(json_extract(entry, '$[0]'))")
    else:
        monkeypatch.setattr(pages, "pages_code_version", lambda: "other code")
    report = pages.write_pages(edge_db, out)
    assert report.rendered == report.questions == 3 and report.skipped == 0
    assert report.written == [] and report.removed == []
    written = page_manifest_contents(out)  # written again, whole
    assert written["state"] and written["complete"] and len(written["entries"]) == 3


def test_a_missing_page_is_written_again_even_after_a_stopped_build(edge_db, tmp_path,
                                                                    monkeypatch):
    out = tmp_path / "pages"
    pages.write_pages(edge_db, out)
    (out / "lords/2009-10-21/hl1/index.md").unlink()
    report = pages.write_pages(edge_db, out)
    assert report.written == ["lords/2009-10-21/hl1/index.md"] and report.rendered == 1

    def fail(*args):
        raise RuntimeError("stopped")

    monkeypatch.setattr(pages, "page_text", fail)
    (out / "lords/2009-10-21/hl1/index.md").unlink()
    with pytest.raises(RuntimeError):
        pages.write_pages(edge_db, out)
    monkeypatch.undo()
    report = pages.write_pages(edge_db, out)
    assert report.written == ["lords/2009-10-21/hl1/index.md"] and report.rendered == 1


def test_a_page_changed_by_another_hand_is_written_again(edge_db, tmp_path):
    out = tmp_path / "pages"
    pages.write_pages(edge_db, out)
    page = out / "lords/2009-10-21/hl1/index.md"
    original = page.read_bytes()
    page.write_bytes(original + b"\nEdited by hand.\n")
    report = pages.write_pages(edge_db, out, check_all=True)
    assert report.written == ["lords/2009-10-21/hl1/index.md"] and report.rendered == 1
    assert page.read_bytes() == original


def test_an_unreadable_database_fails_with_its_own_error(tmp_path):
    "A database without the archive's tables: the build stops with the database's error."
    sqlite_utils.Database(tmp_path / "empty.db")["other"].insert({"a": 1})
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        pages.write_pages(tmp_path / "empty.db", tmp_path / "pages")
    assert not list((tmp_path / "pages").glob("**/index.md"))


def test_a_member_with_no_name_gets_the_same_address_on_the_page_and_in_the_archive(tmp_path):
    "Pages and listings read members through one lookup, so their links agree."
    from answers import listings, render
    from answers.output import Output

    db = sqlite_utils.Database(tmp_path / "m.db")
    store_ = Store(db)
    store_.add_question(Question(house="Lords", uin="HL9", date_tabled="2009-10-21",
                                 asking_member=MemberRef("uk.org.publicwhip/lord/1"),
                                 question_text="A question."), source_id=None)
    store_.flush()
    row = next(db.query("select * from questions"))
    meta = pages.front_matter(row, pages.PageContext.load(db))
    output = Output(tmp_path / "site")
    listings.write_listings(db, render.make_environment(render.SiteConfig()), output,
                            render.SiteConfig())
    db.close()
    assert "name" not in meta["asking_member"]
    assert (tmp_path / "site" / meta["asking_member"]["url"] / "index.html").is_file()


# -- hostile values ----------------------------------------------------------------------

# Values that end a YAML document or look like front matter's own delimiter.
DOCUMENT_MARKERS = ["a---", "---", "--- x", "x\n---\ny", "x\n---", "...", "x\n...\ny",
                    "heading: forged", "x\r\n---\r\ny", "x\u2028---", "x\x85---\x85y"]


def hostile_row(value: str) -> tuple[dict, pages.PageContext]:
    "A question row, and what it joins, with `value` in every free-text field."
    row = {name: 0 for name in pages.FLAGS}
    row.update(key="commons-2024-01-02-1", url="commons/2024-01-02/1/", house="Commons",
               uin=value, date_tabled="2024-01-02", heading=value,
               answerer_title_as_published=value, source_location=value,
               asking_member_id="m1", answering_body=value, source_id=1,
               question_text=value, answer_html=f"<p>{value}</p>")
    members = {"m1": {"id": "m1", "name": value, "party": value, "constituency": value,
                      "house": "Commons", "url": "members/m1/", "display": value}}
    bodies = {value: {"name": value, "slug": "x", "url": "bodies/x/"}}
    context = pages.PageContext(members, bodies, {}, {1: {"file": value, "format": "api-json"}})
    return row, context


@pytest.mark.parametrize("value", DOCUMENT_MARKERS)
def test_front_matter_holds_values_that_look_like_its_delimiters(value):
    "A heading, UIN, member or file name holding '---' comes back as it went in."
    row, context = hostile_row(value)
    meta, body = pages.split_front_matter(pages.render_page(row, context))
    assert meta == pages.front_matter(row, context)
    assert (meta["heading"], meta["uin"], meta["source"]["file"]) == (value, value, value)
    assert meta["asking_member"]["name"] == value
    assert body.startswith("## Question\n\n")


# Strings that mean something else to YAML, or that JSON and YAML read differently unless
# escaped: indicators, look-alikes of other types, line breaks (YAML's own among them: U+0085,
# U+2028, U+2029), control characters PyYAML refuses (C1, U+FFFE, U+FFFF), non-ASCII, long lines.
AWKWARD_STRINGS = [
    "", " ", "plain", "yes", "No", "null", "~", "true", "1", "0x1F", "1.5e3", ".inf", "2024-07-17",
    "- item", "key: value", "# note", "a #b", "&anchor", "*alias", "!tag", "%directive", "@at", "`tick",
    "'single'", '"double"', "{a: 1}", "[1, 2]", "|", ">", "---", "...", "line\nbreak", "trailing\n",
    "tab\there", "\x00\x07\x1b", "caf\u00e9 \u2014 \u00a3100", "\u2028\u2029\x85", "\ufeffbom",
    "\U0001f600", " leading", "trailing ", "word " * 40, "x" * 150, "\\back\\slash",
    "del\x7f c1\x80\x9f", "\ufffe\uffff", "\\u0085", "\r\n", "x\n---\ny",
]


def yaml_reads(text: str) -> list:
    "What each YAML parser a tool may use (libyaml's, and PyYAML's own) reads from the text."
    return [yaml.load(text, Loader=loader) for loader in (yaml.CSafeLoader, yaml.SafeLoader)]


@pytest.mark.parametrize("value", AWKWARD_STRINGS)
def test_front_matter_reads_back_alike_as_json_and_as_yaml(value):
    meta = {"heading": value, "uin": value, "is_holding": True, "is_withdrawn": False, "api_id": 1234567,
            "negative": -3, "missing": None, value: "as a key",
            "asking_member": {"name": value, "id": "m1", "nested": [{"b": value, "a": 0}]},
            "group": [{"key": value, "current": False}, {"key": "k2", "current": True}], "empty": [],
            "none_map": {}}
    text = pages.front_matter_text(meta)
    assert pages.parse_front_matter(text) == meta
    assert yaml_reads(text) == [meta, meta]


def test_front_matter_is_json_with_sorted_keys_and_two_space_indent():
    meta = {"title": "A \u2028 title\x85", "uin": "12", "is_holding": False, "group": [{"key": "k", "current": True}],
            "empty": {}}
    assert pages.front_matter_text(meta) == (
        '{\n  "empty": {},\n  "group": [\n    {\n      "current": true,\n      "key": "k"\n    }\n  ],\n'
        '  "is_holding": false,\n  "title": "A \\u2028 title\\u0085",\n  "uin": "12"\n}\n')


# Any text a page can hold: every character but lone surrogates, which have no UTF-8 (the
# store refuses or escapes them before anything is stored).
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)))
# Keys are the archive's own names: short (YAML reads a key of up to 1,024 characters in JSON's style).
KEYS = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
SCALARS = st.one_of(ANY_TEXT, st.booleans(), st.none(), st.integers(-(2**63), 2**63 - 1))
FRONT_MATTERS = st.dictionaries(KEYS, st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12))


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(FRONT_MATTERS)
def test_any_front_matter_reads_back_as_it_went_in_as_json_and_as_yaml(meta):
    text = pages.front_matter_text(meta)
    assert pages.parse_front_matter(text) == meta
    assert yaml.load(text, Loader=yaml.CSafeLoader) == meta


def test_a_front_matter_holding_a_lone_surrogate_is_refused_not_written():
    with pytest.raises(ValueError, match="JSON cannot hold"):
        pages.front_matter_text({"title": "half a pair \udc80"})


def test_a_page_edited_into_yaml_block_style_still_reads():
    meta = {"title": "Schools: Funding", "uin": "12", "is_holding": False, "when": "2024-07-17",
            "asking_member": {"name": "A Member", "id": "1"}, "group": [{"key": "k", "current": True}]}
    edited = f"---\n{yaml.safe_dump(meta, default_flow_style=False)}---\n\n## Question\n\nWhy?\n"
    assert pages.split_front_matter(edited) == (meta, "## Question\n\nWhy?\n")


QUESTION_TEXTS = [
    "one line", "two\nlines", "two\n\nparagraphs", "  spaced\t\tout  ", "carriage\rreturn\r\nand more",
    "# heading?\n- bullet?\n1. list?\n+ plus\n> quote\n===\n---", "a <p>tag</p> & &amp; &lt; &#61; <!-- c -->",
    "*stars* _under_ `tick` [link](javascript:x) | pipe \\ slash", "nul\x00 vt\x0b ff\x0c fs\x1c nel\x85",
    "nbsp\xa0ideo\u3000ls\u2028ps\u2029end", "\r\n\r\n  \t", "caf\u00e9 \u2014 \u00a3100 \U0001f600",
    "x" * 300, "(a) first;\n(b) second;\n(ii) third", "1.\n2)\n10. ten", "&\n<\n>",
    "one\ttab", "two  spaces", "single spaces only", "lone\r\rreturns", "a \t\r \rmix \t end",
]


@pytest.mark.parametrize("text", QUESTION_TEXTS + AWKWARD_STRINGS)
def test_a_question_text_converts_as_its_paragraphs_through_the_html_converter(text):
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n|\r?\n", text) if part.strip()]
    as_html = "".join(f"<p>{html.escape(part)}</p>" for part in paragraphs)
    assert pages.text_to_markdown(text) == pages.html_to_markdown(as_html)


@pytest.mark.parametrize("text", ["no front matter", "---\nkey: value\n", "---\n- a list\n---\n"])
def test_a_page_that_is_not_front_matter_and_markdown_is_refused(text):
    with pytest.raises(pages.PageError):
        pages.split_front_matter(text)


@pytest.mark.parametrize("header", ['{\n  "title": "T"\n  "uin": "1"\n}', "title: [unclosed\n", '{"title": "T",\n'])
def test_front_matter_edited_into_neither_json_nor_yaml_is_refused_as_a_page_error(header):
    # A PageError (a ValueError) saying what JSON found wrong, not the YAML parser's own error.
    with pytest.raises(pages.PageError, match="neither JSON .* nor YAML"):
        pages.split_front_matter(f"---\n{header}\n---\n\n## Question\n\nWhy?\n")


def test_long_names_get_short_distinct_stable_slugs():
    from answers.model import SLUG_LIMIT, slugify

    long_name = "Department for " + "Very Long Names and " * 30
    first, second = slugify(long_name + "Sport"), slugify(long_name + "Culture")
    assert len(first) <= SLUG_LIMIT and len(second) <= SLUG_LIMIT
    assert first != second and first == slugify(long_name + "Sport")
    assert first.startswith("department-for-very-long-names-and-")
    assert slugify("x" * 1000) != slugify("x" * 999) and len(slugify("x" * 1000)) <= SLUG_LIMIT
    # Names of every usual length keep the slug they always had, so no address moves.
    assert slugify("Home Office") == "home-office"
    assert slugify("a" * SLUG_LIMIT) == "a" * SLUG_LIMIT


@pytest.mark.parametrize(("text", "slug"), [
    ("Commons", "commons"), ("HL1234", "hl1234"), ("3283", "3283"), ("", "none"), ("&", "and"),
    ("HL 12", "hl-12"), ("12a/b", "12a-b"), ("\u00b2", "none"), ("\u0663", "none"), ("\u2160", "none"),
    ("caf\u00e9", "caf"), ("\u0130stanbul", "stanbul"),
])
def test_a_slug_is_the_ascii_letters_and_digits_of_a_name_lower_cased(text, slug):
    "Letters and digits of other scripts are not ASCII: left out, whether or not all else is."
    from answers.model import slugify

    assert slugify(text) == slug


def test_markup_nested_too_deep_for_the_converter_keeps_its_text():
    "Hundreds of nested elements (no real answer has them) give the text, not a stopped build."
    answer = store.sanitize_html("<p>First.</p>" + "<b>" * 3000 + "Deep." + "</b>" * 3000
                                 + "<ul><li>" * 600 + "Deeper.")
    markdown = pages.html_to_markdown(answer)
    assert markdown.startswith("First.\n\nDeep.") and markdown.endswith("Deeper.")
    assert render_markdown(markdown).startswith("<p>First.</p>")


def test_a_question_is_titled_by_its_heading_else_its_text_else_its_house_and_uin():
    text = ("To ask the Secretary of State for the Home Department, what assessment she has made "
            "of the   effect of  the\nnew rules on visa applications.")
    assert urls.question_title({"heading": "Visas", "question_text": text}) == "Visas"
    title = urls.question_title({"heading": None, "question_text": text})
    assert title == ("To ask the Secretary of State for the Home Department, what assessment she "
                     "has made of…")
    short = urls.question_title({"heading": "", "question_text": "What is  the\nplan?"})
    assert short == "What is the plan?"
    bare = {"heading": None, "question_text": None, "house": "Lords", "uin": "HL17916", "key": "k"}
    assert urls.question_title(bare) == "Lords question HL17916"
