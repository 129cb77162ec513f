"""The render cache: a template change re-renders every question page without running Markdown,
the pages it gives are the very bytes of a build without it, a change of renderer misses every
entry, a damaged cache file is replaced, and entries a full build did not use are dropped."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import sqlite_utils
import yaml

from answers import listings, page_shape, pages, render, render_cache, site
from answers import output as output_module
from answers.build import set_meta
from answers.manifest import page_manifest_contents, page_manifest_path
from answers.model import MemberRef, Question
from answers.output import Output
from answers.render import SiteConfig
from hostile import build_site_from_questions

# (question, answer): the last two are the same text, so their pages share one body.
TEXTS = [
    ("How many cases?", "<p>Figures by year:</p><table><tr><th>Year</th><th>Cases</th></tr>"
                        "<tr><td>2023</td><td>41</td></tr></table>"),
    ("What steps?", "<p>The steps are:</p><ul><li>first</li><li>second</li></ul>"),
    ("What guidance?", '<p>See <a href="https://www.gov.uk/guidance">the guidance</a> and <em>annex B</em>.</p>'),
    ("When?", "<p>Done.<script>alert('x')</script></p>"),
    ("When?", "<p>Done.<script>alert('x')</script></p>"),
]
PAGES, BODIES = len(TEXTS), len(set(TEXTS))
MARK = "<!-- template changed -->"


def question(number: int, text: str, answer: str) -> Question:
    return Question(house="Commons", uin=str(number), date_tabled="2024-01-02", date_answered="2024-01-09",
                    heading=f"Heading {number}", answering_body="Home Office",
                    asking_member=MemberRef("name:a", name="A Member"), question_text=text, answer_html=answer)


@pytest.fixture
def archive(tmp_path) -> Path:
    "A small archive built once with the cache (pages, db and site under `tmp_path`)."
    build_site_from_questions(tmp_path, [question(n, *texts) for n, texts in enumerate(TEXTS, 1)])
    return tmp_path


def counted_calls(monkeypatch, module, name: str) -> list[str]:
    "Every text the function `module.name` is called with from now on (workers=1: all in this process)."
    calls, real = [], getattr(module, name)

    def counting(text: str):
        calls.append(text)
        return real(text)

    monkeypatch.setattr(module, name, counting)
    return calls


@pytest.fixture
def markdown_calls(monkeypatch) -> list[str]:
    "Every Markdown text the site stage renders from now on."
    return counted_calls(monkeypatch, render, "render_markdown")


def changed_templates(monkeypatch, folder: Path) -> None:
    "Render with a copy of the templates whose question page shows MARK: a real template change."
    shutil.copytree(render.SITE_TEMPLATES, folder)
    template = folder / "question.html"
    head, tail = template.read_text(encoding="utf-8").rsplit("{% endblock %}", 1)
    template.write_text(head + MARK + "\n{% endblock %}" + tail, encoding="utf-8")
    monkeypatch.setattr(render, "SITE_TEMPLATES", folder)


def build(folder: Path, out: str = "site") -> site.SiteReport:
    return site.build_site(folder / "answers.db", folder / "pages", folder / out, SiteConfig(), workers=1)


def build_after_template_change(archive: Path, monkeypatch, tmp_path_factory) -> site.SiteReport:
    "Build the archive's site after a change to question.html, which every question page then shows."
    changed_templates(monkeypatch, tmp_path_factory.mktemp("changed") / "templates")
    report = build(archive)
    assert all(MARK in path.read_text(encoding="utf-8") for path in question_pages(archive))
    return report


def cache_rows(site_dir: Path, table: str = "bodies") -> dict[bytes, tuple[str | bytes, int]]:
    """Each entry of a table of the cache (`bodies`: a body's HTML by its Markdown; `pages`: all of
    a page but its HTML, by its inputs): its value and the run that made it."""
    column = render_cache.ENTRY_COLUMNS[table]
    with sqlite3.connect(render_cache.cache_path(site_dir)) as connection:
        return {key: (value, run) for key, value, run in connection.execute(
            f"select key, {column}, run from {table} join marks using (key)")}


def files_of(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file() and path.suffix in (".html", ".json")}


def question_pages(folder: Path) -> list[Path]:
    return sorted((folder / "site" / "commons").glob("*/*/index.html"))


def test_the_cache_sits_beside_the_site_and_holds_each_distinct_body_once(archive):
    assert render_cache.cache_path(archive / "site") == archive / "site.render-cache.sqlite"
    assert not list((archive / "site").rglob("*.sqlite*"))
    rows = cache_rows(archive / "site")
    assert len(rows) == BODIES == 4
    assert sorted(html for html, _ in rows.values()) == sorted({
        render.render_markdown(pages.read_page(path)[1]) for path in (archive / "pages").glob("commons/*/*/index.md")})


def test_a_build_that_renders_its_pages_itself_leaves_no_cache_journal_open_once_done(archive):
    # Rendered in this process, the pages leave the cache's connection open until the process
    # exits: killed meanwhile (while the search index is made), a build left the cache's write-
    # ahead log beside the site, and a next build that renders nothing kept it.
    build(archive)
    assert sorted(path.name for path in archive.glob("site.render-cache.sqlite*")) == [
        "site.render-cache.sqlite"]


def test_a_template_change_rerenders_every_page_without_markdown(archive, monkeypatch, tmp_path_factory,
                                                                 markdown_calls):
    changed_templates(monkeypatch, tmp_path_factory.mktemp("changed") / "templates")
    report = build(archive)
    assert report.rendered == report.question_pages == PAGES and report.skipped == 0
    assert markdown_calls == []
    assert all(MARK in path.read_text(encoding="utf-8") for path in question_pages(archive))
    # Byte for byte what a build with no cache at all writes, table wrapping and cleaning included.
    monkeypatch.setattr(render_cache, "cache_path", lambda site_dir: None)
    monkeypatch.setattr(render_cache, "prepare", lambda path: None)
    monkeypatch.setattr(render_cache, "prune", lambda path, used: 0)
    uncached = build(archive, "site-without-cache")
    assert uncached.rendered == PAGES and len(markdown_calls) == PAGES
    assert files_of(archive / "site") == files_of(archive / "site-without-cache")
    assert not (archive / "site-without-cache.render-cache.sqlite").exists()


def test_a_first_build_asks_its_empty_cache_nothing_and_the_next_finds_every_page(tmp_path, monkeypatch,
                                                                                   tmp_path_factory, markdown_calls):
    # A first build asked the empty cache once a page for a body it could not hold.
    queries = []

    def counting(connection):
        connection.set_trace_callback(lambda sql: queries.append(sql) if sql.startswith("select") else None)
        return connection

    real_connect = render_cache.connect
    monkeypatch.setattr(render_cache, "connect", lambda path: counting(real_connect(path)))
    build_site_from_questions(tmp_path, [question(n, *texts) for n, texts in enumerate(TEXTS, 1)])
    assert len(markdown_calls) == BODIES
    assert not [sql for sql in queries if "from pages" in sql or "from bodies" in sql]
    assert len(cache_rows(tmp_path / "site")) == BODIES
    assert len(cache_rows(tmp_path / "site", "pages")) == PAGES

    queries.clear()
    report = build_after_template_change(tmp_path, monkeypatch, tmp_path_factory)
    assert report.rendered == PAGES and len(markdown_calls) == BODIES  # none since the first build
    assert [sql for sql in queries if "from pages" in sql]


@pytest.fixture
def yaml_parses(monkeypatch) -> list[str]:
    "Every front matter the site stage parses as YAML from now on."
    return counted_calls(monkeypatch, pages, "parse_front_matter")


def test_a_template_change_rerenders_every_page_without_parsing_yaml(archive, monkeypatch, tmp_path_factory,
                                                                     yaml_parses):
    expected = {name: data for name, data in files_of(archive / "site").items() if name.endswith("index.json")}
    changed_templates(monkeypatch, tmp_path_factory.mktemp("changed") / "templates")
    report = build(archive)
    assert report.rendered == PAGES and yaml_parses == []
    assert all(MARK in path.read_text(encoding="utf-8") for path in question_pages(archive))
    assert {name: data for name, data in files_of(archive / "site").items() if name.endswith("index.json")} == expected


def read_front_matter(path: Path, header: str, page_digest: str) -> dict:
    "A page's front matter as a worker of a new build reads it, through the cache at `path`, the page then done."
    render_cache.prepare(path)
    cache = render_cache.PageCache(path)
    cache.prefetch([page_digest])
    page = cache.page(page_digest)
    meta = page.front_matter(header)
    page.body("Body.")
    page.parts({})
    page.done("the digest of its twin")
    cache.flush()
    cache.close()
    return meta


def test_a_front_matter_refused_is_never_kept_and_one_orjson_cannot_write_is_parsed_every_time(tmp_path, yaml_parses):
    """An unquoted date is a date to YAML: kept as JSON it would come back as text, so the page is
    refused (page_shape.py), each time, never kept. An integer beyond 64 bits is JSON, but not
    orjson's, which keeps the entries: its page renders, and is not kept."""
    path = tmp_path / "site.render-cache.sqlite"
    meta = {"key": "commons-2024-01-02-1", "url": "commons/2024-01-02/1/", "title": "A question",
            "house": "Commons", "has_answer": False, "has_original_answer": False,
            **dict.fromkeys(pages.FLAGS, False)}
    text = pages.front_matter_text(meta)
    dated = text.replace('"title"', '"date_tabled": 2024-01-02,\n  "title"')
    for _ in range(2):
        with pytest.raises(pages.PageError, match="'date_tabled' is a date"):
            read_front_matter(path, dated, "a page")
    assert len(yaml_parses) == 2
    huge = dict(meta, note=2 ** 70)
    for _ in range(2):  # in YAML's block style: orjson reads such an integer as a float
        assert read_front_matter(path, yaml.safe_dump(huge), "another page") == huge
    assert len(yaml_parses) == 4
    for _ in range(2):
        assert read_front_matter(path, text, "a third page") == meta
    assert len(yaml_parses) == 5


