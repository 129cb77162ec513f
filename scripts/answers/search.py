"""The search index: Pagefind bundles built from the database, each holding at most
SHARD_LIMIT questions.

Reads the `questions` table of `answers.db` (with member names); writes into the site folder
`pagefind/<shard>/` (a Pagefind bundle), `pagefind/bundles.json` (the bundles the search page
loads, newest first) and `pagefind/.state.json` (a digest of what each bundle was built from).

Which bundle a question goes to follows from its URL's date and from how many questions share
it, never from the order questions arrived in: a year is one bundle (`2024`) while it holds at
most SHARD_LIMIT questions; beyond that it is cut into the halves of its days
(`2024-01-01_2024-09-12`, `2024-09-13_2024-12-31`), a half still too full into its halves, and
so on down to single days (`2024-08-30`); a crowded day is halved, and halved again, by a digest
of each URL (`2024-08-30.0`, `2024-08-30.1`, `2024-08-30.10`…). Halving, rather than cutting a
year into its months and a month into its days, keeps bundles near the limit and so few of
them for the search page to load. A new question changes only the bundle it falls into; a
bundle is re-cut only when it outgrows the limit itself, into its own parts, and no other
bundle changes. Bundles never overlap in time except the parts of one day, so the
search page can list results by date bundle after bundle.

Each question goes to Pagefind as a small HTML record of our own (templates/search/record.html):
its heading, UIN, question and answer as the searched text, and house, answering body, year,
status and asking member as filters and metadata. Every value passes through `inert` first, so
no character that HTML gives a meaning to reaches the index, whatever Pagefind or a page
does with it. Records are kept between builds (record_cache.py), so a re-indexed bundle renders
only the records of questions whose row changed, and Pagefind reads them from a scratch folder
a bundle beside the site folder, kept between builds, where only changed records are written.
A re-indexed bundle starts from the fragments of its unchanged records that the bundle in place
holds, so Pagefind compresses and writes only the changed ones (fragment_reuse.py).

Bundles are indexed two at a time, one Pagefind process each (each keeps about one core
busy), with the records of at most two bundles in hand at once.

Which bundles to check follows from the database alone (its change log, see `DatabaseFacts`),
never from what the site stage wrote, so this stage runs beside the pages and site stages, in a
process of its own started as soon as the database is made (`IndexingProcess`).

A build is complete or does not count: a bundle is written into a temporary folder and moved
into place whole, and its digest is recorded only after that. The state is marked incomplete
while indexing, so a build killed half way makes the next one check every bundle.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import threading
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import orjson
import sqlite_utils

from . import bundle_order, changes, clean, fragment_reuse, queries, record_cache, render, urls
from .atomic import PUBLIC_UMASK, make_folders, replace_if_changed
from .output import stage_code_digest
from .render import ROOT, long_date
from .workers import follow_the_build

BUNDLES = "pagefind"
STATE_NAME = ".state.json"
LIST_NAME = "bundles.json"
SCRATCH_SUFFIX = ".search-scratch"  # beside the site folder: the records Pagefind reads
SCRATCH_LIST = ".records.json"  # in a bundle's scratch folder: what it holds (not HTML: not indexed)
SCRATCH_LAYOUT = "flat"  # the records straight in their bundle's folder (record_path)
HOUSES = {"Commons": "House of Commons", "Lords": "House of Lords"}
# The most questions a bundle holds, chosen between two costs (the whole corpus, 55,990
# questions, on 2 cores). A change re-indexes its whole bundle, and Pagefind's CPU grows with
# the bundle and has next to no fixed part (on a busy machine 1.3-1.5 s for 1,004 records,
# 2.2-2.8 s for 1,816, 4.0-5.2 s for 3,711; about 0.5 s of each 1,000 is the system creating
# its files, one fragment a question; on ext4 that grows to 1-3 s when thousands of files were
# removed a moment before). With this limit the corpus makes 54 bundles, mostly of 700-1,800.
# Reading the bundle's rows and checking them against the kept records add about 0.05 ms a
# question; only the changed questions' records are rendered and written.
# Every bundle costs the search page about 4 requests before its first results (entry,
# WebAssembly, metadata, the words' index chunks; its five filters only once the reader opens
# a filter) and their decompressing, but not a module, worker or WebAssembly compiled of its
# own: static/search.js makes every bundle an instance of one Pagefind module. In headless
# Chromium on a busy machine, to the first results of a few queries: bundles of 4,000 (22)
# 2.0-2.5 s, of 2,000 (54) 2.4-3.7 s, of 1,000 (91) 4.0-5.8 s; with a module a bundle, as
# before, 22 bundles took 3.2-4.7 s and 54 took 5.7-9 s.
# Pagefind's peak memory follows the bundle (about 0.3 GB at 4,000 pages), never the archive.
SHARD_LIMIT = 2_000
# Bundles indexed at once: one Pagefind process each, each keeping about one core busy.
INDEX_WORKERS = max(1, min(2, os.cpu_count() or 1))
# Pagefind's allocator settings (pagefind_environment), in jemalloc's MALLOC_CONF syntax; its
# build reads them under jemalloc's prefixed name.
PAGEFIND_ALLOCATOR_VARIABLE = "_RJEM_MALLOC_CONF"
PAGEFIND_ALLOCATOR_SETTINGS = "tcache_max:131072"
DAY_LEVEL = 9  # shard_name's levels: year, its halves down to days (2**9 >= 366), then halves of a day
DEEPEST_LEVEL = DAY_LEVEL + 32  # 2**32 parts of a day: never reached, but bounds the splitting
# What HTML gives a meaning to, swapped for look-alikes that it does not.
INERT_CHARACTERS = str.maketrans({"<": "‹", ">": "›", '"': "”", "'": "’", "`": "‘"})
ENTITY_START = re.compile(r"&(?=[#A-Za-z])")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class SearchIndexError(RuntimeError):
    "Pagefind failed."


def inert(value) -> str:
    """Any value as plain text that no HTML reading can turn into markup: one line, no
    control characters, no angle brackets or quotes, no '&' that could start an entity."""
    text = " ".join(CONTROL.sub(" ", str(value or "")).split())
    return ENTITY_START.sub("＆", text.translate(INERT_CHARACTERS))


@dataclass
class IndexReport:
    indexed: dict[str, int] = field(default_factory=dict)  # bundle -> questions indexed
    unchanged: list[str] = field(default_factory=list)  # bundles checked and kept
    removed: list[str] = field(default_factory=list)  # bundles and files no longer wanted


# -- which bundles ------------------------------------------------------------------------


def shard_name(url: str, level: int) -> str:
    """The bundle that would hold a question at a level of splitting: 0 its year; 1 to DAY_LEVEL
    the half, quarter, eighth… of its year's days that it falls in (the year counted as 512
    days, so DAY_LEVEL's spans are single days), named by their first and last day; then its day
    and the first `level - DAY_LEVEL` bits of a digest of its URL.
    'commons/2024-08-30/3283/' -> '2024', '2024-01-01_2024-09-12', '2024-07-19_2024-09-12', …,
    '2024-08-30', '2024-08-30.1', '2024-08-30.10', …"""
    date = url.split("/")[1]
    if level <= DAY_LEVEL:
        return date_shard_name(date, level)
    digest = int.from_bytes(hashlib.sha256(url.encode()).digest()[:8], "big")
    return f"{date}.{digest >> (64 - (level - DAY_LEVEL)):0{level - DAY_LEVEL}b}"


def date_shard_name(date: str, level: int) -> str:
    """The year of a 'yyyy-mm-dd' date (level 0), or the span of `512 >> level` days of its year
    that holds it: 'first_last', or the day itself once the span is one day long."""
    if level == 0:
        return date[:4]
    day = datetime.date.fromisoformat(date)
    new_year = datetime.date(day.year, 1, 1)
    width = (1 << DAY_LEVEL) >> level
    first = new_year + datetime.timedelta(days=(day - new_year).days // width * width)
    last = min(first + datetime.timedelta(days=width - 1), datetime.date(day.year, 12, 31))
    return first.isoformat() if first == last else f"{first.isoformat()}_{last.isoformat()}"


def split_shards(urls: list[str], limit: int) -> dict[str, list[str]]:
    "URLs -> bundles of at most `limit` (a group too big is split at the next level)."
    by_date = defaultdict(list)
    for url in urls:
        by_date[url.split("/")[1]].append(url)
    return split_dates(by_date, limit, 0)


def split_dates(by_date: dict[str, list[str]], limit: int, level: int) -> dict[str, list[str]]:
    """Dates (each with its URLs) -> bundles of at most `limit`. The cutting works on dates, not
    URLs, down to single days (an archive has far fewer dates than questions); a day too big
    is then split by its URLs' digests."""
    grouped = defaultdict(dict)
    for date, day_urls in by_date.items():
        grouped[date_shard_name(date, level)][date] = day_urls
    shards = {}
    for name, dates in grouped.items():
        if sum(len(day_urls) for day_urls in dates.values()) <= limit:
            shards[name] = [url for date in sorted(dates) for url in dates[date]]
        elif level < DAY_LEVEL:
            shards.update(split_dates(dates, limit, level + 1))
        else:
            [day_urls] = dates.values()
            shards.update(split_urls(day_urls, limit, level + 1))
    return shards


