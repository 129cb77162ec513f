"""Re-indexing a bundle without compressing again the fragments of its unchanged records.

Pagefind writes one fragment a record (`fragment/en_<7 hex>.pf_fragment`, named by the start
of a digest of what it shows of the record), and most of its time on a bundle goes into
compressing and creating those files. It never rewrites a file whose name already exists in its
output folder, and it never removes one. So a bundle whose records mostly did not change can
be written into a folder that already holds the fragments of those records, taken (as hard
links) from the bundle in place: Pagefind skips them and writes the rest.

That is safe only if every name it skips holds what it would have written, and Pagefind's
names alone do not promise it: two fragments whose digests start alike are told apart by
lengthening one name, and which one depends on the order Pagefind met them, so a name can
hold one record's fragment in one run and another's in the next. Hence:

- a bundle's folder is pre-filled only with the fragments of records whose content is the
  same as when that bundle was made, by a map kept beside its records (fragment name -> digest
  of the record), learned when the bundle is made and trusted only for the very bundle it was
  learned from (the digest of its metadata file) and this code;
- after the run, the bundle is checked: each name is a plain 7-character one (no collision
  met), each record has one fragment, and the fragment folder holds those files and nothing
  else; if not, the caller indexes the bundle again into an empty folder.

With no collision in a run, every name belongs to the one record whose digest it starts with,
and a pre-filled name belongs to a record of this run whose content is unchanged: it holds
exactly what a fresh run writes under that name.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import zlib
from pathlib import Path

from . import bundle_order
from .atomic import PUBLIC_FILE, make_folders, write_atomically

MAP_NAME = ".fragments.json"  # in a bundle's scratch folder: not HTML, so not indexed
FRAGMENTS = "fragment"
SUFFIX = ".pf_fragment"
PLAIN_NAME_LENGTH = len("en_") + 7  # Pagefind's name before any collision lengthens it
# A fragment is gzip'd JSON whose first key is the record's URL: the URL is read from its first
# bytes alone (HEAD_BYTES once decompressed): for the 55,989 fragments of a fresh index (2.5 KB
# each), 0.7 s of CPU where decompressing and parsing each whole took 1.3-1.6 s.
URL_START = bundle_order.SIGNATURE + b'{"url":'
HEAD_BYTES = 512
GZIP_WINDOW = 16 + zlib.MAX_WBITS  # zlib's wbits for a gzip stream
JSON_DECODER = json.JSONDecoder()


def record_digest(html: str) -> str:
    "What a record's fragment is made from, as the map and the scratch folder's list know it."
    return hashlib.sha256(html.encode("utf-8")).hexdigest()


def meta_digest(bundle: Path) -> str | None:
    "A digest of the bundle's metadata file (which names every fragment); None if unreadable."
    try:
        return hashlib.sha256(bundle_order.meta_path(bundle).read_bytes()).hexdigest()
    except (OSError, ValueError, KeyError):
        return None


def kept_map(scratch: Path, live: Path, version: str) -> dict[str, str]:
    """The fragment map learned when the bundle in place was made (name -> record digest),
    or nothing if it was learned for another bundle or other code, or cannot be read."""
    try:
        kept = json.loads((scratch / MAP_NAME).read_bytes())
    except (OSError, ValueError):
        return {}
    if not (isinstance(kept, dict) and kept.get("version") == version
            and kept.get("meta") is not None and kept.get("meta") == meta_digest(live)
            and isinstance(kept.get("fragments"), dict)):
        return {}
    return kept["fragments"]


def prefill(building: Path, live: Path, fragments: dict[str, str], wanted: set[str]) -> dict[str, str]:
    """Link into `building` the live bundle's fragments of the records among `wanted` (record
    digests); returns those pre-filled (name -> record digest). Hard links cost no copying and
    are never written through: Pagefind skips an existing fragment name, and nothing else
    that writes a bundle touches its fragments."""
    target = building / FRAGMENTS
    make_folders(target)
    placed = {}
    for name, digest in fragments.items():
        if digest not in wanted:
            continue
        source = live / FRAGMENTS / (name + SUFFIX)
        try:
            os.link(source, target / (name + SUFFIX))
        except FileNotFoundError:
            continue
        except OSError:  # a file system without hard links
            shutil.copyfile(source, target / (name + SUFFIX))
            os.chmod(target / (name + SUFFIX), PUBLIC_FILE)  # a copy is made under the umask
        placed[name] = digest
    return placed


def is_plain_name(name: str) -> bool:
    return len(name) == PLAIN_NAME_LENGTH


def learn(bundle: Path, digest_of: dict[str, str], prefilled: dict[str, str]) -> dict[str, str] | None:
    """The written bundle's fragment map (name -> record digest), reading only the fragments
    not pre-filled; None if anything is not as a run without collision leaves it (see the
    module's docstring): then the bundle must be indexed again into an empty folder.
    `digest_of` is the URL Pagefind gives each record (search.indexed_url) -> its digest."""
    try:
        names = bundle_order.page_hashes(bundle)
        on_disk = {path.name for path in (bundle / FRAGMENTS).iterdir()}
    except (OSError, ValueError, KeyError):
        return None
    if (len(names) != len(digest_of) or len(set(names)) != len(names)
            or not all(is_plain_name(name) for name in names)
            or on_disk != {name + SUFFIX for name in names}):
        return None
    fragments, folder = {}, os.path.join(bundle, FRAGMENTS)
    for name in names:
        digest = prefilled.get(name) or digest_of.get(fragment_url(os.path.join(folder, name + SUFFIX)))
        if digest is None:
            return None
        fragments[name] = digest
    if sorted(fragments.values()) != sorted(digest_of.values()):
        return None
    return fragments


def fragment_url(path: str) -> str | None:
    "The URL a fragment file shows (Pagefind's packed JSON), or None if it is not one."
    try:
        with open(path, "rb", buffering=0) as fragment:
            packed = fragment.readall()
    except OSError:
        return None
    url = url_from_head(packed)
    return url if url is not None else url_from_whole(packed)


def url_from_head(packed: bytes) -> str | None:
    """The URL from the fragment's first bytes, where it starts them as Pagefind writes it; None
    where it does not (another layout, a URL longer than the head, a head that is damaged)."""
    try:
        head = zlib.decompressobj(GZIP_WINDOW).decompress(packed, HEAD_BYTES)
    except zlib.error:
        return None
    if not head.startswith(URL_START):
        return None
    try:  # the head may end inside a character, after the URL: only the URL is decoded
        url, _ = JSON_DECODER.raw_decode(head[len(URL_START):].decode("utf-8", "replace"))
    except ValueError:
        return None
    return url if isinstance(url, str) else None


def url_from_whole(packed: bytes) -> str | None:
    "The URL from the whole fragment, decompressed and parsed."
    try:
        data = gzip.decompress(packed)
        if not data.startswith(bundle_order.SIGNATURE):
            return None
        url = json.loads(data[len(bundle_order.SIGNATURE):]).get("url")
    except (OSError, ValueError, AttributeError, EOFError, zlib.error):
        return None
    return url if isinstance(url, str) else None


def forget(scratch: Path) -> None:
    "Drop the kept map, before the bundle it describes is replaced."
    (scratch / MAP_NAME).unlink(missing_ok=True)


def keep(scratch: Path, live: Path, version: str, fragments: dict[str, str]) -> None:
    "Keep the map of the bundle now in place, tied to its metadata and this code."
    data = {"version": version, "meta": meta_digest(live), "fragments": fragments}
    write_atomically(scratch / MAP_NAME, json.dumps(data, sort_keys=True).encode("utf-8"))
