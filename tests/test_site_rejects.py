"""Question pages edited wrong by hand, whatever their shape: each is rejected by name (its file
and what is wrong with it), every other page is rendered, its last good files stay until it is
mended, and `answers site --strict` fails. Pages as the pages stage writes them all pass.

The archive is test_incremental's small one: seven questions, two of them grouped, one citing
another, one unanswered."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
import sqlite_utils
from click.testing import CliRunner

from answers import page_shape, pages, site, urls
from answers.cli import cli
from answers.manifest import page_manifest_contents
from answers.output import Output
from test_incremental import (
    CONFIG,
    HOME_OFFICE,
    Q101,
    Q102,
    Q104,
    Q105,
    Q201,
    TREASURY,
    build,
    file_month,
    make_archive,
    question,
)

QUESTIONS = 7


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    "The archive's content, database, pages and site, built once for this file's tests."
    folder = tmp_path_factory.mktemp("rejects")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1764547200")  # downloads date themselves by it
        build(folder / "build", make_archive(folder))
    return folder


@pytest.fixture
def archive(built, tmp_path) -> Path:
    "A copy of the built archive to edit: its `content` and `build` folders."
    shutil.copytree(built, tmp_path / "archive")
    return tmp_path / "archive"


def page_of(folder: Path, url: str) -> Path:
    return folder / "build" / "pages" / urls.markdown_file(url)


def edit_front_matter(page: Path, edit) -> None:
    "Rewrite a page with its front matter (as JSON) changed by `edit`, as a person might."
    header, body = pages.split_page_text(page.read_text(encoding="utf-8"))
    meta = orjson.loads(header)
    edit(meta)
    page.write_text(f"---\n{pages.front_matter_text(meta)}---\n\n{body}", encoding="utf-8")


def edit_text(page: Path, old: str, new: str) -> None:
    "Rewrite a page with `old` in its front matter's text replaced: YAML reads what JSON does not."
    text = page.read_text(encoding="utf-8")
    assert old in text
    page.write_text(text.replace(old, new, 1), encoding="utf-8")


def add_yaml(line: str):
    "An edit adding a line of YAML at the top of the front matter (JSON is YAML's flow style)."
    return lambda page: edit_text(page, "---\n{\n", f"---\n{{\n  {line},\n")


def json_edit(edit):
    return lambda page: edit_front_matter(page, edit)


# Q102 as edited, and what the site stage says of it.
FAULTS = {
    "a title that is a list": (json_edit(lambda meta: meta.update(title=["Prisons", "Capacity"])),
                               "its front matter's 'title' is a list, not text"),
    "a title that is a number": (json_edit(lambda meta: meta.update(title=7)),
                                 "its front matter's 'title' is a whole number, not text"),
    "no url": (json_edit(lambda meta: meta.pop("url")), "its front matter has no 'url'"),
    "a url that is not text": (json_edit(lambda meta: meta.update(url=102)),
                               "its front matter's 'url' is a whole number, not text"),
    "an asker that is text": (json_edit(lambda meta: meta.update(asking_member="Jo Bloggs")),
                              "its front matter's 'asking_member' is text, not a mapping"),
    "an asker with no id": (json_edit(lambda meta: meta["asking_member"].pop("id")),
                            "its front matter's 'asking_member' has no 'id'"),
    "a body with no name": (json_edit(lambda meta: meta.update(answering_body={"url": "bodies/home-office/"})),
                            "its front matter's 'answering_body' has no 'name'"),
    "a flag that is text": (json_edit(lambda meta: meta.update(is_holding="no")),
                            "its front matter's 'is_holding' is text, not true or false"),
    "a date that is null": (json_edit(lambda meta: meta.update(date_tabled=None)),
                            "its front matter's 'date_tabled' is null, not text"),
    "nested lists for a heading": (json_edit(lambda meta: meta.update(heading=[["Prisons"], ["Capacity"]])),
                                   "its front matter's 'heading' is a list, not text"),
    "a list of lists for asked before": (
        json_edit(lambda meta: meta.update(asked_before=[[Q101, "Police: Numbers"]])),
        "its front matter's 'asked_before[0]' is a list, not a mapping"),
    "days late as text": (json_edit(lambda meta: meta.update(timeliness={"status": "late", "days_late": "9"})),
                          "its front matter's 'timeliness.days_late' is text, not a whole number"),
    "a grouped question with a url and no UIN": (
        json_edit(lambda meta: meta.update(group=[{"key": "commons-2024-07-01-101", "current": False,
                                                   "url": Q101}])),
        "its front matter's 'group[0]' has a 'url' but no 'uin'"),
    "a correction's segment that is not a pair": (
        json_edit(lambda meta: meta.update(answer_changes={"segments": [["added"]], "deleted_words": 0,
                                                           "added_words": 1})),
        "its front matter's 'answer_changes.segments[0]' is a list, not a pair of text"),
    "a YAML date": (lambda page: edit_text(page, '"date_tabled": "2024-07-02"', '"date_tabled": 2024-07-02'),
                    "its front matter's 'date_tabled' is a date (quote it to keep it as text), not text"),
    "a YAML .nan": (add_yaml('"score": .nan'),
                    "its front matter's 'score' is a number that is not finite (nan), which JSON cannot hold"),
    "a YAML .inf": (add_yaml('"score": -.inf'),
                    "its front matter's 'score' is a number that is not finite (-inf), which JSON cannot hold"),
    "a YAML .inf for a number": (lambda page: edit_text(page, '"api_id": 7000102', '"api_id": .inf'),
                                 "its front matter's 'api_id' is a number that is not finite (inf), "
                                 "not a whole number"),
    "a YAML set": (add_yaml('"tags": !!set {prisons: null}'),
                   "its front matter's 'tags' is a set, which JSON cannot hold as it is"),
    "YAML binary data": (add_yaml('"note": !!binary aGVsbG8='),
                         "its front matter's 'note' is binary data, which JSON cannot hold as it is"),
    "YAML pairs": (add_yaml('"notes": !!omap [first: 1]'),
                   "its front matter's 'notes[0]' is a pair (YAML's !!omap or !!pairs), "
                   "which JSON cannot hold as it is"),
    "a YAML date deep inside": (add_yaml('"notes": {"seen": [2024-07-03]}'),
                                "its front matter's 'notes.seen[0]' is a date (quote it to keep it as text), "
                                "which JSON cannot hold as it is"),
    "a key that is not text": (add_yaml('7: "seven"'),
                               "its front matter has a key that is not text but a whole number (7), "
                               "which JSON cannot hold"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_of_shape_is_rejected_by_name_and_the_other_pages_render(archive, tmp_path, fault):
    edit, message = FAULTS[fault]
    page = page_of(archive, Q102)
    edit(page)
    out = tmp_path / "site"

    made = site.write_question_pages(archive / "build" / "pages", Output(out), {}, CONFIG, workers=1)

    assert made.rejected == {Q102: f"{page}: {message}"}
    assert made.rendered == QUESTIONS
    assert not (out / Q102).exists()
    others = [url for url in (Q101, Q104, Q105, Q201) if (out / urls.html_file(url)).is_file()]
    assert others == [Q101, Q104, Q105, Q201]


def test_a_rejected_page_is_never_kept_by_the_render_cache_and_renders_once_mended(archive, tmp_path):
    """A page refused is rejected by every build, though the cache knows the page's text by its
    digest: it was never kept as good. Mended, it renders."""
    page = page_of(archive, Q102)
    good = page.read_text(encoding="utf-8")
    edit_text(page, '"date_tabled": "2024-07-02"', '"date_tabled": 2024-07-02')
    pages_dir, out = archive / "build" / "pages", tmp_path / "site"
    for _ in range(2):
        made = site.write_question_pages(pages_dir, Output(out), {}, CONFIG, workers=1)
        assert made.rejected.keys() == {Q102}
    page.write_text(good, encoding="utf-8")
    mended = site.write_question_pages(pages_dir, Output(out), {}, CONFIG, workers=1)
    assert mended.rejected == {}
    assert "Prisons: Capacity" in (out / urls.html_file(Q102)).read_text(encoding="utf-8")


def test_a_page_of_the_wrong_shape_keeps_its_last_good_files_byte_for_byte_until_mended(archive):
    folder = archive / "build"
    files = [folder / "site" / name for name in (urls.html_file(Q102), urls.json_twin(Q102))]
    before = [path.read_bytes() for path in files]
    edit_front_matter(page_of(archive, Q102), lambda meta: meta.update(asking_member="Jo Bloggs"))

    report = site.build_site(folder / "answers.db", folder / "pages", folder / "site", CONFIG, workers=1,
                             check_all=True)

    assert report.rejected.keys() == {Q102}
    assert report.written == [] and report.removed == []
    assert [path.read_bytes() for path in files] == before
    pages.write_pages(folder / "answers.db", folder / "pages", check_all=True)  # `make verify` mends it
    mended = site.build_site(folder / "answers.db", folder / "pages", folder / "site", CONFIG, workers=1,
                             check_all=True)
    assert mended.rejected == {} and mended.written == [] and mended.rendered == 0
    assert [path.read_bytes() for path in files] == before


def test_a_rejected_page_whose_files_are_gone_keeps_no_entry_and_a_later_build_renders_it(tmp_path, monkeypatch):
    """An incremental build carries the last build's entries over: a page rejected there with its
    files gone must lose its entry, which would vouch for files that are not there. The next
    build that renders anything renders it too, once mended. (An archive of its own: the db stage
    builds a database afresh when its sources moved, as they do in a copy.)"""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")
    archive = tmp_path
    folder, content = archive / "build", make_archive(archive)
    build(folder, content)
    file_month(content, "2024-07", [question(102, "2024-07-02", HOME_OFFICE, "Prisons: Places", "2024-07-12",
                                             "<p>More places.</p>")])
    build_and_write_pages(folder, content)
    edit_front_matter(page_of(archive, Q102), lambda meta: meta.update(title=["Prisons", "Places"]))
    for name in (urls.html_file(Q102), urls.json_twin(Q102)):
        (folder / "site" / name).unlink()

    report = site.build_site(folder / "answers.db", folder / "pages", folder / "site", CONFIG, workers=1)

    assert report.rejected.keys() == {Q102}
    assert Q102 not in page_manifest_contents(folder / "site")["entries"]
    pages.write_pages(folder / "answers.db", folder / "pages", check_all=True)  # mended
    # News of another body: no page that shows it shows Q102.
    file_month(content, "2024-08", [question(203, "2024-08-03", TREASURY, "Taxation: Petrol")])
    build_and_write_pages(folder, content)
    later = site.build_site(folder / "answers.db", folder / "pages", folder / "site", CONFIG, workers=1)
    assert later.rejected == {} and later.rendered < QUESTIONS
    assert urls.html_file(Q102) in later.written
    assert "Prisons: Places" in (folder / "site" / urls.html_file(Q102)).read_text(encoding="utf-8")
    assert Q102 in page_manifest_contents(folder / "site")["entries"]


def build_and_write_pages(folder: Path, content: Path) -> None:
    "The db and pages stages, not the site's."
    from answers.build import build_database

    build_database([content], folder / "answers.db")
    pages.write_pages(folder / "answers.db", folder / "pages")


def test_a_stray_index_md_where_no_question_lives_is_rejected_by_name(archive, tmp_path):
    pages_dir, out = archive / "build" / "pages", tmp_path / "site"
    strays = {"notes/": pages_dir / "notes" / "index.md", "commons/x/": pages_dir / "commons" / "x" / "index.md"}
    for url, stray in strays.items():
        stray.parent.mkdir(parents=True)
        text = page_of(archive, Q101).read_text(encoding="utf-8")
        stray.write_text(text.replace(f'"url": "{Q101}"', f'"url": "{url}"'), encoding="utf-8")

    made = site.write_question_pages(pages_dir, Output(out), {}, CONFIG, workers=1)

    assert made.rejected == {url: f"{stray}: no question's page lives there (a question's folder is its house, "
                                  "date and UIN)" for url, stray in strays.items()}
    assert made.rendered == QUESTIONS
    assert not (out / "notes").exists() and not (out / "commons" / "x").exists()
    assert (out / urls.html_file(Q101)).is_file()


def test_question_urls_are_told_from_other_paths():
    assert all(map(urls.is_question_url, [Q101, "lords/undated/p40657d7024/", "scottish-parliament/2009-10-29/s3w-1/"]))
    assert not any(map(urls.is_question_url, [
        "", "notes/", "commons/x/", "commons/2024-07-01/101", "days/2024/07/01/", "commons/2024-07-01/../",
        "Commons/2024-07-01/101/", "commons/2024-07-01/101/extra/", "members/4399-x/asked/",
        "commons/\u0662\u0660\u0662\u0664-07-01/101/"]))


def run_site(archive: Path, out: Path, *options: str, env: dict | None = None):
    folder = archive / "build"
    return CliRunner().invoke(cli, ["site", "--db", str(folder / "answers.db"), "--pages", str(folder / "pages"),
                                    "--out", str(out), "--no-search", *options], env=env)


@pytest.fixture
def many_strays(archive) -> int:
    "Twenty-five stray pages: more than the report names one by one."
    text = page_of(archive, Q101).read_text(encoding="utf-8")
    for number in range(25):
        stray = archive / "build" / "pages" / "notes" / f"{number:02}" / "index.md"
        stray.parent.mkdir(parents=True)
        stray.write_text(text, encoding="utf-8")
    return 25


def test_site_names_twenty_rejected_pages_then_counts_the_rest_and_strict_fails(archive, tmp_path, many_strays):
    result = run_site(archive, tmp_path / "site", "--strict")

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    named = [line for line in lines if line.startswith("  not rendered: ")]
    assert len(named) == 20 and named[0].startswith(f"  not rendered: {archive / 'build' / 'pages' / 'notes' / '00'}")
    assert lines[lines.index(named[-1]) + 1] == f"  … and {many_strays - 20} more"
    assert lines[-1] == f"Error: {many_strays} question pages rejected (strict mode)"
    assert (tmp_path / "site" / urls.html_file(Q101)).is_file()  # the build went on


@pytest.mark.parametrize("environment, exit_code", [({"STRICT": "1"}, 1), ({}, 0)], ids=["STRICT=1", "not strict"])
def test_site_fails_in_strict_mode_set_by_the_environment_alone(archive, tmp_path, many_strays, environment,
                                                                 exit_code):
    result = run_site(archive, tmp_path / "site", env=environment)
    assert result.exit_code == exit_code, result.output
    assert f"{many_strays} question pages rejected" in result.stderr


# -- pages as the pages stage writes them ------------------------------------------------

# A handful of the small real archive's pages, each with facts of another kind.
REAL_PAGES = {
    "the seed page": "url = 'commons/2018-11-21/p40657d7024/'",
    "a grouped question": "grouped_keys is not null",
    "a Lords answer from TheyWorkForYou": "house = 'Lords'",
    "an unanswered question": "answer_html is null",
    "a question answered late": "house = 'Commons' and date_answered > date_for_answer",
    "a question to no answering body": "answering_body is null",
    "a question asked before": "key in (select key from related)",
}


@pytest.mark.parametrize("kind", REAL_PAGES)
def test_a_real_page_passes_unchanged(built_site, kind):
    db = sqlite_utils.Database(built_site.db)
    [(url,)] = db.execute(f"select url from questions where {REAL_PAGES[kind]} order by key limit 1").fetchall()
    db.close()
    header, _ = pages.split_page_text((built_site.pages / urls.markdown_file(url)).read_text(encoding="utf-8"))
    assert page_shape.read_front_matter(header) == orjson.loads(header)


def test_every_page_of_the_real_archive_passes(built_site):
    checked = 0
    for page in built_site.pages.rglob("index.md"):
        header, _ = pages.split_page_text(page.read_text(encoding="utf-8"))
        page_shape.check_front_matter(orjson.loads(header))
        checked += 1
    assert checked == built_site.pages_report.questions > 1000


def test_a_question_as_the_pages_stage_writes_it_with_every_kind_of_fact_passes():
    "Members, a body, a group with a question not in the archive, a correction, citations, timeliness, asked before."
    member = {"id": "4399", "name": "Jo Bloggs", "party": "Labour", "constituency": "Anytown", "house": "Commons",
              "url": "members/4399-jo-bloggs/", "display": "Jo Bloggs"}
    other = {"key": "commons-2024-07-01-101", "uin": "101", "url": Q101, "heading": None,
             "title": "To ask about police.", "date_tabled": None}
    context = pages.PageContext(
        {"4399": member}, {"Home Office": {"name": "Home Office", "slug": "home-office", "url": "bodies/home-office/"}},
        {"commons-2024-07-01-101": other}, {1: {"file": "2024-07.json.gz", "format": "api-json"}},
        ({"commons-2024-07-02-102": [{"field": "answer", "uin": "101", "key": "commons-2024-07-01-101"}]},
         {"commons-2024-07-02-102": ["commons-2024-07-01-101"]}),
        "2024-08-01", {},
        {"commons-2024-07-02-102": [{"key": "commons-2024-07-01-101", "asking_member_id": "4399"}]})
    row = {name: 0 for name in pages.FLAGS}
    row.update(key="commons-2024-07-02-102", url=Q102, house="Commons", uin="102", date_tabled="2024-07-02",
               date_for_answer="2024-07-04", date_answered="2024-07-12", date_answer_corrected="2024-07-20",
               heading="Prisons", answering_body="Home Office", asking_member_id="4399",
               answering_member_id="4399", correcting_member_id="4400", source_id=1, api_id=7000102,
               grouped_keys='["commons-2024-07-01-101", "commons-2024-07-01-999"]', is_correction=1,
               question_text="To ask about prisons.", answer_html="<p>More places, as in Question 101.</p>",
               original_answer_html="<p>Fewer places.</p>")
    header, _ = pages.split_page_text(pages.render_page(row, context))
    meta = page_shape.read_front_matter(header)
    assert meta == orjson.loads(header)
    assert {"asking_member", "correcting_member", "answering_body", "source", "group", "answer_changes",
            "cites", "cited_by", "timeliness", "asked_before"} <= meta.keys()
    assert {"key": "commons-2024-07-01-999", "current": False} in meta["group"]


# Values YAML reads whose Python value cannot be made: a date with no such day (a source's own
# '2024-02-30', unquoted in a page edited into YAML), an integer beyond Python's 4,300 digits.
UNMAKEABLE = {
    "a date with no such day": ('"date_tabled": "2024-07-02"', '"date_tabled": 2024-02-30',
                                "day is out of range for month"),
    "a time with no such hour": ('"date_tabled": "2024-07-02"', '"date_tabled": 2024-07-02 25:00:00',
                                 "hour must be in 0..23"),
    "a number of 5,000 digits": ('"api_id": 7000102', '"api_id": ' + "9" * 5000, "4300 digits"),
}


@pytest.mark.parametrize("fault", UNMAKEABLE)
def test_a_yaml_value_python_cannot_make_is_rejected_by_name_and_the_other_pages_render(archive, tmp_path,
                                                                                        fault):
    old, new, reason = UNMAKEABLE[fault]
    page = page_of(archive, Q102)
    edit_text(page, old, new)
    out = tmp_path / "site"

    made = site.write_question_pages(archive / "build" / "pages", Output(out), {}, CONFIG, workers=1)

    assert list(made.rejected) == [Q102]
    assert made.rejected[Q102].startswith(f"{page}: the front matter reads as neither JSON (")
    assert reason in made.rejected[Q102]
    assert made.rendered == QUESTIONS
    assert not (out / Q102).exists()
