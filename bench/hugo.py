"""Hugo over our Markdown pages: the reference the site stage is measured against.

Reads `<build>/pages/**/index.md`; writes a theme-less Hugo project of our own making (one
config, one template that renders a page's title and content, the same work as our question
template's core) under `<work>/hugo/`, and Hugo's output under `<work>/hugo/public/` (or another
folder there that a run names).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from measure import Measured, run_measured

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ .Title }}</title></head>
<body><main><h1>{{ .Title }}</h1>
{{ .Content }}
</main></body></html>
"""


class HugoSite:
    "A Hugo project whose content folder is our pages folder."

    def __init__(self, work: Path, pages: Path):
        self.root = work / "hugo"
        self.pages = pages
        self.layout = self.root / "layouts" / "_default" / "single.html"

    def write_project(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.layout.parent.mkdir(parents=True)
        self.layout.write_text(TEMPLATE)
        config = {
            "baseURL": "http://127.0.0.1/",
            "contentDir": str(self.pages.resolve()),
            "publishDir": str((self.root / "public").resolve()),
            # Only the pages: no home, section, taxonomy, feed or sitemap pages, as our
            # comparison counts question pages alone.
            "disableKinds": ["home", "section", "taxonomy", "term", "RSS", "sitemap", "robotsTXT", "404"],
            "buildFuture": True,
            "buildExpired": True,
            # The answers hold sanitized HTML (tables that Markdown cannot express): pass it on.
            "markup": {"goldmark": {"renderer": {"unsafe": True}}},
        }
        (self.root / "config.json").write_text(json.dumps(config, indent=1))

    def build(self, folder: str = "public") -> Measured:
        "A build of every page into `folder` of the project (Hugo's publishDir)."
        return run_measured(["hugo", "--quiet", "--source", str(self.root), "--destination", str(self.root / folder)])

    def change_template(self, mark: str) -> None:
        "A template change that shows in every page, as a real one would."
        self.layout.write_text(TEMPLATE.replace("</main>", f"<!-- {mark} --></main>"))
