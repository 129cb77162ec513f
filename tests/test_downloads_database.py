"""The compressed downloads (downloads.py) as gzip members: answers.db.gz one per CHUNK_SIZE
of the database, each year's questions files one per block of rows; every gzip reader takes
them as one stream, and a build compresses again only the pieces and blocks whose bytes
changed, giving the bytes a clean build gives. Builds from a copy of the shared small
archive's database, in pieces and blocks small enough for it to have many."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import zlib

import pytest

from answers import downloads
from answers.render import SiteConfig, make_environment

PIECE = 16 * 1024  # the small archive's database is a few MB: this gives it hundreds of pieces
BLOCK = 4  # rows a block, on average
LAST_2023 = "select max(key) from questions where date_tabled glob '2023-*'"  # the one corrected


@pytest.fixture
def database(built_site, tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "CHUNK_SIZE", PIECE)
    monkeypatch.setattr(downloads, "BLOCK_ROWS", BLOCK)
    db_path = tmp_path / "answers.db"
    shutil.copyfile(built_site.db, db_path)
    return db_path


@pytest.fixture
def compressed_pieces(monkeypatch):
    "The digest of every piece of the database the build compresses, in order."
    pieces = []
    original = downloads.compressed

    def spy(data: bytes) -> bytes:
        pieces.append(hashlib.sha256(data).hexdigest())
        return original(data)

    monkeypatch.setattr(downloads, "compressed", spy)
    return pieces


def build(db_path, site, check_all=False):
    config = SiteConfig(base_url="https://answers.example.org/")
    return downloads.write_downloads(db_path, site / "downloads", make_environment(config), config,
                                     check_all)


def piece_digests(db_path) -> list[str]:
    data = db_path.read_bytes()
    return [hashlib.sha256(data[at:at + PIECE]).hexdigest() for at in range(0, len(data), PIECE)]


def members(path) -> list[bytes]:
    "What each gzip member of the file holds, decompressed one by one."
    data, held = path.read_bytes(), []
    while data:
        member = zlib.decompressobj(wbits=31)
        held.append(member.decompress(data))
        data = member.unused_data
    return held


def correct_a_heading(db_path):
    with sqlite3.connect(db_path) as db:
        db.execute(f"update questions set heading = 'A heading corrected' where key = ({LAST_2023})")
    status = db_path.stat()  # as a build that wrote it would
    os.utime(db_path, ns=(status.st_atime_ns, status.st_mtime_ns + 10**10))


def test_the_database_is_one_member_a_piece_and_reads_as_one_stream(database, tmp_path):
    build(database, tmp_path / "site")
    packed = tmp_path / "site" / "downloads" / "answers.db.gz"
    held = members(packed)
    data = database.read_bytes()
    assert len(held) == -(-len(data) // PIECE) > 100
    assert all(len(piece) == PIECE for piece in held[:-1])
    assert b"".join(held) == data
    assert gzip.decompress(packed.read_bytes()) == data
    assert subprocess.run(["zcat", str(packed)], capture_output=True, check=True).stdout == data


def test_a_change_recompresses_only_the_pieces_it_touched(database, tmp_path, compressed_pieces):
    site = tmp_path / "site"
    build(database, site)
    before = piece_digests(database)
    assert compressed_pieces[-len(before):] == before  # a first build compresses every piece
    compressed_pieces.clear()

    correct_a_heading(database)
    report = build(database, site)
    after = piece_digests(database)
    touched = [digest for digest in after if digest not in set(before)]
    assert 0 < len(touched) < len(after) // 4
    database_pieces = [digest for digest in compressed_pieces if digest in set(after)]
    assert database_pieces == touched
    assert "answers.db.gz" in report.written
    assert gzip.decompress((site / "downloads" / "answers.db.gz").read_bytes()) == database.read_bytes()


def test_an_incremental_build_gives_the_bytes_of_a_clean_one(database, tmp_path):
    build(database, tmp_path / "incremental")
    correct_a_heading(database)
    build(database, tmp_path / "incremental")
    build(database, tmp_path / "clean")
    incremental, clean = tmp_path / "incremental" / "downloads", tmp_path / "clean" / "downloads"
    names = sorted(path.name for path in clean.iterdir() if path.name != ".manifest.json")
    assert names == sorted(path.name for path in incremental.iterdir()
                           if path.name != ".manifest.json")
    for name in names:
        assert (incremental / name).read_bytes() == (clean / name).read_bytes(), name
    sums = dict(reversed(line.split("  ", 1))
                for line in (incremental / "SHA256SUMS").read_text().splitlines())
    digest = hashlib.sha256((incremental / "answers.db.gz").read_bytes()).hexdigest()
    assert sums["answers.db.gz"] == digest


def damage_keeping_time_and_size(path) -> None:
    "Edit a file in place as a hand might, then give it back its old time: only reading it tells."
    status = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def test_verify_finds_a_damaged_copy_and_copies_nothing_from_it(database, tmp_path, compressed_pieces):
    """A daily build trusts a file by its time and size, as the rest of the build does; a file
    edited in place and given back its old time and size is found by `check_all` (`answers
    verify`), which reads it: every piece is compressed again, none copied from it."""
    site = tmp_path / "site"
    build(database, site)
    packed = site / "downloads" / "answers.db.gz"
    damage_keeping_time_and_size(packed)
    compressed_pieces.clear()

    correct_a_heading(database)
    report = build(database, site, check_all=True)
    assert [digest for digest in compressed_pieces if digest in set(piece_digests(database))] == \
        piece_digests(database)
    assert gzip.decompress(packed.read_bytes()) == database.read_bytes()
    assert "answers.db.gz" in report.written


def test_verify_repairs_a_damaged_copy_of_unchanged_rows(database, tmp_path):
    "With no change to the rows, `check_all` still reads every file and remakes an edited one."
    site = tmp_path / "site"
    build(database, site)
    year_file = site / "downloads" / f"{last_question(database)[1]}.csv.gz"
    original = year_file.read_bytes()
    damage_keeping_time_and_size(year_file)
    assert build(database, site).written == []  # trusted by its time and size

    report = build(database, site, check_all=True)
    assert report.written == [year_file.name]
    assert year_file.read_bytes() == original


def test_a_damaged_copy_is_not_copied_from_so_verify_can_still_find_it(database, tmp_path):
    """A change copies most of answers.db.gz from the file the last build left. Copied from a
    file damaged since (its time and size kept, as a failing disk leaves them), the damage
    would be published again and recorded as right, where `answers verify` could never find
    it: a file copied from is read first, and made afresh unless it holds what was recorded."""
    site = tmp_path / "site"
    build(database, site)
    packed = site / "downloads" / "answers.db.gz"
    damage_keeping_time_and_size(packed)

    correct_a_heading(database)
    report = build(database, site)
    assert "answers.db.gz" in report.written
    assert gzip.decompress(packed.read_bytes()) == database.read_bytes()
    assert build(database, site, check_all=True).written == []


def test_a_copy_changed_since_the_manifest_is_not_copied_from(database, tmp_path, compressed_pieces):
    "A file modified after the last build saved its manifest is made afresh, piece by piece."
    site = tmp_path / "site"
    build(database, site)
    packed = site / "downloads" / "answers.db.gz"
    status = packed.stat()
    os.utime(packed, ns=(status.st_atime_ns, status.st_mtime_ns + 10**10))
    compressed_pieces.clear()

    correct_a_heading(database)
    build(database, site)
    assert [digest for digest in compressed_pieces if digest in set(piece_digests(database))] == \
        piece_digests(database)


class ReadsCounted:
    """The bytes read from each file through `open` in downloads.py, and every file hashed whole
    (`file_digest`)."""

    def __init__(self, monkeypatch):
        self.read: dict[str, int] = {}
        self.hashed: list[str] = []
        monkeypatch.setattr(downloads, "open", self.open, raising=False)
        file_digest = downloads.file_digest
        monkeypatch.setattr(downloads, "file_digest",
                            lambda path: self.hashed.append(str(path)) or file_digest(path))

    def open(self, path, *args, **kwargs):
        return CountedFile(open(path, *args, **kwargs), self.read, str(path))


class CountedFile:
    def __init__(self, file, counts: dict[str, int], path: str):
        self.file, self.counts, self.path = file, counts, path

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.file.close()

    def read(self, *args):
        data = self.file.read(*args)
        self.counts[self.path] = self.counts.get(self.path, 0) + len(data)
        return data

    def readinto(self, buffer):
        count = self.file.readinto(buffer)
        self.counts[self.path] = self.counts.get(self.path, 0) + count
        return count

    def __getattr__(self, name):
        return getattr(self.file, name)


def test_a_change_hashes_the_last_files_it_copies_from_and_copies_only_their_members(database, tmp_path,
                                                                                      monkeypatch):
    """One corrected question: each compressed file the last build left is read once, whole,
    as its members are copied (hashed on the way, to know it is whole: not hashed apart), and
    only the members copied into the new file are written to it (not the members made again;
    the new file is not read again to be hashed); the files written equal a clean build's."""
    site = tmp_path / "site"
    build(database, site)
    folder = site / "downloads"
    before = json.loads((folder / ".manifest.json").read_text().split("\n", 1)[1])
    previous = {name: members for entry in before.values()
                for name, members in entry.get("members", {}).items()}
    sizes = {name: (folder / name).stat().st_size for name in previous}

    correct_a_heading(database)
    reads = ReadsCounted(monkeypatch)
    report = build(database, site)

    after = json.loads((folder / ".manifest.json").read_text().split("\n", 1)[1])
    rewritten = {name: members for entry in after.values()
                 for name, members in entry.get("members", {}).items() if name in report.written}
    _, stem = last_question(database)
    assert set(rewritten) == {"answers.db.gz", f"{stem}.csv.gz", f"{stem}.ndjson.gz"}
    for name, members in rewritten.items():
        kept = {digest for digest, _ in previous[name]}
        copied = sum(length for digest, length in members if digest in kept)
        assert 0 < copied < sizes[name] == reads.read[str(folder / name)], name
    assert reads.hashed == []
    assert reads.read[str(database)] == database.stat().st_size  # the database, read once
    build(database, tmp_path / "clean")
    for name in report.written:
        assert (folder / name).read_bytes() == (tmp_path / "clean" / "downloads" / name).read_bytes(), name


