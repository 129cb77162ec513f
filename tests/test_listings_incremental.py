"""Listings given the questions that changed: only the listing pages and sitemap parts that
show one are written, a question that moves leaves one listing and enters another, a listing
left empty is removed, and the result is what a full build makes, byte for byte."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from answers import listing_record, listings, queries, sitemap, urls
from listings_archive import (
    ASKER,
    EDUCATION,
    HOME_OFFICE,
    LONE_ASKER,
    MINISTER,
    OTHER_MINISTER,
    add,
    files_of,
    make_archive,
    question,
    write,
)

EDUCATION_URL = "bodies/department-for-education/"
HOME_OFFICE_URL = "bodies/home-office/"


@pytest.fixture
def archive(tmp_path):
    db = make_archive(tmp_path / "answers.db")
    write(db, tmp_path / "site")
    yield db
    db.close()


def pages_of(paths) -> set[str]:
    "Page urls from the files written (each page is an index.html and an index.json)."
    return {path.rsplit("index.", 1)[0] for path in paths if path.endswith(("index.html", "index.json"))}


def assert_same_as_a_full_build(db, tmp_path):
    write(db, tmp_path / "full")
    incremental, full = files_of(tmp_path / "site"), files_of(tmp_path / "full")
    assert sorted(incremental) == sorted(full)
    assert [path for path in full if incremental[path] != full[path]] == []


def test_one_new_answer_writes_exactly_the_pages_that_show_it(archive, tmp_path):
    keys = add(archive, question(500, "2024-07-11", HOME_OFFICE, heading="Police"))

    report, output = write(archive, tmp_path / "site", keys)

    asker, minister = urls.member_url(ASKER.id, ASKER.name), urls.member_url(OTHER_MINISTER.id, OTHER_MINISTER.name)
    assert pages_of(output.written) == {
        "days/2024/07/11/", "days/2024/07/", "days/2024/", "days/",  # its day, and the calendar's counts
        HOME_OFFICE_URL, "bodies/",  # its body's newest page, and the count of the body's questions
        asker, asker + "asked/", minister, minister + "answered/", "members/",
        "headings/police/", "headings/_letters/p/", "headings/",
        "", "about/",  # home and About: the archive's figures
    }
    assert set(output.written) - {p for p in output.written if p.endswith((".html", ".json"))} == {"sitemap.xml"}
    assert report.removed == [] and report.question_urls == ["commons/2024-07-11/500/"]
    assert_same_as_a_full_build(archive, tmp_path)


def test_nothing_changed_writes_nothing(archive, tmp_path):
    report, output = write(archive, tmp_path / "site", set())
    assert output.written == [] and report.removed == []


def test_older_pages_keep_their_bytes_and_a_new_page_starts_once_the_newest_is_full(archive, tmp_path):
    "Education has 100 answers, two full pages: the 101st starts a third."
    before = files_of(tmp_path / "site")
    first = json.loads(before[EDUCATION_URL + "page/1/index.json"])
    assert (first["page"], first["first"], first["last"]) == (1, 1, 50) and "total" not in first
    newest = json.loads(before[EDUCATION_URL + "index.json"])
    assert (newest["page"], newest["pages"], newest["total"], len(newest["items"])) == (2, 2, 100, 50)
    assert "http-equiv=\"refresh\"" in before[EDUCATION_URL + "page/2/index.html"].decode()

    keys = add(archive, question(501, "2024-07-11"))
    _, output = write(archive, tmp_path / "site", keys)

    body_pages = {url for url in pages_of(output.written) if url.startswith(EDUCATION_URL)}
    # The listing's url (now one item), page 2 (now the full page it was showing), page 3 (forwarding).
    assert body_pages == {EDUCATION_URL, EDUCATION_URL + "page/2/", EDUCATION_URL + "page/3/"}
    after = files_of(tmp_path / "site")
    assert after[EDUCATION_URL + "page/1/index.html"] == before[EDUCATION_URL + "page/1/index.html"]
    newest = json.loads(after[EDUCATION_URL + "index.json"])
    assert [item["url"] for item in newest["items"]] == ["https://answers.example.org/commons/2024-07-11/501/"]
    assert newest["next"] == "https://answers.example.org/" + EDUCATION_URL + "page/2/index.json"
    second = json.loads(after[EDUCATION_URL + "page/2/index.json"])
    assert second["previous"] == "https://answers.example.org/" + EDUCATION_URL + "page/3/index.json"
    assert json.loads(after[EDUCATION_URL + "page/3/index.json"])["moved_to"] == (
        "https://answers.example.org/" + EDUCATION_URL + "index.json")

    # The next answer rewrites the listing's url alone.
    keys = add(archive, question(502, "2024-07-11"))
    _, output = write(archive, tmp_path / "site", keys)
    assert {url for url in pages_of(output.written) if url.startswith(EDUCATION_URL)} == {EDUCATION_URL}
    assert_same_as_a_full_build(archive, tmp_path)


def test_every_page_number_a_listing_had_still_answers(archive, tmp_path):
    "Before, pages were numbered from the newest: 2 to the count. Each still holds a page."
    site = tmp_path / "site"
    for url, total in [(EDUCATION_URL, 100), (urls.member_url(ASKER.id, ASKER.name) + "asked/", 107)]:
        count = -(-total // listings.PAGE_SIZE)
        for number in range(2, count + 1):
            assert (site / urls.page_url(url, number) / "index.html").is_file(), (url, number)


def test_a_full_build_holds_one_page_of_a_growing_listing_at_a_time(tmp_path, monkeypatch):
    """A body's, a day's and a heading's listings grow with the archive: a full build reads each
    a page at a time, and writes the very files it would write from whole lists."""
    read, real = [], queries.grouped_listing_pages

    def recorded(db, snippet, kind, owners, page_size):
        for found in real(db, snippet, kind, owners, page_size):
            read.append((kind, found[0], len(found[3])))
            yield found

    monkeypatch.setattr(queries, "grouped_listing_pages", recorded)
    db = make_archive(tmp_path / "answers.db")
    write(db, tmp_path / "site")
    paged = [(kind, owner, rows) for kind, owner, rows in read if kind != "member"]
    assert {kind for kind, _, _ in paged} == {"body", "day", "heading"}
    assert max(rows for _, _, rows in paged) == listings.PAGE_SIZE
    assert [rows for kind, owner, rows in paged if owner == EDUCATION] == [50, 50]  # 100 questions, two reads
    # Page 1 the 50 oldest, by the day answered (or tabled) and then the key; the listing's own url the rest.
    oldest_first = ["https://answers.example.org/" + row["url"] for row in sorted(
        db.query("select url, key, coalesce(date_answered, date_tabled, '') as day from questions "
                 "where answering_body = ?", [EDUCATION]), key=lambda row: (row["day"], row["key"]))]
    for page, shown in [("page/1/", oldest_first[:50]), ("", oldest_first[50:])]:
        twin = json.loads((tmp_path / "site" / EDUCATION_URL / page / "index.json").read_text())
        assert [item["url"] for item in twin["items"]] == shown[::-1]
    monkeypatch.setattr(listings, "PAGED_KINDS", ())  # every listing read whole
    write(db, tmp_path / "whole")
    assert files_of(tmp_path / "site") == files_of(tmp_path / "whole")
    db.close()


def test_a_question_moved_to_another_body_leaves_one_listing_and_enters_the_other(archive, tmp_path):
    moved = next(archive.query("select key, url from questions where answering_body = ? order by key",
                               [EDUCATION]))
    archive.execute("update questions set answering_body = ? where key = ?", [HOME_OFFICE, moved["key"]])
    archive.conn.commit()

    _, output = write(archive, tmp_path / "site", {moved["key"]})

    site = tmp_path / "site"

    def listed(body_url):
        return {item["url"] for path in (site / body_url).rglob("index.json")
                for item in json.loads(path.read_text()).get("items", [])}

    address = "https://answers.example.org/" + moved["url"]
    assert address not in listed(EDUCATION_URL) and address in listed(HOME_OFFICE_URL)
    assert {EDUCATION_URL, HOME_OFFICE_URL} <= pages_of(output.written)
    assert_same_as_a_full_build(archive, tmp_path)


def test_a_listing_left_empty_is_removed(archive, tmp_path):
    "The lone asker's only question goes: their page and listings go with it, and the heading's."
    site = tmp_path / "site"
    lone = urls.member_url(LONE_ASKER.id, LONE_ASKER.name)
    [gone] = [row["key"] for row in archive.query("select key from questions where asking_member_id = ?",
                                                  [LONE_ASKER.id])]
    assert (site / lone / "asked" / "index.html").is_file() and (site / "headings/visas/index.html").is_file()
    archive.execute("delete from questions where key = ?", [gone])
    archive.conn.commit()

    report, _ = write(archive, site, {gone})

    for url in (lone, lone + "asked/", lone + "answered/", "headings/visas/", "headings/_letters/v/"):
        assert not (site / url).exists(), url
        assert urls.html_file(url) in report.removed
    assert (site / urls.member_url(MINISTER.id, MINISTER.name) / "index.html").is_file()
    assert_same_as_a_full_build(archive, tmp_path)


def test_without_a_record_of_the_last_build_every_listing_is_rendered(archive, tmp_path):
    "A build stopped half way, or by other code, leaves no record the next build can trust."
    listing_record.record_path(tmp_path / "site").unlink()
    (tmp_path / "site" / EDUCATION_URL / "page" / "1" / "index.html").write_text("left by another hand")
    keys = add(archive, question(503, "2024-07-11"))

    _, output = write(archive, tmp_path / "site", keys)

    assert EDUCATION_URL + "page/1/index.html" in output.written
    assert_same_as_a_full_build(archive, tmp_path)


def test_a_renamed_member_renders_every_listing(archive, tmp_path):
    "Every listing item names its asker: a member's new name reaches all of them."
    archive.execute("update members set name = 'Ann Asker-Smith' where id = ?", [ASKER.id])
    archive.conn.commit()
    write(archive, tmp_path / "site", set())
    assert "Ann Asker-Smith" in (tmp_path / "site" / HOME_OFFICE_URL / "index.html").read_text()
    assert_same_as_a_full_build(archive, tmp_path)


def test_only_the_sitemap_part_of_a_new_question_is_written(archive, tmp_path, monkeypatch):
    "Parts by month: a new question of July 2024 leaves the listings' part and other months' as they are."
    monkeypatch.setattr(sitemap, "SITEMAP_LIMIT", 60)
    add(archive, question(600, "2023-03-01"))
    write(archive, tmp_path / "site")
    site = tmp_path / "site"
    assert sorted(path.name for path in site.glob("sitemap*.xml")) == [
        "sitemap-commons-2023-03.xml", "sitemap-commons-2024-07-1.xml", "sitemap-commons-2024-07-2.xml",
        "sitemap-listings.xml", "sitemap.xml"]

    # On a day, body, member and heading listed already, and starting no new page.
    keys = add(archive, question(504, "2024-07-10", HOME_OFFICE, heading="Police"))
    _, output = write(archive, site, keys)

    assert sorted(path for path in output.written if path.endswith(".xml")) == ["sitemap-commons-2024-07-2.xml"]
    assert "commons/2024-07-10/504/" in (site / "sitemap-commons-2024-07-2.xml").read_text()
    assert_same_as_a_full_build(archive, tmp_path)


def test_each_sitemap_part_read_as_a_range_of_urls_holds_exactly_its_questions(archive):
    "Every question is read in exactly one part, whatever its url, month or not."
    for number, url in enumerate(["commons/2024-13-45/7/", "no-house-2024-07/1/", "2024-07/x/", "lords/2024-07-0/",
                                  "commons/2024-0", "commons/2024-07\u00e9/", "2024-07-05", "2024-07-05/", "",
                                  None]):
        archive["questions"].insert({"key": f"odd-{number}", "url": url, "date_tabled": "2024-07-01"})
    every = [tuple(row.values()) for row in queries.sitemap_rows(archive)]
    parts = queries.sitemap_part_sizes(archive)
    assert parts == dict(archive.execute(
        f"select {queries.SITEMAP_PART}, count(*) from questions group by 1").fetchall())
    assert {"commons/2024-07", "commons/2024-13", "lords/2024-07", "other"} <= set(parts)
    read = {part: [tuple(row.values()) for row in queries.sitemap_rows(archive, part)] for part in parts}
    assert {part: len(rows) for part, rows in read.items()} == parts
    assert Counter(row for rows in read.values() for row in rows) == Counter(every)


def test_a_later_latest_date_reaches_every_body_whose_figures_it_changes(archive, tmp_path, monkeypatch):
    "An Education question falls past due when a Home Office answer moves the archive's latest date."
    waiting = question(700, "2024-07-09")
    waiting.date_answered, waiting.answer_html, waiting.date_for_answer = None, None, "2024-07-12"
    add(archive, waiting)
    write(archive, tmp_path / "site")
    front = tmp_path / "site" / EDUCATION_URL / "index.html"
    past_due_then_not_yet_due = "<td>{}</td><td>{}</td>"  # two cells of the body's timeliness table
    assert past_due_then_not_yet_due.format(0, 1) in front.read_text()

    runs, tallies = figures_read(monkeypatch), tallies_read(monkeypatch)
    keys = add(archive, question(505, "2024-07-15", HOME_OFFICE, heading="Police"))
    _, output = write(archive, tmp_path / "site", keys)

    # Not every figure worked out again: those of the bodies and months of the questions due
    # between the two dates, besides those of the new answer's.
    assert ("", "") not in runs and "" not in tallies and (EDUCATION, "") in runs
    assert_figures_kept_as_the_query_gives_them(archive, tmp_path)
    assert EDUCATION_URL + "index.html" in output.written
    assert past_due_then_not_yet_due.format(1, 0) in front.read_text()
    # Only the newest page of a body shows its figures: no older page is rendered for them
    # (the one file rendered to the same bytes is that page's JSON, which has no figures).
    rendered = {Path(path).relative_to(tmp_path / "site").as_posix() for path in output.seen}
    assert rendered - set(output.written) == {EDUCATION_URL + "index.json"}
    assert_same_as_a_full_build(archive, tmp_path)


def test_a_body_none_of_whose_questions_changed_reads_only_its_newest_page(archive, tmp_path, monkeypatch):
    """When the latest date moves, a body's figures may change but not its questions: only the
    items of its newest page are read, and its older pages are kept as they are."""
    waiting = question(700, "2024-07-09")
    waiting.date_answered, waiting.answer_html, waiting.date_for_answer = None, None, "2024-07-12"
    add(archive, waiting)
    write(archive, tmp_path / "site")
    older = tmp_path / "site" / EDUCATION_URL / "page" / "2" / "index.html"
    older_before = (older.read_bytes(), older.stat().st_mtime_ns)
    read = []
    listing_rows = queries.listing_rows

    def counted(db, snippet, kind="all", value=None, limit=-1, offset=0):
        rows = list(listing_rows(db, snippet, kind, value, limit, offset))
        read.append((kind, value, len(rows)))
        return rows

    monkeypatch.setattr(queries, "listing_rows", counted)
    keys = add(archive, question(505, "2024-07-15", HOME_OFFICE, heading="Police"))
    write(archive, tmp_path / "site", keys)

    # Education holds 101 questions: two full pages and a newest page of one.
    assert [(kind, rows) for kind, value, rows in read if value == EDUCATION] == [("body", 1)]
    assert "<td>1</td><td>0</td>" in (tmp_path / "site" / EDUCATION_URL / "index.html").read_text()
    assert (older.read_bytes(), older.stat().st_mtime_ns) == older_before
    assert_same_as_a_full_build(archive, tmp_path)


def test_an_output_folder_made_afresh_gets_every_listing(archive, tmp_path):
    "The site folder was deleted but not the record beside it: the record vouches for nothing."
    shutil.rmtree(tmp_path / "site")
    keys = add(archive, question(506, "2024-07-11"))

    write(archive, tmp_path / "site", keys)

    assert (tmp_path / "site" / EDUCATION_URL / "page" / "1" / "index.html").is_file()
    assert_same_as_a_full_build(archive, tmp_path)


def test_a_full_build_that_changes_nothing_leaves_the_record_alone(archive, tmp_path):
    "Running the stages again over an unchanged build writes nothing, the record beside it included."
    record = listing_record.record_path(tmp_path / "site")
    before = (record.read_bytes(), record.stat().st_mtime_ns)

    report, output = write(archive, tmp_path / "site")

    assert output.written == [] and report.removed == []
    assert (record.read_bytes(), record.stat().st_mtime_ns) == before


def test_many_listings_to_load_are_read_at_once_with_the_same_result(archive, tmp_path, monkeypatch):
    "Past a number of listings one read of every question replaces a query per listing."
    monkeypatch.setattr(listings, "ONE_READ_OWNERS", 0)
    moved = next(archive.query("select key from questions where answering_body = ? order by key",
                               [HOME_OFFICE]))["key"]
    archive.execute("update questions set answering_body = ?, heading = 'Visas' where key = ?",
                    [EDUCATION, moved])
    archive.conn.commit()
    keys = add(archive, question(507, "2024-07-11"), question(508, "2024-06-30", HOME_OFFICE))

    _, output = write(archive, tmp_path / "site", keys | {moved})

    assert {EDUCATION_URL, HOME_OFFICE_URL, "headings/visas/", "days/2024/06/30/"} <= pages_of(output.written)
    assert_same_as_a_full_build(archive, tmp_path)


def assert_figures_kept_as_the_query_gives_them(db, tmp_path) -> None:
    record = listing_record.ListingRecord(listing_record.record_path(tmp_path / "site"), "")
    assert record.meta("figures") == queries.timeliness_figures(db)
    assert record.meta("tallies") == queries.timeliness_tallies(db)
    record.close()


def tallies_read(monkeypatch) -> list[str]:
    "The month of each count of the archive's tallies from now on ('': every month)."
    months = []
    timeliness_tallies = queries.timeliness_tallies

    def counted(db, month=""):
        months.append(month)
        return timeliness_tallies(db, month)

    monkeypatch.setattr(queries, "timeliness_tallies", counted)
    return months


def figures_read(monkeypatch) -> list[tuple[str, str]]:
    "The (body, month) of each run of the timeliness query from now on ('', '': all figures)."
    runs = []
    timeliness_figures = queries.timeliness_figures

    def counted(db, body="", month=""):
        runs.append((body, month))
        return timeliness_figures(db, body, month)

    monkeypatch.setattr(queries, "timeliness_figures", counted)
    return runs


def due_questions(archive, tmp_path) -> None:
    "Two Education questions and one Home Office question that count in the figures (a date for answer)."
    for number, body, due in [(800, EDUCATION, "2024-07-08"), (801, EDUCATION, "2024-06-28"),
                              (802, HOME_OFFICE, "2024-07-08")]:
        counted = question(number, "2024-07-05", body)
        counted.date_for_answer = due
        add(archive, counted)
    write(archive, tmp_path / "site")


def test_a_late_answer_works_out_again_only_the_figures_of_its_body_and_month(archive, tmp_path, monkeypatch):
    due_questions(archive, tmp_path)
    runs, tallies = figures_read(monkeypatch), tallies_read(monkeypatch)
    later = question(800, "2024-07-10")  # answered two days after its date for answer
    later.date_for_answer = "2024-07-08"
    keys = add(archive, later)

    _, output = write(archive, tmp_path / "site", keys)

    # The archive's figures come from the tallies, those of the answer's month counted again.
    assert runs == [(EDUCATION, "")] and tallies == ["2024-07"]
    assert {urls.TIMELINESS, EDUCATION_URL} <= pages_of(output.written)
    assert_figures_kept_as_the_query_gives_them(archive, tmp_path)
    assert_same_as_a_full_build(archive, tmp_path)


def test_a_change_the_figures_do_not_read_keeps_them_without_a_query(archive, tmp_path, monkeypatch):
    "A corrected answer's text leaves every figure as it was: the query is not run."
    due_questions(archive, tmp_path)
    runs = figures_read(monkeypatch)
    archive.execute("update questions set answer_html = '<p>Corrected.</p>', answer_text = 'Corrected.' "
                    "where key = ?", ["commons-2024-07-05-801"])
    archive.conn.commit()

    _, output = write(archive, tmp_path / "site", {"commons-2024-07-05-801"})

    assert runs == [] and urls.TIMELINESS not in pages_of(output.written)
    assert_same_as_a_full_build(archive, tmp_path)


def test_a_question_that_leaves_a_body_works_out_the_figures_of_both(archive, tmp_path, monkeypatch):
    due_questions(archive, tmp_path)
    runs, tallies = figures_read(monkeypatch), tallies_read(monkeypatch)
    archive.execute("update questions set answering_body = ?, date_for_answer = '2024-08-01' where key = ?",
                    [HOME_OFFICE, "commons-2024-07-05-801"])
    archive.conn.commit()

    write(archive, tmp_path / "site", {"commons-2024-07-05-801"})

    assert sorted(runs) == [(EDUCATION, ""), (HOME_OFFICE, "")] and sorted(tallies) == ["2024-06", "2024-08"]
    assert_figures_kept_as_the_query_gives_them(archive, tmp_path)
    assert_same_as_a_full_build(archive, tmp_path)


def rows_read(monkeypatch, listing_kind: str = "body") -> list[tuple[str, int]]:
    "The (value, rows) of each read of a listing of this kind of LISTING_FILTERS from now on."
    read = []
    listing_rows = queries.listing_rows

    def counted(db, snippet, kind="all", value=None, limit=-1, offset=0):
        rows = list(listing_rows(db, snippet, kind, value, limit, offset))
        if kind == listing_kind:
            read.append((value, len(rows)))
        return rows

    monkeypatch.setattr(queries, "listing_rows", counted)
    return read


def test_a_new_answer_reads_a_body_listing_only_from_the_page_it_can_alter(archive, tmp_path, monkeypatch):
    "Education holds two full pages: the 101st answer, the newest, leaves the first as it was."
    read = rows_read(monkeypatch)
    keys = add(archive, question(509, "2024-07-11"))

    _, output = write(archive, tmp_path / "site", keys)

    assert read == [(EDUCATION, 51)]  # the second page and the new newest
    assert EDUCATION_URL + "page/1/index.html" not in {Path(path).relative_to(tmp_path / "site").as_posix()
                                                        for path in output.seen}
    assert_same_as_a_full_build(archive, tmp_path)


def test_a_new_answer_reads_its_members_listings_only_from_the_pages_it_can_alter(archive, tmp_path, monkeypatch):
    """The minister's 101st answer, the newest, reads only the second page and the new newest of
    the answers, its asker's 108th question only the newest page of the questions asked (and the
    newest ten, which the member's page shows): the full pages before are kept, their items not read."""
    asked, answered = rows_read(monkeypatch, "asked"), rows_read(monkeypatch, "answered")
    keys = add(archive, question(509, "2024-07-11"))

    _, output = write(archive, tmp_path / "site", keys)

    assert sorted(asked) == [(ASKER.id, 8), (ASKER.id, 10), (MINISTER.id, 0)]  # and the newest ten, for the page
    assert sorted(answered) == [(ASKER.id, 0), (MINISTER.id, 51)]
    minister = urls.member_url(MINISTER.id, MINISTER.name)
    written = pages_of(output.written)
    assert {minister, minister + "answered/", minister + "answered/page/2/", minister + "answered/page/3/"} <= written
    assert minister + "answered/page/1/" not in written
    assert_same_as_a_full_build(archive, tmp_path)


