"""The search index (search.py): inert values, searchable text only, bundles of a bounded
size cut in a stable way, identical bytes from identical inputs, and builds that are complete or
do not count."""

from __future__ import annotations

import datetime
import gzip
import hashlib
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from contextlib import closing
from pathlib import Path

import lxml.html
import pytest
import sqlite_utils

from answers import fragment_reuse, record_cache, search
from processes import ended_within, is_running

SEED_URL = "commons/2018-11-21/p40657d7024/"
CHANGED_URL = "commons/2024-08-30/3283/"
# A record's file in its bundle's scratch folder: its question's URL, '/' made '_'.
RECORD_NAME = re.compile(r"[a-z0-9-]+_(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|undated)_[a-z0-9-]+\.html")
HOSTILE = ["<img src=x onerror=alert(document.domain)>", '"><script>alert(1)</script>',
           "&lt;img src=x onerror=alert(1)&gt;", "&#60;svg onload=alert(1)&#62;",
           "it's `x` & y\x00\x1b[31m", "Office of <svg/onload=alert(1)>"]


@pytest.mark.parametrize("value", HOSTILE)
def test_inert_values_have_nothing_html_reads_as_markup(value):
    text = search.inert(value)
    assert not set(text) & set("<>\"'`") and not re.search(r"&[#A-Za-z]", text)
    assert html.unescape(text) == text  # decoding entities, as Pagefind does, changes nothing
    assert re.sub(r"\W", "", text.replace("‹", "").replace("›", "")).startswith(
        re.sub(r"\W", "", value.replace("<", "").replace(">", ""))[:3])  # still readable


def record_of(db_path: Path, url: str):
    with closing(sqlite_utils.Database(db_path)) as db:
        [(record_url, record)] = search.records(db, [url], search.record_template())
    assert record_url == "/" + url
    return lxml.html.fromstring(record)


def test_a_record_searches_the_question_and_answer_and_filters_the_rest(built_site):
    record = record_of(built_site.db, SEED_URL)
    [body] = record.xpath("//*[@data-pagefind-body]")
    text = " ".join(body.text_content().split())
    assert text.startswith("Offences against Children: Internet")
    assert "online child grooming" in text
    for label in ("Asked by", "Tabled", "Answered by", "Home Office", "House of Commons"):
        assert label not in text
    filters = {e.get("data-pagefind-filter"): e.text_content()
               for e in record.xpath("//*[@data-pagefind-filter]")}
    # The seed names no asking member; a question from the API does.
    assert filters == {"house": "House of Commons", "year": "2018", "status": "Answered",
                       "body": "Home Office"}
    member = record_of(built_site.db, CHANGED_URL).xpath("//*[@data-pagefind-filter='member']")
    assert member and member[0].text_content().strip()
    assert record.xpath("//*[@data-pagefind-sort='date']")[0].text_content() == "2018-11-21"
    weights = [e.get("data-pagefind-weight") for e in body.xpath(".//*[@data-pagefind-weight]")]
    assert weights and all(float(w) > 1 for w in weights)  # the heading and the UIN


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def fresh_index(built_site, tmp_path_factory):
    "The index of the test archive, built from nothing."
    folder = tmp_path_factory.mktemp("fresh-index")
    report = search.update_index(built_site.db, folder)
    return folder, report


def test_one_bundle_per_year_and_identical_bytes_from_identical_inputs(built_site, fresh_index,
                                                                      tmp_path):
    folder, report = fresh_index
    with closing(sqlite_utils.Database(built_site.db)) as db:
        years = [row["url"].split("/")[1][:4] for row in db.query("select url from questions")]
    assert sum(report.indexed.values()) == len(years)
    assert set(report.indexed) == set(years) and {"2009", "2018", "2024"} <= set(years)
    names = [name.rstrip("/") for name in
             json.loads((folder / "pagefind" / "bundles.json").read_text())]
    assert names == sorted(report.indexed, reverse=True)
    search.update_index(built_site.db, tmp_path)
    assert tree(tmp_path / "pagefind") == tree(folder / "pagefind")


@pytest.fixture
def index_copy(built_site, fresh_index, tmp_path):
    "A copy of the database and of a complete index, to change."
    shutil.copy(built_site.db, tmp_path / "answers.db")
    shutil.copytree(fresh_index[0] / "pagefind", tmp_path / "site" / "pagefind")
    return tmp_path


def next_generation(db: sqlite_utils.Database) -> None:
    "What the db stage does before it writes: the rows written from here on are logged as changed."
    db.execute("update meta set value = cast(value as integer) + 1 where name = 'generation'")
    db.conn.commit()


def change_one_answer(db_path: Path, answer: str = "A changed answer about zeppelins.") -> None:
    with closing(sqlite_utils.Database(db_path)) as db:
        next_generation(db)
        [row] = db.query("select key from questions where url = ?", [CHANGED_URL])
        db["questions"].update(row["key"], {"answer_text": answer})


