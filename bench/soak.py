"""Soak test: kill each build stage part way through and rebuild, then serve the archive under load.

Reads a small real slice of ../shared (the seed page, one month of the official API with its full
texts, one day of Lords answers from TheyWorkForYou); writes build/soak/ (a clean reference build,
one folder per kill trial, logs). Prints a table of kills and comparisons, then the load figures.

1. Kill and rebuild. Each stage (`answers db`, `answers pages`, `answers site` with its Pagefind
   indexing) runs as its own process group and is killed with SIGKILL after several delays, or
   while Pagefind is indexing; the stage then runs again to completion and its output is compared
   with the clean reference build: the database's content (every table's rows, sorted), the
   `pages/` and `site/` trees byte for byte. Trials start either from nothing ("fresh") or from a
   complete build of a smaller slice ("update"). Then the daily case: one new answer through
   `answers build` (every stage in one process), killed likewise over a copy of the clean build
   and run again, must equal the same build not killed. Nothing may be left over: no empty
   folder, no temporary file (beside the database too), no journal of the caches beside the
   site. A rebuild in which nothing changed must write nothing.
2. Load. `answers serve` over the reference build on free loopback ports; 50 concurrent clients
   for 30 s ask for question pages, listings, feeds, Datasette rows, question_list, a full-text
   search and a canned query. SIGINT must then stop it and free both ports.

Exits 1 on any mismatch or error. Run with `make soak`.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from answers import downloads
from answers.manifest import PAGE_MANIFEST_SUFFIX, page_manifest_contents, page_manifest_path
from answers.serve import free_port, port_is_free

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
ANSWERS = str(Path(sys.executable).parent / "answers")
WORK = ROOT / "build" / "soak"
LOGS = WORK / "logs"

API_MONTH = CORPUS / "uk-parliament-wq-api-json" / "2024-08.json.gz"
FULL_TEXTS = CORPUS / "uk-parliament-wq-longform-sqlite" / "2024-08.sqlite.gz"
LORDS_DAY = CORPUS / "twfy-parlparse-xml" / "lordswrans" / "lordswrans2009-10-29a.xml"
# The "update" trials start from a build of BASE_SLICE: adding the full texts then replaces
# clipped answers in existing rows, and the Lords day adds new questions.
BASE_SLICE = [SHARED / "seeds", API_MONTH]
FULL_SLICE = [*BASE_SLICE, FULL_TEXTS, LORDS_DAY]
MEMBERS = [CORPUS / "members", CORPUS / "parlparse-members"]

STAGES = ("db", "pages", "site")
# Kill delays, as fractions of how long the same run took uninterrupted. The site stage, much
# the longest, is also killed while Pagefind indexes (see plan_trials).
# Low enough that a run which goes faster than the clean one is still killed.
FRESH_FRACTIONS = {"db": (0.15, 0.35, 0.6), "pages": (0.15, 0.35, 0.6), "site": (0.4,)}
UPDATE_FRACTIONS = {"db": (0.4,), "pages": (0.4,), "site": ()}
# The daily case: one new answer through `answers build` (every stage in one process, the search
# index beside the pages and site), killed at these fractions of its uninterrupted time and as
# Pagefind starts, over a copy of the clean build.
NEW_ANSWER_FRACTIONS = (0.4, 0.8)
NEW_ANSWER_DAY = datetime.date(2024, 9, 2)  # after every question of the slice
STAGE_TIMEOUT = 300  # seconds: a stage that takes longer is hung
CLIENTS = 50
LOAD_SECONDS = 30
REQUEST_TIMEOUT = 20
KEEPALIVE_SECONDS = 2
MAX_PATHS_SHOWN = 3
SNAPSHOT = downloads.DATABASE_FILE
# Every build dates itself by this one time (the reproducible-builds convention), so that builds
# made minutes apart can be compared byte for byte.
BUILD_EPOCH = "1764547200"


class SoakError(Exception):
    "A stage failed outright or the servers would not start or stop."


# --- pure helpers (tests/test_soak.py) ---------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    "Nearest-rank percentile of values (fraction between 0 and 1); 0 for no values."
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceiling, at least the first
    return ordered[int(rank) - 1]


def diff_trees(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """Paths that differ between two {relative path: digest} maps, sorted, each marked
    `missing` (only expected), `extra` (only actual) or `changed`."""
    differences = []
    for path in sorted(expected.keys() | actual.keys()):
        if path not in actual:
            differences.append(f"missing {path}")
        elif path not in expected:
            differences.append(f"extra {path}")
        elif expected[path] != actual[path]:
            differences.append(f"changed {path}")
    return differences


def diff_dumps(expected: dict[str, tuple], actual: dict[str, tuple]) -> list[str]:
    """Tables whose canonical dumps ({table: (column names, sorted rows)}) differ, each with
    the first row found only in the expected dump, compared with the actual one."""
    differences = []
    for table in sorted(expected.keys() | actual.keys()):
        if table not in actual or table not in expected:
            differences.append(f"{'missing' if table not in actual else 'extra'} table {table}")
        elif expected[table] != actual[table]:
            differences.append(f"table {table}: {describe_rows(*expected[table], actual[table][1])}")
    return differences


def describe_rows(columns: tuple, expected: list, actual: list) -> str:
    """The first expected row missing from actual: against the actual row with the same first
    value (its key) when there is one, column by column."""
    actual_rows = set(actual)
    gone = next((row for row in expected if row not in actual_rows), None)
    if gone is None:
        extra = next((row for row in actual if row not in set(expected)), None)
        return f"extra row {clip(repr(extra))}" if extra else "same rows, in other numbers"
    same_key = next((row for row in actual if row[0] == gone[0]), None)
    if same_key is None:
        return f"missing row {clip(repr(gone))}"
    column = next(i for i, (left, right) in enumerate(zip(gone, same_key, strict=True)) if left != right)
    return (f"row {gone[0]!r}, column {columns[column]}: "
            + describe_values(repr(gone[column]), repr(same_key[column])))


def describe_values(expected: str, actual: str) -> str:
    "Both values, from a little before the first character in which they differ."
    start = max(0, len(os.path.commonprefix([expected, actual])) - 20)
    return f"expected ...{clip(expected[start:])}, got ...{clip(actual[start:])}"


def clip(text: str, length: int = 80) -> str:
    return text if len(text) <= length else text[:length] + "..."


# --- reading what a build made -----------------------------------------------------------------


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_digests(folder: Path) -> dict[str, str]:
    """Every file under folder, by path relative to it (hidden files included), and every empty
    folder, by its path and a slash: a clean build leaves none."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            found[str(path.relative_to(folder))] = file_digest(path)
        elif path.is_dir() and not any(path.iterdir()):
            found[f"{path.relative_to(folder)}/"] = "(empty)"
    return found


