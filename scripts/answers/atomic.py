"""Replacing a file in one step, so that a killed process never leaves half of it.

Writes the new bytes to a hidden temporary file beside the target (`.NAME.<random>.tmp`, in the
same folder, so the rename stays on one file system), then renames it over the target. The
temporary name is hidden from source discovery and matches the `*.tmp` pattern the output
stages sweep away, should a crash leave one behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes, durable: bool = False) -> None:
    """Replace the file's bytes with `data` in one step. `durable` also syncs the bytes to
    disk before the rename, for files whose loss a later step would not notice (a fetch
    clears its journal once the month files are written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)  # temporary files are private; what they hold is not
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def write_replacing(path: str, data: bytes) -> None:
    """`write_atomically` for the many small files of one build whose folder exists: without a
    file object or a random name. The temporary name is this process's (`.NAME.<pid>.tmp`), so
    that two processes writing side by side never share one; a leftover of a killed build of
    the same number is replaced."""
    temporary = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        os.unlink(temporary)
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        try:
            os.fchmod(handle, 0o644)  # whatever the umask: what pages hold is public
            view = memoryview(data)
            while view:
                view = view[os.write(handle, view):]
        finally:
            os.close(handle)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def replace_if_changed(path: Path, data: bytes) -> bool:
    """Write the file only if it does not already hold `data` (a build that changed nothing
    writes nothing, so timestamps keep meaning something). Returns whether it was written."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomically(path, data)
    return True
