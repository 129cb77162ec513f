"""The search index (search.py): inert values, searchable text only, one bundle per year,
identical bytes from identical inputs, and builds that are complete or do not count."""

from __future__ import annotations

import html
import json
import re
import shutil
from contextlib import closing
from pathlib import Path

import lxml.html
import pytest
import sqlite_utils

from answers import search

SEED_URL = "commons/2018-11-21/p40657d7024/"
CHANGED_URL = "commons/2024-08-30/3283/"
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


def change_one_answer(db_path: Path) -> None:
    with closing(sqlite_utils.Database(db_path)) as db:
        [row] = db.query("select key from questions where url = ?", [CHANGED_URL])
        db["questions"].update(row["key"], {"answer_text": "A changed answer about zeppelins."})


def test_a_changed_page_reindexes_only_its_bundle(index_copy, tmp_path_factory):
    site_dir = index_copy / "site"
    before = tree(site_dir / "pagefind")
    change_one_answer(index_copy / "answers.db")
    previous = search.take_state(site_dir)
    (site_dir / "pagefind" / "stray.js").write_text("left from an old index")
    (site_dir / "pagefind" / "1999").mkdir()
    report = search.update_index(index_copy / "answers.db", site_dir,
                                 [CHANGED_URL + "index.html", "days/index.html"], previous)
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

    def fail_half_way(items, folder):
        folder.mkdir(parents=True)
        (folder / "pagefind.js").write_text("half a bundle")
        raise RuntimeError("killed")

    monkeypatch.setattr(search, "write_bundle", fail_half_way)
    previous = search.take_state(site_dir)
    with pytest.raises(search.SearchIndexError):
        search.update_index(index_copy / "answers.db", site_dir, [CHANGED_URL + "index.html"],
                            previous)
    failed = tree(site_dir / "pagefind")
    assert {path: data for path, data in failed.items() if path != ".state.json"} == \
        {path: data for path, data in before.items() if path != ".state.json"}
    monkeypatch.undo()
    # The site build after it writes nothing new, yet the index is brought up to date.
    report = search.update_index(index_copy / "answers.db", site_dir, [],
                                 search.take_state(site_dir))
    assert list(report.indexed) == ["2024"]
    fresh = index_copy / "fresh"
    search.update_index(index_copy / "answers.db", fresh)
    assert tree(site_dir / "pagefind") == tree(fresh / "pagefind")


def test_bundles_touched_are_those_of_question_pages():
    assert search.bundles_touched([CHANGED_URL + "index.html", CHANGED_URL + "index.json",
                                   "days/2024/08/30/index.html", "lords/2009-10-29/hl5813/index.html",
                                   "bodies/home-office/index.html"]) == {"2024", "2009"}