@pytest.mark.parametrize(("day", "new_day", "first_page_kept"), [
    ("2024-07-10", None, True),  # removed from the second page
    ("2024-07-10", "2024-07-09", True),  # moved back within the second page
    ("2024-07-02", "2024-07-10", False),  # moved from the first page to the second
    ("2024-07-10", "2024-07-02", False),  # moved from the second page to the first
])
def test_a_question_moved_or_removed_within_a_body_renders_its_pages_from_its_place_on(
        archive, tmp_path, monkeypatch, day, new_day, first_page_kept):
    """The pages older than the question's place, before and after, are kept and their items
    not even read; the rest are as a full build makes them."""
    read = rows_read(monkeypatch)
    key = next(archive.query("select key from questions where answering_body = ? and date_answered = ? "
                             "order by key", [EDUCATION, day]))["key"]
    if new_day is None:
        archive.execute("delete from questions where key = ?", [key])
    else:
        archive.execute("update questions set date_answered = ? where key = ?", [new_day, key])
    archive.conn.commit()

    _, output = write(archive, tmp_path / "site", {key})

    total = 99 if new_day is None else 100
    assert read == [(EDUCATION, total - listings.PAGE_SIZE if first_page_kept else total)]
    written = {Path(path).relative_to(tmp_path / "site").as_posix() for path in output.seen}
    assert (EDUCATION_URL + "page/1/index.html" not in written) == first_page_kept
    assert_same_as_a_full_build(archive, tmp_path)


