"""Writing files into an output folder: never outside it, never the same file twice in a
build, and never a file whose bytes have not changed (so that builds are incremental and
timestamps mean something)."""

from __future__ import annotations

import os
from fnmatch import fnmatch
from dataclasses import dataclass, field
from pathlib import Path


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

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, relative_path: str) -> Path:
        "The absolute path of a file in the output folder; refuses anything outside it."
        path = (self.root / relative_path).resolve()
        if path == self.root or not path.is_relative_to(self.root):
            raise OutsideOutputError(f"refusing to write outside {self.root}: {relative_path}")
        return path

    def write(self, relative_path: str, content: str | bytes) -> bool:
        "Write a file unless it already holds these bytes. Returns whether it was written."
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = self.path_for(relative_path)
        key = str(path)
        if key in self.seen:
            raise DuplicateOutputError(f"written twice in one build: {relative_path}")
        self.seen.add(key)
        try:
            if path.read_bytes() == data:
                self.unchanged += 1
                return False
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the file, then rename: a killed build never leaves half a page.
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        self.written.append(relative_path)
        return True

    def remove_stale(self, names: tuple[str, ...], keep: tuple[str, ...] = ()) -> list[str]:
        """Delete the files whose names match any of `names` (glob patterns) that this build
        did not write or confirm, leaving alone the top-level folders named in `keep`; then
        the folders that removal left empty. Returns the removed paths, relative."""
        removed = []
        for folder, subfolders, files in os.walk(self.root):
            here = Path(folder)
            if here == self.root:
                subfolders[:] = [name for name in subfolders if name not in keep]
            subfolders.sort()
            for name in sorted(files):
                path = here / name
                if any(fnmatch(name, pattern) for pattern in names) and str(path) not in self.seen:
                    path.unlink()
                    removed.append(path.relative_to(self.root).as_posix())
        self.prune_empty_folders(removed)
        return removed

    def prune_empty_folders(self, removed: list[str]) -> None:
        "Remove the folders that held removed files and are now empty, deepest first."
        folders = {parent for path in removed for parent in (self.root / path).parents
                   if parent.is_relative_to(self.root) and parent != self.root}
        for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
