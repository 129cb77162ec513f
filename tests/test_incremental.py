"""The change-driven build: after a new answer, a correction or nothing new, the pages and site
stages write exactly the files that show what changed (the question's page and twin, the pages
whose previous/next links, "Cited by" lists or citation links name it), leave every other file
untouched, and end with what a clean build writes. A file edited by hand is left to
`answers verify`, which re-hashes everything and repairs it.

The archive is a small one of our own making, filed as `make fetch` files the official API's
responses: five Home Office questions (one citing another) and two grouped Treasury ones.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from answers import changes, downloads, listings, pages, queries, site, sitemap
from answers.build import build_database
from answers.cli import cli
from answers.fetch.archive import MonthFile
from answers.manifest import PageManifest, page_manifest_contents, page_manifest_path
from answers.members import MemberDirectory
from answers.render import SiteConfig

CONFIG = SiteConfig(base_url="https://answers.example.org/")
MEMBERS = Path(__file__).resolve().parents[1] / "reference" / "members"
HOME_OFFICE = {"answeringBodyName": "Home Office", "answeringBodyId": 1}
TREASURY = {"answeringBodyName": "Treasury", "answeringBodyId": 14}


def question(uin: int, tabled: str, body: dict, heading: str, answered: str | None = None,
             answer: str | None = None, **more) -> dict:
    "One record as the API's list endpoint gives it."
    value = {"id": 7_000_000 + uin, "house": "Commons", "uin": str(uin),
             "dateTabled": f"{tabled}T00:00:00", "heading": heading,
             "questionText": f"To ask the Secretary of State about {heading.lower()}.",
             "askingMemberId": 4000 + uin, **body}
    if answered:
        value.update(dateAnswered=f"{answered}T00:00:00", answerText=answer,
                     answeringMemberId=4399)
    return dict(value, **more)


def url(uin: int, tabled: str) -> str:
    return f"commons/{tabled}/{uin}/"


Q101, Q102, Q103, Q104, Q105 = (url(101, "2024-07-01"), url(102, "2024-07-02"),
                                url(103, "2024-08-01"), url(104, "2024-08-01"),
                                url(105, "2024-08-02"))
Q201, Q202 = url(201, "2024-08-01"), url(202, "2024-08-01")
CITING_ANSWER = "<p>I refer to the Answer of 10 July 2024 to Question 101.</p>"
UNANSWERED_104 = question(104, "2024-08-01", HOME_OFFICE, "Immigration: Visas",
                          dateForAnswer="2024-08-06T00:00:00")
ANSWERED_104 = dict(UNANSWERED_104, dateAnswered="2024-08-09T00:00:00", answeringMemberId=4399,
                    answerText="<p>As set out in the Answer of 5 August 2024 to Question 103.</p>")
ANSWERED_102 = question(102, "2024-07-02", HOME_OFFICE, "Prisons: Capacity", "2024-07-12",
                        CITING_ANSWER)


def file_month(content: Path, month: str, values: list[dict]) -> None:
    "Add one list page to a month's file, as a fetch files what it found."
    responses = MonthFile(content / "api" / f"{month}.json.gz")
    responses.add({"results": [{"value": value} for value in values],
                   "totalResults": len(values)})
    responses.save()


def make_archive(folder: Path) -> Path:
    content = folder / "content"
    file_month(content, "2024-07", [
        question(101, "2024-07-01", HOME_OFFICE, "Police: Numbers", "2024-07-10",
                 "<p>There are more officers.</p>"),
        ANSWERED_102])
    file_month(content, "2024-08", [
        question(103, "2024-08-01", HOME_OFFICE, "Asylum: Hotels", "2024-08-05",
                 "<p>Fewer hotels are used.</p>"),
        UNANSWERED_104,
        question(105, "2024-08-02", HOME_OFFICE, "Fire Services", "2024-08-07",
                 "<p>Funding rose.</p>"),
        question(201, "2024-08-01", TREASURY, "Taxation: Fuel", "2024-08-06",
                 "<p>Duty is frozen.</p>", groupedQuestions=["202"]),
        question(202, "2024-08-01", TREASURY, "Taxation: Diesel", "2024-08-06",
                 "<p>Duty is frozen.</p>", groupedQuestions=["201"])])
    return content


def build(folder: Path, content: Path) -> tuple[pages.PagesReport, site.SiteReport]:
    "The db, pages and site stages, as `answers build` runs them."
    build_database([content], folder / "answers.db")
    pages_report = pages.write_pages(folder / "answers.db", folder / "pages")
    site_report = site.build_site(folder / "answers.db", folder / "pages", folder / "site", CONFIG,
                                  workers=1)
    return pages_report, site_report


def files_of(folder: Path) -> dict:
    "Every file's bytes, and what the stage's manifest beside the folder records."
    files = {path.relative_to(folder).as_posix(): path.read_bytes()
             for path in sorted(folder.rglob("*")) if path.is_file()}
    return {**files, "manifest": page_manifest_contents(folder)}


def stamps(folder: Path) -> dict[str, tuple[int, int]]:
    "Each file's inode and modification time: what a rewrite changes."
    return {path.relative_to(folder).as_posix(): (path.stat().st_ino, path.stat().st_mtime_ns)
            for path in folder.rglob("*") if path.is_file()}


def touched(before: dict, after: dict) -> set[str]:
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


def question_files(paths) -> set[str]:
    "The files of question pages among paths (pages and twins under commons/)."
    return {path for path in paths if path.startswith("commons/")}


def assert_same_as_clean_build(folder: Path, tmp_path: Path) -> None:
    "A build from scratch, from the same database, writes the very same pages and site."
    clean = tmp_path / "clean"
    clean.mkdir()
    shutil.copy2(folder / "answers.db", clean / "answers.db")
    pages.write_pages(clean / "answers.db", clean / "pages")
    site.build_site(clean / "answers.db", clean / "pages", clean / "site", CONFIG, workers=1)
    for stage in ("pages", "site"):
        assert files_of(folder / stage) == files_of(clean / stage), stage


@pytest.fixture
def archive(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")  # downloads date themselves by it
    folder = tmp_path / "build"
    content = make_archive(tmp_path)
    first_pages, first_site = build(folder, content)
    assert first_pages.rendered == first_pages.questions == 7
    assert first_site.rendered == 7
    return folder, content


def test_one_new_answer_rewrites_its_page_its_neighbours_and_the_page_it_cites(archive, tmp_path):
    folder, content = archive
    before = {stage: stamps(folder / stage) for stage in ("pages", "site")}
    file_month(content, "2024-08", [ANSWERED_104])

    pages_report, site_report = build(folder, content)

    # Pages: its own, and the one it cites, which now lists it under "Cited by".
    assert sorted(pages_report.written) == [Q103 + "index.md", Q104 + "index.md"]
    assert touched(before["pages"], stamps(folder / "pages")) == {Q103 + "index.md", Q104 + "index.md"}
    # Site: those two pages and twins, and the HTML of its neighbours before (102, 103) and
    # after (105) its answer moved it to the end of the Home Office's order.
    expected = {Q104 + "index.html", Q104 + "index.json", Q103 + "index.html",
                Q103 + "index.json", Q102 + "index.html", Q105 + "index.html"}
    assert question_files(site_report.written) == expected
    assert question_files(touched(before["site"], stamps(folder / "site"))) == expected
    assert site_report.rendered == 4  # 102, 103, 104, 105: not the untouched Treasury pages
    html = (folder / "site" / Q104 / "index.html").read_text()
    assert "As set out in the Answer of 5 August 2024" in html
    assert_same_as_clean_build(folder, tmp_path)


@pytest.mark.parametrize("another_thread", [False, True])
def test_one_new_answer_s_downloads_are_made_in_a_process_of_their_own_where_one_can_fork(
        archive, tmp_path, monkeypatch, another_thread):
    # Forked only while the build runs one thread; else a thread of the build makes them. Either
    # way the same files are written, and the report says which. Earlier tests in this process
    # may have left threads running (Datasette's executor): then it cannot fork either.
    folder, content = archive
    can_fork = threading.active_count() == 1 and not another_thread
    made_by = tmp_path / "made-by"
    write_downloads = downloads.write_downloads

    def noting_the_process(*args):
        made_by.write_text(str(os.getpid()))
        return write_downloads(*args)

    monkeypatch.setattr(downloads, "write_downloads", noting_the_process)
    file_month(content, "2024-08", [ANSWERED_104])
    running = threading.Event()
    other = threading.Thread(target=running.wait)
    if another_thread:
        other.start()
    try:
        _, site_report = build(folder, content)
    finally:
        running.set()

    assert (int(made_by.read_text()) != os.getpid()) == can_fork
    # Its year's files, the citations (it cites 103), the database and what describes them.
    assert sorted(site_report.downloads.written) == [
        "SHA256SUMS", "answers.db.gz", "citations.csv", "citations.ndjson", "datapackage.json",
        "index.html", "questions-2024.csv.gz", "questions-2024.ndjson.gz"]
    assert_same_as_clean_build(folder, tmp_path)


def test_one_new_answer_s_other_files_start_before_its_question_pages_so_the_downloads_work_beside_them(
        archive, monkeypatch):
    # A change renders its few question pages in the build's own process: after the other files,
    # the downloads' process (forked by them) waited for the pages before it could start.
    folder, content = archive
    happened = []
    write_others, render_chunk = site.OtherFiles.write, site._render_chunk
    monkeypatch.setattr(site.OtherFiles, "write", lambda self: happened.append("other files") or write_others(self))
    monkeypatch.setattr(site, "_render_chunk", lambda items: happened.append("question pages") or render_chunk(items))
    file_month(content, "2024-08", [ANSWERED_104])
    _, site_report = build(folder, content)
    assert happened == ["other files", "question pages"]
    assert site_report.rendered == 4 and "answers.db.gz" in site_report.downloads.written


def test_a_downloads_process_that_fails_fails_the_build_with_its_error(archive, monkeypatch):
    folder, content = archive

    def failing(*args):
        raise OSError("No space left on device")

    monkeypatch.setattr(downloads, "write_downloads", failing)
    file_month(content, "2024-08", [ANSWERED_104])
    with pytest.raises(OSError, match="No space left on device"):
        build(folder, content)


def test_a_correction_that_drops_a_citation_rewrites_the_page_it_cited(archive, tmp_path):
    folder, content = archive
    before = {stage: stamps(folder / stage) for stage in ("pages", "site")}
    corrected = dict(ANSWERED_102, answerIsCorrection=True,
                     dateAnswerCorrected="2024-08-08T00:00:00", correctingMemberId=4399,
                     originalAnswerText=CITING_ANSWER,
                     answerText="<p>The prison estate holds 88,000 places.</p>")
    file_month(content, "2024-08", [corrected])

    pages_report, site_report = build(folder, content)

    # 101 is no longer cited by 102: its "Cited by" list goes, though its own row is the same.
    assert sorted(pages_report.written) == [Q101 + "index.md", Q102 + "index.md"]
    assert "cited_by" not in (folder / "pages" / Q101 / "index.md").read_text()
    assert question_files(site_report.written) == {
        Q101 + "index.html", Q101 + "index.json", Q102 + "index.html", Q102 + "index.json"}
    assert question_files(touched(before["site"], stamps(folder / "site"))) == question_files(
        site_report.written)
    assert "88,000 places" in (folder / "site" / Q102 / "index.html").read_text()
    assert_same_as_clean_build(folder, tmp_path)


def test_a_page_changed_for_its_neighbour_keeps_its_sitemap_part(tmp_path, monkeypatch):
    """Only a question whose own row changed can enter the sitemap or change its date there: a
    neighbour's page is rendered again, its month's sitemap part is not made again."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")
    monkeypatch.setattr(sitemap, "SITEMAP_LIMIT", 4)  # parts by month, as in a large archive
    folder, content = tmp_path / "build", make_archive(tmp_path)
    # Tabled in 2023, answered just before 104 will be: 104's neighbour once it is answered.
    file_month(content, "2023-12", [question(99, "2023-12-20", HOME_OFFICE, "Border Force",
                                             "2024-08-08", "<p>Staff numbers rose.</p>")])
    build(folder, content)
    made = []
    render = sitemap.render
    monkeypatch.setattr(sitemap, "render", lambda output, env, name, entries: (
        made.append(name), render(output, env, name, entries)))
    file_month(content, "2024-08", [ANSWERED_104])

    _, site_report = build(folder, content)

    assert url(99, "2023-12-20") + "index.html" in site_report.written  # its "Next" is 104 now
    assert [name for name in made if "2023" in name] == []
    assert any("2024-08" in name for name in made)
    assert_same_as_clean_build(folder, tmp_path)