def test_a_changed_page_reindexes_only_its_bundle(index_copy, tmp_path_factory):
    site_dir = index_copy / "site"
    before = tree(site_dir / "pagefind")
    change_one_answer(index_copy / "answers.db")
    (site_dir / "pagefind" / "stray.js").write_text("left from an old index")
    (site_dir / "pagefind" / "1999").mkdir()
    report = search.update_index(index_copy / "answers.db", site_dir)
    assert list(report.indexed) == ["2024"] and report.removed == ["1999", "stray.js"]
    after = tree(site_dir / "pagefind")
    assert {path for path in after if after[path] != before.get(path)} - {".state.json"} \
        <= {path for path in after if path.startswith("2024/")}
    assert any(path.startswith("2024/") and after[path] != before.get(path) for path in after)
    fresh = tmp_path_factory.mktemp("fresh-after-change")
    search.update_index(index_copy / "answers.db", fresh)
    assert after == tree(fresh / "pagefind")


def test_a_failed_build_keeps_the_old_bundle_and_the_next_build_redoes_it(index_copy,
                                                                          monkeypatch):
    site_dir = index_copy / "site"
    before = tree(site_dir / "pagefind")
    change_one_answer(index_copy / "answers.db")

    def fail_half_way(items, folder, source):
        folder.mkdir(parents=True)
        (folder / "pagefind.js").write_text("half a bundle")
        raise RuntimeError("killed")

    monkeypatch.setattr(search, "write_bundle", fail_half_way)
    with pytest.raises(search.SearchIndexError):
        search.update_index(index_copy / "answers.db", site_dir)
    failed = tree(site_dir / "pagefind")
    assert {path: data for path, data in failed.items() if path != ".state.json"} == \
        {path: data for path, data in before.items() if path != ".state.json"}
    monkeypatch.undo()
    # The database has not changed since, yet the index is brought up to date.
    report = search.update_index(index_copy / "answers.db", site_dir)
    assert list(report.indexed) == ["2024"]
    fresh = index_copy / "fresh"
    search.update_index(index_copy / "answers.db", fresh)
    assert tree(site_dir / "pagefind") == tree(fresh / "pagefind")


# -- bounded bundles ----------------------------------------------------------------------


def day_of_questions(day: str, count: int, first: int = 0) -> list[str]:
    return [f"commons/{day}/{uin}/" for uin in range(first, first + count)]


def archive(copies: int = 1) -> list[str]:
    "Three years, one crowded month and one crowded day, `copies` times over."
    urls = []
    for copy in range(copies):
        start = copy * 10_000
        urls += day_of_questions("2009-10-29", 20, start) + day_of_questions("2023-01-05", 30, start)
        urls += day_of_questions("2024-07-01", 30, start) + day_of_questions("2024-08-29", 40, start)
        urls += day_of_questions("2024-08-30", 250, start)
    return urls


def test_no_bundle_outgrows_the_limit_and_every_question_is_in_one():
    for copies in (1, 4, 16):
        urls = archive(copies)
        shards = search.split_shards(urls, 100)
        assert max(len(members) for members in shards.values()) <= 100
        assert sorted(url for members in shards.values() for url in members) == sorted(urls)
        # Newest bundle first, each bundle's dates all after those of the bundles after it:
        # the search page lists results by date bundle after bundle.
        dates = [sorted({url.split("/")[1] for url in shards[name]})
                 for name in sorted(shards, reverse=True)]
        assert all(earlier[0] >= later[-1] for earlier, later in zip(dates, dates[1:], strict=False))


def test_small_periods_stay_whole_and_a_crowded_one_is_cut_finer():
    shards = search.split_shards(archive(), 100)
    # 2024 (320 questions) is halved until its parts fit: July's day and 29 August each end in
    # a span of their own, and 30 August (250) alone is cut by its URLs' digests.
    assert {name: len(members) for name, members in shards.items() if "." not in name} == \
        {"2009": 20, "2023": 30, "2024-05-08_2024-07-10": 30, "2024-08-28_2024-08-29": 40}
    day_parts = {name for name in shards if name.startswith("2024-08-30.")}
    assert len(day_parts) >= 3 and all(len(shards[name]) <= 100 for name in day_parts)


def test_a_crowded_year_is_halved_not_cut_into_months_or_days():
    "Bundles stay near the limit, so the search page loads few of them."
    days = [datetime.date(2023, 1, 1) + datetime.timedelta(days=n) for n in range(365)]
    urls = [f"commons/{day.isoformat()}/{uin}/" for day in days if day.weekday() < 5
            for uin in range(8)]
    shards = search.split_shards(urls, 1000)
    assert sorted(shards) == ["2023-01-01_2023-05-08", "2023-05-09_2023-09-13",
                              "2023-09-14_2023-12-31"]
    assert all(500 < len(members) <= 1000 for members in shards.values())


def test_a_new_question_changes_only_its_bundle_and_no_name_moves():
    before = search.split_shards(archive(), 100)
    new = "commons/2024-08-30/99999/"
    after = search.split_shards(archive() + [new], 100)
    home = search.shard_of(new, set(after))
    assert set(after) == set(before) and home.startswith("2024-08-30.")
    assert {name for name in after if sorted(after[name]) != sorted(before[name])} == {home}


