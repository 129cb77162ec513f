"""Readers: one module per source format, each turning one file into model records.

Every reader module provides what `files.Reader` declares (FORMAT, matches, read and
superseded). This package finds the source files under the folders given (`discover`) and
the reader for each (`reader_for`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import api_json, data_parliament_csv, longform_sqlite, page_text, parlparse_xml
from .files import Reader

READERS: tuple[Reader, ...] = (api_json, longform_sqlite, parlparse_xml, data_parliament_csv,
                               page_text)


def reader_for(path: Path) -> Reader | None:
    "The reader module for a file, or None when no reader handles it."
    for reader in READERS:
        if reader.matches(path):
            return reader
    return None


@dataclass
class Links:
    "Symbolic links found in source folders that are not followed, as paths."

    outside: list[str] = field(default_factory=list)  # leading out of the folder given
    dangling: list[str] = field(default_factory=list)  # leading nowhere


def discover(inputs: Iterable[str | Path], links: Links | None = None) -> list[Path]:
    """Every file under the given files and folders, sorted, so that builds are repeatable.
    Hidden files and folders within a folder (a fetch's state, a half-written temporary file,
    editor backups) are not source answers and are passed over. A symbolic link within a
    folder is followed only to a file inside that folder; the others are noted in `links`."""
    links = links if links is not None else Links()
    files: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.update(folder_files(path, links))
        elif path.is_file():
            files.add(path)
        else:
            raise FileNotFoundError(f"source not found: {path}")
    links.outside.sort()
    links.dangling.sort()
    return sorted(files)


def folder_files(folder: Path, links: Links) -> Iterator[Path]:
    root = folder.resolve()
    for path in folder.rglob("*"):
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        if path.is_symlink():
            target = path.resolve()
            if not target.exists():
                links.dangling.append(str(path))
                continue
            if not target.is_relative_to(root):
                links.outside.append(str(path))
                continue
        if path.is_file():
            yield path


def is_superseded(path: Path) -> bool:
    """Whether a later version of the same file sits beside it (parlparse writes a new letter
    each time it re-parses a day)."""
    reader = reader_for(path)
    return reader is not None and reader.superseded(path)


def read(path: Path) -> Iterator:
    reader = reader_for(path)
    if reader is None:
        raise ValueError(f"no reader for {path}")
    return reader.read(path)