def test_pages_gone_are_told_by_the_counts_and_every_url_is_read_only_when_they_disagree(archive, monkeypatch):
    """A database of the same lineage never loses a question, and a new question is in the
    change set: with the counts agreeing, no question page is gone and not every question's url
    is read. A database that did lose one (as no build makes) is still caught, by every url."""
    folder, content = archive
    file_month(content, "2024-08", [question(106, "2024-08-03", HOME_OFFICE, "Borders")])
    build_database([content], folder / "answers.db")
    read_every_url = []
    question_urls = queries.question_urls
    monkeypatch.setattr(queries, "question_urls", lambda db: read_every_url.append(db) or question_urls(db))
    manifest = PageManifest(page_manifest_path(folder / "site"), site.site_code_version(CONFIG),
                            site.is_manifest_entry)
    manifest.open()
    db = sqlite_utils.Database(folder / "answers.db")
    new = url(106, "2024-08-03")
    assert site.pages_gone(db, manifest, {new}) == ([], set()) and not read_every_url
    [(key_105,)] = db.execute("select key from questions where url = ?", [Q105]).fetchall()
    db["questions"].delete(key_105)
    assert site.pages_gone(db, manifest, {new}) == ([Q105], set()) and read_every_url
    manifest.close()
    db.close()


def test_the_listings_load_only_those_of_the_questions_whose_rows_changed(archive, tmp_path, monkeypatch):
    """A new answer changes the pages of its neighbours (their "Previous" and "Next" links), but
    not what a listing shows of them: only the listings of the answered question are loaded."""
    folder, content = archive
    loaded = []
    items_of = listings.items_of
    monkeypatch.setattr(listings, "items_of", lambda db, reference, owners, *places: (
        loaded.extend(owners), items_of(db, reference, owners, *places))[1])
    file_month(content, "2024-08", [ANSWERED_104])

    _, site_report = build(folder, content)

    assert Q105 + "index.html" in site_report.written  # its "Previous" is 104 now
    assert "day:2024-08-07" not in loaded  # 105's day: none of its listings changed
    assert {"day:2024-08-01", "day:2024-08-09", "body:Home Office"} <= set(loaded)  # 104's, before and after
    assert_same_as_clean_build(folder, tmp_path)