def tree_stats(folder: Path) -> dict[str, tuple]:
    "Every file under folder with its size, modification time and digest."
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns,
                                            file_digest(path))
            for path in folder.rglob("*") if path.is_file()}


def virtual_tables(connection: sqlite3.Connection) -> list[str]:
    return [name for (name,) in connection.execute(
        "select name from sqlite_master where type = 'table' and sql like 'CREATE VIRTUAL TABLE%'")]


def index_tables(connection: sqlite3.Connection) -> set[str]:
    """Each virtual (full-text) table and the tables SQLite keeps behind it: their bytes depend
    on the order rows were indexed in, so the index is checked against its content instead."""
    virtual = virtual_tables(connection)
    tables = [name for (name,) in connection.execute(
        "select name from sqlite_master where type = 'table'")]
    return {table for table in tables for name in virtual
            if table == name or table.startswith(f"{name}_")}


# What records the history of builds rather than what the database holds: the change log and
# the generation counters in `meta` differ, by design, between an update and a fresh build.
BUILD_HISTORY_TABLES = {"changes"}
BUILD_HISTORY_META = ("generation", "rebuilt_generation", "lineage")


def db_dump(db_path: Path) -> dict[str, list]:
    """A canonical dump: the schema, every table's rows sorted (the build history left out), and
    whether each full-text index agrees with its content (checked on a copy: the check needs a
    writable database)."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        schema = sorted(connection.execute(
            "select type, name, tbl_name, sql from sqlite_master where name not like 'sqlite_%'"))
        dump = {"(schema)": (("type", "name", "tbl_name", "sql"), schema)}
        skipped = index_tables(connection) | BUILD_HISTORY_TABLES
        for (table,) in connection.execute(
                "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'"):
            if table not in skipped:
                cursor = connection.execute(f'select * from "{table}"')
                columns = tuple(column[0] for column in cursor.description)
                rows = [row for row in cursor.fetchall()
                        if not (table == "meta" and row[0] in BUILD_HISTORY_META)]
                dump[table] = (columns, sorted(rows, key=repr))  # any mix of types
        virtual = virtual_tables(connection)
    finally:
        connection.close()
    for name in virtual:
        dump[f"{name} (integrity)"] = (("check",), [(fts_integrity(db_path, name),)])
    return dump


def fts_integrity(db_path: Path, table: str) -> str:
    copy = db_path.with_name(db_path.name + ".check")
    shutil.copyfile(db_path, copy)
    connection = sqlite3.connect(copy)
    try:
        connection.execute(f'insert into "{table}"("{table}", rank) values (\'integrity-check\', 1)')
        return "ok"
    except sqlite3.DatabaseError as error:
        return f"index disagrees with its content: {error}"
    finally:
        connection.close()
        copy.unlink()


# --- running stages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    folder: Path

    @property
    def db(self) -> Path:
        return self.folder / "answers.db"

    @property
    def pages(self) -> Path:
        return self.folder / "pages"

    @property
    def site(self) -> Path:
        return self.folder / "site"


def stage_command(stage: str, build: Build, sources: list[Path]) -> list[str]:
    "A stage's command, or with stage 'build' every stage's in one process."
    members = [flag for folder in MEMBERS for flag in ("--members", str(folder))]
    if stage == "db":
        return [ANSWERS, "db", *map(str, sources), "--db", str(build.db), *members]
    if stage == "build":
        return [ANSWERS, "build", *map(str, sources), "--db", str(build.db), *members,
                "--pages", str(build.pages), "--out", str(build.site), "--workers", "2"]
    if stage == "pages":
        return [ANSWERS, "pages", "--db", str(build.db), "--out", str(build.pages)]
    return [ANSWERS, "site", "--db", str(build.db), "--pages", str(build.pages),
            "--out", str(build.site), "--workers", "2"]


def group_processes(group: int) -> dict[int, str]:
    "Command lines of the live processes in a process group, by process id (read from /proc)."
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[2]) == group and fields[0] != "Z":
            found[int(stat.parent.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def pagefind_running(group: int) -> bool:
    "Whether the stage (the group's leader) has started Pagefind."
    return any("pagefind" in command for pid, command in group_processes(group).items()
               if pid != group)


@dataclass
class Run:
    "How one stage run went: seconds taken, when Pagefind was first seen, whether it was killed."
    seconds: float = 0.0
    pagefind_at: float | None = None
    pagefind_seconds: float = 0.0
    killed: bool = False


def start(command: list[str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        output.write(f"$ {' '.join(command)}\n".encode())
        # Its own process group, so that a kill reaches the render workers and Pagefind too.
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)


def run_stage(command: list[str], log: Path, kill_after: float | None = None,
              kill_in_pagefind: float | None = None) -> Run:
    """Run a stage, watching for Pagefind; SIGKILL its whole process group `kill_after` seconds
    from the start, or `kill_in_pagefind` seconds after Pagefind started. Without either, the
    stage must succeed."""
    process = start(command, log)
    run, started = Run(), time.monotonic()
    while process.poll() is None:
        now = time.monotonic() - started
        if run.pagefind_at is None and pagefind_running(process.pid):
            run.pagefind_at = now
        due = kill_after is not None and now >= kill_after
        due = due or (kill_in_pagefind is not None and run.pagefind_at is not None
                      and now >= run.pagefind_at + kill_in_pagefind)
        if due:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            run.killed = True
        elif now > STAGE_TIMEOUT:
            os.killpg(process.pid, signal.SIGKILL)
            raise SoakError(f"{' '.join(command[:2])} took over {STAGE_TIMEOUT} s: see {log}")
        time.sleep(0.05)
    run.seconds = time.monotonic() - started
    if run.pagefind_at is not None:
        run.pagefind_seconds = run.seconds - run.pagefind_at
    wait_for_group_to_end(process.pid, log)
    if not run.killed and process.returncode != 0:
        raise SoakError(f"{' '.join(command[:2])} failed ({process.returncode}): see {log}")
    return run


def wait_for_group_to_end(group: int, log: Path) -> None:
    "A killed stage must leave nothing running (a SIGKILL of the group reaches them all)."
    for _ in range(250):
        if not group_processes(group):
            return
        time.sleep(0.02)
    raise SoakError(f"processes outlived their stage: {group_processes(group)} (see {log})")


def build_all(build: Build, sources: list[Path], log: Path) -> dict[str, Run]:
    return {stage: run_stage(stage_command(stage, build, sources), log) for stage in STAGES}


# --- kill trials -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    stage: str
    # "fresh": nothing of this stage yet; "update": a complete build of BASE_SLICE;
    # "new-answer" (stage "build"): the clean build, and one new answer to file
    start: str
    kill_after: float | None = None
    kill_in_pagefind: float | None = None

    @property
    def name(self) -> str:
        when = (f"{self.kill_after:.1f}s" if self.kill_after is not None
                else f"pagefind+{self.kill_in_pagefind:.1f}s")
        return f"{self.stage}-{self.start}-{when}"


@dataclass
class StageTally:
    kills: int = 0
    finished_before_kill: int = 0
    matched: int = 0
    mismatches: list[str] = field(default_factory=list)

    def record(self, name: str, differences: list[str]) -> bool:
        "Count one comparison with the clean build; True if it matched."
        if not differences:
            self.matched += 1
            return True
        more = len(differences) - MAX_PATHS_SHOWN
        self.mismatches.append(f"{name}: " + "; ".join(differences[:MAX_PATHS_SHOWN])
                               + (f" (+{more} more)" if more > 0 else ""))
        return False


def plan_trials(fresh: dict[str, Run], update: dict[str, Run]) -> list[Trial]:
    "Kill delays in proportion to how long each stage took uninterrupted, plus kills in Pagefind."
    trials = []
    for stage in STAGES:
        trials += [Trial(stage, "fresh", fresh[stage].seconds * f) for f in FRESH_FRACTIONS[stage]]
        trials += [Trial(stage, "update", update[stage].seconds * f) for f in UPDATE_FRACTIONS[stage]]
    # Killed as Pagefind starts, and half way through its indexing; in an update, killed as
    # Pagefind starts leaves new pages written and the old index in place.
    pagefind = fresh["site"].pagefind_seconds
    trials += [Trial("site", "fresh", kill_in_pagefind=0.0),
               Trial("site", "fresh", kill_in_pagefind=round(pagefind / 2, 1)),
               Trial("site", "update", kill_in_pagefind=0.0)]
    return trials


def plan_new_answer_trials(run: Run) -> list[Trial]:
    return ([Trial("build", "new-answer", run.seconds * f) for f in NEW_ANSWER_FRACTIONS]
            + [Trial("build", "new-answer", kill_in_pagefind=0.0)])


def prepare(trial: Trial, reference: Build, base: Build) -> Build:
    """A trial folder: the reference build's earlier stages, and for an update the base
    build's own output of the stage (what the previous build left); for the whole build, a copy
    of the base build, all of it."""
    build = Build(WORK / "trials" / trial.name)
    shutil.rmtree(build.folder, ignore_errors=True)
    if trial.stage == "build":
        shutil.copytree(base.folder, build.folder)
        return build
    build.folder.mkdir(parents=True)
    upstream = STAGES[:STAGES.index(trial.stage)]
    for stage in upstream:
        copy_output(getattr(reference, stage), getattr(build, stage))
    if trial.start == "update":
        copy_output(getattr(base, trial.stage), getattr(build, trial.stage))
    return build


def copy_output(source: Path, target: Path) -> None:
    "A stage's output, with the manifest beside its folder (what the stage's next run goes by)."
    if source.is_dir():
        shutil.copytree(source, target)
        if page_manifest_path(source).is_file():
            shutil.copy2(page_manifest_path(source), page_manifest_path(target))
    else:
        shutil.copy2(source, target)


def db_files(build: Build) -> dict[str, str]:
    """The db stage's files beside the database (its own and its leftovers, hidden ones
    included: the working copy, half-written records), by name only."""
    return {path.name: "" for path in build.folder.iterdir()
            if path.is_file() and path.name.lstrip(".").startswith(build.db.name)}


def files_beside(folder: Path) -> dict[str, str]:
    "A stage's files beside its folder (`<folder>.*`: caches, the manifest, journals), by name only."
    return {path.name: "" for path in folder.parent.iterdir() if path.name.startswith(f"{folder.name}.")}


def manifest_digest(folder: Path) -> dict[str, str]:
    """What the manifest beside a stage's folder records, as one digest: by content, since SQLite
    lays out the same rows differently in a file written in place."""
    try:
        contents = page_manifest_contents(folder)
    except (sqlite3.Error, ValueError) as error:
        contents = f"unreadable: {error}"
    text = json.dumps(contents, sort_keys=True)
    return {f"{folder.name}{PAGE_MANIFEST_SUFFIX} (content)": hashlib.sha256(text.encode()).hexdigest()}


def compare_stage(stage: str, reference: Build, build: Build, updated: bool = False) -> list[str]:
    if stage == "build":
        return [*compare_stage("db", reference, build), *compare_stage("pages", reference, build),
                *compare_stage("site", reference, build, updated=True)]
    if stage == "db":
        # A killed build must leave no temporary file behind once it has been run again. Only
        # the db stage's own files count: the site stage keeps its caches beside the db too.
        leftovers = diff_trees(db_files(reference), db_files(build))
        return diff_dumps(db_dump(reference.db), db_dump(build.db)) + leftovers
    # The manifest and caches beside the stage's folder: a killed build must leave none of
    # SQLite's journals, and the manifest must record what a clean build's does.
    ours, theirs = getattr(reference, stage), getattr(build, stage)
    beside = (diff_trees(files_beside(ours), files_beside(theirs))
              + diff_trees(manifest_digest(ours), manifest_digest(theirs)))
    if stage == "site" and updated:
        return diff_trees(site_by_content(reference.site), site_by_content(build.site)) + beside
    return diff_trees(tree_digests(ours), tree_digests(theirs)) + beside


def checksums_state(folder: Path) -> str:
    "The files SHA256SUMS lists, and whether each listed checksum is the file's own."
    lines = (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    listed = {name: digest for digest, name in (line.split("  ", 1) for line in lines)}
    wrong = sorted(name for name, digest in listed.items()
                   if not (folder / name).is_file() or file_digest(folder / name) != digest)
    return f"lists {sorted(listed)}; wrong: {wrong}"


def site_by_content(site: Path) -> dict[str, str]:
    """The site's digests, with the downloadable database taken by its content. A database
    brought up to date holds what a fresh one holds, but SQLite lays its pages out in the order
    rows arrived, so the file's bytes (and its checksum and size, which the downloads' other
    files state) differ. Those three values are masked in every downloads file, and the
    database itself is compared as a canonical dump. The checksums file is checked against the
    files it lists, and the downloads' own manifest (bookkeeping of those digests) left out."""
    digests = tree_digests(site)
    snapshot = site / "downloads" / SNAPSHOT
    if not snapshot.is_file():
        return digests
    digests.pop("downloads/.manifest.json", None)
    digests["downloads/SHA256SUMS"] = checksums_state(site / "downloads")
    size = snapshot.stat().st_size
    masks = [file_digest(snapshot).encode(), f'"bytes": {size},'.encode(),
             f">{downloads.file_size(size)}<".encode()]
    for path in (site / "downloads").iterdir():
        if path.is_file() and path.name not in (SNAPSHOT, "SHA256SUMS", ".manifest.json"):
            data = path.read_bytes()
            for mask in masks:
                data = data.replace(mask, b"<database snapshot>")
            digests[str(path.relative_to(site))] = hashlib.sha256(data).hexdigest()
    unpacked = snapshot.with_name("unpacked.db")
    with gzip.open(snapshot) as packed, unpacked.open("wb") as target:
        shutil.copyfileobj(packed, target)
    try:
        digests[f"downloads/{SNAPSHOT}"] = hashlib.sha256(
            repr(db_dump(unpacked)).encode()).hexdigest()
    finally:
        unpacked.unlink()
    return digests