def split_urls(urls: list[str], limit: int, level: int) -> dict[str, list[str]]:
    "One day's URLs -> parts of at most `limit`, halved by their digests as often as needed."
    grouped = defaultdict(list)
    for url in urls:
        grouped[shard_name(url, level)].append(url)
    shards = {}
    for name, members in grouped.items():
        if len(members) > limit and level < DEEPEST_LEVEL:
            shards.update(split_urls(members, limit, level + 1))
        else:
            shards[name] = members
    return shards


def shard_of(url: str, names: set[str]) -> str | None:
    "The bundle among `names` that holds (or held) the question at this URL."
    return next((shard_name(url, level) for level in range(DEEPEST_LEVEL + 1)
                 if shard_name(url, level) in names), None)


def urls_by_bundle(db: sqlite_utils.Database, limit: int | None = None) -> dict[str, list[str]]:
    # One JSON array in one step of SQLite, as RECORD_QUERY: a row a step, the archive's 56,000
    # URLs cost 0.4-0.7 s beside the site stage's threads, against 0.15-0.2 s.
    [(found,)] = db.execute("select json_group_array(url) from questions where url is not null").fetchall()
    return split_shards(sorted(json.loads(found)), limit or SHARD_LIMIT)


def search_code_version() -> str:
    "What besides the data decides a bundle's bytes: this module, the record and Pagefind."
    modules = (__file__, bundle_order.__file__, fragment_reuse.__file__, urls.__file__,
               clean.__file__)  # urls: titles
    return stage_code_digest([Path(module) for module in modules] + [RECORD_TEMPLATE],
                             ("pagefind", "pagefind_bin"))