def test_a_new_heading_rewrites_the_questions_grouped_with_it(archive, tmp_path):
    folder, content = archive
    renamed = question(202, "2024-08-01", TREASURY, "Taxation: Road Fuel", "2024-08-06",
                       "<p>Duty is frozen.</p>", groupedQuestions=["201"],
                       dateAnswerCorrected="2024-08-09T00:00:00", answerIsCorrection=True)
    file_month(content, "2024-08", [renamed])

    pages_report, site_report = build(folder, content)

    assert sorted(pages_report.written) == [Q201 + "index.md", Q202 + "index.md"]
    assert "Taxation: Road Fuel" in (folder / "pages" / Q201 / "index.md").read_text()
    assert {Q201 + "index.html", Q202 + "index.html"} <= question_files(site_report.written)
    assert_same_as_clean_build(folder, tmp_path)


def test_nothing_new_writes_nothing_and_reads_no_page(archive, monkeypatch):
    folder, content = archive
    before = {stage: stamps(folder / stage) for stage in ("pages", "site")}

    def no_reading(*args, **kwargs):
        raise AssertionError("a build with nothing new read a page")

    monkeypatch.setattr(pages, "write_page", no_reading)
    monkeypatch.setattr(site, "is_up_to_date", no_reading)
    pages_report, site_report = build(folder, content)

    assert pages_report.written == [] and pages_report.skipped == 7
    assert site_report.written == [] and site_report.removed == []
    assert site_report.downloads is None  # the same database: its downloads stand
    for stage in ("pages", "site"):
        assert touched(before[stage], stamps(folder / stage)) == set(), stage


