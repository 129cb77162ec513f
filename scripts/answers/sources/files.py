"""What every reader does with a file before it reads records: open it (gunzipped when its
name ends in .gz), turn its bytes into text, and say what a reader module provides.

A file that cannot be opened raises `UnreadableFile`, whose message is the reason a reader
yields as the file's one `SourceError`.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from ..model import FullText, Question, SourceError

GZIP_PIECE = 4096  # compressed bytes fed to zlib at a time
CP1252_NOTE = "decoded as cp1252, not UTF-8"
# A UTF-8 multi-byte sequence: its presence in a file that is not valid UTF-8 means the
# file mixes encodings, and no single decoding is faithful to it.
UTF8_SEQUENCE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


class Reader(Protocol):
    """A reader module: one source format. Each module in this package provides these names.

    A bad record is *yielded* by `read` as a `SourceError` (never raised), so that the rest of
    the file is still read and every record is accounted for."""

    FORMAT: str  # the format's name as stored in the `sources` table

    def matches(self, path: Path) -> bool:
        "Whether a file is in this format (by its name)."

    def read(self, path: Path) -> Iterator[Question | FullText | SourceError]:
        "Every record of the file."

    def superseded(self, path: Path) -> bool:
        "Whether a later version of the file sits beside it, in which case it is not read."


def never_superseded(path: Path) -> bool:
    "`superseded` for a format whose files have no versions."
    return False


class UnreadableFile(Exception):
    "A file that cannot be read at all; the message says why."


def is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def base_name(path: Path) -> str:
    "The file name without a trailing .gz: 'x.json.gz' -> 'x.json'."
    return path.name[:-3] if is_gzip(path) else path.name


def read_bytes(path: Path) -> bytes:
    "A file's bytes, gunzipped when its name ends in .gz; UnreadableFile if it is damaged."
    data, damage = read_salvaging(path)
    if damage is not None:
        raise UnreadableFile(damage)
    return data


def read_salvaging(path: Path) -> tuple[bytes, str | None]:
    """A file's bytes, gunzipped when its name ends in .gz, and why they stop early when the
    file is damaged (None if it is whole): what precedes the damage is kept."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return b"", f"cannot read the file: {error.strerror or error}"
    if is_gzip(path):
        return gunzip_salvaging(data)
    return data, None


def gunzip_salvaging(data: bytes) -> tuple[bytes, str | None]:
    """Gzip data decompressed as far as it goes, and why it stopped early (None if it did not).

    The data goes in pieces, so that a bad checksum or trailer, or damage in the middle, loses
    only what follows it: a single call would raise and keep nothing. The piece that fails is
    fed again a few bytes at a time, to keep all it held before the damage."""
    decompressor = zlib.decompressobj(wbits=31)  # 31: expect a gzip header and trailer
    output = bytearray()
    for start in range(0, len(data), GZIP_PIECE):
        before = decompressor.copy()
        try:
            output += decompressor.decompress(data[start:start + GZIP_PIECE])
        except zlib.error as error:
            output += salvage_piece(before, data[start:start + GZIP_PIECE])
            if not output:
                return b"", f"not readable as gzip ({error})"
            return bytes(output), (f"gzip data damaged within compressed bytes {start}-"
                                   f"{start + GZIP_PIECE} ({error}), after {len(output)} "
                                   "uncompressed bytes")
        if decompressor.eof:
            return bytes(output), None
    output += decompressor.flush()
    return bytes(output), f"gzip data ends early, after {len(output)} uncompressed bytes"


def salvage_piece(decompressor, piece: bytes) -> bytes:
    "What a damaged piece decompresses to before the damage, fed 8 bytes at a time."
    output = bytearray()
    for start in range(0, len(piece), 8):
        try:
            output += decompressor.decompress(piece[start:start + 8])
        except zlib.error:
            break
    return bytes(output)


def read_text(path: Path, keep_undecodable: bool = False) -> tuple[str, str | None]:
    """A file's text and, when it was decoded as Windows-1252, a note saying so.

    Files are UTF-8 (a byte order mark is ignored). One that is not, but holds no UTF-8
    sequence and is valid Windows-1252 throughout (what Windows tools save: "£" as 0xA3,
    curly quotes as 0x91-0x94), is decoded as Windows-1252, which maps every byte to the
    character it was written for. Any other file raises UnreadableFile, naming the first bad
    byte; or, with `keep_undecodable`, is decoded with its bad bytes kept as lone surrogates,
    so that a reader can reject the records holding them and read the others."""
    data = read_bytes(path)
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        first_bad = error.start
    if keep_undecodable:
        if not UTF8_SEQUENCE.search(data):
            try:
                return data.decode("cp1252"), CP1252_NOTE
            except UnicodeDecodeError:
                pass
        return data.decode("utf-8", "surrogateescape"), None  # offsets count the BOM
    if UTF8_SEQUENCE.search(data):
        raise UnreadableFile(f"not valid UTF-8 at byte {first_bad}, and the file also holds "
                             "UTF-8 sequences: mixed encodings, no faithful decoding")
    try:
        return data.decode("cp1252"), CP1252_NOTE
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"not valid UTF-8 at byte {first_bad}, nor Windows-1252 "
                             f"(byte 0x{data[error.start]:02x} at {error.start})") from None
