"""The soak harness's own comparisons (bench/soak.py): if these were wrong, `make soak` could pass
over a build that differs, or fail one that does not."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from pathlib import Path

import pytest

SOAK_PATH = Path(__file__).resolve().parent.parent / "bench" / "soak.py"
spec = importlib.util.spec_from_file_location("soak", SOAK_PATH)
soak = importlib.util.module_from_spec(spec)
sys.modules["soak"] = soak  # dataclasses look their module up there
spec.loader.exec_module(soak)

QUESTIONS = [("a", "schools funding"), ("b", "hospital waiting lists"), ("c", None)]


def make_db(path: Path, rows: list[tuple]) -> Path:
    "A database shaped like the archive's: a table and an external-content full-text index."
    connection = sqlite3.connect(path)
    connection.execute("create table questions (key text primary key, text text)")
    connection.execute("create virtual table questions_fts using fts5(text, content=questions)")
    for row in rows:
        cursor = connection.execute("insert into questions values (?, ?)", row)
        connection.execute("insert into questions_fts(rowid, text) values (?, ?)",
                           (cursor.lastrowid, row[1]))
    connection.commit()
    connection.close()
    return path


def test_percentile_is_nearest_rank():
    latencies = [float(n) for n in range(1, 101)]
    assert soak.percentile(latencies, 0.5) == 50.0
    assert soak.percentile(latencies, 0.99) == 99.0
    assert soak.percentile([0.3, 0.1, 0.2], 0.99) == 0.3
    assert soak.percentile([7.0], 0.5) == 7.0
    assert soak.percentile([], 0.99) == 0.0


def test_diff_trees_names_missing_extra_and_changed_files():
    expected = {"index.html": "1", "feed.xml": "2", "pagefind/a.pf": "3"}
    actual = {"index.html": "1", "feed.xml": "9", "pagefind/b.pf": "4"}
    assert soak.diff_trees(expected, actual) == [
        "changed feed.xml", "missing pagefind/a.pf", "extra pagefind/b.pf"]
    assert soak.diff_trees(expected, dict(expected)) == []


def test_tree_digests_include_hidden_files_and_bytes(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "index.html").write_text("one")
    (tmp_path / ".manifest.json").write_text("{}")
    before = soak.tree_digests(tmp_path)
    assert sorted(before) == [".manifest.json", "a/b/index.html"]
    (tmp_path / "a" / "b" / "index.html").write_text("two")
    assert soak.diff_trees(before, soak.tree_digests(tmp_path)) == ["changed a/b/index.html"]


def test_tree_digests_show_an_empty_folder(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "index.html").write_text("one")
    assert soak.diff_trees({"a/index.html": soak.file_digest(tmp_path / "a" / "index.html")},
                           soak.tree_digests(tmp_path)) == ["extra a/b/"]


def test_db_dump_ignores_the_order_rows_were_written_in(tmp_path):
    forward = make_db(tmp_path / "forward.db", QUESTIONS)
    backward = make_db(tmp_path / "backward.db", QUESTIONS[::-1])
    assert soak.diff_dumps(soak.db_dump(forward), soak.db_dump(backward)) == []


def test_db_dump_names_the_row_and_column_that_changed(tmp_path):
    clean = make_db(tmp_path / "clean.db", QUESTIONS)
    changed = make_db(tmp_path / "changed.db", [*QUESTIONS[:2], ("c", "clipped")])
    differences = soak.diff_dumps(soak.db_dump(clean), soak.db_dump(changed))
    assert differences == ["table questions: row 'c', column text: expected ...None, got ...'clipped'"]


def test_db_dump_shows_where_a_long_value_starts_to_differ(tmp_path):
    answer = "The Department has no plans to change the guidance. " * 3
    clean = make_db(tmp_path / "clean.db", [("a", answer + "Signed.")])
    clipped = make_db(tmp_path / "clipped.db", [("a", answer + "[...]")])
    [difference] = soak.diff_dumps(soak.db_dump(clean), soak.db_dump(clipped))
    assert difference == ("table questions: row 'a', column text: "
                          "expected ...hange the guidance. Signed.', got ...hange the guidance. [...]'")


def test_db_dump_names_a_missing_row(tmp_path):
    clean = make_db(tmp_path / "clean.db", QUESTIONS)
    short = make_db(tmp_path / "short.db", QUESTIONS[:2])
    assert soak.diff_dumps(soak.db_dump(clean), soak.db_dump(short)) == [
        "table questions: missing row ('c', None)"]


def test_db_dump_finds_a_full_text_index_left_behind_its_content(tmp_path):
    clean = make_db(tmp_path / "clean.db", QUESTIONS)
    stale = make_db(tmp_path / "stale.db", QUESTIONS)
    connection = sqlite3.connect(stale)
    connection.execute("update questions set text = 'prison places' where key = 'a'")
    connection.commit()
    connection.close()
    [(check,)] = soak.db_dump(stale)["questions_fts (integrity)"][1]
    assert check.startswith("index disagrees with its content")
    tables = [line.split(":")[0] for line in soak.diff_dumps(soak.db_dump(clean), soak.db_dump(stale))]
    assert tables == ["table questions", "table questions_fts (integrity)"]


def test_db_dump_leaves_the_database_untouched(tmp_path):
    db = make_db(tmp_path / "answers.db", QUESTIONS)
    before = soak.tree_stats(tmp_path)
    soak.db_dump(db)
    assert soak.tree_stats(tmp_path) == before


@pytest.mark.parametrize(("before", "after", "described"), [
    (None, (1, 5, "x"), "created index.html"),
    ((1, 5, "x"), None, "deleted index.html"),
    ((1, 5, "x"), (1, 6, "y"), "changed index.html"),
    ((1, 5, "x"), (1, 6, "x"), "rewritten, same bytes, index.html"),
])
def test_describe_change_says_how_a_no_op_rebuild_touched_a_file(before, after, described):
    assert soak.describe_change("index.html", before, after) == described


def test_interleave_keeps_every_request_and_spreads_the_shorter_list():
    site = [f"page{n}" for n in range(10)]
    datasette = ["row1", "row2", "row3", "row4"]
    merged = soak.interleave(site, datasette)
    assert sorted(merged) == sorted(site + datasette)
    assert [item for item in merged if item in site] == site
    positions = [merged.index(row) for row in datasette]
    assert max(b - a for a, b in zip(positions, positions[1:], strict=False)) <= 4
    assert soak.interleave(datasette, site) == merged
