"""The member reference files and the plain records read from them.

Reads nothing itself but the folder listings: `ReferenceFiles.find` walks the member folders
given to the build and sorts each file it knows by name (`mp_lookup.csv`, `current_mps.json`,
IfG's `appointment.csv`, parlparse's `people.xml`, ...), gzip-compressed or not. The helpers
here open those files and clean their fields; `Post` and `NameRecord` are what the source
modules (`elections`, `ifg`, `parlparse`) turn them into. Writes nothing.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..checks import safe_text
from ..model import MemberRef

# How current each kind of name record is: lower is newer. A field is taken from the newest
# record that has it, so that a name change (Fernandes -> Braverman) or a defection shows.
RANK_DFE = 0  # MPs as of mid-2026
RANK_CURRENT_MPS = 10  # + the list's age order: 10 newest, 11 the one before
RANK_IFG = 20  # the name IfG holds as current (peerages included)
RANK_CANDIDACY = 30  # + election age order: by-elections and general elections, newest first
RANK_MAIDEN = 40  # the name at the time of the maiden speech

# Words that say nothing about a name's identity (titles, honours, post-nominals).
HONORIFICS = {
    "mr", "mrs", "ms", "miss", "mx", "dr", "sir", "dame", "rt", "hon", "right", "honourable",
    "the", "prof", "professor", "mp", "kc", "qc", "cbe", "obe", "mbe", "kbe", "dbe", "frs",
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


@dataclass(frozen=True)
class NameRecord:
    "One source's word on one member (a `MemberRef`), with how current that word is."

    rank: int
    member: MemberRef


def files_named(name: str):
    "A field of `ReferenceFiles` that gathers every file of this name (gzip-compressed or not)."
    return field(default_factory=list, metadata={"file": name})


def file_named(name: str):
    "A field of `ReferenceFiles` that holds the file of this name (the last found, if several)."
    return field(default=None, metadata={"file": name})


@dataclass
class ReferenceFiles:
    "The reference files under the member folders, by kind: each field names its file."

    dfe: list[Path] = files_named("mp_lookup.csv")
    current_mps: list[Path] = files_named("current_mps.json")
    candidacies: list[Path] = files_named("candidacies.csv")
    maiden: list[Path] = files_named("maiden-speeches.csv")
    all_members: Path | None = file_named("all-members.xml")
    peers: Path | None = file_named("peers-ucl.xml")
    people: Path | None = file_named("people.xml")
    ministers_2010: Path | None = file_named("ministers-2010.json")
    ministers_xml: Path | None = file_named("ministers.xml")
    ifg_folder: Path | None = None  # the folder holding IfG's appointment.csv and its other tables

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
        for kind in fields(self):
            if kind.metadata.get("file") != name:
                continue
            if isinstance(getattr(self, kind.name), list):
                getattr(self, kind.name).append(path)
            else:
                setattr(self, kind.name, path)
        if name == "appointment.csv":
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
    """A field's text, or None for empty values and the '[x]' that means unknown. Made safe to
    store as a source's text is: a JSON file's bad escape (a lone surrogate) would otherwise
    stop the build when the member's row is written."""
    if value is None:
        return None
    text = safe_text(str(value)).strip()
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



def normalise_name(name: str) -> str:
    """'Rt Hon Siân Berry MP' -> 'sian berry': no accents, case, punctuation or honorifics.
    Hyphens and apostrophes separate words, as in the slugs of "name:" ids, so that
    "O'Brien" and "name:...-o-brien" meet."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    words = re.findall(r"[a-z0-9]+", text)
    return " ".join(word for word in words if word not in HONORIFICS)

