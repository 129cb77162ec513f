"""Replacing many files, each in one step, by reusing the files they replace.

A writer replaces a file by renaming a complete new one over it (atomic.py), which frees the
old one. Here the old file is not freed but set aside in a folder of the writer's own: the new
file, made or filled there, swaps names with it in one step (renameat2's RENAME_EXCHANGE; where
the file system cannot, the old file is linked there and the new one renamed over it), and once
it has been set aside for `SETTLE_SECONDS` it is emptied, filled with the next file's bytes and
put in place of that file in turn. A build that
replaces all 56,000 question pages then makes and frees only the files its writers set aside
in their first half second, instead of 56,000 each.

Why: on ext4 without a journal (this machine's file system), making a file searches past every
inode freed in its group in the last minutes, and with the `discard` mount option freeing a
file's blocks waits for the disk. 20,000 pages, each in a folder of its own, replaced one by
one, three times over: 5.9-8.0 s (2.6-5.2 s of system time, growing as freed files pile up) the
plain way, 2.6-3.3 s (1.6-2.1 s) this way.

A set-aside file is filled again only when no one else can see its bytes and it is as a new
file of the writer's would be:
- it is a regular file, linked as it was (a link is never followed), and the writer's name
  for it is its only one (link count 1): a copy of the output made with hard links
  (`cp -al`, `rsync --link-dest`) keeps its bytes;
- it is the writer's own (a build run as root must not hand one user's file to another's page)
  and carries no extended attributes but the system's security labels;
- no process holds it open or mapped, which a write lease proves (the kernel grants one only
  then; it is let go at once): a web server that opened the old page before it was replaced,
  or keeps pages open, goes on reading the bytes it opened;
- its bytes in memory are let go, not written over (`emptied`): a server that sent the old
  page without copying it (`sendfile`) and closed it before the bytes left sends the old bytes;
- it was set aside `SETTLE_SECONDS` ago: a reader part way through opening the old page when
  it was replaced has long had it open.
A file that fails any of these is dropped and a new one made, as a plain replace does; where
the file system has no hard links, leases or zeroed ranges, every write makes a new file.

What no check here can see is a reference to the old file that is not an open file: a handle
kept by `O_PATH`, or by an NFS server for its clients (an output exported over NFSv3, say). Such
a reference reads the bytes of whichever page the file was filled with next, where after a
plain replace it would fail as stale. `REFILL_FILES=0` in the environment turns refilling off
(`enabled`) for an output shared that way.

The folders (`FOLDER_PREFIX`, in the output's scratch folder) are removed by the build once its
writers are done (`Output.remove_leftovers`), a killed build's by the next one; a pool worker
removes its own as it exits (`output.sweep_when_worker_exits`), beside the other workers.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import mmap
import os
import signal
import stat
import time
from collections import deque

from .atomic import fill_and_rename, make_folder, make_folders, open_new
from .settings import REFILL_FILES

FOLDER_PREFIX = "replaced."
# How long a file is set aside before it is filled again: a writer keeps the files it replaced
# in that time, about 1,500 pages' (10 MB) after a template change.
SETTLE_SECONDS = 0.5
# fallocate(2), which the os module gives only without modes: its mode that turns a range of a
# file into zeros by letting go of its pages in memory and marking its blocks unwritten.
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
FALLOC_FL_ZERO_RANGE = 0x10
FALLOC_FL_KEEP_SIZE = 0x01  # and the file's length as it was, not grown to the whole blocks zeroed
# Refusals of a lease that say the file is shared (or not the writer's to lease), not that the
# file system has no leases.
SHARED = {errno.EAGAIN, errno.EBUSY, errno.EACCES}
# Refusals of fallocate that say the file system cannot zero a range at all.
CANNOT_ZERO = {errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS}
# The extended attributes a new file may carry too: security labels the system gives every file.
SYSTEM_ATTRIBUTES = "security."
# renameat2(2), which the os module lacks too: its flag that swaps what two names lead to.
RENAME_EXCHANGE = 2
AT_FDCWD = -100  # names relative to the working folder, as os.replace takes them
# Refusals of a swap that say the file system cannot swap names at all.
CANNOT_SWAP = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV}


def swap_names(first: str, second: str) -> None:
    "Swap what two names lead to, in one step; OSError if it cannot be done."
    renameat2 = getattr(LIBC, "renameat2", None)  # a C library without it: none swapped
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available", second)
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number), second)


def enabled() -> bool:
    "Whether writers refill the files they replaced: unless `REFILL_FILES=0` in the environment."
    return os.environ.get(REFILL_FILES.envvar, str(REFILL_FILES.default)).strip() != "0"


class ReplacedFiles:
    "One writer's files set aside, and the replacing of files that fills them again."

    def __init__(self, folder: str, settle: float = SETTLE_SECONDS, clock=time.monotonic):
        self.folder = folder
        self.settle, self.clock = settle, clock
        self.made = False
        self.aside: deque[tuple[float, str]] = deque()  # (when, name), oldest first
        self.names = 0
        self.reusing = True  # False once the file system has shown it cannot tell a file unshared
        self.swapping = True  # False once it has shown it cannot swap names

    def write(self, path: str, data: bytes) -> None:
        """Replace the file at `path` with `data` in one step (a file of that name or none),
        filling a set-aside file when one may be, and setting aside the file it replaces."""
        handle, name, held = self.reusable() or self.new_file()
        fill_and_rename(handle, name, data, lambda filled: self.replace(filled, path), held)

    def replace(self, name: str, path: str) -> None:
        """Put the filled file at `path` in one step, the file there set aside: the two swapped
        (`swap_aside`), else the old one linked into the folder and the filled one renamed over it."""
        if self.swap_aside(name, path):
            return
        aside = self.set_aside(path)
        try:
            os.replace(name, path)
        except BaseException:
            if aside is not None:  # still the live file's other name: never to be filled
                self.aside.pop()  # (its link count of 2 would keep it from being filled, too)
                with contextlib.suppress(OSError):
                    os.unlink(aside)
            raise

    def swap_aside(self, name: str, path: str) -> bool:
        """Swap the filled file in the folder with the file at `path`, which then has the filled
        one's name there, set aside as `set_aside` would have linked it: one step across folders
        instead of two (a link and a rename, which on ext4 took three times as long, two
        writers taking turns at its lock on renames across folders). False, nothing changed,
        where there is no regular file at `path` to set aside (none there, or a folder or a link;
        one put there between the look and the swap is swapped back at once) or the names cannot
        be swapped."""
        if not (self.reusing and self.swapping):
            return False
        try:
            # Only a regular file: a folder swapped away, then left in the folder by a build
            # killed before it was swapped back, would go when the folder is swept.
            if not stat.S_ISREG(os.lstat(path).st_mode):
                return False
            swap_names(name, path)
        except OSError as error:  # nothing there (a new file); or, on a file system that cannot,
            if error.errno in CANNOT_SWAP:  # never again
                self.swapping = False
            return False
        if not stat.S_ISREG(os.lstat(name).st_mode):  # put there meanwhile: put back where it was
            swap_names(name, path)
            return False
        self.aside.append((self.clock(), name))
        return True

    def set_aside(self, path: str) -> str | None:
        "Link the file at `path` into the folder; its new name, or None if there is none."
        if not self.reusing:
            return None
        aside = self.next_name()
        try:
            os.link(path, aside, follow_symlinks=False)
        except OSError:  # nothing there (a new file), or not linkable here: made anew next time
            return None
        self.aside.append((self.clock(), aside))
        return aside

    def reusable(self) -> tuple[int, str, os.stat_result] | None:
        """The oldest set-aside file, opened for writing and emptied, with its status, once it has
        been set aside for `settle` seconds, if no one else can see it (`unshared`); None
        otherwise (and a file that fails is dropped)."""
        if not (self.reusing and self.aside) or self.clock() - self.aside[0][0] < self.settle:
            return None
        _, name = self.aside.popleft()
        try:
            # Not blocking: a named pipe set aside would wait for a reader.
            handle = os.open(name, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            handle = None
        held = os.fstat(handle) if handle is not None else None
        if held is not None and self.unshared(handle, held) and self.emptied(handle, held):
            return handle, name, held
        if handle is not None:
            os.close(handle)
        with contextlib.suppress(OSError):
            os.unlink(name)
        return None

    def unshared(self, handle: int, held: os.stat_result) -> bool:
        """Whether the open file (of status `held`) is a regular file of the writer's own, as a
        new one would be, whose only name is ours and that no process holds."""
        if not stat.S_ISREG(held.st_mode) or held.st_nlink != 1 or held.st_uid != os.geteuid():
            return False
        try:
            if any(not name.startswith(SYSTEM_ATTRIBUTES) for name in os.listxattr(handle)):
                return False
        except OSError:  # a file system without extended attributes: none to carry over
            pass
        try:
            # A lease broken by someone opening the file meanwhile signals this process: with
            # SIGURG, which is ignored, and not SIGIO, which would end it.
            fcntl.fcntl(handle, fcntl.F_SETSIG, signal.SIGURG)
            fcntl.fcntl(handle, fcntl.F_SETLEASE, fcntl.F_WRLCK)
        except OSError as error:
            if error.errno not in SHARED:
                self.reusing = False
            return False
        fcntl.fcntl(handle, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return True

    def emptied(self, handle: int, held: os.stat_result) -> bool:
        """Empty the open file of its bytes, keeping its blocks: its pages in memory are let go
        rather than written over. A web server that sent the old page without copying it
        (`sendfile`, as nginx and Caddy do) and closed it before the bytes left still holds those
        pages, and sends the old bytes; written over, they would send the next page's. (Cutting
        the file to nothing lets them go too, but frees its blocks, which costs what a new file
        does.) Its length is kept, that of `held`: a page written over one as long or longer
        need not be cut. False where it cannot be (and no more reusing where the file system
        cannot)."""
        unit = max(mmap.PAGESIZE, held.st_blksize)  # whole pages and blocks: none zeroed in place
        span = -(-held.st_size // unit) * unit
        if span and LIBC.fallocate(handle, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, span) != 0:
            if ctypes.get_errno() in CANNOT_ZERO:
                self.reusing = False
            return False
        return True

    def new_file(self) -> tuple[int, str, None]:
        "A new empty file in the folder (made on first use), opened for writing."
        if not self.made:
            make_folders(os.path.dirname(self.folder))
            make_folder(self.folder)  # FileExistsError if anything holds the name: never written through
            self.made = True
        name = self.next_name()
        return open_new(name), name, None

    def next_name(self) -> str:
        self.names += 1
        return os.path.join(self.folder, str(self.names))