def test_growing_the_archive_re_cuts_only_the_bundles_that_outgrow_the_limit():
    before = search.split_shards(archive(), 100)
    more_of_one_year = archive() + day_of_questions("2023-02-06", 80, 500)
    after = search.split_shards(more_of_one_year, 100)
    # 2023 now holds 110 questions: it alone is re-cut, into the two spans of days that part its
    # questions; the others are untouched.
    assert set(before) - set(after) == {"2023"}
    assert set(after) - set(before) == {"2023-01-01_2023-02-01", "2023-02-02_2023-03-05"}
    assert len(after["2023-02-02_2023-03-05"]) == 80
    assert all(after[name] == members for name, members in before.items() if name != "2023")
    # A year that outgrows the limit again and again goes down to its days' halves, stably.
    for copies in (2, 8):
        grown = search.split_shards(archive(copies), 100)
        assert all(search.shard_of(url, set(grown)) == name
                   for name, members in grown.items() for url in members)
        days = Counter(url.split("/")[1] for url in archive(copies))
        assert {name.split(".")[0] for name in grown if "." in name} == \
            {day for day, count in days.items() if count > 100}  # only crowded days are cut


def test_shard_names_follow_the_url_alone():
    spans = [search.shard_name(CHANGED_URL, level) for level in range(search.DAY_LEVEL + 1)]
    assert spans[:3] == ["2024", "2024-01-01_2024-09-12", "2024-05-08_2024-09-12"]
    assert spans[-1] == "2024-08-30"
    bounds = [(span.split("_")[0], span.split("_")[-1]) for span in spans[1:]]
    assert all(outer[0] <= inner[0] <= "2024-08-30" <= inner[1] <= outer[1]
               for outer, inner in zip(bounds, bounds[1:], strict=False))  # each within the last
    halves = [search.shard_name(CHANGED_URL, level)
              for level in range(search.DAY_LEVEL + 1, search.DAY_LEVEL + 5)]
    assert all(name.startswith("2024-08-30.") for name in halves)
    assert [name.split(".")[1] for name in halves] == \
        [halves[-1].split(".")[1][:n] for n in range(1, 5)]  # each part within the one before


def add_question(db_path: Path, url: str) -> None:
    "A copy of the changed question under a new UIN and URL: a question new to the archive."
    with closing(sqlite_utils.Database(db_path)) as db:
        [row] = db.query("select * from questions where url = ?", [CHANGED_URL])
        uin = url.split("/")[2]
        next_generation(db)
        db["questions"].insert(dict(row, key=row["key"] + "-new", uin=uin, url=url))


NEW_URL = "commons/2024-08-30/99991/"


@pytest.mark.parametrize(("change", "url"), [(lambda db: add_question(db, NEW_URL), NEW_URL),
                                             (change_one_answer, CHANGED_URL)],
                         ids=["one new answer", "a correction"])
def test_one_change_reindexes_only_its_bundle_and_equals_a_clean_build(built_site, tmp_path,
                                                                       change, url):
    limit = 400
    shutil.copy(built_site.db, tmp_path / "answers.db")
    site_dir = tmp_path / "site"
    first = search.update_index(tmp_path / "answers.db", site_dir, shard_limit=limit)
    assert len(first.indexed) > 3 and max(first.indexed.values()) <= limit
    before = tree(site_dir / "pagefind")
    change(tmp_path / "answers.db")
    report = search.update_index(tmp_path / "answers.db", site_dir, shard_limit=limit)
    home = search.shard_of(url, set(first.indexed))
    assert list(report.indexed) == [home] and report.removed == []
    assert report.indexed[home] == first.indexed[home] + (url == NEW_URL)
    after = tree(site_dir / "pagefind")
    assert {path.split("/")[0] for path in after if after[path] != before.get(path)} == \
        {home, ".state.json"}
    search.update_index(tmp_path / "answers.db", tmp_path / "clean", shard_limit=limit)
    assert after == tree(tmp_path / "clean" / "pagefind")


def remove_question(db_path: Path) -> None:
    "A question gone from the archive: no change is logged for a row that is no longer there."
    with closing(sqlite_utils.Database(db_path)) as db:
        next_generation(db)
        db.execute("delete from questions where url = ?", [CHANGED_URL])
        db.conn.commit()


MOVED_URL = "commons/2018-11-21/3283/"


def move_question(db_path: Path) -> None:
    "A question whose date, and so URL and bundle, is corrected."
    with closing(sqlite_utils.Database(db_path)) as db:
        next_generation(db)
        db.execute("update questions set url = ? where url = ?", [MOVED_URL, CHANGED_URL])
        db.conn.commit()


def rename_asker(db_path: Path) -> None:
    "The member who asked the changed question gets another name (no question's row changes)."
    with closing(sqlite_utils.Database(db_path)) as db:
        next_generation(db)
        db.execute("""update members set name = 'A. N. Other' where id =
                      (select asking_member_id from questions where url = ?)""", [CHANGED_URL])
        db.conn.commit()