def run_trial(trial: Trial, reference: Build, base: Build, tally: StageTally) -> None:
    "A stage killed part way and run again must equal the same stage run without a kill."
    build = prepare(trial, reference, base)
    log = LOGS / f"{trial.name}.log"
    command = stage_command(trial.stage, build, trial_sources(trial))
    killed = run_stage(command, log, trial.kill_after, trial.kill_in_pagefind).killed
    if not killed:
        tally.finished_before_kill += 1
        shutil.rmtree(build.folder)
        return
    tally.kills += 1
    run_stage(command, log)
    differences = compare_stage(trial.stage, reference, build, updated=trial.start == "update")
    if tally.record(trial.name, differences):
        shutil.rmtree(build.folder)  # a mismatched trial's folder is kept, to look into


def trial_sources(trial: Trial) -> list[Path]:
    return [*FULL_SLICE, new_answer_content()] if trial.start == "new-answer" else FULL_SLICE


def new_answer_content() -> Path:
    """A content folder holding the month file of one new answered question, filed as a fetch
    files it (bench/edits.py): the same bytes, at the same path, for every build that reads it."""
    from edits import CurrentMonth  # bench/, beside this script

    folder = WORK / "new-answer-content"
    if not folder.is_dir():
        month = CurrentMonth(folder, API_MONTH, NEW_ANSWER_DAY)
        month.file([month.bench_question(answered=True)])
    return folder