def test_a_heading_page_is_named_by_its_most_used_spelling_then_the_first_alphabetically():
    counts = {"Schools: Finance": 3, "schools finance": 5, "Schools Finance": 5, "Visas": 1, None: 9}
    index = listings.count_headings(listings.Reference(members={}, bodies={}, heading_counts=counts))
    assert index == {"schools-finance": {"name": "Schools Finance", "count": 13},
                     "visas": {"name": "Visas", "count": 1}}


def test_a_build_slugs_only_the_headings_it_has_not_slugged_before(archive, tmp_path, monkeypatch):
    slugged, slug = [], urls.heading_slug

    def counted(heading):
        slugged.append(heading)
        return slug(heading)

    monkeypatch.setattr(listings.urls, "heading_slug", counted)
    keys = add(archive, question(500, "2024-07-11", HOME_OFFICE, heading="Passports"),
               question(501, "2024-07-11", HOME_OFFICE, heading="Police"))

    write(archive, tmp_path / "site", keys)

    assert slugged == ["Passports"]
    monkeypatch.undo()
    assert_same_as_a_full_build(archive, tmp_path)


def test_changes_count_again_only_their_own_headings_and_the_index_stays_as_a_full_build_counts_it(
        archive, tmp_path, monkeypatch):
    """The headings' index is kept from build to build: each change counts again only the
    headings its questions had and have, never every question's. Spelled another way, a
    heading's new questions turn its name once they are the most used spelling; a heading
    whose last question leaves is gone from the index and its letter."""
    counted, count_by = [], queries.count_by
    monkeypatch.setattr(queries, "count_by", lambda db, column: counted.append(column) or count_by(db, column))
    changes = [add(archive, *[question(500 + n, "2024-07-11", HOME_OFFICE, heading="police") for n in range(6)]),
               add(archive, *[question(510 + n, "2024-07-12", HOME_OFFICE, heading="police") for n in range(2)]),
               add(archive, question(520, "2024-07-12", HOME_OFFICE, heading="Zoos"))]
    visas = archive.execute("select key from questions where heading = 'Visas'").fetchone()[0]
    archive["questions"].update(visas, {"heading": "Zoos"})
    changes.append({visas})
    for keys in changes:
        write(archive, tmp_path / "site", keys)

    assert "heading" not in counted
    index = json.loads((tmp_path / "site" / "headings" / "index.json").read_text())
    assert [(entry["label"], entry["count"]) for entry in index["most_used"]] == [
        ("Schools: Finance", 100), ("police", 15), ("Zoos", 2)]  # 8 of 15 spelled so
    assert not (tmp_path / "site" / "headings" / "_letters" / "v").exists()
    monkeypatch.undo()
    assert_same_as_a_full_build(archive, tmp_path)