def bundles_of(db_path: Path, limit: int, sql: str) -> set[str]:
    "The bundles holding the questions whose URLs the query selects."
    with closing(sqlite_utils.Database(db_path)) as db:
        wanted = search.urls_by_bundle(db, limit)
        found = {url for (url,) in db.execute(sql, [CHANGED_URL])}
    return {name for name, members in wanted.items() if found & set(members)}


ASKED_BY_THE_SAME = """select url from questions where asking_member_id =
                       (select asking_member_id from questions where url = ?)"""


@pytest.mark.parametrize(("change", "expected"), [
    (remove_question, lambda before, after, db: {search.shard_of(CHANGED_URL, set(before))}),
    (move_question, lambda before, after, db: {search.shard_of(CHANGED_URL, set(before)),
                                               search.shard_of(MOVED_URL, set(after))}),
    (rename_asker, lambda before, after, db: bundles_of(db, 400, ASKED_BY_THE_SAME)),
], ids=["a question removed", "a question moved to another bundle", "its asker renamed"])
def test_the_bundles_checked_are_found_from_the_database_alone(built_site, tmp_path, change,
                                                               expected):
    """No site stage tells the index what changed: the change log, the members' names and the
    URLs each bundle holds find every bundle whose records differ, and only those."""
    limit = 400
    db_path = tmp_path / "answers.db"
    shutil.copy(built_site.db, db_path)
    site_dir = tmp_path / "site"
    first = search.update_index(db_path, site_dir, shard_limit=limit)
    change(db_path)
    report = search.update_index(db_path, site_dir, shard_limit=limit)
    with closing(sqlite_utils.Database(db_path)) as db:
        after = search.urls_by_bundle(db, limit)
    assert set(report.indexed) == expected(first.indexed, after, db_path)
    assert report.unchanged == []  # nothing else even checked
    search.update_index(db_path, tmp_path / "clean", shard_limit=limit)
    assert tree(site_dir / "pagefind") == tree(tmp_path / "clean" / "pagefind")


def test_with_no_change_no_bundle_is_checked_and_an_unknown_database_checks_every_one(built_site,
                                                                                    tmp_path,
                                                                                    monkeypatch):
    db_path = tmp_path / "answers.db"
    shutil.copy(built_site.db, db_path)
    site_dir = tmp_path / "site"
    assert not search.expects_few_bundles(db_path, site_dir)  # no index yet: every bundle, after the site
    first = search.update_index(db_path, site_dir, shard_limit=400)
    assert search.expects_few_bundles(db_path, site_dir)
    assert not search.expects_few_bundles(tmp_path / "none.db", site_dir)  # and none made
    assert not (tmp_path / "none.db").exists()
    with monkeypatch.context() as patched:  # the database not written since: not even read
        patched.setattr(search, "urls_by_bundle", None)
        again = search.update_index(db_path, site_dir, shard_limit=400)
    assert again.indexed == {} and again.unchanged == []
    missing = sorted(first.indexed)[1]
    (site_dir / "pagefind" / missing / "pagefind.js").unlink()
    assert list(search.update_index(db_path, site_dir, shard_limit=400).indexed) == [missing]
    assert search.update_index(db_path, site_dir, check_all=True, shard_limit=400).unchanged == \
        sorted(first.indexed)
    with closing(sqlite_utils.Database(db_path)) as db:  # the database built afresh
        db.execute("update meta set value = 'another' where name = 'lineage'")
        db.conn.commit()
    assert not search.expects_few_bundles(db_path, site_dir)  # every bundle: after the site
    assert search.update_index(db_path, site_dir, shard_limit=400).unchanged == sorted(first.indexed)
    # A state not marked complete (a build killed while indexing) is trusted for nothing.
    state_file = site_dir / "pagefind" / search.STATE_NAME
    state_file.write_text(json.dumps(dict(json.loads(state_file.read_text()), complete=False)))
    assert not search.expects_few_bundles(db_path, site_dir)
    assert search.update_index(db_path, site_dir, shard_limit=400).unchanged == sorted(first.indexed)


def test_a_record_reads_only_what_the_index_watches_for_changes():
    """The bundles to check are found from the questions' change log and the members' names
    (DatabaseFacts): a record reading any other table would need its own way of being found."""
    tables = set(re.findall(r"\b(?:from|join)\s+(\w+)", search.RECORD_QUERY))
    assert tables - {"json_each"} == {"questions", "members"}
    assert set(re.findall(r"\bm\.(\w+)", search.RECORD_QUERY)) == {"id", "name"}


