"""The output writer (answers.output): never outside its folder, never the same file twice,
never a file whose bytes have not changed; stale files removed; the manifest of a build."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

from answers import atomic
from answers import output as output_module
from answers.manifest import MANIFEST_NAME, Manifest
from answers.output import SCRATCH_NAME, DuplicateOutputError, Output, OutsideOutputError, bytes_digest, inputs_digest

WRITES = pytest.mark.parametrize("write", ["write"])


@WRITES
def test_output_refuses_paths_outside_and_double_writes(tmp_path, write):
    output = Output(tmp_path / "out")
    with pytest.raises(OutsideOutputError):
        getattr(output, write)("../escape.html", "no")
    with pytest.raises(OutsideOutputError):
        getattr(output, write)("/etc/passwd", "no")
    assert getattr(output, write)("a/index.html", "yes")
    with pytest.raises(DuplicateOutputError):
        getattr(output, write)("a/index.html", "again")
    assert not (tmp_path / "escape.html").exists()


@WRITES
def test_a_link_that_leads_outside_is_refused(tmp_path, write):
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "out" / "link")
    with pytest.raises(OutsideOutputError):
        getattr(Output(tmp_path / "out"), write)("link/index.html", "no")
    assert not (tmp_path / "elsewhere" / "index.html").exists()


@WRITES
def test_same_bytes_are_not_written_again(tmp_path, write):
    Output(tmp_path).write("page/index.html", "<p>one</p>")
    before = os.stat(tmp_path / "page" / "index.html").st_mtime_ns
    again = Output(tmp_path)
    assert getattr(again, write)("page/index.html", "<p>one</p>") is False
    assert getattr(again, write)("other/index.html", b"\x00bytes") is True
    assert (again.written, again.unchanged) == (["other/index.html"], 1)
    assert os.stat(tmp_path / "page" / "index.html").st_mtime_ns == before


@WRITES
def test_changed_bytes_replace_the_file_and_leave_no_temporary(tmp_path, write):
    Output(tmp_path).write("page/index.html", "old")
    output = Output(tmp_path)
    assert getattr(output, write)("page/index.html", "new")
    assert (tmp_path / "page" / "index.html").read_text() == "new"
    assert sorted(p.name for p in (tmp_path / "page").iterdir()) == ["index.html"]


@WRITES
def test_a_scratch_folder_that_is_a_link_is_not_written_through(tmp_path, write, monkeypatch):
    # Half-written files are made in the scratch folder: were it a link to a folder outside,
    # each would be written there first, then renamed into the output.
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "out" / SCRATCH_NAME)
    moved, replace = [], os.replace
    monkeypatch.setattr(os, "replace", lambda source, target: moved.append(
        os.path.realpath(source)) or replace(source, target))
    assert getattr(Output(tmp_path / "out"), write)("page/index.html", "whole")
    assert moved and all(Path(source).is_relative_to(tmp_path / "out") for source in moved)
    assert (tmp_path / "out" / "page" / "index.html").read_text() == "whole"


def test_a_folder_that_is_a_link_inside_the_output_is_written_through_to_where_it_leads(tmp_path):
    (tmp_path / "out" / "real").mkdir(parents=True)
    os.symlink(tmp_path / "out" / "real", tmp_path / "out" / "link")
    output = Output(tmp_path / "out")
    assert output.write("link/index.html", "through")
    assert (tmp_path / "out" / "real" / "index.html").read_text() == "through"
    assert os.path.islink(tmp_path / "out" / "link")
    with pytest.raises(DuplicateOutputError):  # the same file by another name
        output.write("real/index.html", "again")


def test_a_folder_swapped_for_a_link_between_builds_is_checked_again(tmp_path):
    Output(tmp_path / "out").write("page/index.html", "first")
    (tmp_path / "elsewhere").mkdir()
    os.rename(tmp_path / "out" / "page", tmp_path / "old")
    os.symlink(tmp_path / "elsewhere", tmp_path / "out" / "page")
    with pytest.raises(OutsideOutputError):
        Output(tmp_path / "out").write("page/index.html", "second")
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_files_in_folders_this_build_made_are_written_without_reading_what_was_there(tmp_path, monkeypatch):
    Output(tmp_path).write("kept/index.html", "kept")
    reads, read = [], output_module.read_unless_link
    monkeypatch.setattr(output_module, "read_unless_link", lambda path: reads.append(path) or read(path))
    output = Output(tmp_path)
    assert output.write("new/deep/index.html", "a") and output.write("new/deep/index.json", "{}")
    assert output.write("new/index.html", "b")
    assert reads == []  # none of them could be there before
    assert not output.write("kept/index.html", "kept") and reads == [str(tmp_path / "kept" / "index.html")]
    assert output.written == ["new/deep/index.html", "new/deep/index.json", "new/index.html"]


def test_a_folder_a_build_removed_is_made_again_for_a_file_written_there_later(tmp_path):
    Output(tmp_path).write("gone/page/index.html", "old")
    output = Output(tmp_path)
    output.write("gone/page/index.json", "{}")
    assert output.remove(["gone/page/index.html", "gone/page/index.json"]) == [
        "gone/page/index.html", "gone/page/index.json"]
    assert not (tmp_path / "gone").exists()
    output.seen.clear()  # as a later build in the same process would see it
    assert output.write("gone/page/index.html", "back")
    assert (tmp_path / "gone" / "page" / "index.html").read_text() == "back"


def test_inputs_digests_are_those_json_made_so_that_records_stay_valid():
    inputs = ("listing.html", {"title": "Schools – “funding”", "items": [{"key": "c-1", "n": 3, "x": None,
                                                                        "ok": True, "share": 12.5}]}, None)
    as_json = json.dumps(inputs, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert inputs_digest(*inputs) == hashlib.sha256(as_json.encode("utf-8")).hexdigest()
    beyond_64_bits = 2 ** 70
    assert inputs_digest(beyond_64_bits) == hashlib.sha256(f"[{beyond_64_bits}]".encode()).hexdigest()


def test_a_page_that_is_a_link_is_replaced_by_a_file_and_what_it_led_to_is_left_alone(tmp_path):
    (tmp_path / "out" / "page").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", tmp_path / "out" / "page" / "index.html")
    output = Output(tmp_path / "out")
    assert output.write("page/index.html", "outside")  # the same text as the link's target: still written
    assert not os.path.islink(tmp_path / "out" / "page" / "index.html")
    assert (tmp_path / "out" / "page" / "index.html").read_text() == "outside"
    assert (tmp_path / "secret.txt").read_text() == "outside" and output.written == ["page/index.html"]


def test_a_page_is_readable_by_all_whatever_the_umask_and_a_killed_builds_temporary_is_replaced(tmp_path):
    (tmp_path / "page").mkdir()
    leftover = tmp_path / "page" / f".index.html.{os.getpid()}.{threading.get_ident()}.tmp"
    leftover.write_text("half a page")
    previous = os.umask(0o077)
    try:
        Output(tmp_path).write("page/index.html", "<p>whole</p>")
    finally:
        os.umask(previous)
    assert (tmp_path / "page" / "index.html").read_text() == "<p>whole</p>"
    assert os.stat(tmp_path / "page" / "index.html").st_mode & 0o777 == 0o644
    assert sorted(p.name for p in (tmp_path / "page").iterdir()) == ["index.html"]


def a_killed_build_writing(tmp_path, monkeypatch, relative_path: str) -> Path:
    """The state a build killed part way through writing `relative_path` leaves: the folder
    noted under that build's name, and a half-written temporary file beside the target."""
    monkeypatch.setattr(output_module, "BUILD", "killedbuild")
    Output(tmp_path).write(relative_path, "the last build's page")
    monkeypatch.undo()
    half = tmp_path / relative_path
    half = half.with_name(f".{half.name}.99999.1.tmp")
    half.write_text("half a page")
    return half