def test_a_renderer_change_misses_every_entry(archive, monkeypatch, markdown_calls):
    page_manifest_path(archive / "site").unlink()  # render every page again, with the same code
    build(archive)
    assert markdown_calls == []
    monkeypatch.setattr(render, "RENDER_TAGS", render.RENDER_TAGS | {"mark"})  # the cleaning rules change
    page_manifest_path(archive / "site").unlink()
    build(archive)
    assert len(markdown_calls) == BODIES  # the repeated body is rendered once
    # The old renderer's entries were not used by this full build: pruned.
    assert len(cache_rows(archive / "site")) == BODIES


@pytest.mark.parametrize("damage", [
    "not a database",
    "a database of another shape",
    "a database of another cache format",
])
def test_a_damaged_cache_is_replaced_and_the_build_goes_on(archive, markdown_calls, damage):
    path = render_cache.cache_path(archive / "site")
    expected = files_of(archive / "site")
    render_cache.discard(path)
    if damage == "not a database":
        path.write_bytes(b"SQLite format 3\0" + b"\xff" * 5000)
    else:
        with sqlite3.connect(path) as connection:
            if damage == "a database of another shape":
                connection.execute("create table bodies (key text, html text)")
            else:
                connection.executescript(render_cache.TABLES + "insert into facts values ('format', '0');")
        connection.close()
    page_manifest_path(archive / "site").unlink()
    report = build(archive)
    assert report.rendered == PAGES and len(markdown_calls) == BODIES
    assert files_of(archive / "site") == expected
    assert len(cache_rows(archive / "site")) == BODIES  # a new cache, filled
    page_manifest_path(archive / "site").unlink()
    build(archive)
    assert len(markdown_calls) == BODIES  # and used by the next build


