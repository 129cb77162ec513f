"""The manifest of the pages and the site (answers.manifest.PageManifest): a SQLite file beside
the output folder; a build reads the entries it looks up and writes the ones it changed; a
build stopped half way leaves entries that vouch for nothing; a build that changes nothing
writes nothing; a damaged or foreign file counts as none."""

from __future__ import annotations

import sqlite3

import pytest

from answers.manifest import MANIFEST_NAME, PageManifest, page_manifest_contents, page_manifest_path
from answers.output import Output


def is_text(entry) -> bool:
    return isinstance(entry, str)


def saved(folder, entries: dict, version: str = "v1", state: dict | None = None) -> None:
    "A complete build's manifest holding these entries."
    manifest = PageManifest.take(Output(folder), version, is_text)
    manifest.current.update(entries)
    manifest.save(state)


def entries_in_file(folder) -> dict:
    return page_manifest_contents(folder)["entries"]


def files_beside(folder) -> list[str]:
    return sorted(path.name for path in folder.parent.iterdir() if path.name.startswith(folder.name + "."))


def test_the_manifest_lives_beside_the_output_folder_never_inside(tmp_path):
    out = tmp_path / "site"
    saved(out, {"a/": "digest"})
    assert page_manifest_path(out) == tmp_path / "site.manifest.sqlite"
    assert list(out.iterdir()) == []
    assert files_beside(out) == ["site.manifest.sqlite"]  # no journal stays


def test_manifest_is_taken_only_for_the_same_code(tmp_path):
    out = tmp_path / "pages"
    assert PageManifest.take(Output(out), "v1", is_text).previous == {}
    saved(out, {"commons/2024-07-17/11/": "digest"}, state={"generation": 1})
    taken = PageManifest.take(Output(out), "v1", is_text)
    assert dict(taken.previous) == {"commons/2024-07-17/11/": "digest"} and taken.state == {"generation": 1}
    taken.close()
    other = PageManifest.take(Output(out), "v2", is_text)
    assert other.previous == {} and other.state is None and other.other_code_state == {"generation": 1}
    assert other.written_before() == {"commons/2024-07-17/11/": "digest"}  # what the files held
    other.close()


def test_entries_are_read_a_batch_at_a_time_and_only_the_valid_ones(tmp_path):
    out = tmp_path / "site"
    saved(out, {"a/": "digest a", "b/": "digest b", "c/": ["not", "text"]})
    for version in ("v1", "v2"):  # this code's entries, or another's (what the files held)
        taken = PageManifest.take(Output(out), version, is_text)
        stored = taken.written_before()
        assert stored.batch(["a/", "c/", "d/"]) == {"a/": "digest a"} and stored.batch([]) == {}
        assert stored.batch(["b/", "a/"]) == {"a/": "digest a", "b/": "digest b"}
        stored.all()  # once every entry is read, from there
        assert stored.batch(["b/", "c/"]) == {"b/": "digest b"}
        taken.close()


def test_a_build_that_changes_a_file_withdraws_the_entries_until_it_saves(tmp_path):
    out = tmp_path / "pages"
    saved(out, {"a/": "digest"}, state={"generation": 1})
    output = Output(out)
    taken = PageManifest.take(output, "v1", is_text)
    output.write("a/index.md", "a page")
    # Stopped here: the next build finds no entries and no state, and renders everything.
    stopped = PageManifest.take(Output(out), "v1", is_text)
    assert stopped.previous == {} and stopped.state is None and not stopped.holds_entries()
    assert stopped.written_before() == {}
    stopped.close()
    taken.carry_over()
    taken.save({"generation": 2})
    again = PageManifest.take(Output(out), "v1", is_text)
    assert dict(again.previous) == {"a/": "digest"} and again.state == {"generation": 2}
    again.close()


def test_a_build_that_changes_nothing_writes_nothing(tmp_path):
    out = tmp_path / "pages"
    Output(out).write("a/index.md", "a page")
    saved(out, {"a/": "digest"})
    path = page_manifest_path(out)
    written_at = path.stat().st_mtime_ns
    output = Output(out)
    with PageManifest.take(output, "v1", is_text) as taken:
        assert not output.write("a/index.md", "a page")
        taken.carry_over()
        taken.current["a/"] = taken.previous["a/"]
        assert taken.unchanged(None)
    assert path.stat().st_mtime_ns == written_at and files_beside(out) == ["pages.manifest.sqlite"]


def test_carried_over_entries_are_kept_and_only_those_set_or_deleted_change(tmp_path):
    out = tmp_path / "site"
    saved(out, {f"{n}/": f"digest {n}" for n in range(5)})
    with PageManifest.take(Output(out), "v1", is_text) as taken:
        taken.carry_over()
        taken.current["1/"] = "new digest"
        taken.current["9/"] = "digest 9"
        del taken.current["3/"]
        assert len(taken.current) == 5 and "3/" not in taken.current
        assert not taken.unchanged(None)
        taken.save()
    assert entries_in_file(out) == {"0/": '"digest 0"', "1/": '"new digest"', "2/": '"digest 2"',
                                    "4/": '"digest 4"', "9/": '"digest 9"'}


