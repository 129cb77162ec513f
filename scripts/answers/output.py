"""Writing files into an output folder: never outside it, never the same file twice in a
build, and never a file whose bytes have not changed (so that builds are incremental and
timestamps mean something).

What each page was made from is recorded apart, by the manifests (manifest.py); the digests
they compare (`stage_code_digest`, `inputs_digest`, `bytes_digest`) are made here.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import json
import os
import secrets
import stat
import sys
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from importlib import metadata
from pathlib import Path

import orjson

from . import replaced_files
from .atomic import make_folder, make_folders, temporary_files, write_replacing
from .replaced_files import FOLDER_PREFIX, ReplacedFiles

# Hidden, and swept at the end of every build (`remove_leftovers`): where the files written
# through a link are made before they are renamed into place, and the notes of the folders each
# writer made temporary files in (`Output.note_folder`), by which what a killed build left half
# written is found without walking the output.
SCRATCH_NAME = ".writing"
# Which build wrote a folder note: this process's, and that of the render workers it forks, so
# that a build does not sweep again the folders its own writers left clean.
BUILD = secrets.token_hex(8)
NOTES_SUFFIX = ".folders"


class OutsideOutputError(ValueError):
    "A path that resolves outside the output folder."


class DuplicateOutputError(ValueError):
    "A file written twice in one build: two things claim the same path."


@dataclass
class Output:
    root: Path
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    seen: set[str] = field(default_factory=set)
    # Run once, just before the first file is written or removed: what vouches for the files
    # as they were (a manifest, the listings' record) is withdrawn then, and only then,
    # so that a build which changes nothing writes nothing.
    before_first_change: list[Callable[[], None]] = field(default_factory=list)
    # Folders below the root that `write` found to be real folders (not links), by relative path,
    # and those of them it made: no file of this build's was there before.
    checked_folders: dict[str, str] = field(default_factory=dict)
    made_folders: set[str] = field(default_factory=set)
    # The folders this writer noted (`note_folder`), and the file it notes them in, once open.
    noted_folders: set[str] = field(default_factory=set)
    notes: int | None = None
    closing_notes: weakref.finalize | None = field(default=None, repr=False)  # closes `notes` once
    # Where given, a file written over another is made by filling one this writer replaced
    # earlier (replaced_files.py): a render or pages worker's, kept from chunk to chunk.
    replaced: ReplacedFiles | None = None
    # Whether the folder held nothing when this writer was made: then every file in it is this
    # build's, and `remove_stale` need not walk it (a second or more at the end of a first build).
    began_empty: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        make_folders(self.root)
        self.root_path = str(self.root)
        with os.scandir(self.root_path) as entries:
            self.began_empty = next(entries, None) is None
        self.scratch = self.root / SCRATCH_NAME
        self.scratch_path = str(self.scratch)
        if self.scratch.is_symlink():  # written through, it would put every file outside first
            self.scratch.unlink()

    def path_for(self, relative_path: str) -> Path:
        "The absolute path of a file in the output folder; refuses anything outside it."
        path = (self.root / relative_path).resolve()
        if path == self.root or not path.is_relative_to(self.root):
            raise OutsideOutputError(f"refusing to write outside {self.root}: {relative_path}")
        return path

    def write(self, relative_path: str, content: str | bytes, changed: bool = False) -> bool:
        """Write a file unless it already holds these bytes. Returns whether it was written.

        Lean, for the tens of thousands of small files of a build: each folder on the way is
        checked once a build (`checked_folder`) instead of resolving every path, the old bytes
        are read without following a link (and not at all in a folder this build made, nor when
        the caller says `changed`: it knows by their digests that the bytes differ from those
        last written there), and the new ones replace them in one step: from a file this
        writer replaced earlier (`replaced`, when given, and the folder is not new), else from a
        temporary file beside the target, in a folder noted first (`note_folder`;
        `write_replacing`). A path of any other shape ('..', a folder that is a link) takes
        `write_resolved`."""
        folder, _, name = relative_path.rpartition("/")
        directory = self.checked_folder(folder) if is_plain(relative_path) else None
        if directory is None:
            return self.write_resolved(relative_path, content)
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = os.path.join(directory, name)
        self.claim(path, relative_path)
        if not changed and folder not in self.made_folders and read_unless_link(path) == data:
            self.unchanged += 1
            return False
        self.changing()
        if self.replaced is not None and folder not in self.made_folders:
            self.replaced.write(path, data)
        else:
            self.note_folder(folder)
            write_replacing(path, data)
        self.written.append(relative_path)
        return True

    def replacing_files(self) -> ReplacedFiles | None:
        """A new set of replaced files for a writer of this output (`replaced`), in a folder of its
        own in the scratch folder, made on first use and swept by `remove_leftovers`; None where
        refilling is turned off (`replaced_files.enabled`)."""
        if not replaced_files.enabled():
            return None
        name = f"{FOLDER_PREFIX}{BUILD}.{os.getpid()}.{secrets.token_hex(4)}"
        return ReplacedFiles(os.path.join(self.scratch_path, name))

    def note_folder(self, folder: str) -> None:
        """Note, before its first temporary file is made there, a folder this writer writes in:
        a killed build's notes say where its half-written files are (`remove_leftovers`).

        Beside the target rather than in one scratch folder, because one folder for every
        temporary file serialised the render workers on its lock (a rename from one folder to
        another locks both), and on a file system without a journal made each new file search
        past the thousands the last build freed there: after a template change, four builds of
        56k pages through the scratch folder took 19-77 s of system time, slower as the freed
        inodes piled up; beside their targets, 13 s on the same quiet machine."""
        if folder in self.noted_folders:
            return
        if self.notes is None:
            self.notes = open_notes(self.scratch_path)
            self.closing_notes = weakref.finalize(self, os.close, self.notes)
        os.write(self.notes, orjson.dumps(folder) + b"\n")
        self.noted_folders.add(folder)

    def write_resolved(self, relative_path: str, content: str | bytes) -> bool:
        """`write` for a path that is not made of plain names through real folders: resolved
        first, links and all, and refused if it leads outside the output."""
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = self.path_for(relative_path)
        self.claim(str(path), relative_path)
        if read_unless_link(str(path)) == data:
            self.unchanged += 1
            return False
        make_folders(path.parent)
        self.changing()
        write_replacing(str(path), data, self.scratch_path)
        self.written.append(relative_path)
        return True

    def checked_folder(self, folder: str) -> str | None:
        """The absolute path of a folder below the root ('' is the root; its path made of plain
        names), made if missing, if it and every folder above it are real folders; else None.

        Each folder is checked once a build, then trusted: the output folder is this build's,
        and only something that swaps one of its folders for a link while the build runs
        (which could as well write into the output itself) could lead a later write through
        it. Checking every write again would cost the build a system call per folder level."""
        if folder == "":
            return self.root_path
        found = self.checked_folders.get(folder)
        if found is not None:
            return found
        parent_folder, _, name = folder.rpartition("/")
        parent = self.checked_folder(parent_folder)
        if parent is None:
            return None
        path = os.path.join(parent, name)
        try:
            make_folder(path)  # made here: a real folder, empty but for what this build writes
            self.made_folders.add(folder)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(path).st_mode):  # a link, or a file: `write_resolved` decides
                return None
        self.checked_folders[folder] = path
        return path

    def changing(self) -> None:
        "Say that a file is about to change: the first time, run `before_first_change`."
        hooks, self.before_first_change = self.before_first_change, []
        for hook in hooks:
            hook()

    def claim(self, key: str, relative_path: str) -> None:
        "Mark a file (its absolute path) as part of this build; a second claim is an error."
        if key in self.seen:
            raise DuplicateOutputError(f"written twice in one build: {relative_path}")
        self.seen.add(key)

    def confirm_unchanged(self, files: dict[str, str]) -> bool:
        """Claim files that this build knows to be up to date without rendering them, if all
        of them are there and still hold what was written (`files` maps each path to the
        sha256 of its bytes as written), and count them unchanged. Returns whether they were; if not, none
        is claimed, so that the caller can render and `write` them all.

        Nothing is written here, so instead of resolving links (which costs more than the
        rest of a skipped page) only a plain path to a regular file is accepted, the way
        `remove_stale` sees it: anything else ('..', a file that is a link) is left to
        `write` and its checks."""
        relative_paths = list(files)
        paths = [self.plain_path(relative) for relative in relative_paths]
        if not all(path and is_regular_file(path) and file_digest(path) == files[relative]
                   for path, relative in zip(paths, relative_paths, strict=True)):
            return False
        for path, relative in zip(paths, relative_paths, strict=True):
            self.claim(path, relative)
        self.unchanged += len(paths)
        return True

    def confirm_present(self, relative_path: str) -> bool:
        """`confirm_unchanged` for a file whose bytes the caller trusts (the last complete build
        wrote what it would write): claimed if it is there, a plain path to a regular file, but
        not read."""
        path = self.plain_path(relative_path)
        if not (path and is_regular_file(path)):
            return False
        self.claim(path, relative_path)
        self.unchanged += 1
        return True

    def plain_path(self, relative_path: str) -> str | None:
        "The absolute path of a relative path made of plain names only; else None."
        return os.path.join(self.root_path, relative_path) if is_plain(relative_path) else None

    def remove_stale(self, names: tuple[str, ...], spare_folders: tuple[str, ...] = ()) -> list[str]:
        """Delete the files whose names match any of `names` (glob patterns) that this build
        did not write or confirm, leaving alone the top-level folders named in `spare_folders`; then
        the folders that removal left empty, and those found empty (a build killed between
        removing a file and its folder left them). Returns the removed paths, relative. Where
        the folder began empty (`began_empty`), none: every file in it is one this build wrote."""
        if self.began_empty:
            return []
        removed, empty = [], []
        for folder, subfolders, files in walk_sorted(self.root_path):
            if folder == self.root_path:
                subfolders[:] = [name for name in subfolders if name not in spare_folders]
            elif not subfolders and not files:
                empty.append(Path(folder))
            for name in files:
                path = os.path.join(folder, name)
                if any(fnmatch(name, pattern) for pattern in names) and path not in self.seen:
                    self.changing()
                    os.unlink(path)
                    removed.append(os.path.relpath(path, self.root_path).replace(os.sep, "/"))
        self.prune_empty_folders(removed, empty)
        return removed

    def remove(self, relative_paths: list[str]) -> list[str]:
        """Delete these files (those there are), then the folders that removal left empty.
        Returns the paths removed."""
        removed = []
        for relative in relative_paths:
            path = self.path_for(relative)
            if path.is_file() or path.is_symlink():
                self.changing()
                path.unlink()
                removed.append(relative)
        self.prune_empty_folders(removed)
        return removed

    def remove_leftovers(self, names: tuple[str, ...]) -> list[str]:
        """Delete what killed builds left, without walking the folders below: the scratch
        folder's files (half-written files), the half-written files in the folders that other
        builds' notes name (`note_folder`), then the notes, the folders of replaced files
        (`replacing_files`) and the scratch folder, and the files directly in the output folder
        whose names match `names` (a manifest half saved). This build's own notes are dropped
        unread: each of its writes renamed or removed its temporary file, or failed the build;
        its replaced files are old bytes no page shows. Call it when no one else writes here."""
        scratch = [] if self.scratch.is_symlink() else temporary_files(self.scratch)
        removed = self.remove_leftover_files([f"{SCRATCH_NAME}/{path.name}" for path in scratch])
        for folder in [] if self.scratch.is_symlink() else self.scratch.glob(f"{glob.escape(FOLDER_PREFIX)}*"):
            if folder.is_dir() and not folder.is_symlink():
                remove_replaced_files(folder)
        for notes in [] if self.scratch.is_symlink() else sorted(self.scratch.glob(f"*{NOTES_SUFFIX}")):
            if not notes.name.startswith(f"{BUILD}."):
                removed += self.remove_leftover_files(self.noted_leftovers(notes))
            with contextlib.suppress(OSError):  # a folder of that name is no build's notes: left be
                notes.unlink()
        self.forget_notes()
        with contextlib.suppress(FileNotFoundError, OSError):
            self.scratch.rmdir()
        return removed + self.remove_leftover_files([path.name for path in temporary_files(self.root)
                                                     if any(fnmatch(path.name, name) for name in names)])

    def remove_leftover_files(self, relative_paths: list[str]) -> list[str]:
        """`remove` for the leftovers `remove_leftovers` found in real folders of the output: each
        name itself is removed, never followed. A link named like a temporary file is not one of
        this output's, and what it leads to (a page of the archive, a file outside) is left be."""
        removed = []
        for relative in relative_paths:
            self.changing()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.root_path, relative))
                removed.append(relative)
        self.prune_empty_folders(removed)
        return removed

    def noted_leftovers(self, notes: Path) -> list[str]:
        """The temporary files (relative paths) in the folders another build's notes name, of
        those that are still real folders of the output: none through a link."""
        leftovers = []
        for folder in noted_folders(notes):
            found = self.root_path if folder == "" else self.plain_path(folder)
            if found and os.path.realpath(found) == found and os.path.isdir(found):
                leftovers += [f"{folder}/{path.name}".lstrip("/") for path in temporary_files(Path(found))]
        return leftovers

    def forget_notes(self) -> None:
        "Its notes removed: a later write notes its folder again, in a new file."
        if self.closing_notes is not None:
            self.closing_notes()  # closes the file, once
        self.notes = self.closing_notes = None
        self.noted_folders.clear()

    def prune_empty_folders(self, removed: list[str], empty: list[Path] = ()) -> None:
        """Remove the folders that held removed files, or the `empty` folders, and the folders
        above them that are now empty, deepest first."""
        held = [folder for path in removed for folder in (self.root / path).parents]
        held += [folder for path in empty for folder in (path, *path.parents)]
        folders = {folder for folder in held if folder.is_relative_to(self.root) and folder != self.root}
        for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                self.forget_folder(folder.relative_to(self.root).as_posix())

    def forget_folder(self, folder: str) -> None:
        "A folder removed: `write` checks it again, and makes it, if a file is written there later."
        self.checked_folders.pop(folder, None)
        self.made_folders.discard(folder)


