"""parlparse (mySociety) people and posts, for the members TheyWorkForYou XML names.

Reads `all-members.xml` (Commons members), `peers-ucl.xml` (Lords), `people.xml` (which
member and lord ids are one person), `ministers-2010.json` (government posts from
data.parliament.uk) and `ministers.xml` (government posts from parliament.uk pages).
Returns `MemberRef`s by parlparse id and `Post`s by person id. Writes nothing.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from ..model import MemberRef
from .reference import Post, ReferenceFiles, clean, open_binary, open_text

PARLPARSE_2010_SOURCE = "parlparse ministers-2010.json (data.parliament.uk)"
PARLPARSE_XML_SOURCE = "parlparse ministers.xml (parliament.uk government posts pages)"

# parlparse gives party abbreviations; the other sources give the full name.
PARLPARSE_PARTIES = {
    "Con": "Conservative", "Lab": "Labour", "LDem": "Liberal Democrat",
    "Lab/Co-op": "Labour (Co-op)", "SNP": "Scottish National Party", "PC": "Plaid Cymru",
    "DUP": "Democratic Unionist Party", "UUP": "Ulster Unionist Party",
    "SDLP": "Social Democratic and Labour Party", "SF": "Sinn Féin", "Ind": "Independent",
    "Ind Con": "Independent Conservative", "Ind Lab": "Independent Labour",
    "Ind UU": "Independent Ulster Unionist", "UKIP": "UK Independence Party",
    "UKUP": "UK Unionist Party", "Res": "Respect", "SPK": "Speaker",
    "CWM": "Chairman of Ways and Means", "DCWM": "Deputy Chairman of Ways and Means",
    "XB": "Crossbench", "Bp": "Bishops", "Green": "Green Party",
}


def parlparse_members(files: ReferenceFiles) -> dict[str, MemberRef]:
    "Commons member ids and Lords ids -> name, party, constituency, house."
    members = {}
    if files.all_members:
        for element in xml_elements(files.all_members, "member"):
            name = " ".join(filter(None, (element.get("firstname"), element.get("lastname"))))
            members[element.get("id")] = MemberRef(
                id=element.get("id"), name=clean(name),
                party=parlparse_party(element.get("party")),
                constituency=clean(element.get("constituency")), house="Commons")
    if files.peers:
        for element in xml_elements(files.peers, "lord"):
            members[element.get("id")] = MemberRef(
                id=element.get("id"), name=lord_name(element),
                party=parlparse_party(element.get("affiliation")), house="Lords")
    return members


def xml_elements(path: Path, tag: str) -> Iterator[ET.Element]:
    with open_binary(path) as handle:
        for _, element in ET.iterparse(handle):
            if element.tag == tag:
                yield element


def parlparse_party(abbreviation: str | None) -> str | None:
    text = clean(abbreviation)
    return PARLPARSE_PARTIES.get(text, text) if text else None


def lord_name(element: ET.Element) -> str | None:
    "'Lord Bridges of Headley', 'Earl of Arran', 'Bishop of Oxford'."
    name = " ".join(filter(None, (clean(element.get("title")), clean(element.get("lordname")))))
    territory = clean(element.get("lordofname"))
    if territory:
        name = f"{name} of {territory}"
    return name or None


def read_people(path: Path) -> dict[str, str]:
    "parlparse member, lord and office ids -> person id."
    person_of = {}
    for person in xml_elements(path, "person"):
        for office in person.iter("office"):
            person_of[office.get("id")] = person.get("id")
    return person_of


def parlparse_posts(files: ReferenceFiles, person_of: dict[str, str]) -> dict[str, list[Post]]:
    "person id -> government posts from ministers-2010.json and ministers.xml."
    posts: dict[str, list[Post]] = defaultdict(list)
    if files.ministers_2010:
        for person, post in ministers_2010_posts(files.ministers_2010):
            posts[person].append(post)
    if files.ministers_xml:
        for member_id, post in ministers_xml_posts(files.ministers_xml):
            person = person_of.get(member_id)
            if person:
                posts[person].append(post)
    return dict(posts)


def ministers_2010_posts(path: Path) -> Iterator[tuple[str, Post]]:
    "Government posts only (not opposition, parliamentary or committee memberships)."
    with open_text(path) as handle:
        data = json.load(handle)
    for membership in data.get("memberships", []):
        if membership.get("source") != "datadotparl/governmentpost":
            continue
        role = clean(membership.get("role"))
        person = membership.get("person_id")
        if role and person:
            title = role.removeprefix("The ")
            yield person, Post(
                title=title, organisation=None, start=clean(membership.get("start_date")),
                end=clean(membership.get("end_date")), source=PARLPARSE_2010_SOURCE,
                label=title)


def ministers_xml_posts(path: Path) -> Iterator[tuple[str, Post]]:
    """Government posts (the 'govposts' pages and the 2003 list of Labour ministers); private
    secretaries, opposition spokespeople and committee members are not ministers."""
    for element in xml_elements(path, "moffice"):
        source = element.get("source") or ""
        position = clean(element.get("position"))
        if not position or not ("govposts" in source or "newlabministers" in source):
            continue
        responsibility = clean(element.get("responsibility"))
        title = f"{position} ({responsibility})" if responsibility else position
        department = clean(element.get("dept"))
        end = clean(element.get("todate"))
        yield element.get("matchid"), Post(
            title=title, organisation=department, start=clean(element.get("fromdate")),
            end=None if end == "9999-12-31" else end, source=PARLPARSE_XML_SOURCE,
            label=f"{title}, {department}" if department else title)
