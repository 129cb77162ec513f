"""Builds the small real archive the site, pages and browser tests share (once a session):
the seed page, one month of the official API with its full texts, the API edge cases, and one
day of Lords answers from TheyWorkForYou (questions with no answering body, members named by
parlparse ids)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from answers import pages, search, site
from answers.build import build_database
from answers.members import MemberDirectory
from answers.render import SiteConfig


@dataclass
class BuiltSite:
    db: Path
    pages: Path
    site: Path
    config: SiteConfig
    pages_report: pages.PagesReport
    site_report: site.SiteReport


def test_sources(corpus: Path, seeds: Path) -> list[Path]:
    return [
        seeds,
        corpus / "uk-parliament-wq-api-json" / "2024-08.json.gz",
        corpus / "uk-parliament-wq-longform-sqlite" / "2024-08.sqlite.gz",
        corpus / "samples" / "api-edge-cases.json",
        corpus / "samples" / "api-edge-cases-longform.json",
        corpus / "twfy-parlparse-xml" / "lordswrans" / "lordswrans2009-10-29a.xml",
    ]


def build_test_site(folder: Path, corpus: Path, seeds: Path) -> BuiltSite:
    db_path = folder / "answers.db"
    directory = MemberDirectory.load([corpus / "members", corpus / "parlparse-members"])
    build_database(test_sources(corpus, seeds), db_path, directory)
    pages_report = pages.write_pages(db_path, folder / "pages")
    config = SiteConfig(base_url="https://answers.example.org/archive/")
    site_report = site.build_site(db_path, folder / "pages", folder / "site", config, workers=2)
    search.update_index(db_path, folder / "site")
    return BuiltSite(db_path, folder / "pages", folder / "site", config, pages_report, site_report)
