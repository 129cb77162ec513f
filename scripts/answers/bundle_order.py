"""Puts a Pagefind bundle's filters in a stable order, so that identical inputs give
identical bytes.

Pagefind 1.5 keeps filters in hash maps, so the order of the values inside each
`filter/*.pf_filter` file, and of the filters listed in `pagefind.<lang>_<hash>.pf_meta`,
changes from one run to the next; file names are digests of the contents, so the names
change too. This module reads a written bundle, sorts those lists, writes the files again
under names that are digests of their new bytes, and points `pagefind-entry.json` at the new
metadata file. It reads and writes only the subset of CBOR that these files use (arrays, text
strings, unsigned integers), and the same container Pagefind uses: gzip around a
`pagefind_dcd` signature. What it only moves (the filters' values, the sorts, the metadata's
other parts) it writes back as the bytes Pagefind wrote, without encoding them again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from .atomic import PUBLIC_FILE

SIGNATURE = b"pagefind_dcd"
PAGES, FILTERS, SORTS = 1, 3, 4  # their places in the metadata file
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
    major, argument, at = read_head(data, at)
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


def read_head(data: bytes, at: int) -> tuple[int, int, int]:
    "The major type and argument of the item at `at`, and where its content starts."
    major, info = data[at] >> 5, data[at] & 0x1F
    at += 1
    if info < 24:
        return major, info, at
    if info <= 27:
        size = 1 << (info - 24)
        return major, int.from_bytes(data[at:at + size], "big"), at + size
    raise BundleFormatError(f"unsupported CBOR length {info}")


def array_items(data: bytes) -> list[tuple[object, bytes]]:
    """The items of the array that `data` holds, each decoded and as its own bytes: what is
    only put in another order is written back from those bytes rather than encoded again (which
    cost most of this module's time)."""
    major, count, at = read_head(data, 0)
    if major != ARRAY:
        raise BundleFormatError("not a CBOR array")
    items = []
    for _ in range(count):
        value, end = decode_at(data, at)
        items.append((value, data[at:end]))
        at = end
    if at != len(data):
        raise BundleFormatError("trailing bytes after the CBOR value")
    return items


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


def read_packed(path: Path) -> bytes:
    "A packed file's CBOR bytes."
    data = gzip.decompress(path.read_bytes())
    if not data.startswith(SIGNATURE):
        raise BundleFormatError(f"{path.name}: no Pagefind signature")
    return data[len(SIGNATURE):]


def write_packed(folder: Path, pattern: str, language: str, cbor: bytes) -> str:
    """Write CBOR bytes under a name made from the digest of its bytes; returns the short hash
    ('en_1a2b3c4') that the bundle refers to it by."""
    data = SIGNATURE + cbor
    short_hash = f"{language}_{hashlib.sha1(data).hexdigest()[:7]}"
    path = folder / pattern.format(short_hash)
    path.write_bytes(gzip.compress(data, mtime=0))
    path.chmod(PUBLIC_FILE)  # published: readable by all whatever the umask
    return short_hash


def sorted_filter(data: bytes) -> bytes:
    "A filter file's CBOR, [name, [[value, pages]…]], with its values in order."
    major, count, at = read_head(data, 0)
    if (major, count) != (ARRAY, 2):
        raise BundleFormatError("a filter file that is not [name, values]")
    _, values_at = decode_at(data, at)
    return data[:values_at] + sorted_array(data[values_at:])


def sorted_array(data: bytes) -> bytes:
    "The CBOR array that `data` holds, its items in the order of their values."
    items = array_items(data)
    items.sort(key=lambda item: item[0])
    return head(ARRAY, len(items)) + b"".join(raw for _, raw in items)


def meta_path(bundle: Path) -> Path:
    "The bundle's metadata file, as its entry names it (one language: this archive's)."
    entry = json.loads((bundle / "pagefind-entry.json").read_text(encoding="utf-8"))
    [details] = entry["languages"].values()
    return bundle / f"pagefind.{details['hash']}.pf_meta"


def page_hashes(bundle: Path) -> list[str]:
    "The names of the bundle's fragments, one a record, as its metadata lists its pages."
    pages = decode(read_packed(meta_path(bundle)))[PAGES]
    if not all(isinstance(page, list) and page and isinstance(page[0], str) for page in pages):
        raise BundleFormatError("a metadata page that is not [name, word count]")
    return [page[0] for page in pages]


def stabilise(bundle: Path) -> None:
    "Rewrite a bundle's filter files and metadata in sorted order (see the module's docstring)."
    entry_path = bundle / "pagefind-entry.json"
    entry = json.loads(entry_path.read_text(encoding="utf-8"))
    for language, details in entry["languages"].items():
        meta_path = bundle / f"pagefind.{details['hash']}.pf_meta"
        # [version, pages, index chunks, filters, sorts, ...]
        meta = [raw for _, raw in array_items(read_packed(meta_path))]
        stable_filters = []
        for name, old_hash in decode(meta[FILTERS]):
            old_path = bundle / "filter" / f"{old_hash}.pf_filter"
            stable = sorted_filter(read_packed(old_path))
            old_path.unlink()  # before writing: the new name is the old one if nothing moved
            new_hash = write_packed(bundle / "filter", "{}.pf_filter", language, stable)
            stable_filters.append([name, new_hash])
        meta[FILTERS], meta[SORTS] = encode(sorted(stable_filters)), sorted_array(meta[SORTS])
        meta_path.unlink()
        details["hash"] = write_packed(bundle, "pagefind.{}.pf_meta", language,
                                       head(ARRAY, len(meta)) + b"".join(meta))
    entry_path.write_text(json.dumps(entry, ensure_ascii=False, separators=(",", ":")),
                          encoding="utf-8")