def test_slugs_kept_under_other_code_are_worked_out_again(tmp_path):
    record = listing_record.ListingRecord(tmp_path / "record.sqlite", "old code")
    assert record.heading_slugs(["Schools"], lambda heading: "old-slug") == {"Schools": "old-slug"}
    assert record.heading_slugs(["Schools"], lambda heading: "other") == {"Schools": "old-slug"}
    record.close()
    record = listing_record.ListingRecord(tmp_path / "record.sqlite", "new code")
    assert record.heading_slugs(["Schools", "Visas"], str.lower) == {"Schools": "schools", "Visas": "visas"}
    record.close()


def correct_the_oldest_education_answer(archive, tmp_path) -> str:
    "Education's listing filled to 160 questions (four pages), then its oldest answer corrected: its key."
    keys = add(archive, *[question(600 + n, "2024-07-12") for n in range(60)])  # 160: four pages
    write(archive, tmp_path / "site", keys)
    (oldest,) = archive.execute(
        "select key from questions where answering_body = ? order by coalesce(date_answered, date_tabled), key limit 1",
        [EDUCATION]).fetchone()
    archive["questions"].update(oldest, {"answer_text": "Corrected.", "answer_html": "<p>Corrected.</p>"})
    return oldest


def pages_made(monkeypatch) -> list[tuple[str, int]]:
    "The (listing url, page number) of each listing page made (digested, rendered if it differs) from now on."
    made = []
    real = listings.ListingWriter.listing_page

    def spy(writer, url, chunk, number, total, context, owner, newest_only):
        made.append((url, number))
        return real(writer, url, chunk, number, total, context, owner, newest_only)

    monkeypatch.setattr(listings.ListingWriter, "listing_page", spy)
    return made


