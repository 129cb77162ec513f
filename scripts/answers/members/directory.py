"""The member directory the store and the site use: names for member ids, and offices.

Sources name members three ways: the official API by MNIS id ("4399"), page text and CSV by
name only ("name:victoria-atkins"), TheyWorkForYou XML by parlparse id
("uk.org.publicwhip/member/1491"). `MemberDirectory.load` reads every reference file found
under the member folders (through `elections`, `ifg` and `parlparse`) and

- `resolve`s each reference, filling in name, party, constituency and house, and turning a
  name into an MNIS id where exactly one member bears it;
- `apply_offices` writes the government post each answering member held *on the answer date*
  into the database's questions table, with its source, and rewrites `member_posts` with
  every post of the members the questions name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import sqlite_utils

from ..atomic import write_atomically
from ..model import MemberRef
from .elections import candidacy_records, current_mps_records, dfe_records, maiden_records
from .ifg import ifg_name_records, ifg_posts
from .parlparse import (
    PARLPARSE_2010_SOURCE,
    PARLPARSE_XML_SOURCE,
    parlparse_members,
    parlparse_posts,
    read_people,
)
from .reference import NameRecord, Post, ReferenceFiles, normalise_name

MEMBER_FIELDS = ("name", "party", "constituency", "house")

# Words that do not tell one department from another.
BODY_STOPWORDS = {
    "the", "of", "for", "and", "department", "ministry", "office", "hm", "her", "his",
    "majesty", "s", "secretary", "state", "minister", "government", "house", "commons",
    "lords", "parliamentary", "under",
}



@dataclass
class MemberDirectory:
    members: dict[str, MemberRef] = field(default_factory=dict)  # MNIS or parlparse id
    names: dict[str, set[str]] = field(default_factory=dict)  # normalised name -> MNIS ids
    ifg_posts: dict[str, list[Post]] = field(default_factory=dict)  # MNIS id -> posts
    parlparse_posts: dict[str, list[Post]] = field(default_factory=dict)  # person id -> posts
    person_of: Mapping[str, str] = field(default_factory=dict)  # parlparse member/lord -> person
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
            if record.member.name:
                directory.names.setdefault(normalise_name(record.member.name), set()).add(member_id)
        for member_id, member_records in records.items():
            directory.members[member_id] = merge_records(member_id, member_records)
        directory.ifg_posts = ifg_posts(files.ifg_folder) if files.ifg_folder else {}
        directory.members.update(parlparse_members(files))
        if files.people:
            directory.person_of = read_people(files.people)
        directory.parlparse_posts = parlparse_posts(files, directory.person_of)
        return directory

    @classmethod
    def cached(cls, paths: Iterable[Path], cache: Path, version: str) -> MemberDirectory:
        """`load`, kept in the file `cache` between builds: read back from there when it was
        saved under the same `version` (the caller's word for the reference files' digest and
        the code that reads them), else loaded from the files and saved there. Parsing the
        files takes about a second; reading the cache, a tenth of that (orjson: half of what
        the json module takes, and a build that writes the database reads it every time).
        Two thirds of the cache are the parlparse members' people (`person_of`), which only
        a parlparse member's offices need: they are on a line of their own, checked by its
        digest, and parsed when first read."""
        try:
            header, _, people = cache.read_bytes().partition(b"\n")
            saved = orjson.loads(header)
            if saved["version"] == version and saved["person_of"] == hashlib.sha256(people).hexdigest():
                return cls.from_json({**saved, "person_of": ParsedWhenRead(people)})
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no cache, or one this code cannot read: load afresh
        directory = cls.load(paths)
        saved = directory.to_json()
        people = orjson.dumps(saved.pop("person_of"))
        header = orjson.dumps({"version": version, **saved, "person_of": hashlib.sha256(people).hexdigest()})
        write_atomically(cache, header + b"\n" + people)
        return directory

    def to_json(self) -> dict:
        "The directory as plain JSON values (`from_json` makes it again)."
        def posts(by_id: dict[str, list[Post]]) -> dict[str, list]:
            return {key: [dataclasses.astuple(post) for post in held] for key, held in by_id.items()}
        return {"members": [dataclasses.astuple(member) for member in self.members.values()],
                "names": {name: sorted(ids) for name, ids in self.names.items()},
                "ifg_posts": posts(self.ifg_posts), "parlparse_posts": posts(self.parlparse_posts),
                "person_of": self.person_of, "fingerprint": self.fingerprint}

    @classmethod
    def from_json(cls, data: dict) -> MemberDirectory:
        def posts(by_id: dict[str, list]) -> dict[str, list[Post]]:
            return {key: [Post(*post) for post in held] for key, held in by_id.items()}
        return cls(members={member[0]: MemberRef(*member) for member in data["members"]},
                   names={name: set(ids) for name, ids in data["names"].items()},
                   ifg_posts=posts(data["ifg_posts"]), parlparse_posts=posts(data["parlparse_posts"]),
                   person_of=data["person_of"], fingerprint=data["fingerprint"])

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

    def apply_offices(self, db: sqlite_utils.Database, keys: list[str] | None = None) -> int:
        """Set answering_member_office(_source) on the answered questions `keys` (None: every
        question) and bring member_posts up to date. Returns the number of those questions
        that have an office. A row the store did not write keeps its office: what it depends
        on (answerer, day, body, this directory) is as it was when the office was set, since
        other reference files make another database."""
        rows = db.execute(
            """select key, answering_member_id, date_answered, answering_body,
                      answering_member_office, answering_member_office_source
               from questions""" + ("" if keys is None else
                                    " where key in (select value from json_each(?))"),
            [] if keys is None else [json.dumps(keys)],
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
        """Every known post of every member the questions name, for member pages: written
        afresh unless the table already holds the posts of exactly the members named who
        have any (a member's posts are this directory's, the same at every build)."""
        table = db["member_posts"]
        table.create(
            {"member_id": str, "post": str, "organisation": str, "start_date": str,
             "end_date": str, "source": str},
            foreign_keys=[("member_id", "members", "id")], if_not_exists=True,
        )
        table.create_index(["member_id"], if_not_exists=True)
        member_ids = [row[0] for row in db.execute(
            """select answering_member_id from questions where answering_member_id is not null
               union select asking_member_id from questions where asking_member_id is not null
               union select correcting_member_id from questions
                     where correcting_member_id is not null"""
        )]
        posts: dict[str, list[Post]] = {}
        for member_id in sorted(member_ids):
            preferred, fallback = self.posts_for(member_id)
            if preferred or fallback:
                posts[member_id] = sorted(preferred + fallback, key=lambda p: (p.start or "", p.title))
        if set(posts) == {row[0] for row in db.execute("select distinct member_id from member_posts")}:
            return
        db.execute("delete from member_posts")
        table.insert_all({
            "member_id": member_id, "post": post.title, "organisation": post.organisation,
            "start_date": post.start, "end_date": post.end, "source": post.source,
        } for member_id, held in posts.items() for post in held)



class ParsedWhenRead(Mapping):
    "A JSON object kept as its text until it is first read."

    def __init__(self, text: bytes):
        self.text = text
        self.parsed: dict | None = None

    def mapping(self) -> dict:
        if self.parsed is None:
            self.parsed, self.text = orjson.loads(self.text), b""
        return self.parsed

    def __getitem__(self, key):
        return self.mapping()[key]

    def __iter__(self):
        return iter(self.mapping())

    def __len__(self) -> int:
        return len(self.mapping())


def mnis_name_records(files: ReferenceFiles) -> Iterator[tuple[str, NameRecord]]:
    yield from dfe_records(files.dfe)
    yield from current_mps_records(files.current_mps)
    if files.ifg_folder:
        yield from ifg_name_records(files.ifg_folder)
    yield from candidacy_records(files.candidacies)
    yield from maiden_records(files.maiden)



def merge_records(member_id: str, records: list[NameRecord]) -> MemberRef:
    "Each field from the most current record that has it; a peer has no constituency."
    records = sorted(records, key=lambda r: r.rank)
    values = {name: next((getattr(r.member, name) for r in records if getattr(r.member, name)),
                         None)
              for name in MEMBER_FIELDS}
    if values["house"] == "Lords":
        values["constituency"] = None
    return MemberRef(id=member_id, **values)



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