@WRITES
def test_what_a_killed_build_left_half_written_deep_in_the_output_is_swept_without_a_walk(tmp_path, write,
                                                                                      monkeypatch):
    # Its temporary file is beside the page, and the folder is named in that build's notes in
    # the scratch folder: the next build finds it there, without walking the output.
    a_killed_build_writing(tmp_path, monkeypatch, "commons/2024-08-30/3283/index.html")
    (tmp_path / "commons/2024-08-30/3283/.index.json.99999.1.tmp").write_text("half a twin")
    (tmp_path / ".manifest.json.abc.tmp").write_text("half a manifest")
    output = Output(tmp_path)
    getattr(output, write)("commons/2024-08-30/3283/index.html", "whole")
    removed = output.remove_leftovers(("*.tmp",))
    assert removed == ["commons/2024-08-30/3283/.index.html.99999.1.tmp",
                       "commons/2024-08-30/3283/.index.json.99999.1.tmp", ".manifest.json.abc.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["commons"]
    assert sorted(p.name for p in (tmp_path / "commons/2024-08-30/3283").iterdir()) == ["index.html"]
    assert (tmp_path / "commons/2024-08-30/3283/index.html").read_text() == "whole"


def test_a_builds_own_notes_are_removed_unread_and_a_later_write_notes_its_folder_again(tmp_path):
    output = Output(tmp_path)
    output.write("a/index.html", "a")
    (tmp_path / "a" / ".index.html.99999.1.tmp").write_text("not this build's writer's")
    assert output.remove_leftovers(()) == [] and not (tmp_path / SCRATCH_NAME).exists()
    output.write("b/index.html", "b")
    notes = list((tmp_path / SCRATCH_NAME).iterdir())
    assert [output_module.noted_folders(path) for path in notes] == [["b"]]


def test_a_noted_folder_now_a_link_out_of_the_output_is_not_swept_through(tmp_path, monkeypatch):
    out = tmp_path / "out"
    a_killed_build_writing(out, monkeypatch, "a/index.html")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / ".keep.tmp").write_text("not the archive's")
    for path in (out / "a").iterdir():
        path.unlink()
    (out / "a").rmdir()
    os.symlink(tmp_path / "elsewhere", out / "a")
    assert Output(out).remove_leftovers(()) == []
    assert (tmp_path / "elsewhere" / ".keep.tmp").read_text() == "not the archive's"
    assert not (out / SCRATCH_NAME).exists()