def damage_all_but_the_first_page(path: Path) -> None:
    "Keep the file's header and schema page; overwrite every page after it."
    with sqlite3.connect(path) as connection:
        connection.execute("pragma wal_checkpoint(truncate)")
    connection.close()
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[page_size:] = b"\xaa" * (len(data) - page_size)
    path.write_bytes(bytes(data))


def test_a_cache_damaged_inside_is_replaced_and_the_build_goes_on(archive, markdown_calls):
    path = render_cache.cache_path(archive / "site")
    expected = files_of(archive / "site")
    damage_all_but_the_first_page(path)
    page_manifest_path(archive / "site").unlink()
    build(archive)
    assert files_of(archive / "site") == expected
    assert len(markdown_calls) == BODIES and len(cache_rows(archive / "site")) == BODIES


def test_a_worker_whose_cache_breaks_renders_without_it(tmp_path, markdown_calls):
    "Damage found by a worker, not by `prepare`: it renders all the same, and removes the file."
    path = tmp_path / "site.render-cache.sqlite"
    assert render_cache.prepare(path) == 1
    cache = render_cache.PageCache(path)
    assert cache.html("A *first* body.")[0] == "<p>A <em>first</em> body.</p>"
    cache.flush()
    cache.close()
    damage_all_but_the_first_page(path)
    cache = render_cache.PageCache(path)
    assert cache.html("A *first* body.")[0] == "<p>A <em>first</em> body.</p>"
    cache.flush()
    assert len(markdown_calls) == 2 and not path.exists()
    assert render_cache.prepare(path) == 1  # the next build starts a new cache