def test_a_correction_in_place_renders_only_its_page_of_its_body(archive, tmp_path, monkeypatch):
    """A question that keeps its place (its answer's text corrected): of its body's listing,
    and of its heading's, only the page that holds it and the newest are made; the pages
    between are carried over from the record, neither read into pages nor digested."""
    oldest = correct_the_oldest_education_answer(archive, tmp_path)
    made = pages_made(monkeypatch)
    read = rows_read(monkeypatch)
    report, output = write(archive, tmp_path / "site", {oldest})

    heading_url = urls.heading_url("Schools: Finance")
    assert {(url, number) for url, number in made if url in (EDUCATION_URL, heading_url)} == {
        (EDUCATION_URL, 1), (EDUCATION_URL, 4), (heading_url, 1), (heading_url, 4)}
    assert read == [(EDUCATION, 50), (EDUCATION, 10)]  # of the body's items, only those two pages' are read
    assert {EDUCATION_URL + "page/1/", heading_url + "page/1/"} <= pages_of(output.written)
    monkeypatch.undo()
    assert_same_as_a_full_build(archive, tmp_path)


def test_a_correction_in_place_renders_only_its_pages_of_its_members_listings(archive, tmp_path, monkeypatch):
    """The minister who answered 160 questions and the member who asked 167: of each list the
    corrected answer is in, only the page that holds it (the oldest) and the newest are made,
    and only their items are read, with the newest ten the member's page shows; the indexes,
    whose counts did not change, are not made at all, nor their counts read. The list the answer is not in (the
    minister asked nothing) has its one, empty page made."""
    oldest = correct_the_oldest_education_answer(archive, tmp_path)
    made = pages_made(monkeypatch)
    asked, answered = rows_read(monkeypatch, "asked"), rows_read(monkeypatch, "answered")
    counted, count_by = [], queries.count_by
    monkeypatch.setattr(queries, "count_by", lambda db, column: counted.append(column) or count_by(db, column))
    report, output = write(archive, tmp_path / "site", {oldest})

    asker, minister = urls.member_url(ASKER.id, ASKER.name), urls.member_url(MINISTER.id, MINISTER.name)
    assert sorted((url, number) for url, number in made if url.startswith("members/")) == [
        (asker + "answered/", 1), (asker + "asked/", 1), (asker + "asked/", 4),
        (minister + "answered/", 1), (minister + "answered/", 4), (minister + "asked/", 1)]
    # Of each list: the newest ten, the oldest page and the newest (10 of 160, 17 of 167).
    assert sorted(asked) == [(ASKER.id, 10), (ASKER.id, 17), (ASKER.id, 50), (MINISTER.id, 0), (MINISTER.id, 0)]
    assert sorted(answered) == [(ASKER.id, 0), (ASKER.id, 0), (MINISTER.id, 10), (MINISTER.id, 10), (MINISTER.id, 50)]
    written = pages_of(output.written)
    assert {asker + "asked/page/1/", minister + "answered/page/1/"} <= written
    assert not written & {"members/", "bodies/", "headings/", "days/", "days/2024/07/", "headings/_letters/s/"}
    assert counted == []  # nor any question's heading (nor day, body or member) counted but its own heading's
    monkeypatch.undo()
    assert_same_as_a_full_build(archive, tmp_path)