def remove_replaced_files(folder: Path) -> None:
    """Remove a folder of replaced files (`replacing_files`): its files, then the folder. A
    folder found in it is left, and the folder with it: only a build killed while swapping a
    folder found in a page's place back there (`ReplacedFiles.swap_aside`) leaves one, and it is
    not the build's to delete."""
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
    with contextlib.suppress(OSError):
        folder.rmdir()


def sweep_when_worker_exits(replaced: ReplacedFiles | None) -> None:
    """Remove a pool worker's replaced files (`Output.replacing_files`) as the worker exits, when
    its pool shuts down: the workers sweep their own folders side by side, where the build's
    `remove_leftovers` took them one after the other (0.4 s of a template change's 9 s, with
    nothing else running). A killed worker breaks its pool and the build: the next build sweeps
    what it left."""
    if replaced is not None:
        from multiprocessing import util  # here: only a worker needs it, and it is slow to import

        util.Finalize(None, remove_own_replaced_files, args=(Path(replaced.folder),), exitpriority=0)


def remove_own_replaced_files(folder: Path) -> None:
    """`remove_replaced_files` for a writer's own folder, unless it, or the scratch folder it is
    in, is now a link: as `remove_leftovers` does, nothing is removed through one."""
    if not (folder.is_symlink() or folder.parent.is_symlink()):
        remove_replaced_files(folder)