def test_a_link_named_like_a_temporary_file_in_a_noted_folder_is_removed_and_not_followed(tmp_path, monkeypatch):
    # What the sweep removes is the leftover itself: a link is not a half-written file of
    # this output's, and what it leads to (a page of the archive, a file outside) stays.
    out = tmp_path / "out"
    a_killed_build_writing(out, monkeypatch, "a/index.html")
    Output(out).write("b/index.html", "another page")
    (tmp_path / "elsewhere.txt").write_text("not the archive's")
    os.symlink(tmp_path / "elsewhere.txt", out / "a" / ".outside.tmp")
    os.symlink("../b/index.html", out / "a" / ".inside.tmp")
    removed = Output(out).remove_leftovers(())
    assert removed == ["a/.index.html.99999.1.tmp", "a/.inside.tmp", "a/.outside.tmp"]
    assert sorted(path.name for path in (out / "a").iterdir()) == ["index.html"]
    assert (out / "b" / "index.html").read_text() == "another page"
    assert (tmp_path / "elsewhere.txt").read_text() == "not the archive's"


def test_a_notes_line_a_killed_writer_left_half_written_is_skipped(tmp_path):
    notes = tmp_path / "notes"
    notes.write_bytes(b'"a"\n"b/c"\n"d/e')
    assert output_module.noted_folders(notes) == ["a", "b/c"]
    notes.write_bytes(b'"a"\n{"not": "a folder"}\nnot json\n')
    assert output_module.noted_folders(notes) == ["a"]


