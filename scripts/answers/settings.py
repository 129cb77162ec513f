"""Every setting of the archive, declared once: its default, environment variable (where it
has one) and one line of help. Reads and writes nothing.

The CLI builds its options from these declarations (so `--help` shows these defaults), and
SiteConfig, ServeOptions and the Datasette plugin take their defaults from here. The module
imports nothing from the package: serving and the plugin read it without loading the build.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    "A default, with the help the CLI shows for it and the environment variable that sets it."

    default: str | int
    help: str
    envvar: str | None = None


BUILD_DIR = Setting("build", "The build folder: answers.db and site/ in it.")
DB_PATH = Setting(f"{BUILD_DIR.default}/answers.db",
                  "The database: written by `db`, read by the later stages.")
PAGES_DIR = Setting(f"{BUILD_DIR.default}/pages",
                    "The Markdown pages, one per question: written by `pages`, read by `site`.")
SITE_DIR = Setting(f"{BUILD_DIR.default}/site",
                   "The static archive: written by `site`, served by `serve`.")
WORKERS = Setting(2, "Processes rendering pages.")
REFILL_FILES = Setting(1, "1: the pages and site workers refill the files they replaced once no one else "
                          "can see them; 0: every file is made anew (an output read through file handles, "
                          "as an NFS export is).", envvar="REFILL_FILES")

HOST = Setting("127.0.0.1", "The address both servers listen on.")
SITE_PORT = Setting(8000, "Port of the static archive.")
DATASETTE_PORT = Setting(8001, "Port of Datasette.")
BASE_URL = Setting(f"http://{HOST.default}:{SITE_PORT.default}/",
                   "Where the archive is published: canonical URLs, feeds and the sitemap.",
                   envvar="BASE_URL")
DATASETTE_URL = Setting(f"http://{HOST.default}:{DATASETTE_PORT.default}",
                        "Where Datasette serves the database.", envvar="DATASETTE_URL")