def check_new_answer(reference: Build) -> tuple[Build, Run]:
    """The new answer through an uninterrupted `answers build` over a copy of the clean build:
    what a killed and resumed one must equal. Returns it, and how long it took."""
    build = Build(WORK / "new-answer")
    shutil.rmtree(build.folder, ignore_errors=True)
    shutil.copytree(reference.folder, build.folder)
    command = stage_command("build", build, [*FULL_SLICE, new_answer_content()])
    return build, run_stage(command, LOGS / "new-answer.log")


def check_update(reference: Build, base: Build, tallies: dict[str, StageTally]) -> tuple[Build, dict[str, Run]]:
    """An uninterrupted update of a copy of the base build to the full slice. Its database must
    equal the clean build's, "Asked before" lists included; it is what a killed and resumed
    update must equal. Returns it, and how long each stage took (the
    update trials' kill delays). That change-driven pages and site equal a clean build from the
    same database is proven byte for byte by tests/test_incremental.py."""
    build = Build(WORK / "update")
    shutil.rmtree(build.folder, ignore_errors=True)
    shutil.copytree(base.folder, build.folder)
    runs = build_all(build, FULL_SLICE, LOGS / "update.log")
    expected, actual = db_dump(reference.db), db_dump(build.db)
    tallies["db"].record("db-update-no-kill", diff_dumps(expected, actual))
    return build, runs


