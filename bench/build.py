"""One `make build` of the benchmarks, stage by stage: `answers db`, `answers pages`, then the
site (rendering and search indexing timed apart, by bench/site_phases.py).

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

    @property
    def seconds(self) -> float:
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

    def db_command(self) -> list[str]:
        members = [flag for folder in self.members for flag in ("--members", str(folder))]
        return [str(BIN / "answers"), "db", *map(str, self.sources), "--db", str(self.db), *members]

    def run(self) -> BuildFigures:
        db = run_measured(self.db_command())
        pages = run_measured([str(BIN / "answers"), "pages", "--db", str(self.db), "--out", str(self.pages)])
        site = run_measured([sys.executable, str(HERE / "site_phases.py"),
                             str(self.db), str(self.pages), str(self.site)])
        phases = json.loads(site.output.strip().splitlines()[-1])
        return BuildFigures(db, pages, site, phases)
