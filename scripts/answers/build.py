"""The db stage: source files in, `answers.db` out.

`build_database` finds the source files (`sources.discover`), reads each through its reader
and the `Store`, and accounts for every record in a `FileReport` (read = stored + duplicates
+ rejected). An update is one transaction on the database itself, a build afresh a new file
moved into place when done, so a killed build leaves the previous database intact. Unchanged
source files (same path, same sha256) are skipped, and a file whose stat is as recorded is not
even read (`SourceDigests`); if a file seen before has changed or gone, or the code that builds
the database has changed, the database is rebuilt from scratch, because rows it stored may have been superseded since.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import sqlite_utils

from . import changes, citations, queries, related, schema, sources
from .atomic import remove_temporary_files, write_atomically
from .checks import checked_full_text, checked_question, safe_text
from .model import FullText, RecordError, SourceError
from .schema import SCHEMA_VERSION
from .settings import WORKERS as WORKERS_SETTING
from .store import FULL_TEXT_PREFIX, Derived, RebuildNeeded, Store, full_text_hash
from .workers import follow_the_build

if TYPE_CHECKING:
    from concurrent.futures import Executor

# The modules whose code shapes the database: a change to any of them forces a full rebuild.
DATABASE_CODE = ("build.py", "checks.py", "citations.py", "clean.py", "model.py", "related.py", "schema.py",
                 "store.py", "members/*.py", "sources/*.py")
WORKERS = WORKERS_SETTING.default  # processes making the "asked before" lists of a full pass


@dataclass
class FileReport:
    path: str
    format: str
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: bool = False  # unchanged since the last build

    urls_dropped: int = 0  # official URLs that were not http(s), left out

    def balanced(self) -> bool:
        return self.read == self.stored + self.duplicates + self.rejected


@dataclass
class BuildReport:
    files: list[FileReport] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # files no reader handles
    superseded: list[str] = field(default_factory=list)  # earlier versions of a file, skipped
    rebuilt: bool = False
    rebuild_reason: str | None = None  # why the database was built afresh
    generation: int = 0  # this build's number, in `meta`; 0 when nothing was written
    changed: int = 0  # questions whose row this build wrote with new values
    full_texts_applied: int = 0
    citations: dict[str, int] = field(default_factory=dict)  # references found, by status
    related: related.RelatedReport = field(default_factory=related.RelatedReport)  # "asked before"
    links_outside: list[str] = field(default_factory=list)  # symlinks leading out of a folder
    links_dangling: list[str] = field(default_factory=list)  # symlinks leading nowhere

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def urls_dropped(self) -> int:
        return sum(f.urls_dropped for f in self.files)

    def by_format(self) -> dict[str, dict[str, int]]:
        totals: dict[str, dict[str, int]] = {}
        for report in self.files:
            row = totals.setdefault(
                report.format, {"files": 0, "read": 0, "stored": 0, "duplicates": 0, "rejected": 0}
            )
            row["files"] += 1
            for name in ("read", "stored", "duplicates", "rejected"):
                row[name] += getattr(report, name)
        return totals


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Seconds a file must have been left alone before its digest is kept by its stat (timestamps
# are only as fine as the kernel's clock tick).
SETTLED_SECONDS = 2
# Beside the database: the source files' digests by their stat (SourceDigests).
DIGESTS_SUFFIX = ".digests.json"


class SourceDigests:
    """Each source file's sha256, kept beside the database (`answers.db.digests.json`) with
    what `stat` said of the file when it was read: a file whose inode, size, modification and
    change times are all as recorded is not read again to find out that it has not changed.
    A digest is kept only for a file last changed SETTLED_SECONDS before it was read, so that
    a write landing in the same timestamp as the one read cannot go unseen. The record says
    only what each file's bytes are (the database says which of them it holds), and is saved
    by the builds that write the database: until then a file not recorded is hashed each time."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.held = json.loads(path.read_bytes())
        except (OSError, ValueError):
            self.held = {}  # none yet, or unreadable: every file is read
        if not isinstance(self.held, dict):
            self.held = {}
        self.now: dict[str, list] = {}

    def sha256(self, path: Path) -> str:
        looked_at = time.time_ns()
        status = path.stat()
        seen = [status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns]
        held = self.held.get(str(path))
        if isinstance(held, list) and len(held) == 5 and held[:4] == seen:
            self.now[str(path)] = held
            return held[4]
        digest = file_sha256(path)
        if looked_at - max(status.st_mtime_ns, status.st_ctime_ns) > SETTLED_SECONDS * 1_000_000_000:
            self.now[str(path)] = [*seen, digest]
        return digest

    def save(self) -> None:
        "Keep what this build found, if that differs from what was kept."
        if self.now != self.held:
            write_atomically(self.path, json.dumps(self.now, sort_keys=True).encode())


