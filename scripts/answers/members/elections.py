"""Names of Commons members by MNIS id, from the lists of MPs and the election results.

Reads the DfE `mp_lookup.csv`, the `current_mps.json` lists, the House of Commons Library's
`candidacies.csv` election results (psephology; the 2019 file has no header row) and its
`maiden-speeches.csv`. Yields `NameRecord`s ranked by how current each source is; writes
nothing.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from ..model import MemberRef
from .reference import (
    RANK_CANDIDACY,
    RANK_CURRENT_MPS,
    RANK_DFE,
    RANK_MAIDEN,
    NameRecord,
    clean,
    mnis_id,
    open_text,
    read_csv,
)

# The 2019 general-election file has no header row; its columns are those of the 2024 file.
CANDIDACY_COLUMNS = [
    "ONS ID", "ONS region ID", "Constituency name", "County name", "Region name",
    "Country name", "Constituency type", "Party name", "Party abbreviation",
    "Electoral Commission party ID", "MNIS party ID", "Electoral Commission adjunct party ID",
    "Candidate first name", "Candidate surname", "Candidate gender", "Sitting MP", "Former MP",
    "Member MNIS ID", "Votes", "Share", "Change",
]


def dfe_records(paths: list[Path]) -> Iterator[tuple[str, NameRecord]]:
    for path in paths:
        for row in read_csv(path):
            member_id = mnis_id(row.get("member_id"))
            if member_id:
                yield member_id, NameRecord(RANK_DFE, MemberRef(
                    member_id, clean(row.get("display_as")), clean(row.get("party_text")),
                    clean(row.get("pcon_name")), "Commons"))


def current_mps_records(paths: list[Path]) -> Iterator[tuple[str, NameRecord]]:
    "Each list of current MPs; a list whose members' status dates are newer ranks first."
    lists = []
    for path in paths:
        with open_text(path) as handle:
            members = [m for m in json.load(handle) if isinstance(m, dict)]
        newest = max((str(m.get("statusStartDate") or "") for m in members), default="")
        lists.append((newest, members))
    lists.sort(key=lambda item: item[0], reverse=True)
    for age, (_, members) in enumerate(lists):
        for member in members:
            member_id = mnis_id(member.get("id"))
            if member_id:
                house = "Lords" if member.get("is_peer") and not member.get("is_mp") else "Commons"
                yield member_id, NameRecord(RANK_CURRENT_MPS + age, MemberRef(
                    member_id, clean(member.get("nameDisplayAs")),
                    clean(member.get("party")), clean(member.get("membershipFrom")), house))



def candidacy_records(paths: list[Path]) -> Iterator[tuple[str, NameRecord]]:
    """Winners of each election: name, party, seat. Only winners are taken, because the id
    column also marks losing candidates, and at least twice wrongly (a sitting MP's id on
    another candidate)."""
    elections = []
    for path in paths:
        rows = read_candidacies(path)
        newest = max((election_date(row) for row in rows), default="")
        elections.append((newest, rows))
    elections.sort(key=lambda item: item[0], reverse=True)
    for age, (_, rows) in enumerate(elections):
        for row in election_winners(rows):
            member_id = mnis_id(row.get("Member MNIS ID"))
            if member_id:
                name = " ".join(filter(None, (clean(row.get("Candidate first name")),
                                              clean(row.get("Candidate surname")))))
                yield member_id, NameRecord(RANK_CANDIDACY + age, MemberRef(
                    member_id, name or None, clean(row.get("Party name")),
                    clean(row.get("Constituency name")), "Commons"))


def read_candidacies(path: Path) -> list[dict[str, str]]:
    with open_text(path) as handle:
        first = handle.readline()
        handle.seek(0)
        header = None if "Member MNIS ID" in first else CANDIDACY_COLUMNS
        return list(csv.DictReader(handle, fieldnames=header))


def election_date(row: dict[str, str]) -> str:
    "ISO date of a by-election row ('06/05/2021'); general-election rows have none."
    day, _, rest = (row.get("Election date") or "").partition("/")
    month, _, year = rest.partition("/")
    return f"{year}-{month}-{day}" if year else ""


def election_winners(rows: list[dict[str, str]]) -> Iterator[dict[str, str]]:
    "The candidate with the most votes in each contest (by-election date and seat)."
    best: dict[tuple[str, str], tuple[int, dict]] = {}
    for row in rows:
        contest = (row.get("Election date") or "", row.get("Constituency name") or "")
        try:
            votes = int(row.get("Votes") or 0)
        except ValueError:
            continue
        if contest not in best or votes > best[contest][0]:
            best[contest] = (votes, row)
    for _, row in best.values():
        yield row


def maiden_records(paths: list[Path]) -> Iterator[tuple[str, NameRecord]]:
    """Name and seat at the maiden speech. An id given to two different names in the file
    (3958: Fiona Bruce and Jason McCartney) is a fault in the file: neither is used."""
    names: dict[str, set[str]] = defaultdict(set)
    rows: dict[str, dict] = {}
    for path in paths:
        with open_text(path) as handle:
            for row in csv.DictReader(handle):
                member_id = mnis_id(row.get("MNIS Member ID"))
                name = clean(row.get("Member ")) or clean(row.get("Member"))
                if member_id and name:
                    names[member_id].add(name)
                    rows[member_id] = row
    for member_id, row in rows.items():
        if len(names[member_id]) == 1:
            yield member_id, NameRecord(RANK_MAIDEN, MemberRef(
                member_id, next(iter(names[member_id])),
                constituency=clean(row.get("Constituency")), house="Commons"))