def test_a_file_edited_by_hand_is_left_to_verify_which_repairs_it(archive):
    folder, content = archive
    page, twin = folder / "site" / Q105 / "index.html", folder / "site" / Q105 / "index.json"
    markdown = folder / "pages" / Q101 / "index.md"
    download = folder / "site" / "downloads" / "members.csv"
    originals = page.read_bytes(), markdown.read_bytes(), download.read_bytes()
    page.write_bytes(originals[0] + b"<!-- edited by hand -->")
    markdown.write_bytes(b"---\nedited: by hand\n---\n")
    twin.unlink()
    status = download.stat()  # a download edited with its size and time kept: only its bytes tell
    download.write_bytes(b"x" * status.st_size)
    os.utime(download, ns=(status.st_atime_ns, status.st_mtime_ns))

    build(folder, content)
    assert page.read_bytes().endswith(b"<!-- edited by hand -->") and not twin.exists()
    assert download.read_bytes() == b"x" * status.st_size

    result = CliRunner().invoke(cli, ["verify", "--db", str(folder / "answers.db"),
                                      "--pages", str(folder / "pages"),
                                      "--out", str(folder / "site"), "--no-search",
                                      "--base-url", CONFIG.base_url])
    assert result.exit_code == 0, result.output
    assert (page.read_bytes(), markdown.read_bytes(), download.read_bytes()) == originals and twin.is_file()
    repaired = sorted(line.split("repaired: ")[1] for line in result.output.splitlines()
                      if "repaired: " in line)
    assert repaired == sorted([str(markdown), str(page), str(twin), str(download)])
    again = CliRunner().invoke(cli, ["verify", "--db", str(folder / "answers.db"),
                                     "--pages", str(folder / "pages"),
                                     "--out", str(folder / "site"), "--no-search",
                                     "--base-url", CONFIG.base_url])
    assert "Verified: every file is as the build wrote it." in again.output