def test_notes_that_cannot_be_read_stop_no_build_and_the_other_notes_are_still_swept(tmp_path, monkeypatch):
    # A folder named like a notes file (or one whose bytes cannot be read) is not a note of
    # any build's: the build sweeps what the readable notes name, and ends.
    half = a_killed_build_writing(tmp_path, monkeypatch, "a/index.html")
    (tmp_path / SCRATCH_NAME / f"another.1{output_module.NOTES_SUFFIX}").mkdir()
    assert Output(tmp_path).remove_leftovers(()) == [f"a/{half.name}"]
    assert sorted(path.name for path in (tmp_path / "a").iterdir()) == ["index.html"]


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


def test_a_folder_that_began_empty_holds_nothing_stale_and_is_not_walked(tmp_path, monkeypatch):
    fresh = Output(tmp_path / "fresh")
    used = Output(tmp_path / "used")
    used.write("old/index.html", "from an earlier build")
    again = Output(tmp_path / "used")
    for output in (fresh, again):
        output.write("new/index.html", "this build's")
    walked = []
    real_walk = output_module.walk_sorted
    monkeypatch.setattr(output_module, "walk_sorted", lambda root: walked.append(root) or real_walk(root))
    assert fresh.began_empty and fresh.remove_stale(("*.html",)) == [] and walked == []
    assert (tmp_path / "fresh" / "new" / "index.html").read_text() == "this build's"
    assert not again.began_empty and again.remove_stale(("*.html",)) == ["old/index.html"]
    assert walked == [str(tmp_path / "used")]


def test_removing_stale_files_does_not_follow_a_link_to_a_folder_outside(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "index.html").write_text("not the build's")
    first = Output(tmp_path / "out")
    for path in ("b/index.html", "a/2/index.html", "a/1/index.html", "a/index.json"):
        first.write(path, path)
    os.symlink(tmp_path / "elsewhere", tmp_path / "out" / "a" / "link")
    second = Output(tmp_path / "out")
    assert second.remove_stale(("index.*",)) == ["a/index.json", "a/1/index.html", "a/2/index.html", "b/index.html"]
    assert (tmp_path / "elsewhere" / "index.html").read_text() == "not the build's"
    second.remove_leftovers(())  # as a build ends: the notes of the folders written go
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["a"]


def test_a_build_that_checks_every_file_removes_the_empty_folders_a_killed_build_left(tmp_path):
    # A build killed between removing a page and removing its folder leaves the folder empty
    # (and its parent holding only that): the next build, which checks every file since the
    # killed one withdrew the manifest, finds no file there to remove, yet must not keep them.
    first = Output(tmp_path)
    first.write("commons/2024-01-02/7/index.html", "kept")
    (tmp_path / "commons/2024-01-01/3").mkdir(parents=True)
    (tmp_path / "pagefind/empty").mkdir(parents=True)  # a kept folder: not the build's to judge
    second = Output(tmp_path)
    second.write("commons/2024-01-02/7/index.html", "kept")
    assert second.remove_stale(("*.html",), spare_folders=("pagefind",)) == []
    assert sorted(path.name for path in (tmp_path / "commons").iterdir()) == ["2024-01-02"]
    assert (tmp_path / "pagefind/empty").is_dir()


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


def test_the_last_build_s_entries_under_other_code_still_say_what_was_written(tmp_path):
    manifest = Manifest.take(Output(tmp_path), "v1", lambda entry: isinstance(entry, str))
    manifest.current = {"commons-2024-07-17-11": "digest"}
    manifest.save()
    other_code = Manifest.take(Output(tmp_path), "v2", lambda entry: isinstance(entry, str))
    assert other_code.previous == {} and other_code.written_before() == {"commons-2024-07-17-11": "digest"}
    assert Manifest.take(Output(tmp_path), "v2", lambda entry: False).written_before() == {}  # not its entries
    (tmp_path / MANIFEST_NAME).write_bytes((tmp_path / MANIFEST_NAME).read_bytes() + b" ")  # damaged
    assert Manifest.take(Output(tmp_path), "v2", lambda entry: True).written_before() == {}


