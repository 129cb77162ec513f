"""The member reference extract (answers.extract) on hand-made reference data: only the wanted
members' rows, in the same formats, giving the loader the same names and offices."""

from __future__ import annotations

import csv
import gzip
import shutil
from pathlib import Path

import pytest

from answers import extract
from answers.members import MemberDirectory
from answers.model import MemberRef
from conftest import FIXTURES

CANDIDACY_HEADER = ["Election date", "Constituency name", "Party name", "Candidate first name",
                    "Candidate surname", "Member MNIS ID", "Votes"]


@pytest.fixture
def reference(tmp_path) -> Path:
    "The minimal member fixture, with a by-election file and a gzipped maiden-speech file."
    folder = tmp_path / "members"
    shutil.copytree(FIXTURES / "members" / "minimal", folder)
    (folder / "README.md").unlink()
    elections = folder / "psephology" / "by-elections"
    elections.mkdir(parents=True)
    rows = [
        ["01/05/2025", "Easttown", "Liberal Democrat", "Zoë", "O'Brien", "9003", "900"],
        ["01/05/2025", "Easttown", "Labour", "Sam", "Jones", "9004", "800"],  # lost
        ["01/05/2025", "Westtown", "Labour", "Sam", "Jones", "9004", "700"],
        ["01/05/2025", "Westtown", "Green Party", "Zoë", "O'Brien", "9003", "10"],  # lost
    ]
    with open(elections / "candidacies.csv", "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows([CANDIDACY_HEADER, *rows])
    speeches = "Parliament number,Member ,MNIS Member ID,Constituency\r\n" \
               "59,Zoë O'Brien,9003,Easttown\r\n59,Sam Jones,9004,Westtown\r\n"
    (folder / "maiden-speeches.csv.gz").write_bytes(gzip.compress(speeches.encode()))
    return folder


def read_rows(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return list(csv.reader(data.decode("utf-8-sig").splitlines()))


def test_only_the_wanted_members_rows_are_kept(reference, tmp_path):
    report = extract.extract([reference], tmp_path / "out", {"9003"})
    out = tmp_path / "out" / "members"
    assert [row[2] for row in read_rows(out / "dfe-mp-lookup" / "mp_lookup.csv")] == ["member_id", "9003"]
    assert [row[1:3] for row in read_rows(out / "maiden-speeches.csv.gz")] == [
        ["Member ", "MNIS Member ID"], ["Zoë O'Brien", "9003"]]
    people = read_rows(out / "ifg-ministers-database" / "data" / "person.csv")
    assert [row[0] for row in people] == ["id", "p-zoe"]
    assert report.rows[str(out / "dfe-mp-lookup" / "mp_lookup.csv")] == (1, 4)


def test_a_candidacy_is_kept_only_where_the_member_won(reference, tmp_path):
    extract.extract([reference], tmp_path / "out", {"9003"})
    path = tmp_path / "out" / "members" / "psephology" / "by-elections" / "candidacies.csv"
    assert read_rows(path) == [CANDIDACY_HEADER,
                               ["01/05/2025", "Easttown", "Liberal Democrat", "Zoë", "O'Brien", "9003", "900"]]
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data  # the BOM and line ends as given


def test_a_reversed_range_keeps_the_next_holder_that_repairs_it(reference, tmp_path):
    extract.extract([reference], tmp_path / "out", {"9003"})
    appointments = read_rows(tmp_path / "out" / "members" / "ifg-ministers-database" / "data"
                             / "appointment.csv")
    # a1 ends before it starts; a2 (another member's) starts the post's next term.
    assert [row[0] for row in appointments] == ["id", "a1", "a2", "a4"]


def test_the_loader_reads_the_extract_as_it_reads_the_whole(reference, tmp_path):
    extract.extract([reference], tmp_path / "out", {"9003"})
    whole = MemberDirectory.load([reference])
    part = MemberDirectory.load([tmp_path / "out" / "members"])
    assert part.resolve(whole.resolve(MemberRef("9003"))) == whole.resolve(MemberRef("9003"))
    for day in ("2025-10-01", "2026-05-13", "2026-05-15"):
        assert part.office_on("9003", day, "HM Treasury") == whole.office_on("9003", day, "HM Treasury")
    assert part.office_on("9003", "2025-10-01", "HM Treasury") is not None
    assert part.resolve(MemberRef("9004")) == MemberRef("9004")