def test_only_a_full_build_prunes_and_then_only_what_it_did_not_use(archive, markdown_calls):
    original = cache_rows(archive / "site")
    assert len(cache_rows(archive / "site", "pages")) == PAGES  # one entry a page
    page = next((archive / "pages").glob("commons/*/1/index.md"))
    page.write_text(page.read_text(encoding="utf-8") + "\nA sentence added by hand.\n", encoding="utf-8")
    report = build(archive)
    assert (report.rendered, len(markdown_calls)) == (1, 1)
    # A build that skipped pages cannot tell which entries are unused: it drops none.
    assert len(cache_rows(archive / "site")) == BODIES + 1
    assert len(cache_rows(archive / "site", "pages")) == PAGES + 1
    page_manifest_path(archive / "site").unlink()
    build(archive)
    assert len(markdown_calls) == 1
    # Each page's entry was used, and through it its body's, looked up or not: only the entries
    # of the page as it was before the edit are dropped.
    rows = cache_rows(archive / "site")
    assert len(rows) == BODIES and len(cache_rows(archive / "site", "pages")) == PAGES
    dropped, added = set(original) - set(rows), set(rows) - set(original)
    assert len(dropped) == len(added) == 1
    assert "A sentence added by hand." in rows[added.pop()][0]
    assert "A sentence added by hand." not in original[dropped.pop()][0]


def counted_builds(monkeypatch, module, name: str) -> list[tuple]:
    "Every call of `module.name` from now on, by its arguments."
    calls, real = [], getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


def changed_template(monkeypatch, folder: Path, name: str, mark: str) -> None:
    "Render with a copy of the templates in which the template `name` ends with `mark`."
    shutil.copytree(render.SITE_TEMPLATES, folder)
    template = folder / name
    template.write_text(template.read_text(encoding="utf-8") + mark, encoding="utf-8")
    monkeypatch.setattr(render, "SITE_TEMPLATES", folder)


def not_question_files(site_dir: Path) -> dict[str, bytes]:
    "Every page and JSON file but the question pages' (and the hidden records of what was built)."
    return {name: data for name, data in files_of(site_dir).items() if not name.startswith(("commons/", "."))}


@pytest.fixture
def built_archive(archive) -> Path:
    "The archive as `make build` leaves it: its database has a lineage, so builds after it are driven by changes."
    with closing(sqlite_utils.Database(archive / "answers.db")) as db:
        set_meta(db, lineage="a-lineage")
    pages.write_pages(archive / "answers.db", archive / "pages")
    build(archive)
    return archive


def test_a_question_template_change_renders_the_question_pages_and_no_listing(built_archive, monkeypatch,
                                                                             tmp_path_factory):
    archive = built_archive
    listings_made = counted_builds(monkeypatch, listings, "write_everything")
    walks = counted_builds(monkeypatch, Output, "remove_stale")
    others = not_question_files(archive / "site")
    changed_templates(monkeypatch, tmp_path_factory.mktemp("changed") / "templates")
    report = build(archive)
    assert report.rendered == PAGES and listings_made == [] and walks == []
    assert report.downloads is None  # the same database, the same downloads page: not made again
    assert sorted(report.written) == sorted(path.relative_to(archive / "site").as_posix()
                                            for path in question_pages(archive))
    assert all(MARK in path.read_text(encoding="utf-8") for path in question_pages(archive))
    assert not_question_files(archive / "site") == others
    assert build(archive).rendered == 0  # and the next build trusts what this one wrote