def test_a_build_stopped_while_compressing_leaves_no_claim_and_no_half_file(database, tmp_path, monkeypatch):
    """A build that dies part way through answers.db.gz (after replacing a year's files) leaves
    the old answers.db.gz whole, no temporary file, and no manifest to vouch for what changed;
    the next build makes the files of a clean build."""
    site = tmp_path / "site"
    build(database, site)
    folder = site / "downloads"
    packed = folder / "answers.db.gz"
    old = packed.read_bytes()
    correct_a_heading(database)
    calls, compress = [], downloads.compressed

    def dies_on_the_fourth_piece(data: bytes) -> bytes:
        calls.append(len(data))
        if len(calls) == 4:
            raise KeyboardInterrupt
        return compress(data)

    monkeypatch.setattr(downloads, "compressed", dies_on_the_fourth_piece)
    with pytest.raises(KeyboardInterrupt):
        build(database, site)
    assert packed.read_bytes() == old
    assert not (folder / ".manifest.json").exists()
    assert not any((folder / ".writing").iterdir())

    monkeypatch.setattr(downloads, "compressed", compress)
    build(database, site)
    build(database, tmp_path / "clean")
    names = sorted(path.name for path in folder.iterdir())
    assert names == sorted(path.name for path in (tmp_path / "clean" / "downloads").iterdir())
    for name in names:
        if name != ".manifest.json":
            assert (folder / name).read_bytes() == (tmp_path / "clean" / "downloads" / name).read_bytes(), name


