"""The downloads (downloads.py): every file holds the database's rows, is described in a valid
Frictionless Data Package and checksummed, and a build rewrites only the files whose rows
changed. Most tests read the shared small archive (`built_site`); the incremental ones build
from a copy of its database."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from answers import downloads
from answers.render import SiteConfig, make_environment

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "downloads"

# The columns of each layout version, as datapackage.json lists them. Renaming, removing or
# adding a column changes the columns of downloads.SCHEMA_VERSION and fails here until the
# version is bumped (see its comment for which part) and the new columns are pinned below,
# beside the old.
COLUMNS = {
    "1.0.0": {
        "questions": [
            "key", "house", "uin", "date_tabled", "date_for_answer", "date_answered",
            "date_holding_answer", "date_answer_corrected", "heading", "answering_body",
            "asking_member_id", "answering_member_id", "correcting_member_id",
            "answerer_title_as_published", "answering_member_office",
            "answering_member_office_source", "question_text", "answer_html", "answer_text",
            "original_answer_html", "is_holding", "is_withdrawn", "is_named_day",
            "is_correction", "member_has_interest", "question_is_clipped", "answer_is_clipped",
            "grouped_keys", "api_id", "official_url", "url", "source_id", "source_location",
        ],
        "members": ["id", "mnis_id", "name", "party", "constituency", "house"],
        "answering_bodies": ["name", "slug", "api_id"],
        "member_posts": ["member_id", "post", "organisation", "start_date", "end_date", "source"],
    },
}
COLUMNS["1.1.0"] = dict(COLUMNS["1.0.0"], citations=[
    "citing_key", "field", "position", "uin", "house", "reference", "cited_date", "matched_text",
    "rule", "status", "cited_key"])


# -- helpers -------------------------------------------------------------------------------


def folder_of(built_site) -> Path:
    return built_site.site / "downloads"


def read_package(folder: Path) -> dict:
    return json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))


def table_of(resource: dict) -> str:
    "'questions-2024.csv.gz' -> 'questions'; 'member_posts.csv' -> 'member_posts'."
    stem = resource["path"].split(".")[0]
    return "questions" if stem.startswith("questions-") else stem


def year_of(resource: dict) -> str:
    return resource["path"].split(".")[0].removeprefix("questions-")


def open_text(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    return opener(path, "rt", encoding="utf-8", newline="")


def read_csv(path: Path) -> list[dict]:
    with open_text(path) as file:
        return list(csv.DictReader(file))


def read_ndjson(path: Path) -> list[dict]:
    with open_text(path) as file:
        return [json.loads(line) for line in file]


def database_rows(db_path: Path, sql: str, parameters=()) -> list[dict]:
    with sqlite3.connect(db_path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(sql, parameters)]


def year_rows(db_path: Path, year: str) -> list[dict]:
    if year == downloads.NO_DATE_TABLED:
        return database_rows(db_path, "select * from questions where date_tabled is null or "
                             "date_tabled not glob '[0-9][0-9][0-9][0-9]-*' order by key")
    return database_rows(db_path, "select * from questions where substr(date_tabled, 1, 4) = ? "
                         "and date_tabled glob '[0-9][0-9][0-9][0-9]-*' order by key", (year,))


def as_csv_cell(value) -> str:
    return "" if value is None else str(value)


def sample(rows: list[dict]) -> list[dict]:
    "Every seventh row, and the last."
    return rows[::7] + rows[-1:]


def assert_same_rows(file_rows: list[dict], db_rows: list[dict], key: str, csv_file: bool):
    assert len(file_rows) == len(db_rows)
    assert [row[key] for row in file_rows] == [row[key] for row in db_rows]
    by_key = {row[key]: row for row in file_rows}
    for expected in sample(db_rows):
        if csv_file:
            expected = {name: as_csv_cell(value) for name, value in expected.items()}
        assert by_key[expected[key]] == expected


def build_downloads(db_path: Path, site_dir: Path) -> downloads.DownloadsReport:
    config = SiteConfig(base_url="https://answers.example.org/archive/")
    return downloads.write_downloads(db_path, site_dir / "downloads", make_environment(config),
                                     config)


def modification_times(folder: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in folder.iterdir()
            if path.name != ".manifest.json"}


def changed_files(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def later(db_path: Path, seconds: int = 10) -> None:
    "Move the database's modification time on, as a build that wrote it would."
    status = db_path.stat()
    os.utime(db_path, ns=(status.st_atime_ns, status.st_mtime_ns + seconds * 10**9))


@pytest.fixture
def copy_of_database(built_site, tmp_path) -> Path:
    "A copy in a folder whose name means something in a URI (the database is opened by URI)."
    db_path = tmp_path / "db ?#%20" / "answers.db"
    db_path.parent.mkdir()
    shutil.copyfile(built_site.db, db_path)
    return db_path


# -- what the files hold -------------------------------------------------------------------


def test_frictionless_validates_the_package(built_site):
    "Every file's bytes, hash, row count, columns and values match datapackage.json."
    frictionless = Path(sys.executable).parent / "frictionless"
    result = subprocess.run([str(frictionless), "validate", "datapackage.json"],
                            cwd=folder_of(built_site), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("VALID") == len(read_package(folder_of(built_site))["resources"])


def test_every_question_year_file_holds_the_database_rows_of_its_year(built_site):
    folder = folder_of(built_site)
    resources = [r for r in read_package(folder)["resources"] if r.get("type") == "table"
                 and table_of(r) == "questions"]
    years = {year_of(resource) for resource in resources}
    # The seed page, the API month (and questions it answers from earlier), and parlparse's
    # Lords answers, which give no date tabled.
    assert years == {"2018", "2023", "2024", downloads.NO_DATE_TABLED}
    for resource in resources:
        db_rows = year_rows(built_site.db, year_of(resource))
        assert db_rows and resource["rows"] == len(db_rows)
        path = folder / resource["path"]
        if resource["format"] == "csv":
            assert_same_rows(read_csv(path), db_rows, "key", csv_file=True)
        else:
            assert_same_rows(read_ndjson(path), db_rows, "key", csv_file=False)
    total = database_rows(built_site.db, "select count(*) as n from questions")[0]["n"]
    assert sum(r["rows"] for r in resources if r["format"] == "csv") == total


def test_the_reference_tables_hold_the_database_rows(built_site):
    folder = folder_of(built_site)
    orders = {"members": "id", "answering_bodies": "name",
              "member_posts": "member_id, post, organisation, start_date, end_date, source"}
    for table, order in orders.items():
        db_rows = database_rows(built_site.db, f"select * from {table} order by {order}")
        assert db_rows, table
        assert read_ndjson(folder / f"{table}.ndjson") == db_rows
        assert read_csv(folder / f"{table}.csv") == [
            {name: as_csv_cell(value) for name, value in row.items()} for row in db_rows]


def test_the_compressed_database_is_the_database(built_site):
    with gzip.open(folder_of(built_site) / "answers.db.gz") as packed:
        assert packed.read() == built_site.db.read_bytes()


def test_sha256sums_cover_every_file(built_site):
    folder = folder_of(built_site)
    lines = (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    sums = dict(reversed(line.split("  ", 1)) for line in lines)
    on_disk = {path.name for path in folder.iterdir()} - {"SHA256SUMS", ".manifest.json"}
    assert set(sums) == on_disk
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


# -- how they are described ----------------------------------------------------------------


def test_every_column_is_described_from_metadata_yml(built_site):
    with open(downloads.METADATA, encoding="utf-8") as file:
        tables = yaml.safe_load(file)["databases"]["answers"]["tables"]
    for resource in read_package(folder_of(built_site))["resources"]:
        if resource["type"] != "table":
            continue
        described = tables[table_of(resource)]["columns"]
        for field in resource["schema"]["fields"]:
            assert field["description"] == described[field["name"]], field["name"]
            assert field["description"]


def test_types_licences_sources_and_build_date(built_site):
    package = read_package(folder_of(built_site))
    fields = {f["name"]: f["type"] for r in package["resources"] if r["path"] == "members.csv"
              for f in r["schema"]["fields"]}
    assert fields == {"id": "string", "mnis_id": "integer", "name": "string", "party": "string",
                      "constituency": "string", "house": "string"}
    questions = next(r for r in package["resources"] if r["path"] == "questions-2024.csv.gz")
    types = {f["name"]: f["type"] for f in questions["schema"]["fields"]}
    assert types["date_tabled"] == "date" and types["is_holding"] == "integer"
    assert questions["schema"]["primaryKey"] == ["key"]
    licences = {licence["title"] for licence in package["licenses"]}
    assert licences == {"Open Parliament Licence v3.0",
                        "Creative Commons Attribution 4.0 International"}
    posts = next(r for r in package["resources"] if r["path"] == "member_posts.csv")
    assert "CC BY 4.0" in posts["licenses"][0]["title"]  # from metadata.yml's member_posts
    assert any("mysociety/uk-parl-written-questions" in s["path"] for s in package["sources"])
    built = dt.datetime.fromtimestamp(int(built_site.db.stat().st_mtime), dt.UTC)
    assert package["created"] == built.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_layout_version_pins_its_columns(built_site):
    "A renamed, removed or added column fails here until the version is bumped."
    assert re.fullmatch(r"\d+\.\d+\.\d+", downloads.SCHEMA_VERSION)
    pinned = COLUMNS[downloads.SCHEMA_VERSION]
    package = read_package(folder_of(built_site))
    assert package["version"] == downloads.SCHEMA_VERSION
    tables = {}
    for resource in package["resources"]:
        if resource["type"] == "table":
            tables.setdefault(table_of(resource), set()).add(
                tuple(f["name"] for f in resource["schema"]["fields"]))
    assert tables == {table: {tuple(columns)} for table, columns in pinned.items()}


def test_the_pinned_versions_follow_semantic_versioning():
    "A later version that renames or removes a column must be a new major version."
    versions = sorted(COLUMNS, key=lambda v: tuple(int(part) for part in v.split(".")))
    for older, newer in zip(versions, versions[1:], strict=False):
        lost = any(not set(columns) <= set(COLUMNS[newer].get(table, []))
                   for table, columns in COLUMNS[older].items())
        if lost:
            assert newer.split(".")[0] > older.split(".")[0], (older, newer)


# -- the page ------------------------------------------------------------------------------


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href"))

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_the_page_lists_every_file_with_its_size_and_rows(built_site):
    folder = folder_of(built_site)
    page = parse(folder / "index.html")
    text = " ".join(page.text)
    for resource in read_package(folder)["resources"]:
        assert resource["path"] in page.hrefs
        assert downloads.file_size(resource["bytes"]) in text
        if "rows" in resource:
            assert re.search(rf"\b{resource['rows']:,}\b", text), resource["path"]
    assert {"datapackage.json", "SHA256SUMS"} <= set(page.hrefs)
    assert "sqlite3 answers.db" in text and "pd.read_csv(" in text and "datasette answers.db" in text
    assert "https://answers.example.org/archive/downloads/questions-2024.csv.gz" in text


def test_the_footer_and_the_about_page_link_the_downloads(built_site):
    assert "downloads/" in parse(built_site.site / "index.html").hrefs
    assert "../downloads/" in parse(built_site.site / "about" / "index.html").hrefs


# -- building them -------------------------------------------------------------------------


def test_two_builds_of_the_same_database_are_byte_identical(copy_of_database, tmp_path):
    build_downloads(copy_of_database, tmp_path / "one")
    build_downloads(copy_of_database, tmp_path / "two")
    one, two = tmp_path / "one" / "downloads", tmp_path / "two" / "downloads"
    names = sorted(path.name for path in one.iterdir() if path.name != ".manifest.json")
    assert names == sorted(path.name for path in two.iterdir() if path.name != ".manifest.json")
    for name in names:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name


def test_a_changed_row_rewrites_only_its_year(copy_of_database, tmp_path):
    site = tmp_path / "site"
    folder = site / "downloads"
    build_downloads(copy_of_database, site)
    before = modification_times(folder)

    report = build_downloads(copy_of_database, site)
    assert report.written == [] and modification_times(folder) == before
    assert report.skipped == report.files - 3  # all but datapackage.json, index.html, SHA256SUMS

    with sqlite3.connect(copy_of_database) as db:
        db.execute("update questions set heading = 'A heading corrected' where key = "
                   "(select min(key) from questions where date_tabled like '2023-%')")
    later(copy_of_database)
    report = build_downloads(copy_of_database, site)
    assert read_package(folder)["created"] == downloads.build_time(copy_of_database)
    assert changed_files(before, modification_times(folder)) == {
        "questions-2023.csv.gz", "questions-2023.ndjson.gz",
        "answers.db.gz",  # the database changed
        "datapackage.json", "SHA256SUMS", "index.html"}  # sizes, digests, build date
    assert sorted(report.written) == sorted(changed_files(before, modification_times(folder)))
    rows = read_ndjson(folder / "questions-2023.ndjson.gz")
    assert "A heading corrected" in {row["heading"] for row in rows}


def test_a_database_rewritten_with_the_same_rows_changes_nothing(copy_of_database, tmp_path):
    """`make db` rewrites the database file even when no source changed: the compressed
    copy is not made again, and the build date stays that of the build that made these rows."""
    site = tmp_path / "site"
    build_downloads(copy_of_database, site)
    before = modification_times(site / "downloads")
    created = read_package(site / "downloads")["created"]
    later(copy_of_database)
    report = build_downloads(copy_of_database, site)
    assert report.written == [] and modification_times(site / "downloads") == before
    assert read_package(site / "downloads")["created"] == created


def test_rows_written_again_as_they_were_make_no_file_again(copy_of_database, tmp_path):
    """The db stage writes a changed question's citations again, as new rows in another place:
    the same rows, so no file is made again (rows are digested in their files' order)."""
    site = tmp_path / "site"
    build_downloads(copy_of_database, site)
    with sqlite3.connect(copy_of_database) as db:
        first = "select rowid from citations order by rowid limit 3"
        rows = db.execute(f"select * from citations where rowid in ({first})").fetchall()
        db.execute(f"delete from citations where rowid in ({first})")
        db.executemany(f"insert into citations values ({', '.join('?' * len(rows[0]))})", rows)
    later(copy_of_database)
    report = build_downloads(copy_of_database, site)
    assert len(rows) == 3 and report.written == []
    assert report.skipped == report.files - 3  # all but datapackage.json, index.html, SHA256SUMS


def test_a_lost_manifest_remakes_the_files_but_rewrites_none(copy_of_database, tmp_path):
    site = tmp_path / "site"
    build_downloads(copy_of_database, site)
    before = modification_times(site / "downloads")
    (site / "downloads" / ".manifest.json").unlink()
    report = build_downloads(copy_of_database, site)
    assert report.written == [] and report.skipped == 0 and report.unchanged == report.files
    assert modification_times(site / "downloads") == before


def test_a_file_changed_on_disk_is_made_again(copy_of_database, tmp_path):
    site = tmp_path / "site"
    build_downloads(copy_of_database, site)
    damaged = site / "downloads" / "members.csv"
    original = damaged.read_bytes()
    damaged.write_bytes(b"x" * len(original))  # the same size: found by its time
    report = build_downloads(copy_of_database, site)
    assert report.written == ["members.csv"]
    assert damaged.read_bytes() == original


def test_a_year_without_rows_loses_its_files(copy_of_database, tmp_path):
    site = tmp_path / "site"
    build_downloads(copy_of_database, site)
    with sqlite3.connect(copy_of_database) as db:
        db.execute("delete from questions where date_tabled like '2023-%'")
    build_downloads(copy_of_database, site)
    names = {path.name for path in (site / "downloads").iterdir()}
    assert not {"questions-2023.csv.gz", "questions-2023.ndjson.gz"} & names
    assert "questions-2023" not in (site / "downloads" / "SHA256SUMS").read_text()
    assert "questions-2023" not in (site / "downloads" / "index.html").read_text()


def test_hostile_text_round_trips_and_stays_in_the_folder(copy_of_database, tmp_path):
    """A question whose date tabled is a path and whose texts hold quotes, commas, line breaks
    of every kind, a formula and markup: it goes to the no-date file, both formats give back
    exactly what the database holds, and nothing is written outside the downloads folder."""
    hostile = json.loads((FIXTURES / "hostile-question.json").read_text(encoding="utf-8"))
    with sqlite3.connect(copy_of_database) as db:
        template = db.execute("select * from questions limit 1").fetchone()
        names = [row[1] for row in db.execute("pragma table_info(questions)")]
        row = dict(zip(names, template, strict=True), **hostile)
        db.execute(f"insert into questions ({', '.join(row)}) values "
                   f"({', '.join('?' for _ in row)})", list(row.values()))
    site = tmp_path / "site"
    build_downloads(copy_of_database, site)
    everything = {path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*")}
    assert everything <= {"db ?#%20", "db ?#%20/answers.db", "site", "site/downloads"} | {
        f"site/downloads/{path.name}" for path in (site / "downloads").iterdir()}
    expected = database_rows(copy_of_database, "select * from questions where key = ?",
                             (hostile["key"],))[0]
    folder = site / "downloads"
    from_ndjson = {row["key"]: row for row in read_ndjson(
        folder / "questions-no-date-tabled.ndjson.gz")}
    from_csv = {row["key"]: row for row in read_csv(folder / "questions-no-date-tabled.csv.gz")}
    assert from_ndjson[hostile["key"]] == expected
    assert from_csv[hostile["key"]] == {name: as_csv_cell(value)
                                        for name, value in expected.items()}
    assert from_ndjson[hostile["key"]]["answer_text"] == ""  # kept apart from null


def test_the_build_date_follows_source_date_epoch(tmp_path, monkeypatch):
    "Two builds of the same database can be compared byte for byte when both date themselves alike."
    database = tmp_path / "answers.db"
    database.write_bytes(b"")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")
    assert downloads.build_time(database) == "2025-12-01T00:00:00Z"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert downloads.build_time(database) != "2025-12-01T00:00:00Z"