def test_a_question_template_change_reads_no_page_the_pages_stage_vouches_for(built_archive, monkeypatch,
                                                                            tmp_path_factory):
    "Its digest in the pages' manifest finds its entry in the cache: the page itself is not read."
    archive = built_archive
    reads = counted_calls(monkeypatch, site, "read_page")
    assert build_after_template_change(archive, monkeypatch, tmp_path_factory).rendered == PAGES and reads == []
    without_cache(monkeypatch)
    build(archive, "site-without-cache")
    assert len(reads) == PAGES and files_of(archive / "site") == files_of(archive / "site-without-cache")
    # A page edited by hand since the pages stage wrote it is for `make verify` to find, which
    # reads every page.
    page = next((archive / "pages").glob("commons/*/1/index.md"))
    page.write_text(page.read_text(encoding="utf-8").replace('"title": "Heading 1"', '"title": "A new title"'),
                    encoding="utf-8")
    reads.clear()
    site.build_site(archive / "answers.db", archive / "pages", archive / "site", SiteConfig(), workers=1,
                    check_all=True)
    assert len(set(reads)) == PAGES
    html = (archive / "site" / page.relative_to(archive / "pages").with_name("index.html")).read_text(encoding="utf-8")
    assert "“A new title”" in html


def test_a_question_template_change_writes_nothing_to_the_cache(built_archive, monkeypatch, tmp_path_factory):
    "Every entry the cache holds is used as it is, and the next build that prunes keeps them all."
    archive = built_archive
    before = {table: cache_rows(archive / "site", table) for table in render_cache.ENTRY_COLUMNS}
    assert len(before["pages"]) == PAGES and len(before["bodies"]) == BODIES
    assert build_after_template_change(archive, monkeypatch, tmp_path_factory).rendered == PAGES
    assert {table: cache_rows(archive / "site", table) for table in render_cache.ENTRY_COLUMNS} == before


def test_a_change_to_what_every_build_renders_renders_everything_again(built_archive, monkeypatch, tmp_path_factory):
    archive = built_archive
    listings_made = counted_builds(monkeypatch, listings, "write_everything")
    changed_template(monkeypatch, tmp_path_factory.mktemp("changed") / "templates", "sitemap.xml",
                     "<!-- sitemap changed -->\n")
    report = build(archive)
    assert report.rendered == PAGES and len(listings_made) == 1
    assert "<!-- sitemap changed -->" in (archive / "site" / "sitemap.xml").read_text(encoding="utf-8")


def test_a_template_change_neither_writes_nor_reads_a_json_twin(archive, monkeypatch, tmp_path_factory):
    "The twins do not depend on the templates, and the last complete build wrote them: trusted as it left them."
    twins = sorted((archive / "site" / "commons").glob("*/*/index.json"))
    expected = {path: path.read_bytes() for path in twins}
    twins_made = counted_builds(monkeypatch, site, "question_twin")
    hashed = counted_builds(monkeypatch, output_module, "file_digest")
    changed_templates(monkeypatch, tmp_path_factory.mktemp("changed") / "templates")
    report = build(archive)
    assert report.rendered == PAGES and twins_made == []
    assert not {Path(path) for (path, *_) in hashed} & set(twins)
    assert {path: path.read_bytes() for path in twins} == expected
    assert all(MARK in path.read_text(encoding="utf-8") for path in question_pages(archive))


def test_a_template_change_writes_a_missing_twin_and_verify_mends_an_edited_one(archive, monkeypatch,
                                                                                tmp_path_factory):
    twins = sorted((archive / "site" / "commons").glob("*/*/index.json"))
    expected = {path: path.read_bytes() for path in twins}
    twins[0].unlink()
    twins[1].write_text("{}\n", encoding="utf-8")
    changed_templates(monkeypatch, tmp_path_factory.mktemp("changed") / "templates")
    report = build(archive)
    assert twins[0].read_bytes() == expected[twins[0]]
    assert twins[0].relative_to(archive / "site").as_posix() in report.written
    # An edit by hand is found by an explicit check of every file, as after any other build.
    verified = site.build_site(archive / "answers.db", archive / "pages", archive / "site", SiteConfig(),
                               workers=1, check_all=True)
    assert {path: path.read_bytes() for path in twins} == expected
    assert twins[1].relative_to(archive / "site").as_posix() in verified.written


