"""Writing files into an output folder: never outside it, never the same file twice in a
build, and never a file whose bytes have not changed (so that builds are incremental and
timestamps mean something)."""

from __future__ import annotations

import os
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

    def remove_stale(self, pattern: str) -> list[str]:
        "Delete files matching `pattern` that this build did not write or confirm."
        removed = []
        for path in sorted(self.root.glob(pattern)):
            if path.is_file() and str(path.resolve()) not in self.seen:
                path.unlink()
                removed.append(str(path.relative_to(self.root)))
        return removed
