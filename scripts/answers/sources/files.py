"""File helpers shared by the readers."""

from __future__ import annotations

import gzip
from pathlib import Path


def read_bytes(path: Path) -> bytes:
    "A file's bytes, gunzipped when its name ends in .gz."
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data


def base_name(path: Path) -> str:
    "The file name without a trailing .gz: 'x.json.gz' -> 'x.json'."
    name = path.name
    return name[:-3] if name.endswith(".gz") else name
