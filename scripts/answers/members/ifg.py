"""The Institute for Government Ministers Database: members' current names and their posts.

Reads IfG's CSV tables from the folder that holds `appointment.csv`: `person.csv`,
`representation.csv`, `representation_characteristics.csv`, `post.csv`, `organisation.csv`
and `appointment.csv`. Yields `NameRecord`s by MNIS id and returns each member's `Post`s,
with the data's two reversed date ranges repaired. Writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from ..model import MemberRef
from .reference import RANK_IFG, RANK_MAIDEN, NameRecord, Post, clean, mnis_id, read_csv

IFG_SOURCE = "Institute for Government Ministers Database (CC BY 4.0)"


def ifg_name_records(folder: Path) -> Iterator[tuple[str, NameRecord]]:
    """Every name IfG gives a member (current or former). The current one (no end date)
    ranks above the election lists, with the house and party of the member's latest period
    in Parliament (which names peers' parties); former names rank below everything, so they
    serve look-ups by name only."""
    latest = latest_ifg_representation(folder)
    for row in read_csv(folder / "person.csv"):
        member_id = mnis_id(row.get("id_parliament"))
        if not member_id:
            continue
        if clean(row.get("end_date")) is None:
            house, party = latest.get(row["id"], (None, None))
            yield member_id, NameRecord(RANK_IFG, MemberRef(
                member_id, clean(row.get("name")), party, house=house))
        else:
            yield member_id, NameRecord(RANK_MAIDEN + 1, MemberRef(member_id, clean(row.get("name"))))


def latest_ifg_representation(folder: Path) -> dict[str, tuple[str | None, str | None]]:
    "IfG person id -> (house, party) of their latest period in Parliament."
    periods, parties = folder / "representation.csv", folder / "representation_characteristics.csv"
    if not periods.exists():
        return {}
    latest: dict[str, dict] = {}
    for row in read_csv(periods):
        held = latest.get(row["person_id"])
        if held is None or (row.get("start_date") or "") > (held.get("start_date") or ""):
            latest[row["person_id"]] = row
    party_of: dict[str, tuple[str, str]] = {}
    for row in read_csv(parties) if parties.exists() else []:
        start = row.get("start_date") or ""
        held = party_of.get(row["representation_id"])
        if held is None or start > held[0]:
            party_of[row["representation_id"]] = (start, row.get("party") or "")
    return {
        person: (clean(row.get("house")), clean(party_of.get(row["id"], ("", ""))[1]))
        for person, row in latest.items()
    }



def ifg_posts(folder: Path) -> dict[str, list[Post]]:
    "MNIS id -> the government posts IfG records, with the two reversed ranges repaired."
    people = {row["id"]: mnis_id(row.get("id_parliament"))
              for row in read_csv(folder / "person.csv")}
    posts = {row["id"]: row for row in read_csv(folder / "post.csv")}
    organisations = {row["id"]: row for row in read_csv(folder / "organisation.csv")}
    appointments = repair_reversed_ranges(read_csv(folder / "appointment.csv"))
    by_member: dict[str, list[Post]] = defaultdict(list)
    for row in appointments:
        member_id = people.get(row["person_id"])
        post = posts.get(row["post_id"])
        if not member_id or post is None:
            continue
        organisation = organisations.get(post.get("organisation_id") or "", {}).get("name")
        by_member[member_id].append(Post(
            title=post["name"], organisation=clean(organisation),
            start=clean(row.get("start_date")), end=clean(row.get("end_date")),
            source=IFG_SOURCE, label=ifg_label(post, organisation),
        ))
    return dict(by_member)


def ifg_label(post: dict[str, str], organisation: str | None) -> str:
    """A post's name, with its department where IfG itself qualifies the name (IfG's
    display name for a bare rank such as 'Minister of State' adds the department)."""
    name = post["name"]
    if organisation and clean(post.get("display_name")) not in (None, name):
        return f"{name}, {organisation}"
    return name


def repair_reversed_ranges(appointments: list[dict[str, str]]) -> list[dict[str, str]]:
    """Appointments whose end date is before their start date get a plausible end.

    Two rows end before they start (Lucy Rigby, Economic Secretary, 2025-09-06 -> 2025-05-14;
    James Murray, Chief Secretary, 2025-09-01 -> 2025-05-14). The start dates agree with
    the holders before them; the ends look like a year slip for 2026-05-14, when the next
    holders of both posts started. So the end is taken as the day the post's next holder
    started. Where no one followed, the range is unknown and the row is left out: an
    office is never shown for a date the data does not cover.
    """
    starts_by_post: dict[str, list[str]] = defaultdict(list)
    for row in appointments:
        if row.get("start_date"):
            starts_by_post[row["post_id"]].append(row["start_date"])
    repaired = []
    for row in appointments:
        start, end = row.get("start_date") or "", row.get("end_date") or ""
        if start and end and end < start:
            later = sorted(s for s in starts_by_post[row["post_id"]] if s > start)
            if not later:
                continue
            row = {**row, "end_date": later[0]}
        repaired.append(row)
    return repaired