def test_bundles_are_indexed_two_at_a_time_and_a_failure_loses_only_its_own(built_site, tmp_path,
                                                                           monkeypatch):
    limit = 400
    db_path = tmp_path / "answers.db"
    shutil.copy(built_site.db, db_path)
    site_dir = tmp_path / "site"
    with closing(sqlite_utils.Database(db_path)) as db:
        names = sorted(search.urls_by_bundle(db, limit))
    assert len(names) > 3
    real_write, doomed = search.write_bundle, names[1]
    both_running = threading.Barrier(2, timeout=60)  # the first two bundles must meet here

    def two_at_once_then_fail_one(items, folder, source):
        if folder.name in (f".building-{names[0]}", f".building-{doomed}"):
            both_running.wait()
        if folder.name == f".building-{doomed}":
            raise RuntimeError("killed")
        real_write(items, folder, source)

    monkeypatch.setattr(search, "INDEX_WORKERS", 2)
    monkeypatch.setattr(search, "write_bundle", two_at_once_then_fail_one)
    with pytest.raises(search.SearchIndexError, match=doomed):
        search.update_index(db_path, site_dir, shard_limit=limit)
    state = json.loads((site_dir / "pagefind" / ".state.json").read_text())
    # The bundle running beside the failed one was finished and recorded; none was started after.
    assert state["complete"] is False and set(state["bundles"]) == {names[0]}
    assert sorted(path.name for path in (site_dir / "pagefind").iterdir()) == \
        [".state.json", names[0]]
    monkeypatch.undo()
    report = search.update_index(db_path, site_dir, shard_limit=limit)
    assert list(report.indexed) == names[1:] and report.unchanged == [names[0]]
    search.update_index(db_path, tmp_path / "clean", shard_limit=limit)
    assert tree(site_dir / "pagefind") == tree(tmp_path / "clean" / "pagefind")


def test_a_record_is_never_written_outside_the_index_whatever_its_url(built_site, tmp_path):
    db_path = tmp_path / "answers.db"
    shutil.copy(built_site.db, db_path)
    hostile_url = "commons/2024-08-30/../../../../escape/"
    add_question(db_path, hostile_url)
    with pytest.raises(search.SearchIndexError, match=re.escape(repr("/" + hostile_url))):
        search.update_index(db_path, tmp_path / "site")
    # Nothing is written beside the index, wherever the URL's dots would lead.
    # (Beside the site folder, only the records kept between builds and the bundles' scratch
    # folders, as for any site.)
    assert sorted(path.name for path in tmp_path.iterdir()) == \
        ["answers.db", "site", "site" + record_cache.SUFFIX, "site" + search.SCRATCH_SUFFIX]
    assert [path.name for path in (tmp_path / "site").iterdir()] == ["pagefind"]
    assert not list((tmp_path / "site" / "pagefind").glob("*records*"))
    scratch = tmp_path / ("site" + search.SCRATCH_SUFFIX)
    assert not any("escape" in path.parts for path in tmp_path.rglob("*"))
    # What the scratch folders hold: each bundle's records, straight in its folder and named by
    # their URLs, and its lists.
    files = [path for path in scratch.rglob("*") if path.is_file()]
    assert files and all(path.parent.parent == scratch for path in files)
    assert all(path.name in (search.SCRATCH_LIST, fragment_reuse.MAP_NAME)
               or RECORD_NAME.fullmatch(path.name) for path in files)


@pytest.mark.parametrize("listed", [
    "old layout",  # a folder a record, and a list of URLs alone
    {"layout": search.SCRATCH_LAYOUT, "records": {"/../../outside/": "0"}},
    {"layout": search.SCRATCH_LAYOUT, "records": {"/commons/2024-08-30/3283": "0"}},
])
def test_a_scratch_list_of_another_layout_or_naming_no_question_is_not_trusted(tmp_path, listed):
    url, record = "/" + CHANGED_URL, "<p>The record</p>"
    source = tmp_path / "scratch" / "2024"
    nested = source / CHANGED_URL / "index.html"
    nested.parent.mkdir(parents=True)
    nested.write_text(record)
    outside = tmp_path / "outside.html"
    outside.write_text("not the index's")
    if listed == "old layout":
        listed = {url: hashlib.sha256(record.encode()).hexdigest()}
    (source / search.SCRATCH_LIST).write_text(json.dumps(listed))
    search.sync_records([(url, record)], source)
    # Emptied and written again: the record straight in the folder, and nothing else but the list.
    assert sorted(path.name for path in source.iterdir()) == \
        sorted([search.SCRATCH_LIST, "commons_2024-08-30_3283.html"])
    assert (source / "commons_2024-08-30_3283.html").read_text() == record
    assert outside.read_text() == "not the index's"
    # Trusted from then on: a record that did not change is not written again.
    (source / "commons_2024-08-30_3283.html").write_text("left as it was")
    search.sync_records([(url, record)], source)
    assert (source / "commons_2024-08-30_3283.html").read_text() == "left as it was"


