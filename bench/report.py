"""The benchmarks' figures as one table: printed as text, written as Markdown.

Writes `docs/BENCHMARKS.md` (figures, commands, machine, goals) when asked; reads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Goal:
    text: str
    met: bool | None  # None: not measured (a run cut short)
    measured: str

    @property
    def verdict(self) -> str:
        return {True: "yes", False: "**no**", None: "not measured"}[self.met]


@dataclass
class Table:
    "Rows of figures under one header; each row a list of cells (strings)."

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        self.rows.append([str(cell) for cell in cells])

    def text(self) -> str:
        widths = [max(len(row[i]) for row in [self.header, *self.rows]) for i in range(len(self.header))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                 for row in [self.header, *self.rows]]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in self.rows]
        return "\n".join(lines)


def goals_markdown(goals: list[Goal]) -> str:
    lines = ["| goal | measured | met |", "|---|---|---|"]
    lines += [f"| {goal.text} | {goal.measured} | {goal.verdict} |" for goal in goals]
    return "\n".join(lines)


def goals_text(goals: list[Goal]) -> str:
    return "\n".join(f"  [{goal.verdict.strip('*')}] {goal.text}: {goal.measured}" for goal in goals)


def seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def megabytes(value: float) -> str:
    return f"{value:,.0f} MB"


def write_markdown(path: Path, intro: str, sections: list[tuple[str, str]], keep: str | None = None) -> None:
    """The document: an introduction, then each (title, body) section, then the section titled
    `keep` (the last one, written by another benchmark) as the file held it."""
    parts = [intro.strip()] + [f"## {title}\n\n{body.strip()}" for title, body in sections]
    marker = f"\n## {keep}\n"
    if keep and path.exists() and marker in (text := path.read_text(encoding="utf-8")):
        parts.append(f"## {keep}\n" + text.split(marker, 1)[1].rstrip())
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