def test_a_template_change_writes_each_page_without_reading_its_old_bytes(archive, monkeypatch, tmp_path_factory):
    "The manifest says what each page held as written: none can hold what the new template makes."
    reads, real = [], output_module.read_unless_link
    monkeypatch.setattr(output_module, "read_unless_link", lambda path: reads.append(path) or real(path))
    changed_templates(monkeypatch, tmp_path_factory.mktemp("changed") / "templates")
    report = build(archive)
    # The other files (listings, downloads) are read to find those that did not change.
    assert report.rendered == PAGES and not set(reads) & {str(path) for path in question_pages(archive)}
    assert all(MARK in path.read_text(encoding="utf-8") for path in question_pages(archive))


@pytest.fixture
def parts_rendered(monkeypatch) -> list[str]:
    "The name of every part of a question page the site stage renders from now on."
    calls, real = [], site.render_part

    def counting(env, name: str, context: dict) -> str:
        calls.append(name)
        return real(env, name, context)

    monkeypatch.setattr(site, "render_part", counting)
    return calls


def without_cache(monkeypatch) -> None:
    monkeypatch.setattr(render_cache, "cache_path", lambda site_dir: None)
    monkeypatch.setattr(render_cache, "prepare", lambda path: None)
    monkeypatch.setattr(render_cache, "prune", lambda path, used: 0)


def test_a_question_template_change_renders_no_part_and_writes_what_a_build_without_the_cache_writes(
        archive, monkeypatch, tmp_path_factory, parts_rendered):
    assert build_after_template_change(archive, monkeypatch, tmp_path_factory).rendered == PAGES
    assert parts_rendered == []
    without_cache(monkeypatch)
    build(archive, "site-without-cache")
    assert len(parts_rendered) == PAGES * len(site.QUESTION_PARTS)
    assert files_of(archive / "site") == files_of(archive / "site-without-cache")


def test_a_change_to_one_part_renders_that_part_alone_on_every_page(archive, monkeypatch, tmp_path_factory,
                                                                    parts_rendered):
    changed_template(monkeypatch, tmp_path_factory.mktemp("changed") / "templates", "_timeline.html",
                     "<!-- timeline changed -->\n")
    report = build(archive)
    assert report.rendered == PAGES and parts_rendered == ["_timeline.html"] * PAGES
    assert all("<!-- timeline changed -->" in path.read_text(encoding="utf-8") for path in question_pages(archive))
    # What _macros.html gives the parts that import it is theirs too: a change to it renders them again.
    changed_template(monkeypatch, tmp_path_factory.mktemp("changed again") / "templates", "_macros.html",
                     "{# changed #}\n")
    parts_rendered.clear()
    build(archive)
    assert sorted(set(parts_rendered)) == ["_group.html", "_notices.html", "_question_header.html", "_timeline.html"]
    without_cache(monkeypatch)
    build(archive, "site-without-cache")
    assert files_of(archive / "site") == files_of(archive / "site-without-cache")


def test_a_page_whose_text_changed_renders_all_its_parts_again(archive, parts_rendered):
    page = next((archive / "pages").glob("commons/*/1/index.md"))
    page.write_text(page.read_text(encoding="utf-8").replace('"title": "Heading 1"', '"title": "A new title"'),
                    encoding="utf-8")
    report = build(archive)
    assert report.rendered == 1 and sorted(parts_rendered) == sorted(site.QUESTION_PARTS)
    html = (archive / "site" / page.relative_to(archive / "pages").with_name("index.html")).read_text(encoding="utf-8")
    assert "“A new title”" in html  # the citation part shows the new title


def test_a_page_whose_neighbours_changed_renders_its_parts_again(archive, monkeypatch, parts_rendered):
    "The previous and next links are inputs of the page: a part may show them."
    monkeypatch.setattr(site, "navigation_of", lambda db, page_urls: {})
    page_manifest_path(archive / "site").unlink()
    build(archive)
    assert len(parts_rendered) == PAGES * len(site.QUESTION_PARTS)
    assert not any('rel="next"' in path.read_text(encoding="utf-8") for path in question_pages(archive))


