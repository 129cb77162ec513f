"""Replacing a file in one step: the temporary files that writers make, where they make them,
and finding what a killed writer left."""

from __future__ import annotations

from answers import atomic
from answers.atomic import temporary_files, write_atomically


def test_the_scratch_folder_is_made_on_first_use_only(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    made, make_folders = [], atomic.make_folders
    monkeypatch.setattr(atomic, "make_folders", lambda path: made.append(path) or make_folders(path))
    for name in ("a", "b", "c"):
        write_atomically(tmp_path / name, name.encode(), scratch=scratch)
    assert made.count(scratch) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a", "b", "c", "scratch"]
    assert (tmp_path / "c").read_bytes() == b"c" and list(scratch.iterdir()) == []


def test_the_temporary_files_of_a_folder_are_those_the_writers_name(tmp_path):
    for name in (".answers.db.digests.json.k1lled.tmp", ".answers.db.members.json.1.2.tmp",
                 ".other.db.x.tmp", "answers.db.tmp", "answers.db"):
        (tmp_path / name).write_text("")
    (tmp_path / ".folder.tmp").mkdir()
    assert [path.name for path in temporary_files(tmp_path, "answers.db.")] == [
        ".answers.db.digests.json.k1lled.tmp", ".answers.db.members.json.1.2.tmp"]
    assert len(temporary_files(tmp_path)) == 3 and temporary_files(tmp_path / "missing") == []