def test_a_whole_record_replaces_every_entry(tmp_path):
    out = tmp_path / "site"
    saved(out, {"a/": "old", "b/": "old"})
    with PageManifest.take(Output(out), "v1", is_text) as taken:
        taken.current["b/"] = "new"  # not carried over: what this build records is all there is
        taken.save()
    assert entries_in_file(out) == {"b/": '"new"'}


def test_entries_are_found_by_their_indexed_part(tmp_path):
    out = tmp_path / "pages"
    manifest = PageManifest.take(Output(out), "v1", lambda entry: isinstance(entry, list), indexed_part=1)
    manifest.current.update({"a/": ["d1", "key-a"], "b/": ["d2", "key-b"], "c/": ["d3", "key-a"]})
    manifest.save()
    with PageManifest.take(Output(out), "v1", lambda entry: isinstance(entry, list), indexed_part=1) as taken:
        assert taken.previous.with_part({"key-a"}) == {"a/": ["d1", "key-a"], "c/": ["d3", "key-a"]}
        assert taken.previous.with_part(set()) == {}


def test_an_entry_that_is_not_valid_is_as_if_missing(tmp_path):
    out = tmp_path / "pages"
    saved(out, {"a/": "digest", "b/": "digest"})
    with sqlite3.connect(page_manifest_path(out)) as connection:
        connection.execute("update entries set entry = '[1]' where key = 'b/'")
    connection.close()
    with PageManifest.take(Output(out), "v1", is_text) as taken:
        assert taken.previous.get("b/") is None and "b/" not in taken.previous
        assert dict(taken.previous.items()) == {"a/": "digest"}
        taken.carry_over()
        del taken.current["b/"]  # still the file's to delete (its page is gone, say)
        with pytest.raises(KeyError):
            del taken.current["c/"]
        taken.save()
    assert entries_in_file(out) == {"a/": '"digest"'}


def test_entries_found_by_their_part_are_found_valid_or_not(tmp_path):
    "What the file holds under a question's key: its page may have to be removed."
    out = tmp_path / "pages"
    manifest = PageManifest.take(Output(out), "v1", lambda entry: len(entry) == 2, indexed_part=1)
    manifest.current.update({"a/": ["d1", "key-a"], "b/": ["d2", "key-b", "more"]})
    manifest.save()
    with PageManifest.take(Output(out), "v1", lambda entry: len(entry) == 2, indexed_part=1) as taken:
        assert taken.previous.get("b/") is None
        assert taken.previous.with_part({"key-a", "key-b"}) == {"a/": ["d1", "key-a"], "b/": ["d2", "key-b", "more"]}


@pytest.mark.parametrize("spoil", ["not sqlite", "truncated", "foreign", "no header"])
def test_a_damaged_or_foreign_file_counts_as_none_and_is_replaced(tmp_path, spoil):
    out = tmp_path / "pages"
    saved(out, {"a/": "digest"}, state={"generation": 1})
    path = page_manifest_path(out)
    if spoil == "not sqlite":
        path.write_bytes(b"\xff\x00 not a database" * 100)
    elif spoil == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif spoil == "foreign":
        path.unlink()
        with sqlite3.connect(path) as connection:
            connection.execute("create table header (name text)")
        connection.close()
    else:
        with sqlite3.connect(path) as connection:
            connection.execute("delete from header")
        connection.close()
    output = Output(out)
    taken = PageManifest.take(output, "v1", is_text)
    assert taken.previous == {} and taken.state is None and not taken.holds_entries()
    assert taken.written_before() == {}
    output.write("a/index.md", "a page")
    taken.current["a/"] = "digest"
    taken.save({"generation": 2})
    assert page_manifest_contents(out) == {"version": "v1", "state": {"generation": 2}, "complete": True,
                                           "entries": {"a/": '"digest"'}}
    assert files_beside(out) == ["pages.manifest.sqlite"]


def test_another_stage_reads_the_header_only(tmp_path):
    out = tmp_path / "pages"
    saved(out, {"a/": "digest"}, state={"generation": 3})
    read = PageManifest.read(out, "v1", is_text)
    assert read.state == {"generation": 3} and read.connection is None
    assert PageManifest.read(tmp_path / "elsewhere", "v1", is_text).state is None
    assert not page_manifest_path(tmp_path / "elsewhere").exists()  # reading makes no file


def test_a_build_that_changes_something_removes_the_manifest_kept_inside_the_folder_before(tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / MANIFEST_NAME).write_text("{}\n{}")  # where an earlier layout kept it: published
    output = Output(out)
    PageManifest.take(output, "v1", is_text).close()
    assert (out / MANIFEST_NAME).is_file()  # nothing changed yet: nothing written or removed
    output.write("a/index.html", "a page")
    assert not (out / MANIFEST_NAME).exists()
