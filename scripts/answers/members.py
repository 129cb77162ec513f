"""Members and ministerial posts: names for member ids, and the office a member held on a date.

Sources name members three ways: the official API by MNIS id ("4399"), page text and CSV by
name only ("name:victoria-atkins"), TheyWorkForYou XML by parlparse id
("uk.org.publicwhip/member/1491"). `MemberDirectory` reads the reference data kept beside the
corpus and

- `resolve`s each reference, filling in name, party, constituency and house, and turning a
  name into an MNIS id where exactly one member bears it;
- `apply_offices` writes the government post each answering member held *on the answer date*
  into the questions table, with its source, and lists every post of the members in the
  database in `member_posts`.

Reference files are found by name anywhere under the folders given, so a missing file only
means fewer names or posts.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import io
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from .model import MemberRef

IFG_SOURCE = "Institute for Government Ministers Database (CC BY 4.0)"
PARLPARSE_2010_SOURCE = "parlparse ministers-2010.json (data.parliament.uk)"
PARLPARSE_XML_SOURCE = "parlparse ministers.xml (parliament.uk government posts pages)"

MEMBER_FIELDS = ("name", "party", "constituency", "house")

# The 2019 general-election file has no header row; its columns are those of the 2024 file.
CANDIDACY_COLUMNS = [
    "ONS ID", "ONS region ID", "Constituency name", "County name", "Region name",
    "Country name", "Constituency type", "Party name", "Party abbreviation",
    "Electoral Commission party ID", "MNIS party ID", "Electoral Commission adjunct party ID",
    "Candidate first name", "Candidate surname", "Candidate gender", "Sitting MP", "Former MP",
    "Member MNIS ID", "Votes", "Share", "Change",
]

# How current each kind of name record is: lower is newer. A field is taken from the newest
# record that has it, so that a name change (Fernandes -> Braverman) or a defection shows.
RANK_DFE = 0  # MPs as of mid-2026
RANK_CURRENT_MPS = 10  # + the list's age order: 10 newest, 11 the one before
RANK_IFG = 20  # the name IfG holds as current (peerages included)
RANK_CANDIDACY = 30  # + election age order: by-elections and general elections, newest first
RANK_MAIDEN = 40  # the name at the time of the maiden speech

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

# Words that say nothing about a name's identity (titles, honours, post-nominals).
HONORIFICS = {
    "mr", "mrs", "ms", "miss", "mx", "dr", "sir", "dame", "rt", "hon", "right", "honourable",
    "the", "prof", "professor", "mp", "kc", "qc", "cbe", "obe", "mbe", "kbe", "dbe", "frs",
}

# Words that do not tell one department from another.
BODY_STOPWORDS = {
    "the", "of", "for", "and", "department", "ministry", "office", "hm", "her", "his",
    "majesty", "s", "secretary", "state", "minister", "government", "house", "commons",
    "lords", "parliamentary", "under",
}


@dataclass(frozen=True)
class Post:
    "A government post held over a period (dates ISO, inclusive; None = open)."

    title: str
    organisation: str | None
    start: str | None
    end: str | None
    source: str
    label: str  # how the post reads on its own, e.g. "Minister of State, Ministry of Justice"

    def covers(self, day: str) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclass
class NameRecord:
    "One source's word on one member, with how current that word is."

    rank: int
    name: str | None = None
    party: str | None = None
    constituency: str | None = None
    house: str | None = None


@dataclass
class MemberDirectory:
    members: dict[str, MemberRef] = field(default_factory=dict)  # MNIS or parlparse id
    names: dict[str, set[str]] = field(default_factory=dict)  # normalised name -> MNIS ids
    ifg_posts: dict[str, list[Post]] = field(default_factory=dict)  # MNIS id -> posts
    parlparse_posts: dict[str, list[Post]] = field(default_factory=dict)  # person id -> posts
    person_of: dict[str, str] = field(default_factory=dict)  # parlparse member/lord -> person
    # A digest of the reference files: the store rebuilds the database when it changes.
    fingerprint: str = ""

    # -- loading ------------------------------------------------------------------------

    @classmethod
    def load(cls, paths: Iterable[Path]) -> MemberDirectory:
        "Read every reference file found under the given folders."
        files = ReferenceFiles.find(paths)
        directory = cls(fingerprint=files.fingerprint())
        records: dict[str, list[NameRecord]] = defaultdict(list)
        for member_id, record in mnis_name_records(files):
            records[member_id].append(record)
            if record.name:
                directory.names.setdefault(normalise_name(record.name), set()).add(member_id)
        for member_id, member_records in records.items():
            directory.members[member_id] = merge_records(member_id, member_records)
        directory.ifg_posts = ifg_posts(files.ifg_folder) if files.ifg_folder else {}
        directory.members.update(parlparse_members(files))
        if files.people:
            directory.person_of = read_people(files.people)
        directory.parlparse_posts = parlparse_posts(files, directory.person_of)
        return directory

    # -- names --------------------------------------------------------------------------

    def resolve(self, ref: MemberRef, on_date: str | None = None) -> MemberRef:
        """The member a reference means, with what the directory knows filled in.

        Fields the reference already has are kept. A "name:" reference becomes the MNIS id
        of the one member with that name; an unknown or ambiguous name is left as it is.
        `on_date` is accepted for the store's interface: names are always the current ones.
        """
        member_id = ref.id
        if member_id.startswith("name:"):
            member_id = self.id_for_name(ref)
            if member_id is None:
                return ref
        known = self.members.get(member_id)
        if known is None:
            return dataclasses.replace(ref, id=member_id)
        filled = {name: getattr(ref, name) or getattr(known, name) for name in MEMBER_FIELDS}
        return MemberRef(id=member_id, **filled)

    def id_for_name(self, ref: MemberRef) -> str | None:
        name = ref.name or ref.id.removeprefix("name:").replace("-", " ")
        candidates = self.names.get(normalise_name(name), set())
        if len(candidates) == 1:
            return next(iter(candidates))
        return None

    # -- offices ------------------------------------------------------------------------

    def posts_for(self, member_id: str) -> tuple[list[Post], list[Post]]:
        """A member's posts as (preferred, fallback) lists. For parlparse members the
        data.parliament.uk list is preferred and ministers.xml fills its gaps."""
        if member_id.isdigit():
            return self.ifg_posts.get(member_id, []), []
        person = self.person_of.get(member_id)
        posts = self.parlparse_posts.get(person, []) if person else []
        return ([p for p in posts if p.source == PARLPARSE_2010_SOURCE],
                [p for p in posts if p.source == PARLPARSE_XML_SOURCE])

    def office_on(self, member_id: str, day: str, body: str | None) -> tuple[str, str] | None:
        """(office, source) for the post(s) a member held on a day, preferring those in the
        answering body; None when no post covers the day (never a later or earlier one)."""
        for posts in self.posts_for(member_id):
            held = [post for post in posts if post.covers(day)]
            if held:
                chosen = posts_in_body(held, body)
                labels = list(dict.fromkeys(post.label for post in chosen))
                return "; ".join(labels), chosen[0].source
        return None

    def apply_offices(self, db: sqlite_utils.Database) -> int:
        """Set answering_member_office(_source) on every answered question and rewrite
        member_posts. Returns the number of questions that have an office."""
        rows = db.execute(
            """select key, answering_member_id, date_answered, answering_body,
                      answering_member_office, answering_member_office_source
               from questions"""
        ).fetchall()
        cache: dict[tuple, tuple[str, str] | None] = {}
        updates = []
        with_office = 0
        for key, member_id, day, body, old_office, old_source in rows:
            office = None
            if member_id and day:
                lookup = (member_id, day, body)
                if lookup not in cache:
                    cache[lookup] = self.office_on(member_id, day, body)
                office = cache[lookup]
            with_office += office is not None
            new_office, new_source = office or (None, None)
            # Only changed rows are written: each update also rewrites the row's search index.
            if (new_office, new_source) != (old_office, old_source):
                updates.append({"key": key, "office": new_office, "source": new_source})
        db.conn.executemany(
            """update questions set answering_member_office = :office,
                                    answering_member_office_source = :source
               where key = :key""",
            updates,
        )
        self.write_member_posts(db)
        return with_office

    def write_member_posts(self, db: sqlite_utils.Database) -> None:
        "Every known post of every member the questions name, for member pages."
        table = db["member_posts"]
        table.create(
            {"member_id": str, "post": str, "organisation": str, "start_date": str,
             "end_date": str, "source": str},
            foreign_keys=[("member_id", "members", "id")], if_not_exists=True,
        )
        db.execute("delete from member_posts")
        member_ids = [row[0] for row in db.execute(
            """select answering_member_id from questions where answering_member_id is not null
               union select asking_member_id from questions where asking_member_id is not null
               union select correcting_member_id from questions
                     where correcting_member_id is not null"""
        )]
        rows = []
        for member_id in sorted(member_ids):
            preferred, fallback = self.posts_for(member_id)
            for post in sorted(preferred + fallback, key=lambda p: (p.start or "", p.title)):
                rows.append({
                    "member_id": member_id, "post": post.title,
                    "organisation": post.organisation, "start_date": post.start,
                    "end_date": post.end, "source": post.source,
                })
        table.insert_all(rows)
        table.create_index(["member_id"], if_not_exists=True)


# -- finding the files ------------------------------------------------------------------


@dataclass
class ReferenceFiles:
    "The reference files under the member folders, by kind."

    dfe: list[Path] = field(default_factory=list)
    current_mps: list[Path] = field(default_factory=list)
    candidacies: list[Path] = field(default_factory=list)
    maiden: list[Path] = field(default_factory=list)
    ifg_folder: Path | None = None
    all_members: Path | None = None
    peers: Path | None = None
    people: Path | None = None
    ministers_2010: Path | None = None
    ministers_xml: Path | None = None

    all_files: list[Path] = field(default_factory=list)

    @classmethod
    def find(cls, paths: Iterable[Path]) -> ReferenceFiles:
        found = cls()
        for folder in paths:
            for path in sorted(Path(folder).rglob("*")):
                if path.is_file():
                    found.all_files.append(path)
                    found.add(path)
        return found

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in self.all_files:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()

    def add(self, path: Path) -> None:
        name = path.name.removesuffix(".gz")
        lists = {"mp_lookup.csv": self.dfe, "current_mps.json": self.current_mps,
                 "candidacies.csv": self.candidacies, "maiden-speeches.csv": self.maiden}
        singles = {"all-members.xml": "all_members", "peers-ucl.xml": "peers",
                   "people.xml": "people", "ministers-2010.json": "ministers_2010",
                   "ministers.xml": "ministers_xml"}
        if name in lists:
            lists[name].append(path)
        elif name in singles:
            setattr(self, singles[name], path)
        elif name == "appointment.csv":
            self.ifg_folder = path.parent


def open_text(path: Path, encoding: str = "utf-8-sig") -> io.TextIOBase:
    "A text file, gzip-compressed or not; utf-8-sig drops the BOM some files start with."
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def open_binary(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_csv(path: Path) -> list[dict[str, str]]:
    with open_text(path) as handle:
        return list(csv.DictReader(handle))


def clean(value) -> str | None:
    "A field's text, or None for empty values and the '[x]' that means unknown."
    if value is None:
        return None
    text = str(value).strip()
    return text if text and text != "[x]" else None


def mnis_id(value) -> str | None:
    "An MNIS id as a string of digits: '4399', 4399 and '4399.0' all give '4399'."
    text = clean(value)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return str(int(number)) if number > 0 and number.is_integer() else None


# -- names for MNIS ids -----------------------------------------------------------------


def mnis_name_records(files: ReferenceFiles) -> Iterator[tuple[str, NameRecord]]:
    yield from dfe_records(files.dfe)
    yield from current_mps_records(files.current_mps)
    if files.ifg_folder:
        yield from ifg_name_records(files.ifg_folder)
    yield from candidacy_records(files.candidacies)
    yield from maiden_records(files.maiden)


def dfe_records(paths: list[Path]) -> Iterator[tuple[str, NameRecord]]:
    for path in paths:
        for row in read_csv(path):
            member_id = mnis_id(row.get("member_id"))
            if member_id:
                yield member_id, NameRecord(
                    RANK_DFE, clean(row.get("display_as")), clean(row.get("party_text")),
                    clean(row.get("pcon_name")), "Commons")


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
                yield member_id, NameRecord(
                    RANK_CURRENT_MPS + age, clean(member.get("nameDisplayAs")),
                    clean(member.get("party")), clean(member.get("membershipFrom")), house)


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
            yield member_id, NameRecord(RANK_IFG, clean(row.get("name")), party, house=house)
        else:
            yield member_id, NameRecord(RANK_MAIDEN + 1, clean(row.get("name")))


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
                yield member_id, NameRecord(
                    RANK_CANDIDACY + age, name or None, clean(row.get("Party name")),
                    clean(row.get("Constituency name")), "Commons")


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
            yield member_id, NameRecord(
                RANK_MAIDEN, next(iter(names[member_id])),
                constituency=clean(row.get("Constituency")), house="Commons")


def merge_records(member_id: str, records: list[NameRecord]) -> MemberRef:
    "Each field from the most current record that has it; a peer has no constituency."
    records = sorted(records, key=lambda r: r.rank)
    values = {name: next((getattr(r, name) for r in records if getattr(r, name)), None)
              for name in MEMBER_FIELDS}
    if values["house"] == "Lords":
        values["constituency"] = None
    return MemberRef(id=member_id, **values)


def normalise_name(name: str) -> str:
    """'Rt Hon Siân Berry MP' -> 'sian berry': no accents, case, punctuation or honorifics.
    Hyphens and apostrophes separate words, as in the slugs of "name:" ids, so that
    "O'Brien" and "name:...-o-brien" meet."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    words = re.findall(r"[a-z0-9]+", text)
    return " ".join(word for word in words if word not in HONORIFICS)


# -- IfG posts --------------------------------------------------------------------------


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


def posts_in_body(posts: list[Post], body: str | None) -> list[Post]:
    """The posts that belong to the answering body, or all of them if none clearly does.
    A post belongs by the words its department (or its own name) shares with the body's."""
    wanted = body_words(body or "")
    if not wanted:
        return posts
    scores = [max(len(wanted & body_words(post.organisation or "")),
                  len(wanted & body_words(post.title))) for post in posts]
    best = max(scores)
    if best == 0:
        return posts
    return [post for post, score in zip(posts, scores, strict=True) if score == best]


def body_words(name: str) -> set[str]:
    "A department's distinguishing words, singular: 'Work and Pensions' -> {work, pension}."
    words = set()
    for word in re.findall(r"[a-z]+", normalise_name(name)):
        if word in BODY_STOPWORDS:
            continue
        if word.endswith("ies") and len(word) > 4:
            word = word[:-3] + "y"
        elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
            word = word[:-1]
        words.add(word)
    return words


# -- parlparse (the 2009 XML corpus) ----------------------------------------------------


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