def check_no_op(reference: Build) -> list[str]:
    "Running every stage again over an unchanged build must write nothing."
    before = tree_stats(reference.folder)
    build_all(reference, FULL_SLICE, LOGS / "no-op.log")
    after = tree_stats(reference.folder)
    return [describe_change(path, before.get(path), after.get(path))
            for path in sorted(before.keys() | after.keys()) if before.get(path) != after.get(path)]


def describe_change(path: str, before: tuple | None, after: tuple | None) -> str:
    if before is None or after is None:
        return f"{'created' if before is None else 'deleted'} {path}"
    return f"{'changed' if before[2] != after[2] else 'rewritten, same bytes,'} {path}"


def print_kill_table(tallies: dict[str, StageTally], no_op: list[str]) -> None:
    print("\nEach comparison: a killed run finished by a second run, against the same run not"
          " killed; and an update's database, not killed, against the clean build's")
    print(f"\n{'stage':<8}{'kills':>7}{'matched':>9}{'mismatched':>12}{'ended first':>13}")
    for stage, tally in tallies.items():
        print(f"{stage:<8}{tally.kills:>7}{tally.matched:>9}{len(tally.mismatches):>12}"
              f"{tally.finished_before_kill:>13}")
    for tally in tallies.values():
        for mismatch in tally.mismatches:
            print(f"  MISMATCH {mismatch}")
    print(f"no-op rebuild: {'nothing written' if not no_op else f'{len(no_op)} files changed'}")
    for path in no_op[:MAX_PATHS_SHOWN * 3]:
        print(f"  WRITTEN {path}")


