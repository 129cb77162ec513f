"""Replacing a file in one step, so that a killed process never leaves half of it.

Writes the new bytes to a hidden temporary file beside the target (`.NAME.<random>.tmp`, in the
same folder, so the rename stays on one file system), then renames it over the target. The
temporary name is hidden from source discovery and matches the `*.tmp` pattern the output
stages sweep away, should a crash leave one behind.
"""

from __future__ import annotations

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
