"""One Atom feed per question, or one recent-changes listing and its feed: what each costs over
a whole built database, measured on the same machine in the same run (README, Feeds).

Reads a built `answers.db`; writes into a scratch folder (removed first) the per-question feeds
(`<question url>feed.xml`, one entry: the question's latest change, as the recent changes
show it) and the recent-changes page and feed; prints files, bytes and seconds for each, for a
first build and for a second one with nothing changed.

    .venv/bin/python bench/feed_choice.py build/answers.db build/bench/feed-choice
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import sqlite_utils

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from answers import feeds, urls  # noqa: E402
from answers.output import Output  # noqa: E402
from answers.render import SiteConfig, make_environment  # noqa: E402

BATCH = 500


def per_question_feeds(db: sqlite_utils.Database, folder: Path) -> Output:
    """One feed per question, tabled, answered or corrected: its one entry the question's
    latest change, as the recent changes show it (a reader follows a question until it is
    answered, and then any correction)."""
    config = SiteConfig()
    env = make_environment(config)
    output = Output(folder)
    keys = [row["key"] for row in db.query("select key from questions order by key")]
    for start in range(0, len(keys), BATCH):
        for entry in feeds.load_entries(db, keys[start:start + BATCH]).values():
            if any(feeds.real_date(entry[column]) for column in feeds.CHANGE_KINDS.values()):
                entry.update(feeds.latest_change(entry))
                feed = feeds.Feed(urls.feed_url(entry["url"]), entry["url"], entry["title"], "question")
                feeds.write_atom(output, env, config, feed, [entry])
    return output


def recent_changes(db: sqlite_utils.Database, folder: Path) -> Output:
    "The recent changes' page, its JSON twin and its feed."
    config = SiteConfig()
    output = Output(folder)
    [changes] = [feed for feed in feeds.archive_feeds(db, config) if feed.scope == feeds.CHANGES]
    feeds.render_feeds(db, make_environment(config), output, config, [changes])
    return output


def measure(name: str, make, db: sqlite_utils.Database, folder: Path) -> None:
    for run in ("first build", "nothing changed"):
        started, cpu = time.perf_counter(), time.process_time()
        output = make(db, folder)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        files = [path for path in folder.rglob("*") if path.is_file()]
        size = sum(path.stat().st_size for path in files)
        print(f"{name:<20} {run:<16} {len(files):>7,} files {size:>12,} bytes {seconds:>7.2f} s"
              f" ({cpu:.2f} s CPU) {len(output.written):>7,} written")


def main(db_path: str, scratch: str) -> None:
    folder = Path(scratch)
    shutil.rmtree(folder, ignore_errors=True)
    db = sqlite_utils.Database(db_path)
    measure("per-question feeds", per_question_feeds, db, folder / "per-question")
    measure("recent changes", recent_changes, db, folder / "recent-changes")


if __name__ == "__main__":
    main(*sys.argv[1:])
