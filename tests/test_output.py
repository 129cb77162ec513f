"""The output writer (answers.output): never outside its folder, never the same file twice,
never a file whose bytes have not changed; stale files removed; the manifest of a build."""

from __future__ import annotations

import os

import pytest

from answers.output import (
    MANIFEST_NAME,
    DuplicateOutputError,
    Manifest,
    Output,
    OutsideOutputError,
    bytes_digest,
)


def test_output_refuses_paths_outside_and_double_writes(tmp_path):
    output = Output(tmp_path / "out")
    with pytest.raises(OutsideOutputError):
        output.write("../escape.html", "no")
    with pytest.raises(OutsideOutputError):
        output.write("/etc/passwd", "no")
    assert output.write("a/index.html", "yes")
    with pytest.raises(DuplicateOutputError):
        output.write("a/index.html", "again")
    assert not (tmp_path / "escape.html").exists()


def test_a_link_that_leads_outside_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "out" / "link")
    with pytest.raises(OutsideOutputError):
        Output(tmp_path / "out").write("link/index.html", "no")
    assert not (tmp_path / "elsewhere" / "index.html").exists()


def test_same_bytes_are_not_written_again(tmp_path):
    Output(tmp_path).write("page/index.html", "<p>one</p>")
    before = os.stat(tmp_path / "page" / "index.html").st_mtime_ns
    again = Output(tmp_path)
    assert again.write("page/index.html", "<p>one</p>") is False
    assert again.write("other/index.html", b"\x00bytes") is True
    assert (again.written, again.unchanged) == (["other/index.html"], 1)
    assert os.stat(tmp_path / "page" / "index.html").st_mtime_ns == before


def test_changed_bytes_replace_the_file_and_leave_no_temporary(tmp_path):
    Output(tmp_path).write("page/index.html", "old")
    output = Output(tmp_path)
    assert output.write("page/index.html", "new")
    assert (tmp_path / "page" / "index.html").read_text() == "new"
    assert sorted(p.name for p in (tmp_path / "page").iterdir()) == ["index.html"]


def test_confirm_unchanged_claims_files_only_when_all_still_hold_what_was_written(tmp_path):
    Output(tmp_path).write("a/index.html", "a")
    Output(tmp_path).write("a/index.json", "{}")
    digests = {"a/index.html": bytes_digest("a"), "a/index.json": bytes_digest("{}")}
    output = Output(tmp_path)
    assert output.confirm_unchanged(digests) and output.unchanged == 2
    with pytest.raises(DuplicateOutputError):
        output.write("a/index.html", "a")
    (tmp_path / "a" / "index.json").write_text("changed by hand")
    assert not Output(tmp_path).confirm_unchanged(digests)
    assert not Output(tmp_path).confirm_unchanged({"../a/index.html": bytes_digest("a")})


def test_stale_files_are_removed_with_their_empty_folders_but_kept_folders_stay(tmp_path):
    first = Output(tmp_path)
    for path in ("old/index.html", "new/index.html", "pagefind/index.html", "notes.txt"):
        first.write(path, path)
    second = Output(tmp_path)
    second.write("new/index.html", "new/index.html")
    removed = second.remove_stale(("*.html",), spare_folders=("pagefind",))
    assert removed == ["old/index.html"]
    assert not (tmp_path / "old").exists()
    assert (tmp_path / "pagefind" / "index.html").exists() and (tmp_path / "notes.txt").exists()


def test_manifest_is_taken_once_and_only_for_the_same_code(tmp_path):
    manifest = Manifest.take(Output(tmp_path), "v1", lambda entry: isinstance(entry, str))
    assert manifest.previous == {}
    manifest.current = {"commons-2024-07-17-11": "digest"}
    manifest.save()
    output = Output(tmp_path)
    taken = Manifest.take(output, "v1", lambda entry: isinstance(entry, str))
    assert taken.previous == {"commons-2024-07-17-11": "digest"}
    output.write("a/index.html", "a page")
    assert not (tmp_path / MANIFEST_NAME).exists()  # changed files: none until this build saves
    taken.save()
    assert Manifest.take(Output(tmp_path), "v2", lambda entry: True).previous == {}


def test_a_build_that_changes_nothing_leaves_the_manifest_untouched(tmp_path):
    output = Output(tmp_path)
    output.write("a/index.html", "a page")
    manifest = Manifest.take(output, "v1", lambda entry: True)
    manifest.current = {"a/": "digest"}
    manifest.save()
    written_at = (tmp_path / MANIFEST_NAME).stat().st_mtime_ns
    again = Output(tmp_path)
    taken = Manifest.take(again, "v1", lambda entry: True)
    assert not again.write("a/index.html", "a page")
    taken.current = dict(taken.previous)
    taken.save()
    assert (tmp_path / MANIFEST_NAME).stat().st_mtime_ns == written_at


def test_an_unreadable_manifest_counts_as_none(tmp_path):
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    assert Manifest.take(Output(tmp_path), "v1", lambda entry: True).previous == {}