RECORD_TEMPLATE = ROOT / "templates" / "search" / "record.html"


# -- the records --------------------------------------------------------------------------

# The rows as one JSON array, made in a single step of SQLite: a cursor's rows would each give up
# and take back the interpreter's lock, and beside the site stage's busy threads every take waits
# its turn (a correction's bundle, 3,700 rows, profiled in the build: 35-47 samples at 200 Hz a
# row a step, 19 in one). The kept records are read a row a step (record_cache.py): their HTML,
# made into JSON by SQLite and parsed again, cost more than the waiting (72-79 samples, 22-29).
RECORD_QUERY = """
    select json_group_array(json_object(
        'url', q.url, 'house', q.house, 'uin', q.uin, 'heading', q.heading,
        'question_text', q.question_text, 'answer_text', q.answer_text,
        'answering_body', q.answering_body, 'is_withdrawn', q.is_withdrawn,
        'date_answered', q.date_answered, 'member', m.name))
    from questions q left join members m on m.id = q.asking_member_id
    where q.url in (select value from json_each(:urls))"""


def record_fields(row: dict) -> dict:
    "A question row -> the values of its search record, each made inert."
    date = row["url"].split("/")[1]
    heading, uin = inert(row["heading"]), inert(row["uin"])
    status = ("Withdrawn" if row["is_withdrawn"]
              else "Answered" if row["date_answered"] or row["answer_text"] else "Awaiting answer")
    fields = {name: inert(value) for name, value in {
        "url": "/" + row["url"], "title": urls.question_title(row),
        "house": HOUSES.get(row["house"], row["house"]),
        "body": row["answering_body"], "member": row["member"], "status": status,
        "year": date[:4], "date": date, "long_date": long_date(date),
    }.items()}
    # Made inert once: the question and answer are most of a record's text.
    fields.update(uin=uin, heading=heading, question=inert(row["question_text"]), answer=inert(row["answer_text"]))
    # Words before the question in the searched text: excerpts start after them.
    fields["lead"] = str(len(heading.split()) + len(uin.split()))
    return fields


def records(db: sqlite_utils.Database, urls: list[str], template,
            cache: record_cache.RecordCache | None = None) -> list[tuple[str, str]]:
    """(url, record HTML) for the questions at these URLs, in URL order. With a cache, only the
    questions whose row (or the record code) changed since their record was kept are rendered."""
    [(found,)] = db.execute(RECORD_QUERY, {"urls": json.dumps(urls)}).fetchall()
    rows = sorted(orjson.loads(found), key=lambda row: row["url"])
    if cache is None:
        return [("/" + row["url"], template.render(r=record_fields(row))) for row in rows]
    kept, version, items, fresh = cache.kept(urls), record_version(), [], []
    for row in rows:
        digest = record_cache.row_digest(version, row)
        html = kept[row["url"]][1] if kept.get(row["url"], ("",))[0] == digest else None
        if html is None:
            html = template.render(r=record_fields(row))
            fresh.append((row["url"], digest, html))
        items.append(("/" + row["url"], html))
    cache.keep(fresh)
    return items