def test_kept_records_spare_rendering_the_unchanged_questions_and_change_no_byte(index_copy,
                                                                                monkeypatch):
    site_dir = index_copy / "site"
    cache_file = record_cache.cache_path(site_dir)
    search.update_index(index_copy / "answers.db", site_dir, check_all=True)  # keeps every record
    change_one_answer(index_copy / "answers.db")
    rendered = []
    real_fields = search.record_fields
    monkeypatch.setattr(search, "record_fields",
                        lambda row: rendered.append(row["url"]) or real_fields(row))
    report = search.update_index(index_copy / "answers.db", site_dir)
    assert list(report.indexed) == ["2024"] and rendered == [CHANGED_URL]
    fresh = index_copy / "fresh"
    search.update_index(index_copy / "answers.db", fresh)
    assert tree(site_dir / "pagefind") == tree(fresh / "pagefind")
    # A scratch folder whose list is gone (a build killed while writing it) is trusted with
    # nothing: what it held is removed and every record written again.
    scratch = site_dir.with_name("site" + search.SCRATCH_SUFFIX) / "2024"
    (scratch / search.SCRATCH_LIST).unlink()
    (scratch / "stray").mkdir()
    (scratch / "stray" / "index.html").write_text("<p>a half written record</p>")
    state_file = site_dir / "pagefind" / search.STATE_NAME
    state = json.loads(state_file.read_text())
    state["bundles"]["2024"] = "spoiled"
    state_file.write_text(json.dumps(state))
    search.update_index(index_copy / "answers.db", site_dir, check_all=True)
    assert tree(site_dir / "pagefind") == tree(fresh / "pagefind")
    assert not (scratch / "stray").exists()
    # A file that is not a cache is replaced, and costs rendering, never a record.
    cache_file.write_bytes(b"not a database")
    rendered.clear()
    search.update_index(index_copy / "answers.db", site_dir, check_all=True)
    assert CHANGED_URL in rendered and tree(site_dir / "pagefind") == tree(fresh / "pagefind")


def test_a_rows_digest_is_the_same_from_either_encoder_and_every_row_gets_one():
    """The kept records stay valid whichever encoder digests rows: a row of text, integers and
    nulls gives json's compact, sorted bytes; a row orjson refuses (an integer beyond 64 bits)
    still gets its digest."""
    def json_digest(row: dict) -> str:
        text = json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(f"code\0{text}".encode()).hexdigest()

    row = {"url": "commons/2024-08-30/3283", "uin": "3283", "is_withdrawn": 0, "member": None,
           "answer_text": 'Line one\n\t"quoted" \\ café 😀 \x00\x1f\u2028 end'}
    assert record_cache.row_digest("code", row) == json_digest(row)
    huge = dict(row, uin=2 ** 70)
    assert record_cache.row_digest("code", huge) == json_digest(huge)


def indexed_copy(built_site, folder: Path) -> tuple[Path, Path]:
    "A copy of the database and an index made from it, with its scratch folders and maps."
    db_path, site_dir = folder / "answers.db", folder / "site"
    shutil.copy(built_site.db, db_path)
    search.update_index(db_path, site_dir)
    return db_path, site_dir


def fragment_files(bundle: Path) -> dict[str, int]:
    "A bundle's fragment files by name, each with its inode: a reused file keeps its inode."
    return {path.name: path.stat().st_ino for path in (bundle / "fragment").iterdir()}


def counting_runs(monkeypatch) -> list[str]:
    "The bundles Pagefind runs for, in order, from here on."
    runs, real_write = [], search.write_bundle

    def counted(items, folder, source):
        runs.append(source.name)
        real_write(items, folder, source)

    monkeypatch.setattr(search, "write_bundle", counted)
    return runs


def test_a_reindexed_bundle_reuses_its_unchanged_fragments_and_equals_a_fresh_one(built_site,
                                                                                 tmp_path,
                                                                                 monkeypatch):
    db_path, site_dir = indexed_copy(built_site, tmp_path)
    before = fragment_files(site_dir / "pagefind" / "2024")
    change_one_answer(db_path)
    runs = counting_runs(monkeypatch)
    report = search.update_index(db_path, site_dir)
    assert list(report.indexed) == ["2024"] and runs == ["2024"]
    after = fragment_files(site_dir / "pagefind" / "2024")
    # Every fragment but the changed question's is the file the bundle before held.
    assert len(after) == len(before) and \
        sum(before.get(name) != inode for name, inode in after.items()) == 1
    search.update_index(db_path, tmp_path / "fresh")
    assert tree(site_dir / "pagefind") == tree(tmp_path / "fresh" / "pagefind")
    # And again, from the map learned by the reused run.
    change_one_answer(db_path, "An answer changed twice, now about airships.")
    search.update_index(db_path, site_dir)
    again = fragment_files(site_dir / "pagefind" / "2024")
    assert sum(after.get(name) != inode for name, inode in again.items()) == 1
    search.update_index(db_path, tmp_path / "fresh-again")
    assert tree(site_dir / "pagefind") == tree(tmp_path / "fresh-again" / "pagefind")


def test_a_name_pagefind_finds_taken_by_other_content_makes_the_bundle_again_from_nothing(
        built_site, tmp_path, monkeypatch):
    """Pagefind skips a fragment name that exists, whatever it holds: the collision of names
    its runs can meet in different orders. A kept file under the name of a changed record's
    fragment is found after the run, and the bundle is indexed again into an empty folder."""
    db_path, site_dir = indexed_copy(built_site, tmp_path)
    change_one_answer(db_path)
    search.update_index(db_path, tmp_path / "fresh")
    fresh_bundle = tmp_path / "fresh" / "pagefind" / "2024"
    [new_name] = set(fragment_files(fresh_bundle)) - set(fragment_files(site_dir / "pagefind" / "2024"))
    real_prefill = fragment_reuse.prefill

    def prefill_with_a_collision(building, live, fragments, wanted):
        placed = real_prefill(building, live, fragments, wanted)
        taken = next(name for name in placed)
        shutil.copyfile(live / "fragment" / (taken + ".pf_fragment"), building / "fragment" / new_name)
        return placed

    monkeypatch.setattr(fragment_reuse, "prefill", prefill_with_a_collision)
    runs = counting_runs(monkeypatch)
    search.update_index(db_path, site_dir)
    assert runs == ["2024", "2024"]
    assert tree(site_dir / "pagefind") == tree(tmp_path / "fresh" / "pagefind")