def test_a_database_built_afresh_means_everything(archive):
    "A new lineage (the database rebuilt or replaced): every page is checked, none trusted."
    folder, content = archive
    os.remove(folder / "answers.db")
    pages_report, site_report = build(folder, content)
    assert pages_report.skipped == 7 and pages_report.unchanged == 7  # each file re-hashed
    assert site_report.skipped == 7 and site_report.unchanged >= 14
    assert pages_report.written == [] and question_files(site_report.written) == set()


def test_the_latest_date_is_the_timeliness_query_s(archive):
    folder, _ = archive
    with sqlite_utils.Database(folder / "answers.db") as db:
        assert changes.latest_date(db) == queries.timeliness_as_of(db) == "2024-08-07"


def test_a_moved_latest_date_rewrites_the_pages_whose_status_it_turns(archive, tmp_path):
    "A question due on 10 August is past due once the archive's latest date passes it."
    folder, content = archive
    q107 = url(107, "2024-08-07")
    file_month(content, "2024-08", [question(107, "2024-08-07", TREASURY, "Pensions",
                                             dateForAnswer="2024-08-10T00:00:00")])
    build(folder, content)
    assert "not yet due" in (folder / "pages" / q107 / "index.md").read_text()

    file_month(content, "2024-08", [question(106, "2024-08-10", TREASURY, "Banks",
                                             "2024-08-12", "<p>Yes.</p>")])
    pages_report, _ = build(folder, content)
    assert q107 + "index.md" in pages_report.written  # its row is the same; its status is not
    assert "past due" in (folder / "pages" / q107 / "index.md").read_text()
    assert_same_as_clean_build(folder, tmp_path)


