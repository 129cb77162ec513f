"""Puts a Pagefind bundle's filters in a stable order, so that identical inputs give
identical bytes.

Pagefind 1.5 keeps filters in hash maps, so the order of the values inside each
`filter/*.pf_filter` file, and of the filters listed in `pagefind.<lang>_<hash>.pf_meta`,
changes from one run to the next; file names are digests of the contents, so the names
change too. This module reads a written bundle, sorts those lists, writes the files again
under names that are digests of their new bytes, and points `pagefind-entry.json` at the new
metadata file. It reads and writes only the subset of CBOR that these files use (arrays, text
strings, unsigned integers), and the same container Pagefind uses: gzip around a
`pagefind_dcd` signature.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

SIGNATURE = b"pagefind_dcd"
FILTERS, SORTS = 3, 4  # their places in the metadata file
UNSIGNED, TEXT, ARRAY = 0, 3, 4


class BundleFormatError(ValueError):
    "A bundle file that is not what this Pagefind version writes."


# -- the CBOR subset ----------------------------------------------------------------------


def decode(data: bytes):
    value, end = decode_at(data, 0)
    if end != len(data):
        raise BundleFormatError("trailing bytes after the CBOR value")
    return value


def decode_at(data: bytes, at: int):
    major, info = data[at] >> 5, data[at] & 0x1F
    at += 1
    if info < 24:
        argument = info
    elif info <= 27:
        size = 1 << (info - 24)
        argument = int.from_bytes(data[at:at + size], "big")
        at += size
    else:
        raise BundleFormatError(f"unsupported CBOR length {info}")
    if major == UNSIGNED:
        return argument, at
    if major == TEXT:
        return data[at:at + argument].decode("utf-8"), at + argument
    if major == ARRAY:
        items = []
        for _ in range(argument):
            item, at = decode_at(data, at)
            items.append(item)
        return items, at
    raise BundleFormatError(f"unsupported CBOR type {major}")


def encode(value) -> bytes:
    "The shortest encoding, as Pagefind's encoder writes it."
    if isinstance(value, bool) or not isinstance(value, (int, str, list)):
        raise BundleFormatError(f"cannot encode {type(value).__name__}")
    if isinstance(value, int):
        return head(UNSIGNED, value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return head(TEXT, len(data)) + data
    return head(ARRAY, len(value)) + b"".join(encode(item) for item in value)


def head(major: int, argument: int) -> bytes:
    if argument < 24:
        return bytes([major << 5 | argument])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if argument < 1 << (8 * size):
            return bytes([major << 5 | info]) + argument.to_bytes(size, "big")
    raise BundleFormatError("integer too large")


# -- the files ----------------------------------------------------------------------------


def read_packed(path: Path):
    data = gzip.decompress(path.read_bytes())
    if not data.startswith(SIGNATURE):
        raise BundleFormatError(f"{path.name}: no Pagefind signature")
    return decode(data[len(SIGNATURE):])


def write_packed(folder: Path, pattern: str, language: str, value) -> str:
    """Write a value under a name made from the digest of its bytes; returns the short hash
    ('en_1a2b3c4') that the bundle refers to it by."""
    data = SIGNATURE + encode(value)
    short_hash = f"{language}_{hashlib.sha1(data).hexdigest()[:7]}"
    (folder / pattern.format(short_hash)).write_bytes(gzip.compress(data, mtime=0))
    return short_hash


def stabilise(bundle: Path) -> None:
    "Rewrite a bundle's filter files and metadata in sorted order (see the module's docstring)."
    entry_path = bundle / "pagefind-entry.json"
    entry = json.loads(entry_path.read_text(encoding="utf-8"))
    for language, details in entry["languages"].items():
        meta_path = bundle / f"pagefind.{details['hash']}.pf_meta"
        meta = read_packed(meta_path)  # [version, pages, index chunks, filters, sorts, ...]
        stable_filters = []
        for name, old_hash in meta[FILTERS]:
            old_path = bundle / "filter" / f"{old_hash}.pf_filter"
            filter_name, values = read_packed(old_path)
            old_path.unlink()
            new_hash = write_packed(bundle / "filter", "{}.pf_filter", language,
                                    [filter_name, sorted(values)])
            stable_filters.append([name, new_hash])
        meta[FILTERS], meta[SORTS] = sorted(stable_filters), sorted(meta[SORTS])
        meta_path.unlink()
        details["hash"] = write_packed(bundle, "pagefind.{}.pf_meta", language, meta)
    entry_path.write_text(json.dumps(entry, ensure_ascii=False, separators=(",", ":")),
                          encoding="utf-8")