def code_version() -> str:
    """A digest of the code that shapes the database, and of the fixed statistics "asked
    before" scores with (reference/related/): a change to either forces a full rebuild."""
    digest = hashlib.sha256(SCHEMA_VERSION.encode())
    package = Path(__file__).parent
    for path in sorted(path for pattern in DATABASE_CODE for path in package.glob(pattern)):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    for path in sorted(related.STATISTICS_FOLDER.glob("*.tsv")):
        digest.update(f"reference/related/{path.name}".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_version(member_directory) -> str:
    """What a database is built by, as its `meta.code_version` records it: the code's digest
    and, given a member directory, its reference files' digest."""
    return code_version() + (member_directory.fingerprint if member_directory is not None else "")


def recorded_path(path: Path) -> str:
    "A source file's path as the database records it (an undecodable byte spelt out)."
    return safe_text(str(path))


# -- one source file --------------------------------------------------------------------------

def load_file(store: Store, path: Path, sha256: str, records: Iterable | None = None) -> FileReport:
    """Store one source file's records, accounting for every one. `records`: what
    `checked_records` gives for the file, read beforehand (by a reader process); else it is
    read here."""
    reader = sources.reader_for(path)
    report = FileReport(path=recorded_path(path), format=reader.FORMAT)
    source_id = store.open_source(report.path, reader.FORMAT, sha256)
    for record in checked_records(path) if records is None else records:
        report.read += 1
        if isinstance(record, SourceError | Refused):
            store.reject(source_id, record.location, record.reason)
            report.rejected += 1
            continue
        item, url_dropped, derived = record
        report.urls_dropped += url_dropped
        if isinstance(item, FullText):
            store.add_full_text(item, source_id, derived)
        else:
            store.add_question(item, source_id, derived)
    # Stored: the records whose copy the database keeps is this file's (a later copy in the
    # file, or in a later file read afterwards, takes its place: see Store.credit).
    report.stored = store.stored_count()
    report.duplicates = report.read - report.rejected - report.stored
    store.close_source(source_id, {
        "format": reader.FORMAT, "sha256": sha256, "read": report.read,
        "stored": report.stored, "duplicates": report.duplicates, "rejected": report.rejected,
        "urls_dropped": report.urls_dropped,
    })
    check_read_again(store, report.path)
    return report


@dataclass(frozen=True)
class Refused:
    "A record read but refused by the checks (checks.py): where it is in its file, and why."
    location: str
    reason: str


def checked_records(path: Path, ahead: bool = False) -> Iterator:
    """One file's records, each read and checked: a SourceError (unreadable), a Refused
    (cannot be stored), or (the record made safe, whether its official URL was dropped, what
    the store derives from it alone: a question's `Derived`, a full text's digest). Needs no
    database, so a reader process can run it `ahead` of the store, and take that work off it:
    then each question's row values (`store.RowValues`) are worked out here too."""
    for record in guarded(sources.reader_for(path).read(path), recorded_path(path)):
        if isinstance(record, SourceError):
            yield record
            continue
        try:
            if isinstance(record, FullText):
                full_text = checked_full_text(record)
                yield full_text, False, full_text_hash(full_text.question_text, full_text.answer_html)
            else:
                question, url_dropped = checked_question(record)
                yield question, url_dropped, Derived.of(question, with_row_values=ahead)
        except RecordError as error:
            yield Refused(record.location, str(error))


def check_read_again(store: Store, path: str) -> None:
    """For a changed file read again in place: raises RebuildNeeded unless the database now
    holds what a clean build would. Every record the file gave before and no longer gives must
    have been outranked by what it gives now, and have left no other trace (a snapshot set
    aside, a corrected answer, the best earlier answer a correction would correct); a changed
    full text must be the last file's word on it."""
    kept_keys = {key for key, _ in store.file_records}
    for key, record_hash in sorted(store.vanished()):
        if key not in kept_keys:
            raise RebuildNeeded(f"{path} no longer holds {key}")
        if key.startswith(FULL_TEXT_PREFIX):
            raise RebuildNeeded(f"{path} holds another full text for {key}")
        held = store.held_snapshot(key)
        if held is not None and held[1:] == (path, record_hash):
            raise RebuildNeeded(f"{path} changed {key} to a snapshot that does not outrank the "
                                "one it held")
        earlier = store.held_lineage(key).earlier
        if (earlier is not None and earlier[1:] == (path, record_hash)) or store.db.execute(
            """select 1 from snapshot_conflicts where key = ? and record_hash = ?
               union all select 1 from questions where key = ?
                 and (is_correction = 1 or original_answer_html is not null)""",
            [key, record_hash, key],
        ).fetchone():
            raise RebuildNeeded(f"{path} changed {key}, a snapshot other rules drew on")
    full_texts = sorted(key for key, _ in store.changed() if key.startswith(FULL_TEXT_PREFIX))
    if store.earlier_records and full_texts and store.db.execute(
        f"""select 1 from file_records r join sources s on s.id = r.source_id
            where s.path > ? and r.key in ({", ".join("?" * len(full_texts))}) limit 1""",
        [path, *full_texts],
    ).fetchone():
        raise RebuildNeeded(f"{path} changed a full text that a later file also gives")


def guarded(records: Iterable, file: str) -> Iterator:
    """A reader's records; should the reader itself fail, the failure ends the file as one
    SourceError rather than ending the build."""
    iterator = iter(records)
    while True:
        try:
            record = next(iterator)
        except StopIteration:
            return
        except Exception as error:  # a reader's bug must not lose the other files
            yield SourceError(file, "reader stopped", f"{type(error).__name__}: {error}")
            return
        yield record


# -- the whole stage ----------------------------------------------------------------------------

def build_database(
    inputs: Iterable[str | Path],
    db_path: Path,
    member_directory=None,
    progress: Callable[[list], AbstractContextManager[Iterable]] | None = None,
) -> BuildReport:
    """Read every source file under `inputs` into the database at `db_path`; `member_directory`
    is a members.MemberDirectory that resolves and dates the members named, or None.

    `progress`, if given, wraps the list of files still to read in a context manager that
    yields an iterable over them (click.progressbar does).
    """
    report = BuildReport()
    remove_leftovers(db_path)
    links = sources.Links()
    digests = SourceDigests(Path(f"{db_path}{DIGESTS_SUFFIX}"))
    readable = survey(sources.discover(inputs, links), report, digests)
    report.links_outside = [safe_text(path) for path in links.outside]
    report.links_dangling = [safe_text(path) for path in links.dangling]
    db_path.parent.mkdir(parents=True, exist_ok=True)
    version = build_version(member_directory)
    report.rebuild_reason = rebuild_reason(db_path, readable, version)
    if report.rebuild_reason is None and holds_all(db_path, readable, report):
        return report  # nothing new: the database is left as it is, not rewritten
    report.generation = held_generation(db_path) + 1
    try:
        write_database(db_path, readable, report, version, member_directory, progress)
    except RebuildNeeded as reason:
        report.files.clear()
        report.rebuild_reason = str(reason)
        write_database(db_path, readable, report, version, member_directory, progress)
    digests.save()  # with the database: a build that writes nothing writes no record either
    report.rebuilt = report.rebuild_reason is not None
    report.files.sort(key=lambda f: f.path)
    return report


def remove_leftovers(db_path: Path) -> None:
    """What a killed build left beside the database: its working copy (journal included) and
    the half-written files of the records kept beside it (`.answers.db.digests.json.<random>.tmp`,
    see atomic.py). Removed at the start of every build, since one that finds nothing new to
    read writes nothing else that would replace them. With the database itself gone (removed
    to build afresh), its journal is removed too: SQLite would play a killed update's journal
    back onto the new database moved into its place, and overwrite its pages with old ones."""
    remove_database_files(working_copy(db_path))
    remove_temporary_files(db_path.parent, f"{db_path.name}.")
    if not db_path.exists():
        remove_database_files(db_path)


def working_copy(db_path: Path) -> Path:
    return db_path.with_name(f".{db_path.name}.building")


def write_database(db_path: Path, readable, report: BuildReport, version: str,
                   member_directory, progress) -> None:
    """A rebuild writes a new database on a working copy and moves it into place when done; an
    update changes the database in place, in one transaction. Either way a killed build leaves
    the database as the last build did: the rename never happened, or SQLite's rollback
    journal undoes the half-made transaction when the database is next opened. A daily update
    never copies the database, whose size grows with the archive while a day's change does not;
    only an update that must make thousands of "asked before" lists again is made on a copy."""
    if report.rebuild_reason is not None:
        write_afresh(db_path, readable, report, version, member_directory, progress)
        return
    try:
        update_in_place(db_path, readable, report, version, member_directory, progress)
    except related.FullPassNeeded:
        # Rolled back: an update that remakes thousands of "asked before" lists (a members
        # file that moved constituencies, full texts for a whole year) is made on a copy,
        # whose committed steps the lists' worker processes can read.
        report.files.clear()
        write_afresh(db_path, readable, report, version, member_directory, progress, copied=True)


class DatabaseInUse(OSError):
    "Another program holds the database open, reading it, for longer than an update waits."


class DatabaseNotWritable(OSError):
    "The database file may be read but not written (an update changes it in place)."


# How long an update waits for another program reading the database (a query in the sqlite3
# shell, say) to let go of it before giving up, having changed nothing.
BUSY_SECONDS = 30


def update_in_place(db_path: Path, readable, report: BuildReport, version: str,
                    member_directory, progress) -> None:
    load_member_directory(member_directory)
    db = sqlite_utils.Database(sqlite3.connect(db_path, timeout=BUSY_SECONDS))
    try:
        # The rollback journal (set here because the journal is what makes a kill harmless):
        # a build killed part way leaves a hot journal, which SQLite plays back when the
        # database is next opened, whoever opens it. Deleting the journal is the commit;
        # "extra" also syncs the folder after it, as a build afresh syncs it after its rename
        # ("full" does not: a power cut just after could bring the journal back, and with it
        # the update undone after the later stages had published it).
        db.execute("pragma journal_mode = delete")
        db.execute("pragma synchronous = extra")
        with db.atomic():
            update_database(db, readable, report, version, member_directory, progress)
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode == sqlite3.SQLITE_BUSY:
            raise DatabaseInUse(f"{db_path} is held open by another program reading it: nothing "
                                "was changed; close that program and build again") from error
        if error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_READONLY:  # extended codes included
            raise DatabaseNotWritable(f"{db_path} cannot be written ({error}): nothing was changed; "
                                      "make it writable and build again") from error
        raise
    finally:
        db.close()


def write_afresh(db_path: Path, readable, report: BuildReport, version: str,
                 member_directory, progress, copied: bool = False) -> None:
    """A new database on a working copy (a copy of the database if `copied`, else empty),
    moved into place when done."""
    work_path = working_copy(db_path)
    try:
        if copied:
            load_member_directory(member_directory)
            shutil.copyfile(db_path, work_path)
        db = open_working_copy(work_path)
        try:
            update_database(db, readable, report, version, member_directory, progress)
        finally:
            db.close()
        replace_durably(work_path, db_path)
    finally:
        remove_database_files(work_path)


def update_database(db: sqlite_utils.Database, readable, report: BuildReport, version: str,
                    member_directory, progress) -> None:
    """Read the files the database does not hold into `db`; then citations, "asked before".
    In an update, `db` is in one transaction, and each step below is a savepoint of it."""
    # A database built afresh: its questions' indexes, full-text index included, are made in
    # one pass once the rows are written, rather than kept up to date as each row is written
    # and written again (full texts, offices). Made outside a transaction: making the
    # full-text index commits.
    indexed_later = report.rebuild_reason is not None and "questions" not in db.table_names()
    store = Store(db, member_directory, questions_indexed_later=indexed_later)
    with db.atomic():
        set_meta(db, generation=report.generation, code_version=version)
        if report.rebuild_reason is not None:
            # A new lineage: the change log starts again, so the later stages start afresh.
            set_meta(db, rebuilt_generation=report.generation, lineage=uuid.uuid4().hex)
        load_changed_files(store, readable, report, progress)
    # A rebuild's "asked before" lists come from a day-ordered copy of the questions' index: made
    # now, and its postings read beside the questions' own indexes and the citations.
    statistics = day_ordered = None
    if report.rebuild_reason is not None:
        statistics = related.Statistics.read()
        day_ordered = related.DayOrderedIndex.beside(db, statistics)
    try:
        if indexed_later:
            schema.index_questions(db)
        with db.atomic():
            cited_before = changes.resolved_citations(db)
            # Read once for both: the questions stay as they are for the rest of the build.
            sessions = citations.Sessions.from_database(db)
            report.citations = citations.write_citations(db, changed_keys(db, report.generation), sessions)
        # In a rebuild this is committed, and the "asked before" workers read the file itself; in
        # an update's transaction the lists are made in this process, from what it has written (up
        # to related.FULL_PASS_FROM lists: more, and the update is made again on a copy).
        report.related = related.write_related(db, changed_keys(db, report.generation), WORKERS, sessions,
                                               statistics, everything=report.rebuild_reason is not None,
                                               day_ordered=day_ordered)
    finally:
        if day_ordered is not None:
            day_ordered.close()
    with db.atomic():
        changes.note_citation_changes(db, cited_before)
    report.changed = db.execute("select count(*) from changes where generation = ?",
                                [report.generation]).fetchone()[0]


def load_member_directory(member_directory) -> None:
    "Read a member directory that is read on demand (cli.MembersOnDemand), now."
    loaded = getattr(member_directory, "loaded", None)
    if loaded is not None:
        loaded()


def open_working_copy(work_path: Path) -> sqlite_utils.Database:
    """The working copy, written without syncing to disk: a build killed or crashed before the
    replace leaves the database in place, and the next build removes the copy, so the copy's
    own durability buys nothing. Its journal is kept in memory: rollbacks and savepoints (a
    rejected record's) still work; only a crash could leave the copy torn, and it is dropped
    then. Other processes (the "asked before" workers) still see what was committed: the
    file's pages are written on commit, unsynced only."""
    db = sqlite_utils.Database(work_path)
    db.execute("pragma synchronous = off")
    db.execute("pragma journal_mode = memory")
    return db


def sync_file(path: Path) -> None:
    "Wait until the file's bytes are on disk."
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def replace_durably(work_path: Path, db_path: Path) -> None:
    """Move the finished working copy into place, as durable as a database SQLite synced
    itself: its bytes are synced before the rename, and the folder after it."""
    sync_file(work_path)
    os.replace(work_path, db_path)
    folder = os.open(db_path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def set_meta(db: sqlite_utils.Database, **values) -> None:
    db["meta"].upsert_all([{"name": name, "value": str(value)} for name, value in values.items()],
                          pk="name")


def held_generation(db_path: Path) -> int:
    "The generation of the database at `db_path`: 0 if there is none, or none can be read."
    try:
        db = queries.read_only(db_path)
        try:
            row = db.execute("select value from meta where name = 'generation'").fetchone()
        finally:
            db.close()
        return int(row[0]) if row else 0
    except (sqlite3.Error, ValueError):
        return 0


def survey(files: list[Path], report: BuildReport, digests: SourceDigests) -> list[tuple[Path, str]]:
    """The files to build from, as (path, sha256), the digests taken from `digests` where it
    holds them. Files no reader handles are ignored; superseded versions (a later version of
    the same file is present) are skipped, so that a file becoming superseded counts as gone
    and forces a rebuild."""
    readable = []
    for path in files:
        if sources.reader_for(path) is None:
            report.ignored.append(recorded_path(path))
        elif sources.is_superseded(path):
            report.superseded.append(recorded_path(path))
        else:
            readable.append((path, digests.sha256(path)))
    return readable


def load_changed_files(store: Store, readable, report: BuildReport, progress) -> None:
    "Read the files the database does not hold yet, then the full texts and offices."
    db = store.db
    todo = skip_held_files(db, readable, report)
    with (progress or nullcontext)(todo) as iterator, read_ahead([path for path, _ in todo]) as read:
        for (path, sha), records in zip(iterator, read, strict=True):
            report.files.append(load_file(store, path, sha, records))
        settle_accounts(db, report.files)
        report.full_texts_applied = store.apply_full_texts(changed_keys(db, report.generation))
        if store.member_directory is not None:
            store.member_directory.apply_offices(db, changed_keys(db, report.generation))


def settle_accounts(db: sqlite_utils.Database, files: list[FileReport]) -> None:
    """Each file's account as the database now holds it: a file read later in this build may
    have taken the place of a copy an earlier one (or one this build skipped) stored."""
    held = {path: (stored, duplicates) for path, stored, duplicates in
            db.execute("select path, stored, duplicates from sources")}
    for file in files:
        file.stored, file.duplicates = held.get(file.path, (file.stored, file.duplicates))


# Files read and checked ahead of the store, by reader processes: the store, in this process,
# is the other half of the work. Over the corpus one reader kept the store waiting for half
# its time (6.7 s of 13.3 s), two for 2.8-3.7 s. From READ_AHEAD_FROM files on; READERS files
# are read at once, and AHEAD at most wait in memory for the store.
READ_AHEAD_FROM = 4
READERS = WORKERS
AHEAD = READERS


@contextmanager
def read_ahead(paths: list[Path]) -> Iterator[Iterator[list | None]]:
    """For each of `paths` in order, its `checked_records` as a list, read by reader
    processes; or, for a few files (or one worker), None for each: `load_file` reads them."""
    if WORKERS <= 1 or len(paths) < READ_AHEAD_FROM:
        yield itertools.repeat(None, len(paths))
        return
    from concurrent.futures import ProcessPoolExecutor  # here: multiprocessing is slow to import

    pool = ProcessPoolExecutor(READERS, initializer=follow_the_build)
    try:
        yield records_in_order(pool, paths)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # a failed build waits for no more reading


def records_in_order(pool: Executor, paths: list[Path]) -> Iterator[list]:
    pending: deque = deque()
    for path in paths:
        pending.append(pool.submit(read_checked, path))
        if len(pending) > AHEAD:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def read_checked(path: Path) -> list:
    "In the reader process: one file's checked records (see `checked_records`)."
    return list(checked_records(path, ahead=True))


def changed_keys(db: sqlite_utils.Database, generation: int) -> list[str]:
    "The questions whose rows this build wrote with new values: on a rebuild, every one."
    return [key for (key,) in db.execute("select key from changes where generation = ?", [generation])]


def skip_held_files(db: sqlite_utils.Database, readable, report: BuildReport) -> list:
    "The files the database does not hold yet; those it holds go into the report as skipped."
    known = {row["path"]: row for row in db["sources"].rows}
    todo = []
    for path, sha in readable:
        held = known.get(recorded_path(path))
        if held is not None and held["sha256"] == sha:
            report.files.append(FileReport(
                held["path"], held["format"], held["read"], held["stored"], held["duplicates"],
                held["rejected"], skipped=True, urls_dropped=held["urls_dropped"] or 0))
        else:
            todo.append((path, sha))
    return todo


def holds_all(db_path: Path, readable, report: BuildReport) -> bool:
    """Whether an up-to-date database already holds every file: then the report lists them
    as skipped and the build writes nothing, so a no-op build leaves the file's bytes alone."""
    db = queries.read_only(db_path)
    try:
        held = BuildReport()
        if skip_held_files(db, readable, held):
            return False
    finally:
        db.close()
    report.files = sorted(held.files, key=lambda f: f.path)
    return True


def remove_database_files(path: Path) -> None:
    "A database file, the journal files SQLite keeps beside it and the index a full pass copies."
    for suffix in ("", "-journal", "-wal", "-shm", related.DAY_ORDERED_SUFFIX,
                   f"{related.DAY_ORDERED_SUFFIX}-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def rebuild_reason(db_path: Path, readable: list[tuple[Path, str]], version: str) -> str | None:
    """Why the existing database cannot be brought up to date in place, or None when it can:
    it exists, was built by this code from this reference data, and every file it was built
    from is still there (changed files are read again; see check_read_again)."""
    if not db_path.exists():
        return "no database yet"
    db = sqlite_utils.Database(db_path)
    try:
        if "meta" not in db.table_names():
            return "the database was not made by this code"
        row = db.execute("select value from meta where name = 'code_version'").fetchone()
        if not row or row[0] != version:
            return "the code or the member reference data changed"
        current = {recorded_path(path) for path, _ in readable}
        for (path,) in db.execute("select path from sources order by path"):
            if path not in current:
                return f"{path} is gone"
        return None
    except sqlite3.DatabaseError:
        return "the database cannot be read"
    finally:
        db.close()