def test_a_first_build_takes_its_pages_from_the_database_and_makes_what_a_walk_of_them_makes(tmp_path, monkeypatch):
    """`answers build` into empty folders: the pages stage has just written every question's page
    into a folder that held nothing, so the site stage knows the pages from the database instead
    of walking their folders; the site stage run alone over the same pages walks them, and makes
    the very same files."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")
    folder, content = tmp_path / "build", make_archive(tmp_path)
    walked = []
    markdown_pages = site.markdown_pages
    monkeypatch.setattr(site, "markdown_pages", lambda pages_dir: walked.append(pages_dir) or markdown_pages(pages_dir))
    result = CliRunner().invoke(cli, ["build", str(content), "--db", str(folder / "answers.db"),
                                      "--pages", str(folder / "pages"), "--out", str(folder / "site"),
                                      "--no-search", "--workers", "1", "--base-url", CONFIG.base_url])
    assert result.exit_code == 0, result.output
    assert walked == [] and "7 question pages (7 rendered" in result.output
    site.build_site(folder / "answers.db", folder / "pages", tmp_path / "walked", CONFIG, workers=1)
    assert walked == [folder / "pages"]
    assert files_of(folder / "site") == files_of(tmp_path / "walked")


def test_the_member_files_are_parsed_once_and_again_only_when_they_change(archive, tmp_path, monkeypatch):
    """`answers build --members`: the member reference files are parsed when the database is
    built afresh with them; a later build with records to resolve reads the directory back from
    the file beside the database, one with nothing new reads neither, and a changed reference
    file is parsed again (and the database built afresh)."""
    folder, content = archive
    members = tmp_path / "members"
    shutil.copytree(MEMBERS, members)
    loads = []
    load = MemberDirectory.load.__func__

    def counted_load(cls, paths):
        loads.append(paths)
        return load(cls, paths)

    monkeypatch.setattr(MemberDirectory, "load", classmethod(counted_load))
    arguments = ["build", str(content), "--db", str(folder / "answers.db"),
                 "--members", str(members), "--pages", str(folder / "pages"),
                 "--out", str(folder / "site"), "--no-search", "--workers", "1",
                 "--base-url", CONFIG.base_url]

    def build_with_members() -> str:
        result = CliRunner().invoke(cli, arguments)
        assert result.exit_code == 0, result.output
        return result.output

    assert "Built afresh" in build_with_members()  # new member files: parsed, and kept
    assert len(loads) == 1 and (folder / "answers.db.members.json").is_file()
    build_with_members()
    assert len(loads) == 1  # nothing new: not read
    file_month(content, "2024-08", [ANSWERED_104])
    build_with_members()
    assert len(loads) == 1  # read back from the file beside the database
    with sqlite_utils.Database(folder / "answers.db") as db:  # named from the member files
        answerer = db.execute("select m.name from questions q join members m "
                              "on m.id = q.answering_member_id where q.uin = '104'").fetchone()
    assert answerer and answerer[0] and not answerer[0].isdigit()
    lookup = members / "dfe-mp-lookup" / "mp_lookup.csv"
    lookup.write_bytes(lookup.read_bytes() + b"\n")
    assert "Built afresh" in build_with_members()
    assert len(loads) == 2  # a changed file is parsed again