def record_version() -> str:
    """What besides its row decides a record: the search code and record template, the date
    format (render.py) and the template engine."""
    return stage_code_digest([Path(render.__file__)], ("Jinja2", "MarkupSafe"),
                             search_code_version())


def record_template():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(RECORD_TEMPLATE.parent),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template(RECORD_TEMPLATE.name)


def records_digest(items: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for url, html in items:
        digest.update(f"{len(url)}\0{url}{len(html)}\0{html}".encode())
    return digest.hexdigest()


# -- writing a bundle ---------------------------------------------------------------------


def write_bundle(items: list[tuple[str, str]], folder: Path, source: Path) -> None:
    """Index the records with Pagefind and write the bundle into `folder`. Pagefind's command
    reads the records as files (their paths give their URLs) from `source`, the bundle's
    scratch folder, kept between builds so that only changed records are written again.
    (Pagefind's service mode, fed the records over a pipe, spares those files but costs
    Pagefind more CPU than they do: 4.2 s against 3.8 s for a bundle of 3,903, and three times
    the CPU with two at once.)"""
    sync_records(items, source)
    command = [pagefind_binary(), "--site", str(source), "--output-path", str(folder),
               "--force-language", "en", "--silent"]
    result = subprocess.run(command, capture_output=True, text=True, check=False, umask=PUBLIC_UMASK,
                            env=pagefind_environment())
    if result.returncode != 0:
        raise SearchIndexError(f"pagefind failed ({result.returncode}): "
                               f"{(result.stderr or result.stdout).strip()}")


def pagefind_environment() -> dict[str, str]:
    """This process's environment, with Pagefind's allocator (jemalloc, read from the variable
    below) told to keep freed blocks of up to 128 KiB in its thread caches, unless the variable is
    already set. By default a block above 32 KiB goes back to the allocator's arena, and one asked
    for zeroed is then zeroed by handing its pages back to the kernel (MADV_DONTNEED) to be faulted
    in afresh: Pagefind asks for three such blocks a record. Kept in the cache, they are zeroed in
    place. Over the 53 bundles of the whole corpus, page faults fell from 3.03 million to 0.96
    million, and Pagefind's system time from 9.6-10.1 s to 5.5-8.0 s."""
    environment = dict(os.environ)
    environment.setdefault(PAGEFIND_ALLOCATOR_VARIABLE, PAGEFIND_ALLOCATOR_SETTINGS)
    return environment


def sync_records(items: list[tuple[str, str]], source: Path) -> None:
    """Make the scratch folder hold exactly these records, writing only those that differ from
    what its list (SCRATCH_LIST: each URL's record digest) says it holds. The list is taken
    away before the first file changes and written again after the last, so a folder without
    one (a build killed half way, or none yet) is trusted with nothing: it is emptied and every
    record written. (Writing all 3,903 records of a bundle and removing them afterwards cost
    about 0.8 s of CPU, and often seconds of waiting for the disk, to index one change.)"""
    listed = source / SCRATCH_LIST
    held = take_scratch_list(listed)
    if held is None:
        shutil.rmtree(source, ignore_errors=True)
        held = {}
    source.mkdir(parents=True, exist_ok=True)
    holds = {}
    # By plain strings: a Path a record cost 3.5 us more (56,000 written to memory: 0.71 s against 0.51 s).
    folder = str(source)
    for url, html in items:
        data = html.encode("utf-8")
        holds[url] = hashlib.sha256(data).hexdigest()
        if held.get(url) != holds[url]:
            with open(os.path.join(folder, record_name(url)), "wb") as record:
                record.write(data)
    for url in held.keys() - holds.keys():
        record_path(source, url).unlink(missing_ok=True)
    listed.write_text(json.dumps({"layout": SCRATCH_LAYOUT, "records": holds}, sort_keys=True),
                      encoding="utf-8")


def take_scratch_list(listed: Path) -> dict[str, str] | None:
    """What a scratch folder's list says it holds (URL -> record digest), the list taken away;
    None if there is none, or it is of another layout, or it names anything but a question's
    URL: then nothing in the folder is trusted."""
    try:
        data = json.loads(listed.read_bytes())
        listed.unlink()
    except (OSError, ValueError):
        return None
    held = data.get("records") if isinstance(data, dict) and data.get("layout") == SCRATCH_LAYOUT else None
    if not (isinstance(held, dict)
            and all(isinstance(url, str) and is_record_url(url) for url in held)):
        return None
    return held


def scratch_root(bundles_dir: Path) -> Path:
    """The bundles' scratch folders, beside the site folder: never published, and one a site
    folder."""
    site_dir = Path(bundles_dir).resolve().parent
    return site_dir.with_name(site_dir.name + SCRATCH_SUFFIX)


def record_path(source: Path, url: str) -> Path:
    """Where a record goes in the scratch folder: straight in it, named by its URL's parts
    joined by '_' (`record_name`), not in a folder of its own as the site's page is: a bundle's
    records make one folder, not thousands. Making a folder costs about what writing its record
    does; indexing the whole corpus afresh took 23.2-24.0 s this way, 25.4-25.9 s with a folder
    a record (three runs each, in turn)."""
    return source / record_name(url)


def record_name(url: str) -> str:
    """'/commons/2024-08-30/3283/' -> 'commons_2024-08-30_3283.html'. Only a question's URL
    has a record, and its parts (slugs and a date, urls.QUESTION_URL) never hold a '_', so no
    two URLs share a name, and no name leads out of the folder."""
    if not is_record_url(url):
        raise SearchIndexError(f"not a question's URL: {url!r}")
    return url.strip("/").replace("/", "_") + ".html"


def is_record_url(url: str) -> bool:
    "Whether a record may be at this URL: a question's page's, '/commons/2024-08-30/3283/'."
    return url.startswith("/") and urls.is_question_url(url[1:])


def indexed_url(url: str) -> str:
    """The URL Pagefind gives a record, from its file's name: the page's own URL is in the
    record's `url` metadata, which the search page links to."""
    return "/" + record_name(url)


def pagefind_binary() -> str:
    """Pagefind's own executable, run directly: `python -m pagefind` would start an interpreter
    only to hand over to it. Found by its own package, not by `pagefind.service`, whose import
    brings asyncio with it (0.1 s of the interpreter's time, beside the site stage)."""
    try:
        import pagefind_bin

        return str(pagefind_bin.get_executable())
    except (ImportError, OSError) as error:
        raise SearchIndexError("the Pagefind executable (package pagefind_bin) is not installed") from error


def replace_bundle(items: list[tuple[str, str]], bundles_dir: Path, name: str, version: str) -> None:
    """Write a bundle beside the live one, then swap it in: a build that stops half way leaves
    the old bundle (or none), never half of one. The new bundle starts from the live one's
    fragments of the records that did not change (fragment_reuse.py), or from nothing.
    `version` is the search code's (search_code_version), which the kept fragments must match."""
    building, retired, live = (bundles_dir / f".building-{name}", bundles_dir / f".retired-{name}",
                               bundles_dir / name)
    scratch = scratch_root(bundles_dir) / name
    for leftover in (building, retired):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        fragments = write_reusing_fragments(items, building, live, scratch, version)
        bundle_order.stabilise(building)  # the same records, the same bytes
    except Exception as error:
        shutil.rmtree(building, ignore_errors=True)
        raise SearchIndexError(f"search bundle {name}: {error}") from error
    fragment_reuse.forget(scratch)  # it describes the live bundle, about to be replaced
    if live.exists():
        os.replace(live, retired)
    os.replace(building, live)
    if fragments is not None:
        fragment_reuse.keep(scratch, live, version, fragments)
    remove_folder(retired)


def write_reusing_fragments(items: list[tuple[str, str]], building: Path, live: Path,
                            scratch: Path, version: str) -> dict[str, str] | None:
    """Index the records into `building`, pre-filled with the live bundle's fragments of the
    unchanged records; if the result is not what a run without a collision of names leaves,
    index them again into an empty folder. Returns the new bundle's fragment map (None if
    even a run from nothing met a collision: the next one then starts from nothing too)."""
    digest_of = {indexed_url(url): fragment_reuse.record_digest(html) for url, html in items}
    prefilled = fragment_reuse.prefill(building, live, fragment_reuse.kept_map(scratch, live, version),
                                       set(digest_of.values()))
    write_complete_bundle(items, building, scratch)
    fragments = fragment_reuse.learn(building, digest_of, prefilled)
    if fragments is None and prefilled:
        shutil.rmtree(building)
        write_complete_bundle(items, building, scratch)
        fragments = fragment_reuse.learn(building, digest_of, {})
    return fragments


def write_complete_bundle(items: list[tuple[str, str]], building: Path, scratch: Path) -> None:
    write_bundle(items, building.resolve(), scratch)
    if not (building / "pagefind.js").is_file():
        raise SearchIndexError("pagefind wrote no bundle")


def remove_folder(folder: Path) -> None:
    """Remove a folder and what it holds by `rm -r` in a child process, where there is one.
    Python's rmtree gives up and takes back the interpreter's lock once a file, and beside the
    site stage's threads every take waits its turn: a correction's bundle, 3,700 files, took
    3.8-5.0 s that way in the build on a busy machine, and 0.5-0.8 s by `rm`."""
    rm = shutil.which("rm")
    if rm and folder.is_dir() and not folder.is_symlink():
        subprocess.run([rm, "-rf", "--", str(folder)], capture_output=True, check=False)
    shutil.rmtree(folder, ignore_errors=True)  # what `rm` left, or did not run for


# -- the state ----------------------------------------------------------------------------
#
# `.state.json` says what the bundles on disk were made from: each bundle's records digest
# (`bundles`, written only once that bundle is in place) and a digest of the URLs it holds
# (`holds`), the database's position in its change log (`database`, changes.py) and a digest of
# each member's name (`members`). The last three are written only when an indexing completes
# (`complete`): together they let the next one find, from the database alone, every bundle whose
# records may differ since.


def read_state(bundles_dir: Path, version: str) -> dict | None:
    """What the last indexing under this code recorded (None: nothing it can trust). A state
    not marked complete is kept for its bundles' digests alone."""
    try:
        state = json.loads((bundles_dir / STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (isinstance(state, dict) and state.get("version") == version
            and isinstance(state.get("bundles"), dict)):
        return state
    return None


def write_json(path: Path, data) -> None:
    "Beside the file, then rename (never half written), and only if its bytes change."
    replace_if_changed(path, (json.dumps(data, sort_keys=True, indent=1) + "\n").encode("utf-8"))


def save_state(bundles_dir: Path, version: str, digests: dict, complete: dict | None = None) -> None:
    """The bundles' digests, and with `complete` (what `DatabaseFacts.recorded` gives) the facts
    that let the next indexing trust them; without it, the state is marked incomplete."""
    write_json(bundles_dir / STATE_NAME,
               {"version": version, "complete": complete is not None, "bundles": digests,
                **(complete or {})})


# -- what may have changed ------------------------------------------------------------------


def short_digest(text: str) -> str:
    "Short: only ever told apart from the same thing's digest at another time."
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class DatabaseFacts:
    """What a search record reads besides its question's row (RECORD_QUERY: the asking member's
    name), where the database stands in its change log, and which URLs each bundle holds: read
    once an indexing, before any record, so that a change made meanwhile is found next time."""
    position: dict | None  # changes.position; None for a database without a change log
    member_names: dict[str, str]  # member id -> digest of their name
    holds: dict[str, str]  # bundle -> digest of its URLs

    limit: int  # the most questions a bundle holds

    @classmethod
    def read(cls, db: sqlite_utils.Database, wanted: dict[str, list[str]], limit: int) -> DatabaseFacts:
        names = {str(member_id): short_digest(name or "") for member_id, name in
                 db.execute("select id, name from members")}
        return cls(database_position(db), names,
                   {name: short_digest("\n".join(members)) for name, members in wanted.items()},
                   limit)

    def recorded(self) -> dict | None:
        "What an indexing that completes records (None: nothing to go on next time)."
        if self.position is None or self.position["lineage"] is None:
            return None
        return {"database": self.position, "members": self.member_names, "holds": self.holds,
                "limit": self.limit}

    def bundles_changed_since(self, db: sqlite_utils.Database, state: dict | None,
                              wanted: dict[str, list[str]]) -> set[str] | None:
        """The bundles whose records may differ from those the completed indexing of `state`
        made: those of the questions whose row changed since (the change log), or whose asking
        member's name did, and those whose URLs are not the same (a question removed, added or
        moved, a bundle re-cut). None: every bundle, when the state is incomplete or of another
        database (built afresh, or gone back in time)."""
        before = state.get("database") if state and state.get("complete") else None
        now = self.position
        if not (isinstance(before, dict) and now and now["lineage"] == before.get("lineage")
                and isinstance(before.get("generation"), int)
                and now["generation"] >= before["generation"]
                and isinstance(state.get("members"), dict) and isinstance(state.get("holds"), dict)):
            return None
        keys = changes.changed_keys(db, before["generation"]) if now["generation"] > before["generation"] else set()
        renamed = sorted(member for member, name in self.member_names.items()
                         if state["members"].get(member) != name)
        if renamed:
            keys |= {key for (key,) in db.execute(
                "select key from questions where asking_member_id in (select value from json_each(?))",
                [json.dumps(renamed)])}
        bundle_of = {url: name for name, members in wanted.items() for url in members}
        return ({bundle_of[url] for url in queries.urls_of(db, keys).values() if url in bundle_of}
                | {name for name, held in self.holds.items() if state["holds"].get(name) != held})


# -- the stage ----------------------------------------------------------------------------


def update_index(db_path: Path, site_dir: Path, check_all: bool = False,
                 shard_limit: int | None = None) -> IndexReport:
    """Bring the bundles in line with the database, whatever the site stage did: this stage
    reads only the database and its own state, so it can run beside the site stage. If the
    indexing before completed on this same database, only the bundles that may have changed
    since (`DatabaseFacts.bundles_changed_since`), and bundles missing on disk, are checked;
    otherwise, or with `check_all`, every bundle is. A checked bundle is rebuilt only if its
    records differ from those its recorded digest describes. `shard_limit` (by default
    SHARD_LIMIT) is the most questions a bundle holds."""
    bundles_dir = Path(site_dir) / BUNDLES
    make_folders(bundles_dir)
    version = search_code_version()
    previous = read_state(bundles_dir, version)
    digests = dict(previous["bundles"]) if previous else {}
    report = IndexReport()
    limit = shard_limit or SHARD_LIMIT
    with closing(sqlite_utils.Database(db_path)) as db:
        if not check_all and is_untouched(db, previous, limit, bundles_dir):
            return report
        wanted = urls_by_bundle(db, limit)
        facts = DatabaseFacts.read(db, wanted, limit)
        changed = None if check_all else facts.bundles_changed_since(db, previous, wanted)
        to_check = set(wanted) if changed is None else (
            changed | {name for name in wanted
                       if name not in digests or not (bundles_dir / name / "pagefind.js").is_file()})
        with closing(record_cache.RecordCache(site_dir)) as cache:
            rebuild_changed(db, wanted, sorted(set(wanted) & to_check), bundles_dir,
                            BundleLedger(bundles_dir, version, digests), report, cache)
            if changed is None:
                cache.keep_only([url for members in wanted.values() for url in members])
    digests = {name: digest for name, digest in digests.items() if name in wanted}
    write_json(bundles_dir / LIST_NAME, [name + "/" for name in sorted(wanted, reverse=True)])
    report.removed = remove_unwanted(bundles_dir, set(wanted))
    remove_unwanted_scratch(scratch_root(bundles_dir), set(wanted))
    save_state(bundles_dir, version, digests, facts.recorded())
    return report


def expects_few_bundles(db_path: Path, site_dir: Path) -> bool:
    """Whether the last indexing completed under this code on this database (the same lineage:
    not built afresh since), so that this one will most likely check only the bundles of what
    changed: it then runs beside the pages and site stages. An indexing of every bundle keeps
    both cores busy on its own (two Pagefind processes, and every record rendered), as the site
    stage's render workers do, so it runs after. (In a thread of the build, beside a fresh site
    stage of the whole archive, once each on a busy machine: 614 s and 249 s of CPU beside, 387 s
    and 201 s one after the other.)"""
    state = read_state(Path(site_dir) / BUNDLES, search_code_version())
    if not (state and state.get("complete") is True and isinstance(state.get("database"), dict)):
        return False
    try:
        with closing(queries.read_only(db_path)) as db:  # closed before any fork that follows
            now = database_position(db)
    except sqlite3.OperationalError:  # no database there: the site stage says so
        return False
    return now is not None and now["lineage"] == state["database"].get("lineage")


class IndexingProcess:
    """`update_index` in a process of its own, started as soon as the database is made, while
    this process makes the pages and the site; `result` collects its report.

    The process is forked, not spawned: it starts at once, every module already imported (a
    fresh interpreter importing this module takes 0.3 s of CPU). A fork is safe only while no
    other thread of this process may hold a lock the child would need (SQLite's, say), so
    `start` forks only when this process runs one thread. From then on this process may start
    threads and fork render workers as it likes: the indexing holds none of its locks, as a
    thread of its own would. The child is in the build's process group: whatever kills the
    build (Ctrl-C, a SIGKILL of the group) kills it and its Pagefind processes too; a kill of the
    build's process alone ends it soon after (`workers.follow_the_build`)."""

    def __init__(self, process, receiver):
        self.process = process
        self.receiver = receiver

    @classmethod
    def start(cls, db_path: Path, site_dir: Path) -> IndexingProcess | None:
        "The indexing, started now; None if another thread is running (then not forked)."
        if threading.active_count() > 1:
            return None
        import multiprocessing  # here: only a build that indexes beside the site needs it

        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=index_in_child, args=(sender, db_path, site_dir),
                                  name="search index")
        process.start()
        sender.close()  # the child's alone: its end closing is how a child that died is seen
        return cls(process, receiver)

    def result(self) -> IndexReport:
        "The report, once the indexing ends; its error, raised here, if it failed."
        try:
            kind, value = self.receiver.recv()
        except EOFError:  # killed, or failed with an error it printed (multiprocessing does)
            kind, value = "error", "the search index's process ended without finishing"
        finally:
            self.close()
        if kind == "error":
            raise SearchIndexError(value)
        return value

    def close(self) -> None:
        "Wait for the process to end: a build that fails meanwhile leaves none running."
        self.process.join()
        self.receiver.close()


def index_in_child(sender, db_path: Path, site_dir: Path) -> None:
    """The indexing in an IndexingProcess, its report or the error it raised sent back. An
    unforeseen error is raised, printed with its traceback by multiprocessing."""
    follow_the_build()
    try:
        outcome = ("report", update_index(db_path, site_dir))
    except SearchIndexError as error:
        outcome = ("error", str(error))
    sender.send(outcome)


def is_untouched(db: sqlite_utils.Database, state: dict | None, limit: int, bundles_dir: Path) -> bool:
    """Whether the last indexing completed on the database as it still is (the db stage counts
    every build that writes a row, a member's included) with the same limit, and every bundle it
    recorded is still in place: then nothing is read, not even the bundles' URLs."""
    return (bool(state) and state.get("complete") is True and state.get("limit") == limit
            and state.get("database") == database_position(db)
            and isinstance(state.get("holds"), dict)
            and all((bundles_dir / name / "pagefind.js").is_file() for name in state["holds"]))


def database_position(db: sqlite_utils.Database) -> dict | None:
    "changes.position, or None for a database without a change log (built by other means)."
    try:
        return changes.position(db)
    except sqlite3.OperationalError:  # no meta table
        return None


@dataclass
class BundleLedger:
    """The digests of the bundles in place, saved (marked incomplete) each time one is taken
    out or put in, so that the state on disk is always true of the bundles on disk."""
    bundles_dir: Path
    version: str
    digests: dict

    def retire(self, name: str) -> None:
        self.digests.pop(name, None)
        save_state(self.bundles_dir, self.version, self.digests)

    def record(self, name: str, digest: str) -> None:
        self.digests[name] = digest
        save_state(self.bundles_dir, self.version, self.digests)


def rebuild_changed(db: sqlite_utils.Database, wanted: dict[str, list[str]], names: list[str],
                    bundles_dir: Path, ledger: BundleLedger, report: IndexReport,
                    cache: record_cache.RecordCache | None = None) -> None:
    """Rebuild those of the named bundles whose records differ from their recorded digest,
    INDEX_WORKERS at a time: each Pagefind process keeps about one core busy, so a fresh
    build keeps both busy. Records are made here, for the next bundle only once a worker is
    free, so that at most INDEX_WORKERS bundles' records are held at once, whatever the
    archive's size. A bundle counts only once its worker has put it in place; if one fails,
    those already running finish and are recorded, then the error is raised."""
    template = record_template() if names else None
    running: dict[Future, tuple[str, str, int]] = {}
    failures: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=INDEX_WORKERS) as workers:
        for name in names:
            while len(running) >= INDEX_WORKERS and not failures:
                collect(wait(running, return_when=FIRST_COMPLETED).done, running, ledger,
                        report, failures)
            if failures:
                break
            items = records(db, wanted[name], template, cache)
            digest = records_digest(items)
            if (ledger.digests.get(name) == digest
                    and (bundles_dir / name / "pagefind.js").is_file()):
                report.unchanged.append(name)
                continue
            ledger.retire(name)
            running[workers.submit(replace_bundle, items, bundles_dir, name, ledger.version)] = \
                (name, digest, len(items))
            del items  # held by the worker alone from here
        collect(wait(running).done, running, ledger, report, failures)
    report.indexed = dict(sorted(report.indexed.items()))
    if failures:
        raise failures[0]


def collect(done, running: dict, ledger: BundleLedger, report: IndexReport,
            failures: list) -> None:
    "Record the bundles whose workers finished; keep the errors of those that failed."
    for future in sorted(done, key=lambda future: running[future][0]):
        name, digest, count = running.pop(future)
        if future.exception() is not None:
            failures.append(future.exception())
            continue
        ledger.record(name, digest)
        report.indexed[name] = count


def remove_unwanted(bundles_dir: Path, wanted: set[str]) -> list[str]:
    "Remove everything in the bundles folder that is not a wanted bundle, the list or the state."
    keep = wanted | {LIST_NAME, STATE_NAME}
    removed = []
    for path in sorted(bundles_dir.iterdir()):
        if path.name not in keep:
            remove_entry(path)
            removed.append(path.name)
    return removed


def remove_unwanted_scratch(root: Path, wanted: set[str]) -> None:
    "Remove the scratch folders of bundles no longer wanted (a bundle re-cut, say)."
    if root.is_dir():
        for path in root.iterdir():
            if path.name not in wanted:
                remove_entry(path)


def remove_entry(path: Path) -> None:
    "Remove a folder with what it holds, or a file or link (never what a link points to)."
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
