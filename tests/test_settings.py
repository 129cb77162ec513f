"""The settings declared once in answers.settings are the ones every part uses: the CLI's
--help shows their defaults, SiteConfig and ServeOptions start from them, and Datasette's
links to the archive follow the base URL it is given, or the declared default."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from answers import serve, settings
from answers.cli import cli
from answers.render import SiteConfig

pytestmark = pytest.mark.datasette_in_process  # runs last: see conftest

SHOWN_BY = {
    "db": [settings.DB_PATH],
    "pages": [settings.DB_PATH, settings.PAGES_DIR],
    "site": [settings.DB_PATH, settings.PAGES_DIR, settings.SITE_DIR, settings.BASE_URL,
             settings.DATASETTE_URL, settings.WORKERS],
    "serve": [settings.BUILD_DIR, settings.HOST, settings.SITE_PORT, settings.DATASETTE_PORT],
}
PAGE = "commons/2024-01-02/9/"


def shown(setting: settings.Setting) -> str:
    "How click's --help shows an option's help and default, spaces normalised."
    envvar = f"env var: {setting.envvar}; " if setting.envvar else ""
    return f"{setting.help} [{envvar}default: {setting.default}]"


@pytest.mark.parametrize("command", sorted(SHOWN_BY))
def test_help_shows_the_declared_defaults(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # click wraps lines to the terminal's width
    for setting in SHOWN_BY[command]:
        assert shown(setting) in text


def test_the_archive_is_served_where_the_site_says_it_is_published_by_default():
    options = serve.ServeOptions(site_dir=Path("site"), db_path=Path("answers.db"))
    assert options.site_url == SiteConfig().base_url == settings.BASE_URL.default == "http://127.0.0.1:8000/"
    assert options.datasette_url.rstrip("/") == SiteConfig().datasette_url == settings.DATASETTE_URL.default


def test_settings_load_nothing_else_of_the_package():
    # The Datasette plugin reads it: serving must not load the build.
    code = "import sys, answers.settings; print(sorted(m for m in sys.modules if m.startswith('answers')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "['answers', 'answers.settings']"


def archive_link(db_path: Path, archive_url: str | None) -> str:
    "The link Datasette's archive_url() SQL function (used by row pages and feeds) makes for PAGE."
    datasette = serve.make_datasette(db_path, archive_url=archive_url)
    query = f"/answers.json?_shape=array&sql=select+archive_url('{PAGE}')+as+link"
    response = asyncio.run(datasette.client.get(query))
    assert response.status_code == 200, response.text
    return response.json()[0]["link"]


@pytest.fixture
def empty_db(tmp_path) -> Path:
    path = tmp_path / "answers.db"
    sqlite3.connect(path).close()
    return path


def test_datasette_links_to_the_archive_url_it_is_given(empty_db):
    assert archive_link(empty_db, "https://answers.example.org/archive/") == (
        "https://answers.example.org/archive/" + PAGE)


def test_datasette_links_to_the_declared_base_url_by_default(empty_db):
    # metadata.yml does not pin its own copy of the address.
    assert "archive_url" not in serve.load_metadata()["plugins"].get("answer_html", {})
    assert archive_link(empty_db, None) == settings.BASE_URL.default + PAGE
