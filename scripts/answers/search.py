"""The search index: Pagefind over the question pages of a built archive.

Pagefind reads the HTML and writes `pagefind/` beside it; only the question pages carry
`data-pagefind-body`, so only their question and answer text is indexed, with filters for
house, department and year.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


class SearchIndexError(RuntimeError):
    "Pagefind failed."


def needs_index(site_dir: Path, html_changed: int) -> bool:
    "Index again when a page was written or removed, or when there is no index yet."
    return html_changed > 0 or not (Path(site_dir) / "pagefind" / "pagefind.js").exists()


def index(site_dir: Path) -> str:
    "Run Pagefind over the archive; returns its summary line."
    command = [sys.executable, "-m", "pagefind", "--site", str(site_dir)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SearchIndexError(f"pagefind failed ({result.returncode}): {result.stderr.strip()}")
    # The search page loads the bundles this list names (one, the whole index, here).
    (Path(site_dir) / "pagefind" / "bundles.json").write_text('["./"]', encoding="utf-8")
    lines = [line.strip() for line in result.stdout.splitlines() if "Indexed" in line]
    return "; ".join(lines) or "done"