def test_a_page_known_changed_is_written_without_reading_its_old_bytes(tmp_path, monkeypatch):
    output = Output(tmp_path)
    output.write("a/index.html", "old")
    reads = []
    monkeypatch.setattr(output_module, "read_unless_link", lambda path: reads.append(path))
    again = Output(tmp_path)
    assert again.write("a/index.html", "new", changed=True) and reads == []
    assert (tmp_path / "a" / "index.html").read_text() == "new" and again.written == ["a/index.html"]


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


def modes_below(folder: Path) -> dict[str, int]:
    "The permission bits of every folder and file below `folder` (hidden ones too), by relative path."
    return {path.relative_to(folder).as_posix() + ("/" if path.is_dir() else ""): path.stat().st_mode & 0o777
            for path in sorted(folder.rglob("*"))}


def under_umask(mask: int, work):
    previous = os.umask(mask)
    try:
        return work()
    finally:
        os.umask(previous)


def test_folders_an_output_makes_are_public_whatever_the_umask_and_those_it_found_are_left_alone(tmp_path):
    "A published site is served by a web server of another user: umask 077 must not hide it."
    (tmp_path / "out" / "private").mkdir(parents=True)
    (tmp_path / "out" / "private").chmod(0o700)

    def write_some():
        output = Output(tmp_path / "out" / "site")
        output.write("commons/2024-08-30/3283/index.html", "<p>page</p>")
        output.write("days/../bodies/home-office/index.html", "<p>resolved</p>")  # `write_resolved`
        Output(tmp_path / "out").write("private/new/index.html", "<p>inside</p>")
        atomic.write_atomically(tmp_path / "out" / "site" / "downloads" / "answers.db.gz", b"data")

    under_umask(0o077, write_some)
    modes = {path if not path.endswith(".folders") else path.rpartition("/")[0] + "/<notes>": mode
             for path, mode in modes_below(tmp_path / "out").items()}
    # The notes of the folders written (what a killed build left is found by) are the build's own.
    assert modes == {
        "private/": 0o700, "private/new/": 0o755, "private/new/index.html": 0o644,
        "site/": 0o755, "site/bodies/": 0o755, "site/bodies/home-office/": 0o755,
        "site/bodies/home-office/index.html": 0o644, "site/commons/": 0o755, "site/commons/2024-08-30/": 0o755,
        "site/commons/2024-08-30/3283/": 0o755, "site/commons/2024-08-30/3283/index.html": 0o644,
        "site/downloads/": 0o755, "site/downloads/answers.db.gz": 0o644,
        ".writing/": 0o755, "site/.writing/": 0o755, ".writing/<notes>": 0o600, "site/.writing/<notes>": 0o600}


def test_a_whole_build_under_umask_077_is_readable_by_all(tmp_path, monkeypatch):
    "Every folder and file of the pages and the site, the downloads' and the search index's too: 0755 and 0644."
    from answers import search
    from test_incremental import build, make_archive

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")
    content, folder = make_archive(tmp_path), tmp_path / "build"

    def build_all():
        build(folder, content)
        search.update_index(folder / "answers.db", folder / "site")

    under_umask(0o077, build_all)
    pages, site = (modes_below(folder / stage) for stage in ("pages", "site"))
    assert "commons/2024-08-01/103/index.md" in pages
    assert {"downloads/answers.db.gz", "pagefind/bundles.json", "pagefind/2024/pagefind.js"} <= set(site)
    for modes in (pages, site):
        assert {path: mode for path, mode in modes.items()
                if mode != (0o755 if path.endswith("/") else 0o644)} == {}
