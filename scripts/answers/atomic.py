"""Replacing a file in one step, so that a killed process never leaves half of it.

Writes the new bytes to a hidden temporary file (`.NAME.<random>.tmp`), then renames it over
the target. The temporary file is made beside the target (the same folder, so the rename stays on
one file system), or in a `scratch` folder on the same file system that the caller names (an
output folder keeps one, `Output.scratch`, for the few files written through a link or too large
to hold in memory). Whatever a killed build left half written there, or in the folders its
notes name (`Output.note_folder`), is swept away by the next build.

What it puts in place is readable by all and the folders it makes searchable by all
(`PUBLIC_FILE`, `PUBLIC_FOLDER`), whatever the umask: the site is served as it is written.
"""

from __future__ import annotations

import contextlib
import glob
import os
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

# What a build makes is published as it is, by a web server that may run as another user:
# readable by all, its folders searchable, whatever the umask of whoever builds (umask 077 left
# the folders 0700, and the site unservable). mkdir's and open's modes are masked by the umask,
# so these are set explicitly, on what a writer makes only.
PUBLIC_FILE = 0o644
PUBLIC_FOLDER = 0o755
# The umask a child process that writes published files (Pagefind) runs under: it makes them so.
PUBLIC_UMASK = 0o022


def write_atomically(path: Path, data: bytes, durable: bool = False, scratch: Path | None = None) -> None:
    """Replace the file's bytes with `data` in one step. `durable` also syncs the bytes to
    disk before the rename, for files whose loss a later step would not notice (a fetch
    clears its journal once the month files are written). The temporary file is made in
    `scratch` if given, else beside the target."""
    make_folders(path.parent)
    handle = new_temporary_file(path, scratch)
    try:
        with handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        put_in_place(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def new_temporary_file(path: Path, scratch: Path | None = None):
    """A new file object for the next bytes of the file at `path` (`temporary_file`), in
    `scratch` if given (made on first use), else beside it. The caller removes it on failure."""
    folder = scratch or path.parent
    try:
        return temporary_file(folder, path.name)
    except FileNotFoundError:  # the scratch folder, made on first use
        make_folders(folder)
        return temporary_file(folder, path.name)


def put_in_place(temporary: str, path: Path) -> None:
    "Rename a finished temporary file over its target."
    os.chmod(temporary, PUBLIC_FILE)  # temporary files are private; what they hold is not
    os.replace(temporary, path)


def temporary_file(folder: Path, name: str):
    "A new file object for the bytes of the file `name`, in `folder`: `.NAME.<random>.tmp`."
    return tempfile.NamedTemporaryFile(dir=folder, prefix=f".{name}.", suffix=".tmp", delete=False)


def temporary_files(folder: Path, target: str = "") -> list[Path]:
    """The temporary files that writers killed part way left in `folder` (both writers here
    name them `.NAME.<something>.tmp`), of the files whose names start with `target` (every
    file by default); none when there is no such folder."""
    return sorted(path for path in folder.glob(f".{glob.escape(target)}*.tmp") if not path.is_dir())


def remove_temporary_files(folder: Path, target: str = "") -> None:
    "Remove the `temporary_files` of `folder`: call it when no one else writes there."
    for path in temporary_files(folder, target):
        path.unlink(missing_ok=True)


def write_replacing(path: str, data: bytes, scratch: str | None = None) -> None:
    """`write_atomically` for the many small files of one build whose folder exists: without a
    file object or a random name. The temporary name is this process's and thread's
    (`.NAME.<pid>.<thread>.tmp`), so that two writers side by side never share one; a leftover
    of a killed build of the same numbers is replaced."""
    temporary = os.path.join(scratch or os.path.dirname(path),
                             f".{os.path.basename(path)}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        handle = open_new(temporary)
    except FileNotFoundError:  # the scratch folder, made on first use
        make_folders(os.path.dirname(temporary))
        handle = open_new(temporary)
    fill_and_rename(handle, temporary, data, lambda filled: os.replace(filled, path))


def fill_and_rename(handle: int, temporary: str, data: bytes, rename: Callable[[str], None],
                    held: os.stat_result | None = None) -> None:
    """Make the open file at `temporary` hold exactly `data`, readable by all, close it and
    `rename` it into place; if any of that fails, the temporary file goes. `held` is the open
    file's status when it is not one `open_new` has just made: a file filled again keeps its
    mode and length unless they must change (a call each, for each of 56,000 pages)."""
    try:
        try:
            # Whatever the umask (or its mode before): what pages hold is public.
            if held is None or stat.S_IMODE(held.st_mode) != PUBLIC_FILE:
                os.fchmod(handle, PUBLIC_FILE)
            fill(handle, data, held.st_size if held is not None else 0)
        finally:
            os.close(handle)
        rename(temporary)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def fill(handle: int, data: bytes, length: int = 0) -> None:
    """Make the open file, `length` bytes long, hold exactly `data`: written from its start,
    then cut to its length where the file was longer."""
    view = memoryview(data)
    offset = 0
    while offset < len(data):
        offset += os.pwrite(handle, view[offset:], offset)
    if length > len(data):
        os.ftruncate(handle, len(data))


def open_new(path: str) -> int:
    "A file made empty for writing, in place of any leftover of that name."
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PUBLIC_FILE)
    except FileExistsError:
        os.unlink(path)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PUBLIC_FILE)


def make_folder(path: str | Path) -> None:
    "Make one folder, PUBLIC_FOLDER whatever the umask; FileExistsError if something is there."
    os.mkdir(path)
    os.chmod(path, PUBLIC_FOLDER)


def make_folders(path: str | Path) -> None:
    """`os.makedirs(path, exist_ok=True)`, each folder it makes PUBLIC_FOLDER (`make_folder`);
    the folders it finds keep their modes."""
    missing = []
    path = os.path.abspath(path)
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for folder in reversed(missing):
        try:
            make_folder(folder)
        except FileExistsError:  # made meanwhile by another writer (a render worker); or a file
            if not os.path.isdir(folder):
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