def open_notes(scratch: str) -> int:
    """The file a writer notes its folders in (`Output.note_folder`): this build's and this
    process's, in the scratch folder (made on first use), appended to by every writer of
    the process."""
    path = os.path.join(scratch, f"{BUILD}.{os.getpid()}{NOTES_SUFFIX}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        return os.open(path, flags, 0o600)
    except FileNotFoundError:
        make_folders(scratch)
        return os.open(path, flags, 0o600)


def noted_folders(notes: Path) -> list[str]:
    """The folders a notes file names (relative to the output folder); a line a killed
    writer left half written is skipped: it had made no temporary file there yet. None from
    what cannot be read (a folder of that name): no build of this output's wrote it."""
    try:
        lines = notes.read_bytes().split(b"\n")[:-1]
    except OSError:
        return []
    folders = []
    for line in lines:
        with contextlib.suppress(ValueError):
            folder = orjson.loads(line)
            if isinstance(folder, str):
                folders.append(folder)
    return folders


def walk_sorted(top: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """`os.walk(top)`, top down, each folder's subfolders and files in name order; a link is
    listed with the files and not followed. Each entry's type is the one its folder listing
    gives, where `os.walk` asks the file system again whether each folder is a link: a full
    build walks some 100,000 folders. The caller may prune `subfolders` as with `os.walk`."""
    pending = [top]
    while pending:
        folder = pending.pop()
        subfolders, files = [], []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    (subfolders if entry.is_dir(follow_symlinks=False) else files).append(entry.name)
        except OSError:  # gone, or not a folder: as `os.walk` does, nothing to list
            continue
        subfolders.sort()
        files.sort()
        yield folder, subfolders, files
        pending.extend(os.path.join(folder, name) for name in reversed(subfolders))


def is_plain(relative_path: str) -> bool:
    "Whether a relative path is made of plain names only: no '', '.' or '..' among them."
    return not any(part in ("", ".", "..") for part in relative_path.split("/"))


def read_unless_link(path: str) -> bytes | None:
    "A regular file's bytes; None for a missing file, a link or a folder."
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with open(handle, "rb") as file:
        try:
            return file.read()
        except IsADirectoryError:
            return None


def file_digest(path) -> str:
    "sha256 of a file's bytes, read a piece at a time (a download runs to tens of MB)."
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def bytes_digest(content: str | bytes) -> str:
    "sha256 of what a build writes, as `file_digest` will find it on disk."
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()


def is_regular_file(path: str) -> bool:
    "A file, and not a link to one."
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def stage_code_digest(files: list[Path], packages: tuple[str, ...], *settings: str) -> str:
    """A digest of the source files, library versions and settings that decide a stage's
    output: when any of them changes, no page's manifest entry holds and all are rendered."""
    # The Python version too: both stages lean on its html.parser.
    digest = hashlib.sha256(sys.version.encode("utf-8"))
    for path in files:
        data = Path(path).read_bytes()
        digest.update(f"{Path(path).name}\0{len(data)}\0".encode() + data)
    for name in packages:
        digest.update(f"{name}=={package_version(name)}\0".encode())
    for setting in settings:
        digest.update(f"{len(setting)}\0{setting}".encode())
    return digest.hexdigest()


@functools.cache
def package_version(name: str) -> str:
    """An installed package's version ("missing" if it is not), looked up once a process: a
    build works out a dozen stage versions, and each lookup searches the installed packages."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


# orjson writes what json.dumps wrote for a digest, byte for byte, but for floats below 0.0001
# (0.00001 for 1e-05: a page of them renders again once); what JSON has no type for raises.
DIGEST_JSON = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def inputs_digest(*inputs) -> str:
    """A digest of a page's inputs (JSON data), stable across runs. Made by orjson: the listings
    digest the inputs of every page they may not render, and json's encoder was a tenth of their time."""
    try:
        data = orjson.dumps(inputs, option=DIGEST_JSON)
    except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits, a key that is not text
        data = json.dumps(inputs, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(data).hexdigest()