def test_fragments_copied_where_they_cannot_be_linked_are_readable_by_all_whatever_the_umask(
        built_site, tmp_path, monkeypatch):
    "A file system without hard links: the live bundle's fragments are copied, and published as they are."
    db_path, site_dir = indexed_copy(built_site, tmp_path)
    change_one_answer(db_path)

    def no_hard_links(source, target):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(fragment_reuse.os, "link", no_hard_links)
    previous = os.umask(0o077)
    try:
        search.update_index(db_path, site_dir)
    finally:
        os.umask(previous)
    modes = {path.name: path.stat().st_mode & 0o777
             for path in (site_dir / "pagefind" / "2024" / fragment_reuse.FRAGMENTS).iterdir()}
    assert len(modes) > 1 and {name: mode for name, mode in modes.items() if mode != 0o644} == {}


def test_a_lengthened_name_makes_the_bundle_again_and_keeps_no_map(built_site, tmp_path,
                                                                    monkeypatch):
    "A name longer than Pagefind's plain one means a collision: nothing is trusted."
    db_path, site_dir = indexed_copy(built_site, tmp_path)
    change_one_answer(db_path)
    monkeypatch.setattr(fragment_reuse, "PLAIN_NAME_LENGTH", fragment_reuse.PLAIN_NAME_LENGTH - 1)
    runs = counting_runs(monkeypatch)
    search.update_index(db_path, site_dir)
    assert runs == ["2024", "2024"]
    scratch = site_dir.with_name("site" + search.SCRATCH_SUFFIX) / "2024"
    assert not (scratch / fragment_reuse.MAP_NAME).exists()
    search.update_index(db_path, tmp_path / "fresh")
    assert tree(site_dir / "pagefind") == tree(tmp_path / "fresh" / "pagefind")


