"""A small extract of the member reference data: the rows a set of source answers needs.

Reads source answers (the sample in `content/`) and the full member reference folders (the
shared corpus's `members/`); writes the same files, in the same formats and at the same paths
below an output folder (`reference/members/`), keeping only the rows about the members those
questions name (asker, answerer, corrector, by MNIS id). `MemberDirectory.load` reads the
extract as it reads the full data, so that a clone without the shared corpus still shows the
sample's names, parties, seats and the offices held on each answer date.

Which rows a member needs, by file:

- `mp_lookup.csv`, `current_mps.json`, `maiden-speeches.csv.gz`: the member's own rows;
- `candidacies.csv`: the winning row of each contest a member won (losing candidates are
  never read for names, and keeping a lone losing row would make it a winner);
- the IfG Ministers Database (`person`, `appointment`, `post`, `organisation`,
  `representation`, `representation_characteristics`): the member's person rows, their
  appointments (and, for a range that ends before it starts, the later appointments to
  the same post, whose start repairs it), those posts, their departments, and the member's
  periods in Parliament with their parties.

Other files (parlparse's 2009 data, IfG tables the loader does not read) are left out.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import sources
from .model import MemberRef

# The 2019 general-election candidacies file has no header row; these are its columns.
HEADERLESS_CANDIDACY_COLUMNS = {"Constituency name": 2, "Member MNIS ID": 17, "Votes": 18}

IFG_TABLES = ("person.csv", "appointment.csv", "post.csv", "organisation.csv",
              "representation.csv", "representation_characteristics.csv")


@dataclass
class ExtractReport:
    members: int = 0
    rows: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (kept, of)
    left_out: list[str] = field(default_factory=list)


@dataclass
class Table:
    "A CSV file's rows with the details needed to write it back the same way."

    header: list[str] | None
    rows: list[list[str]]
    newline: str
    bom: bool
    quote_all: bool

    @classmethod
    def read(cls, path: Path, has_header: bool = True) -> Table:
        data = read_file(path)
        bom = data.startswith(b"\xef\xbb\xbf")
        text = data.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        header = rows.pop(0) if has_header and rows else None
        return cls(header, rows, "\r\n" if "\r\n" in text[:10000] else "\n", bom,
                   text.startswith('"'))

    def column(self, name: str) -> int:
        return self.header.index(name) if self.header else HEADERLESS_CANDIDACY_COLUMNS[name]

    def values(self, name: str) -> list[str]:
        index = self.column(name)
        return [row[index] if index < len(row) else "" for row in self.rows]

    def keep(self, wanted: list[bool]) -> Table:
        rows = [row for row, keep in zip(self.rows, wanted, strict=True) if keep]
        return Table(self.header, rows, self.newline, self.bom, self.quote_all)

    def write(self, path: Path) -> None:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator=self.newline,
                            quoting=csv.QUOTE_ALL if self.quote_all else csv.QUOTE_MINIMAL)
        if self.header is not None:
            writer.writerow(self.header)
        writer.writerows(self.rows)
        write_file(path, ("\ufeff" if self.bom else "") + buffer.getvalue())


def read_file(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def write_file(path: Path, text: str) -> None:
    "Write text, gzip-compressed (with no timestamp, so the bytes repeat) when the name says so."
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0) if path.suffix == ".gz" else data)


def mnis(value) -> str | None:
    "An MNIS id as digits: '4399', 4399 and '4399.0' all give '4399'."
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return str(int(number)) if number > 0 and number.is_integer() else None


# -- which members ------------------------------------------------------------------------


def sample_member_ids(inputs: Iterable[str | Path], directory) -> set[str]:
    """The MNIS ids of every member the questions under `inputs` name, a name-only reference
    resolved by `directory` as the build resolves it."""
    ids = set()
    for path in sources.discover(inputs):
        if sources.reader_for(path) is None or sources.is_superseded(path):
            continue
        for record in sources.read(path):
            for ref in member_refs(record):
                resolved = directory.resolve(ref) if directory else ref
                if resolved.id.isdigit():
                    ids.add(resolved.id)
    return ids


def member_refs(record) -> list[MemberRef]:
    refs = [getattr(record, name, None)
            for name in ("asking_member", "answering_member", "correcting_member")]
    return [ref for ref in refs if isinstance(ref, MemberRef)]


# -- the extract --------------------------------------------------------------------------


def extract(member_folders: Iterable[Path], out: Path, wanted: set[str]) -> ExtractReport:
    """Write the extract of each folder's reference files for the `wanted` MNIS ids into
    `out/<folder name>/`, at the same relative paths."""
    report = ExtractReport(members=len(wanted))
    for folder in member_folders:
        folder = Path(folder)
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            target = out / folder.name / path.relative_to(folder)
            name = path.name.removesuffix(".gz")
            if name == "appointment.csv":
                extract_ifg(path.parent, target.parent, wanted, report)
            elif name in IFG_TABLES:
                continue  # written with appointment.csv
            elif name in SIMPLE_FILES:
                kept, total = SIMPLE_FILES[name](path, target, wanted)
                report.rows[str(target)] = (kept, total)
            else:
                report.left_out.append(str(path))
    return report


def extract_rows_by_id(column: str):
    "An extractor for a CSV file with one row per member, keeping the wanted members' rows."

    def run(path: Path, target: Path, wanted: set[str]) -> tuple[int, int]:
        table = Table.read(path)
        kept = table.keep([mnis(value) in wanted for value in table.values(column)])
        kept.write(target)
        return len(kept.rows), len(table.rows)

    return run


def extract_current_mps(path: Path, target: Path, wanted: set[str]) -> tuple[int, int]:
    members = json.loads(read_file(path).decode("utf-8-sig"))
    kept = [m for m in members if isinstance(m, dict) and mnis(m.get("id")) in wanted]
    write_file(target, json.dumps(kept, ensure_ascii=False))
    return len(kept), len(members)


def extract_candidacies(path: Path, target: Path, wanted: set[str]) -> tuple[int, int]:
    "The winner of each contest (most votes; the first of a tie), where a wanted member won."
    first_line = read_file(path)[:2000].decode("utf-8-sig", errors="replace")
    table = Table.read(path, has_header="Member MNIS ID" in first_line.splitlines()[0])
    dates = table.values("Election date") if table.header and "Election date" in table.header \
        else [""] * len(table.rows)
    seats, ids, votes = (table.values(name) for name in ("Constituency name", "Member MNIS ID", "Votes"))
    winners: dict[tuple[str, str], tuple[int, int]] = {}  # contest -> (votes, row number)
    for number, contest in enumerate(zip(dates, seats, strict=True)):
        if not votes[number].strip().isdigit():
            continue
        if contest not in winners or int(votes[number]) > winners[contest][0]:
            winners[contest] = (int(votes[number]), number)
    keep_rows = {number for _, number in winners.values() if mnis(ids[number]) in wanted}
    kept = table.keep([number in keep_rows for number in range(len(table.rows))])
    kept.write(target)
    return len(kept.rows), len(table.rows)


SIMPLE_FILES = {
    "mp_lookup.csv": extract_rows_by_id("member_id"),
    "maiden-speeches.csv": extract_rows_by_id("MNIS Member ID"),
    "current_mps.json": extract_current_mps,
    "candidacies.csv": extract_candidacies,
}


def extract_ifg(folder: Path, target: Path, wanted: set[str], report: ExtractReport) -> None:
    "The IfG tables the member loader reads, joined outwards from the wanted members' persons."
    tables = {name: Table.read(folder / name) for name in IFG_TABLES if (folder / name).exists()}
    person = tables["person.csv"]
    people = {pid for pid, mid in zip(person.values("id"), person.values("id_parliament"), strict=True)
              if mnis(mid) in wanted}
    appointment = tables["appointment.csv"]
    posts = {post for pid, post in zip(appointment.values("person_id"), appointment.values("post_id"),
                                       strict=True) if pid in people}
    appointments = appointments_needed(appointment, people)
    post = tables["post.csv"]
    organisations = {org for pid, org in zip(post.values("id"), post.values("organisation_id"), strict=True)
                     if pid in posts}
    kept = {
        "person.csv": person.keep([pid in people for pid in person.values("id")]),
        "appointment.csv": appointment.keep([a in appointments for a in appointment.values("id")]),
        "post.csv": post.keep([pid in posts for pid in post.values("id")]),
    }
    if "organisation.csv" in tables:
        organisation = tables["organisation.csv"]
        kept["organisation.csv"] = organisation.keep([o in organisations for o in organisation.values("id")])
    if "representation.csv" in tables:
        periods = tables["representation.csv"]
        kept["representation.csv"] = periods.keep([p in people for p in periods.values("person_id")])
        period_ids = set(kept["representation.csv"].values("id"))
        if "representation_characteristics.csv" in tables:
            parties = tables["representation_characteristics.csv"]
            kept["representation_characteristics.csv"] = parties.keep(
                [r in period_ids for r in parties.values("representation_id")])
    for name, table in kept.items():
        table.write(target / name)
        report.rows[str(target / name)] = (len(table.rows), len(tables[name].rows))


def appointments_needed(appointment: Table, people: set[str]) -> set[str]:
    """The ids of the people's appointments and, where one of them ends before it starts,
    of the later appointments to the same post: the loader repairs such a range with the
    next holder's start, so the extract must keep it to give the same office."""
    rows = list(zip(appointment.values("id"), appointment.values("person_id"), appointment.values("post_id"),
                    appointment.values("start_date"), appointment.values("end_date"), strict=True))
    needed = {row_id for row_id, person, _, _, _ in rows if person in people}
    reversed_starts = {(post, start) for _, person, post, start, end in rows
                       if person in people and start and end and end < start}
    for row_id, _, post, start, _ in rows:
        if any(post == held and start > began for held, began in reversed_starts):
            needed.add(row_id)
    return needed