def last_question(db_path) -> tuple[str, str]:
    "The key and year file stem of the question the corrections here reach."
    with sqlite3.connect(db_path) as db:
        (key,) = db.execute(LAST_2023).fetchone()
    return key, "questions-2023"


def test_a_year_file_is_a_header_then_blocks_of_rows(database, tmp_path):
    build(database, tmp_path / "site")
    folder = tmp_path / "site" / "downloads"
    _, stem = last_question(database)
    csv_members = members(folder / f"{stem}.csv.gz")
    ndjson_members = members(folder / f"{stem}.ndjson.gz")
    assert csv_members[0].startswith(b"key,house,uin,") and csv_members[0].count(b"\r\n") == 1
    assert len(csv_members) == len(ndjson_members) + 1 > 3
    with sqlite3.connect(database) as db:
        rows = db.execute("select count(*) from questions where date_tabled like ?",
                          [stem.removeprefix("questions-") + "-%"]).fetchone()[0]
    assert sum(member.count(b"\n") for member in ndjson_members) == rows
    keys = [json.loads(line)["key"] for member in ndjson_members for line in member.splitlines()]
    assert keys == sorted(keys)  # blocks in key order, each ending where its last key says
    for member in ndjson_members:
        last = json.loads(member.splitlines()[-1])["key"]
        assert zlib.crc32(last.encode()) % BLOCK == 0 or member is ndjson_members[-1]


def test_a_corrected_row_recompresses_only_its_block(database, tmp_path, compressed_pieces):
    site = tmp_path / "site"
    build(database, site)
    before = {path.name: path.read_bytes() for path in (site / "downloads").iterdir()}
    compressed_pieces.clear()

    correct_a_heading(database)
    report = build(database, site)
    key, stem = last_question(database)
    database_pieces = set(piece_digests(database))
    year_members = [digest for digest in compressed_pieces if digest not in database_pieces]
    assert len(year_members) == 2  # the block of the corrected row, as CSV and as NDJSON
    assert {name for name in report.written if name.startswith("questions-")} == {
        f"{stem}.csv.gz", f"{stem}.ndjson.gz"}
    after = members(site / "downloads" / f"{stem}.ndjson.gz")
    changed = [member for member, old in zip(after, members_of(before[f"{stem}.ndjson.gz"]),
                                             strict=True) if member != old]
    assert len(changed) == 1 and b"A heading corrected" in changed[0] and key.encode() in changed[0]


def members_of(data: bytes) -> list[bytes]:
    held = []
    while data:
        member = zlib.decompressobj(wbits=31)
        held.append(member.decompress(data))
        data = member.unused_data
    return held