def test_a_fragments_url_is_read_from_its_first_bytes_or_else_from_the_whole_of_it(built_site, tmp_path):
    """The URL Pagefind gives a record is read from the start of its fragment, and only where
    it is not there from the whole file; a file that is not a whole fragment gives none."""
    fragments = sorted((built_site.site / "pagefind" / "2024" / fragment_reuse.FRAGMENTS).iterdir())
    shown = {json.loads(gzip.decompress(path.read_bytes())[len(b"pagefind_dcd"):])["url"]: path for path in fragments}
    assert len(shown) == len(fragments) > 1
    assert {fragment_reuse.fragment_url(str(path)): path for path in fragments} == shown
    url, path = next(iter(shown.items()))
    content = json.loads(gzip.decompress(path.read_bytes())[len(b"pagefind_dcd"):])

    def packed(name: str, data: dict | None = None, signature: bytes = b"pagefind_dcd") -> str:
        target = tmp_path / name
        target.write_bytes(gzip.compress(signature + json.dumps(data or content).encode()))
        return str(target)

    long_url = "/commons_2024-01-01_" + "9" * 600 + ".html"
    assert fragment_reuse.fragment_url(packed("reordered", {"content": "x", **content})) == url
    assert fragment_reuse.fragment_url(packed("long", dict(content, url=long_url))) == long_url
    assert fragment_reuse.fragment_url(packed("unsigned", signature=b"")) is None
    # Only the start is read: a file cut after it still names its URL; one cut before, none.
    whole = path.read_bytes()
    for name, data, expected in [("cut late", whole[:len(whole) // 2], url), ("cut early", whole[:20], None),
                                 ("not gzip", b'pagefind_dcd{"url":"/a.html"}', None), ("empty", b"", None)]:
        (tmp_path / name).write_bytes(data)
        assert fragment_reuse.fragment_url(str(tmp_path / name)) == expected, name
    assert fragment_reuse.fragment_url(str(tmp_path / "missing")) is None


def test_a_map_learned_for_another_bundle_or_code_is_not_used(built_site, tmp_path, monkeypatch):
    db_path, site_dir = indexed_copy(built_site, tmp_path)
    bundle = site_dir / "pagefind" / "2024"
    scratch = site_dir.with_name("site" + search.SCRATCH_SUFFIX) / "2024"
    version = search.search_code_version()
    assert fragment_reuse.kept_map(scratch, bundle, version)
    assert not fragment_reuse.kept_map(scratch, bundle, "other code")
    kept = json.loads((scratch / fragment_reuse.MAP_NAME).read_text())
    kept["meta"] = "0" * 64  # as if the bundle in place were not the one the map was learned from
    (scratch / fragment_reuse.MAP_NAME).write_text(json.dumps(kept))
    assert not fragment_reuse.kept_map(scratch, bundle, version)
    before = fragment_files(bundle)
    change_one_answer(db_path)
    search.update_index(db_path, site_dir)
    assert not set(before.values()) & set(fragment_files(bundle).values())
    search.update_index(db_path, tmp_path / "fresh")
    assert tree(site_dir / "pagefind") == tree(tmp_path / "fresh" / "pagefind")


def one_thread(monkeypatch) -> None:
    """Other tests' idle threads (a server's, say) may outlive them in this process: what these
    tests look at is the indexing in its own process, not when it may start."""
    monkeypatch.setattr(search.threading, "active_count", lambda: 1)


def test_an_indexing_in_a_process_of_its_own_makes_what_one_here_makes(built_site, tmp_path,
                                                                       fresh_index, monkeypatch):
    one_thread(monkeypatch)
    indexing = search.IndexingProcess.start(built_site.db, tmp_path / "site")
    assert indexing is not None
    folder, report = fresh_index
    assert indexing.result() == report
    assert not indexing.process.is_alive()
    assert tree(tmp_path / "site" / "pagefind") == tree(folder / "pagefind")


def test_an_indexing_in_a_process_of_its_own_that_fails_raises_its_error_here(built_site, tmp_path,
                                                                              monkeypatch, capfd):
    def failing_write(items, folder, source):
        raise RuntimeError("no space left on device")

    one_thread(monkeypatch)
    monkeypatch.setattr(search, "write_bundle", failing_write)  # the child is a fork: patched too
    indexing = search.IndexingProcess.start(built_site.db, tmp_path / "site")
    with pytest.raises(search.SearchIndexError, match="no space left on device"):
        indexing.result()
    assert not indexing.process.is_alive()

    def unforeseen(db, limit=None):
        raise KeyError("a bug")

    monkeypatch.setattr(search, "urls_by_bundle", unforeseen)
    indexing = search.IndexingProcess.start(built_site.db, tmp_path / "other-site")
    with pytest.raises(search.SearchIndexError, match="ended without finishing"):
        indexing.result()
    assert "KeyError: 'a bug'" in capfd.readouterr().err  # its traceback, printed by the child


def test_no_indexing_process_is_forked_while_another_thread_runs(tmp_path):
    # A thread may hold a lock (SQLite's, say) that a forked child would wait for forever.
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert search.IndexingProcess.start(tmp_path / "answers.db", tmp_path / "site") is None
    finally:
        release.set()
        other.join()
    assert not (tmp_path / "site").exists()


def test_an_indexing_in_a_process_of_its_own_ends_with_a_build_killed_alone(tmp_path):
    # A build killed by its id alone (not its process group) leaves no indexing writing on.
    build = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import os, sys, time
        from answers import search
        search.update_index = lambda db_path, site_dir: time.sleep(120)  # an indexing that lasts
        print(search.IndexingProcess.start(sys.argv[1], sys.argv[2]).process.pid, flush=True)
        os.kill(os.getpid(), 9)  # the build killed: nothing of its own runs after this
        """), str(tmp_path / "answers.db"), str(tmp_path / "site")],
        stdout=subprocess.PIPE, text=True)
    with build.stdout:  # the indexing holds this pipe too: read its first line, not to its end
        indexing = int(build.stdout.readline())
    build.wait()
    try:
        assert ended_within(indexing, 30)  # it would otherwise index for two minutes
    finally:
        if is_running(indexing):
            os.kill(indexing, signal.SIGKILL)


@pytest.mark.parametrize("already_set", [None, "tcache_max:65536"])
def test_pagefind_reads_the_allocator_settings_it_is_given_unless_the_user_set_their_own(
        monkeypatch, already_set):
    # Pagefind's allocator takes the settings only under the variable its build reads: a Pagefind
    # built otherwise would ignore them silently, and index with three times the page faults.
    if already_set is None:
        monkeypatch.delenv(search.PAGEFIND_ALLOCATOR_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(search.PAGEFIND_ALLOCATOR_VARIABLE, already_set)
    environment = search.pagefind_environment()
    environment[search.PAGEFIND_ALLOCATOR_VARIABLE] += ",stats_print:true"  # its settings, at exit
    shown = subprocess.run([search.pagefind_binary(), "--version"], env=environment,
                           capture_output=True, text=True, check=True)
    settings = already_set or search.PAGEFIND_ALLOCATOR_SETTINGS
    assert f"opt.tcache_max: {settings.split(':')[1]}" in shown.stdout + shown.stderr


def test_the_bundles_pagefind_is_run_with_those_allocator_settings(tmp_path, monkeypatch):
    # Settings the allocator refuses, and is told to stop on: the indexing fails, so they reached it.
    monkeypatch.delenv(search.PAGEFIND_ALLOCATOR_VARIABLE, raising=False)
    monkeypatch.setattr(search, "PAGEFIND_ALLOCATOR_SETTINGS", "abort_conf:true,tcache_max:none")
    record = [("/" + CHANGED_URL, "<html><body><main data-pagefind-body><p>Zeppelins</p></main></body></html>")]
    with pytest.raises(search.SearchIndexError, match="Invalid conf value: tcache_max:none"):
        search.write_bundle(record, tmp_path / "bundle", tmp_path / "scratch")