def links_read(monkeypatch) -> list[str]:
    "The url of every page whose previous and next links the site stage reads from now on."
    calls, real = [], site.navigation_of
    monkeypatch.setattr(site, "navigation_of", lambda db, page_urls: calls.extend(page_urls) or real(db, page_urls))
    return calls


def site_entries(site_dir: Path) -> dict:
    "What the site's manifest records of each question page."
    return page_manifest_contents(site_dir)["entries"]


def same_as_a_build_without_cache(archive: Path, monkeypatch) -> bool:
    "Whether the site holds what a build from scratch, without the cache, writes, and records the same of each page."
    without_cache(monkeypatch)
    build(archive, "site-without-cache")
    return (files_of(archive / "site") == files_of(archive / "site-without-cache")
            and site_entries(archive / "site") == site_entries(archive / "site-without-cache"))


def test_a_question_template_change_reads_no_links_and_writes_what_a_build_from_scratch_writes(
        built_archive, monkeypatch, tmp_path_factory):
    "The database and the code that reads the links are the last build's: so is each page's digest."
    archive = built_archive
    read = links_read(monkeypatch)
    assert build_after_template_change(archive, monkeypatch, tmp_path_factory).rendered == PAGES and read == []
    assert same_as_a_build_without_cache(archive, monkeypatch)
    assert sum('rel="next"' in path.read_text(encoding="utf-8") for path in question_pages(archive)) == PAGES - 1


def test_a_page_that_needs_its_links_reads_them(built_archive, monkeypatch, tmp_path_factory):
    """A part to render (here the previous and next links' own), or a twin to write, which takes the
    page's text: the links are read, and the pages are those a build from scratch makes."""
    archive = built_archive
    read = links_read(monkeypatch)
    changed_template(monkeypatch, tmp_path_factory.mktemp("changed") / "templates", "_prev_next.html",
                     "<!-- links changed -->\n")
    assert build(archive).rendered == PAGES and sorted(read) == sorted(site_entries(archive / "site"))
    twin = next((archive / "site" / "commons").glob("*/1/index.json"))
    twin.unlink()
    read.clear()
    build_after_template_change(archive, monkeypatch, tmp_path_factory)
    assert read == [twin.parent.relative_to(archive / "site").as_posix() + "/"] and twin.exists()
    assert same_as_a_build_without_cache(archive, monkeypatch)


def test_the_last_builds_links_are_kept_only_for_the_same_text_and_the_same_code(built_archive, monkeypatch,
                                                                                 tmp_path_factory):
    archive = built_archive
    manifest = page_manifest_path(archive / "site")
    with closing(sqlite3.connect(manifest)) as connection, connection:
        url, entry = connection.execute("select key, entry from entries order by key limit 1").fetchone()
        connection.execute("update entries set entry = json_set(entry, '$[6]', 'another text') where key = ?", [url])
    read = links_read(monkeypatch)
    build_after_template_change(archive, monkeypatch, tmp_path_factory)
    recorded, before = json.loads(site_entries(archive / "site")[url]), json.loads(entry)
    assert read == [url] and recorded[:2] + recorded[3:] == before[:2] + before[3:]  # all but the new HTML's digest
    # Other code reading the links: every page's are read again.
    monkeypatch.setattr(site, "NAVIGATION_CODE", (*site.NAVIGATION_CODE, render.__file__))
    read.clear()
    assert build(archive).rendered == PAGES and sorted(read) == sorted(site_entries(archive / "site"))
    assert same_as_a_build_without_cache(archive, monkeypatch)


def test_a_part_asked_to_render_without_the_pages_links_stops_rather_than_show_none(archive):
    "Links are left unread only for a page whose parts all come from its entry: any other is a fault in the code."
    page = next((archive / "pages").glob("commons/*/1/index.md"))
    header, body = pages.split_page_text(page.read_text(encoding="utf-8"))
    meta = page_shape.read_front_matter(header)
    config = SiteConfig()
    env = render.make_environment(config)
    render_all = site.PageRenderer().parts
    with pytest.raises(LookupError, match="without its previous and next links"):
        site.render_question_page(meta, render.render_markdown(body), None, env, config, render_all)
    html = site.render_question_page(meta, render.render_markdown(body), site.no_neighbours(), env, config, render_all)
    assert meta["title"] in html
