"""One `make build` of the benchmarks: `answers build` in one process as `make build` runs it
(`run_make_build`, its stages timed by bench/build_phases.py), or stage by stage (`run`:
`answers db`, `answers pages`, then the site, rendering and search indexing timed apart by
bench/site_phases.py).

Reads the sources given; writes `<out>/answers.db`, `<out>/pages/`, `<out>/site/`, as
`make build BUILD=<out>` does with the same sources and member folders.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from measure import Measured, run_measured

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent


@dataclass
class BuildFigures:
    "The three stages of one build; the site's figures split into rendering and search."

    db: Measured
    pages: Measured
    site: Measured
    phases: dict = field(default_factory=dict)
    whole: Measured | None = None  # the one command, when the stages ran in one process

    @property
    def seconds(self) -> float:
        if self.whole is not None:  # start-up and imports included, as `make build` pays them
            return self.whole.seconds
        return self.db.seconds + self.pages.seconds + self.site.seconds

    @property
    def peak_mb(self) -> float:
        return max(self.db.peak_mb, self.pages.peak_mb, self.site.peak_mb)


class Build:
    def __init__(self, out: Path, sources: list[Path], members: list[Path]):
        self.out = out
        self.db = out / "answers.db"
        self.pages = out / "pages"
        self.site = out / "site"
        self.sources = sources
        self.members = members

    def members_flags(self) -> list[str]:
        return [flag for folder in self.members for flag in ("--members", str(folder))]

    def db_command(self) -> list[str]:
        return [str(BIN / "answers"), "db", *map(str, self.sources), "--db", str(self.db), *self.members_flags()]

    def update_pages(self) -> None:
        "The db and pages stages alone, untimed: the site stage's input brought up to date."
        run_measured(self.db_command())
        run_measured([str(BIN / "answers"), "pages", "--db", str(self.db), "--out", str(self.pages)])

    def run_make_build(self) -> BuildFigures:
        """`answers build` as `make build` runs it: one process, each stage timed inside it by
        bench/build_phases.py."""
        whole = run_measured([sys.executable, str(HERE / "build_phases.py"), "build", *map(str, self.sources),
                              "--db", str(self.db), *self.members_flags(), "--pages", str(self.pages),
                              "--out", str(self.site)])
        phases = json.loads(whole.output.strip().splitlines()[-1])

        def stage(*names: str) -> Measured:
            return Measured(sum(phases[f"{name}_s"] for name in names),
                            max(phases[f"{name}_peak_mb"] for name in names), "",
                            sum(phases[f"{name}_cpu_s"] for name in names))

        return BuildFigures(stage("db"), stage("pages"), stage("render", "search"), phases, whole)

    def run(self) -> BuildFigures:
        db = run_measured(self.db_command())
        pages = run_measured([str(BIN / "answers"), "pages", "--db", str(self.db), "--out", str(self.pages)])
        site = run_measured([sys.executable, str(HERE / "site_phases.py"),
                             str(self.db), str(self.pages), str(self.site)])
        phases = json.loads(site.output.strip().splitlines()[-1])
        return BuildFigures(db, pages, site, phases)