# --- load --------------------------------------------------------------------------------------


def spread(items: list[str], count: int) -> list[str]:
    "count items evenly spread over the sorted list."
    ordered = sorted(items)
    step = max(1, len(ordered) // count)
    return ordered[::step][:count]


def site_targets(site: Path) -> list[str]:
    "Question pages, listings and feeds of the built site, as paths to request."
    files = [str(path.relative_to(site)) for path in site.rglob("*") if path.is_file()]
    questions = [f for f in files if f.startswith(("commons/", "lords/")) and f.count("/") == 3
                 and f.endswith("index.html")]
    listings = [f for f in files if f.startswith(("days/", "bodies/", "members/", "headings/"))
                and f.endswith("index.html")]
    feeds = [f for f in files if f.endswith("feed.xml")]
    chosen = spread(questions, 10) + spread(listings, 6) + spread(feeds, 4)
    return ["/", *(f"/{path.removesuffix('index.html')}" for path in chosen)]


def datasette_targets(db_path: Path) -> list[str]:
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        keys = [key for (key,) in connection.execute("select key from questions order by key")]
    finally:
        connection.close()
    rows = [f"/answers/questions/{key}.json" for key in spread(keys, 6)]
    return [*rows, "/answers/question_list.json?_size=50",
            "/answers/questions.json?_search=school&_size=20",
            "/answers/search.json?q=school", "/answers/answers_per_body_per_month.json?body="]


def interleave(first: list, second: list) -> list:
    "Items of both lists taken in turn, the longer list's surplus spread among the other's."
    longer, shorter = (first, second) if len(first) >= len(second) else (second, first)
    merged = []
    for index, item in enumerate(longer):
        merged.append(item)
        if index * len(shorter) // len(longer) != (index + 1) * len(shorter) // len(longer):
            merged.append(shorter[index * len(shorter) // len(longer)])
    return merged


@dataclass
class LoadTally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_errors: list[str] = field(default_factory=list)


async def client(number: int, targets: list[tuple[str, str]], stop_at: float,
                 tally: LoadTally) -> None:
    # Idle connections are dropped sooner than the servers drop them (uvicorn after 5 s):
    # otherwise a request sent just as the server closes fails though nothing is wrong.
    limits = httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=limits) as http:
        index = number
        while time.monotonic() < stop_at:
            server, url = targets[index % len(targets)]
            index += 1
            started = time.monotonic()
            try:
                response = await http.get(url)
                error = None if response.is_success else f"{response.status_code} {url}"
            except httpx.HTTPError as failure:
                error = f"{type(failure).__name__} {url}"
            tally.latencies[server].append(time.monotonic() - started)
            if error:
                tally.errors[server] += 1
                if len(tally.first_errors) < MAX_PATHS_SHOWN:
                    tally.first_errors.append(error)


async def wait_until_serving(urls: list[str], process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(timeout=5) as http:
        for url in urls:
            while True:
                if process.poll() is not None:
                    raise SoakError(f"answers serve exited ({process.returncode}): see {log}")
                try:
                    if (await http.get(url)).is_success:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SoakError(f"answers serve did not answer {url} within 90 s: see {log}")
                await asyncio.sleep(0.2)


async def load(site_url: str, datasette_url: str, reference: Build, process: subprocess.Popen,
               log: Path) -> LoadTally:
    await wait_until_serving([site_url, f"{datasette_url}/answers.json"], process, log)
    targets = interleave([("site", site_url.rstrip("/") + path) for path in site_targets(reference.site)],
                         [("datasette", datasette_url + path) for path in datasette_targets(reference.db)])
    tally, stop_at = LoadTally(), time.monotonic() + LOAD_SECONDS
    await asyncio.gather(*(client(n, targets, stop_at, tally) for n in range(CLIENTS)))
    return tally


def stop_server(process: subprocess.Popen, ports: list[int], log: Path) -> list[str]:
    "SIGINT, as Ctrl-C would send; then everything must exit and both ports be free."
    problems = []
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        problems.append(f"answers serve still running 30 s after SIGINT (see {log})")
    if process.returncode not in (None, 0):
        problems.append(f"answers serve exited with {process.returncode} after SIGINT (see {log})")
    for _ in range(100):
        if not group_processes(process.pid):
            break
        time.sleep(0.1)
    else:
        problems.append(f"left running after SIGINT: {group_processes(process.pid)}")
        os.killpg(process.pid, signal.SIGKILL)
    problems += [f"port {port} still taken after SIGINT" for port in ports if not port_is_free(port)]
    return problems


def serve_under_load(reference: Build) -> tuple[LoadTally, list[str]]:
    site_port, datasette_port = free_port(), free_port()
    log = LOGS / "serve.log"
    process = start([ANSWERS, "serve", "--build", str(reference.folder), "--host", "127.0.0.1",
                     "--site-port", str(site_port), "--datasette-port", str(datasette_port)], log)
    try:
        tally = asyncio.run(load(f"http://127.0.0.1:{site_port}/",
                                 f"http://127.0.0.1:{datasette_port}", reference, process, log))
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    return tally, stop_server(process, [site_port, datasette_port], log)


def print_load_table(tally: LoadTally, problems: list[str]) -> None:
    print(f"\n{CLIENTS} clients for {LOAD_SECONDS} s")
    print(f"{'server':<11}{'requests':>10}{'errors':>8}{'p50':>9}{'p99':>9}")
    for server, latencies in sorted(tally.latencies.items()):
        print(f"{server:<11}{len(latencies):>10}{tally.errors[server]:>8}"
              f"{percentile(latencies, 0.5) * 1000:>6.0f} ms{percentile(latencies, 0.99) * 1000:>6.0f} ms")
    for error in tally.first_errors:
        print(f"  ERROR {error}")
    for problem in problems:
        print(f"  ERROR {problem}")
    if not problems:
        print("stopped by SIGINT: both ports free, no process left")


# --- main --------------------------------------------------------------------------------------


def main() -> int:
    missing = [str(path) for path in [*FULL_SLICE, *MEMBERS] if not path.exists()]
    if missing:
        print(f"soak: the corpus slice is missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    started = time.monotonic()
    os.environ["SOURCE_DATE_EPOCH"] = BUILD_EPOCH  # the stages run as child processes
    shutil.rmtree(WORK, ignore_errors=True)
    reference, base = Build(WORK / "reference"), Build(WORK / "base")
    print("Building the reference (full slice) and base (smaller slice) archives...", flush=True)
    fresh = build_all(reference, FULL_SLICE, LOGS / "reference.log")
    build_all(base, BASE_SLICE, LOGS / "base.log")
    print("  clean build: " + ", ".join(f"{s} {r.seconds:.1f} s" for s, r in fresh.items())
          + f" (Pagefind {fresh['site'].pagefind_seconds:.1f} s)", flush=True)
    tallies = {stage: StageTally() for stage in (*STAGES, "build")}
    updated, update = check_update(reference, base, tallies)
    new_answer, new_answer_run = check_new_answer(reference)
    trials = plan_trials(fresh, update) + plan_new_answer_trials(new_answer_run)
    print(f"Killing and rebuilding: {len(trials)} trials...", flush=True)
    for trial in trials:
        expected = {"update": updated, "new-answer": new_answer}.get(trial.start, reference)
        run_trial(trial, expected, reference if trial.start == "new-answer" else base,
                  tallies[trial.stage])
    no_op = check_no_op(reference)
    print_kill_table(tallies, no_op)
    print("\nServing under load...", flush=True)
    load_tally, problems = serve_under_load(reference)
    print_load_table(load_tally, problems)
    failed = (any(t.mismatches for t in tallies.values()) or no_op or problems
              or any(load_tally.errors.values()))
    print(f"\nsoak: {'FAILED' if failed else 'passed'} in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SoakError as error:
        sys.exit(f"soak: FAILED: {error}")