@pytest.mark.parametrize("change", ["asker", "heading"])
def test_a_question_that_changed_its_member_or_its_heading_spelling_renders_those_listings_whole(
        archive, tmp_path, monkeypatch, change):
    """Kept in its place but asked by the minister who answered it, a question moves between
    the lists of the minister's listing; spelled otherwise, it can turn its heading's title:
    every page of those listings is made, and the indexes that count them."""
    oldest = correct_the_oldest_education_answer(archive, tmp_path)
    if change == "asker":
        archive["questions"].update(oldest, {"asking_member_id": MINISTER.id})
        listing = urls.member_url(MINISTER.id, MINISTER.name) + "answered/"
    else:
        archive["questions"].update(oldest, {"heading": "schools finance"})
        listing = urls.heading_url("Schools: Finance")
    made = pages_made(monkeypatch)

    write(archive, tmp_path / "site", {oldest})

    assert sorted(number for url, number in made if url == listing) == [1, 2, 3, 4]
    monkeypatch.undo()
    assert_same_as_a_full_build(archive, tmp_path)


def test_a_correction_in_place_reads_its_body_from_its_place_when_the_record_lacks_a_page(
        archive, tmp_path, monkeypatch):
    "A page the record does not hold cannot be carried over: the body's listing is read from the oldest page on."
    oldest = correct_the_oldest_education_answer(archive, tmp_path)
    with closing(sqlite3.connect(listing_record.record_path(tmp_path / "site"))) as record, record:
        record.execute("delete from pages where url = ?", [EDUCATION_URL + "page/2/"])
    read = rows_read(monkeypatch)

    write(archive, tmp_path / "site", {oldest})

    assert read == [(EDUCATION, 160)]
    monkeypatch.undo()
    assert_same_as_a_full_build(archive, tmp_path)


def test_a_body_listing_read_in_its_index_order_is_in_the_order_of_every_listing(archive):
    "Newest first by day, then key, as the other listings are, whether read whole or a page at a time."
    for (body,) in archive.execute("select distinct answering_body from questions where answering_body is not null"):
        rows = [row["key"] for row in queries.listing_rows(archive, 1, "body", body)]
        expected = [key for (key,) in archive.execute(
            "select key from questions where answering_body = ? "
            "order by coalesce(date_answered, date_tabled) desc, key desc", [body])]
        assert rows == expected
        assert [row["key"] for row in queries.listing_rows(archive, 1, "body", body, 7, 5)] == expected[5:12]


def test_every_listing_read_one_at_a_time_holds_what_each_questions_places_name(archive, tmp_path):
    """A full build reads the listings one at a time, grouped by SQLite; each holds exactly the
    questions whose places name it, newest first: a member who asked and answered a question
    lists it once, headings spelled two ways share one listing, a day written with a time joins
    its date's, and a day that is no date is in no day's listing."""
    add(archive, question(600, "2024-07-04", HOME_OFFICE, OTHER_MINISTER, heading="POLICE"),
        question(601, "2024-07-04", HOME_OFFICE, heading="Visas"),
        question(602, "2024-07-04", HOME_OFFICE, heading="Visas"))
    archive.execute("update questions set date_answered = '2024-07-04T09:30:00' where uin = '601'")
    archive.execute("update questions set date_tabled = '2024-13-45', date_answered = null where uin = '602'")
    archive.conn.commit()
    names = queries.Names.load(archive)
    with closing(listing_record.ListingRecord(tmp_path / "record.sqlite", "")) as record:
        reference = listings.Reference.load(archive, names, record)

    expected: dict[str, list[str]] = {}
    places = sorted(queries.listed_places(archive, [key for (key,) in archive.execute("select key from questions")]),
                    key=lambda row: (row["day"] or "", row["key"]), reverse=True)
    for row in places:
        for owner in listings.owners_of(row, reference):
            expected.setdefault(owner, []).append(row["key"])
    groups = list(listings.listed_groups(archive, reference))

    assert [owner for owner, _ in groups] == sorted(expected)
    assert {owner: [item["key"] for item in items] for owner, items in groups} == expected
    minister = "member:" + OTHER_MINISTER.id
    assert Counter(item["uin"] for item in dict(groups)[minister])["600"] == 1
    assert {item["uin"] for item in dict(groups)["heading:police"]} >= {"600", "101"}
    assert "601" in {item["uin"] for item in dict(groups)["day:2024-07-04"]}
    assert not any(item["uin"] == "602" for owner, items in groups if owner.startswith("day:") for item in items)
