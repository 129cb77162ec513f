"""Atom feeds from the database: the latest answers (the whole archive's, each answering body's,
each member's), the latest corrected answers (the whole archive's, each body's), and the recent
changes: the questions most recently tabled, answered or corrected, as a page and a feed.

Reads the database; writes each feed's `feed.xml` into the site's output folder, and beside
them `.feeds.json`: which questions each feed showed, under which title. A build told which questions changed
renders only the feeds that showed one of them or whose scope holds one now, and removes the
feeds of bodies and members the archive no longer has, without reading every question: each
such feed's newest entries are found among those it showed and the questions changed, unless
a question it showed may have left it. A feed whose window is the one it showed, none of its
entries changed, is kept as it is.

Entry ids are the questions' canonical URLs and `updated` comes from the answer dates, never
from the clock, so an unchanged archive gives byte-identical feeds.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
import sqlite_utils

from . import clean, queries, render, urls
from .atomic import replace_if_changed
from .clean import cut_at_word, sanitize_html
from .output import Output, is_regular_file, stage_code_digest
from .render import SiteConfig, real_date, to_json_bytes

FEED_SIZE = 50
# Characters of an answer's HTML (and of a question's text) that a feed entry carries: a
# reader of the feed sees the start, and the entry links to the page for the rest.
ENTRY_TEXT_LIMIT = 4000
# Feeds rendered from one read of the database: bounds the answer text held at once.
BATCH = 50
STATE_NAME = ".feeds.json"  # hidden: no stage or tool takes it for a page
CHANGES = "changes"  # the scope of the recent changes: every question, by its latest change
# What happened to a question, latest step first: on a day with two, the later names the change.
CHANGE_KINDS = {"corrected": "date_answer_corrected", "answered": "date_answered", "tabled": "date_tabled"}


@dataclass(frozen=True)
class Feed:
    "One feed: its file, the page it belongs to, its title, and which answers it draws from."
    path: str
    page_url: str
    title: str
    scope: str  # a key of queries.FEED_SCOPES, or CHANGES
    value: str | None = None  # the body's name or the member's id
    corrected_only: bool = False


def archive_feeds(db: sqlite_utils.Database, config: SiteConfig, names: queries.Names | None = None) -> list[Feed]:
    """Every feed the archive has now. Every body page and member page links its feeds, so
    a body or member with nothing answered (or corrected) yet has an empty one. `names`: as
    `queries.Names.load` reads them, where the caller has."""
    names = names or queries.Names.load(db)
    feeds = [Feed(urls.feed_url(), urls.HOME, f"{config.title}: latest answers", "archive"),
             Feed(urls.feed_url(urls.CHANGES), urls.CHANGES, f"{config.title}: recent changes", CHANGES),
             Feed(urls.corrections_feed_url(), urls.HOME, urls.corrections_feed_title(config.title),
                  "archive", corrected_only=True)]
    for body in names.bodies.values():
        feeds.append(Feed(urls.feed_url(body["url"]), body["url"], f"Answers from {body['name']}",
                          "body", body["name"]))
        feeds.append(Feed(urls.corrections_feed_url(body["url"]), body["url"],
                          urls.corrections_feed_title(body["name"]), "body", body["name"], True))
    for member_id in names.named_member_ids:
        member = queries.member_or_placeholder(names.members, member_id)
        feeds.append(Feed(urls.feed_url(member["url"]), member["url"],
                          f"Answers to and by {member['display']}", "member", member_id))
    return feeds


# -- entries -----------------------------------------------------------------------------


def atom_time(day: str) -> str:
    return f"{day[:10]}T00:00:00Z"


def entry_texts(row: dict) -> dict:
    """An entry's summary and content, each cut to ENTRY_TEXT_LIMIT. A cut answer is
    sanitized again, which closes the elements the cut left open and drops a cut tag."""
    summary, summary_cut = cut_at_word(row["question_text"], ENTRY_TEXT_LIMIT)
    content, content_cut = cut_at_word(row["answer_html"], ENTRY_TEXT_LIMIT)
    return {"question_text": summary + ("…" if summary_cut else ""),
            "answer_html": sanitize_html(content) if content_cut else content,
            "is_cut": summary_cut or content_cut}


def feed_window(db: sqlite_utils.Database, feed: Feed, among: list[str] | None = None,
                size: int = FEED_SIZE) -> list[str]:
    """The keys of the feed's newest `size` entries (of those with keys in `among`, when
    given). An answer whose date is not a real date has no place in time order, and Atom
    requires real dates: it is left out."""
    if feed.scope == CHANGES:
        return [row["key"] for row in queries.recent_changes(db, size, among)]
    keys = []
    for row in queries.feed_order(db, feed.scope, feed.value, feed.corrected_only, among):
        if real_date(row["date_answered"]):
            keys.append(row["key"])
            if len(keys) == size:
                break
    return keys


def window_since(db: sqlite_utils.Database, feed: Feed, shown: list[str] | None,
                 changed: set[str] | None) -> list[str]:
    """`feed_window`, found among the keys the feed showed last time (`shown`) and the
    questions changed since (`changed`) where that is sure to give the same window: ordering
    every question of a scope (the whole archive's, for the recent changes) costs far more.

    A question that did not change keeps its place in the order, below every unchanged question
    the feed showed (or it would have been shown), and in its scope only if it was. So those
    keys give the window when the lowest of the unchanged shown is not above its last entry, or
    when the feed showed fewer than FEED_SIZE (no other question was in its scope). Else, or
    with no record, every question of the scope is ordered."""
    if shown is None or changed is None:
        return feed_window(db, feed)
    among = set(shown) | changed
    ranked = feed_window(db, feed, sorted(among), size=len(among))
    places = {key: place for place, key in enumerate(ranked)}
    unchanged = [places.get(key) for key in shown if key not in changed]
    if None not in unchanged and (len(shown) < FEED_SIZE or max(unchanged, default=-1) >= FEED_SIZE - 1):
        return ranked[:FEED_SIZE]
    return feed_window(db, feed)


def load_entries(db: sqlite_utils.Database, keys: list[str]) -> dict[str, dict]:
    """Key -> the question as a feed entry shows it: published when answered, updated when
    its answer was last given or corrected (neither while it awaits an answer)."""
    entries = {}
    for row in queries.feed_rows(db, keys, ENTRY_TEXT_LIMIT + 1):
        answered = real_date(row["date_answered"])
        entries[row["key"]] = dict(
            row, title=urls.question_title(row), corrected=real_date(row["date_answer_corrected"]),
            published=answered and atom_time(answered),
            updated=answered and atom_time(real_date(row["updated"]) or answered), **entry_texts(row))
    return entries


def latest_change(entry: dict) -> dict:
    """What last happened to a question (tabled, answered, corrected) and when: its latest
    real date. The recent changes show it, and it is their entries' `updated`."""
    days = {kind: real_date(entry[column]) for kind, column in CHANGE_KINDS.items()}
    day = max(filter(None, days.values()))
    change = next(kind for kind, kind_day in days.items() if kind_day == day)
    return {"change": change, "changed": day, "updated": atom_time(day),
            "published": entry["published"] or atom_time(day)}


def write_feed(output: Output, env, config: SiteConfig, feed: Feed, entries: list[dict]) -> None:
    "Write the feed (and for the recent changes, their page) with these entries."
    if feed.scope == CHANGES:
        entries = [dict(entry, **latest_change(entry)) for entry in entries]
        write_changes_page(output, env, config, feed, entries)
    write_atom(output, env, config, feed, entries)


def write_atom(output: Output, env, config: SiteConfig, feed: Feed, entries: list[dict]) -> None:
    "The feed's Atom file. An entry that names its latest `change` is titled by it."
    output.write(feed.path, env.get_template("feed.xml").render(
        page_url=urls.HOME, title=feed.title, feed_id=config.absolute(feed.path),
        self_url=config.absolute(feed.path), alternate=config.absolute(feed.page_url),
        entries=entries, corrections=feed.corrected_only,
        updated=max((e["updated"] for e in entries), default="2000-01-01T00:00:00Z")))


def write_changes_page(output: Output, env, config: SiteConfig, feed: Feed, entries: list[dict]) -> None:
    "The recent changes as a page of the archive, with its JSON twin."
    output.write(urls.html_file(feed.page_url), env.get_template("changes.html").render(
        page_url=feed.page_url, title="Recent changes", feed=feed.path, entries=entries))
    output.write(urls.json_twin(feed.page_url), to_json_bytes({
        "title": "Recent changes", "feed": config.absolute(feed.path),
        "items": [{"key": e["key"], "url": config.absolute(e["url"]), "title": e["title"],
                   "change": e["change"], "date": e["changed"], "answering_body": e["answering_body"]}
                  for e in entries]}))


def files_of(feed: Feed) -> list[str]:
    "The files a feed's rendering writes: the recent changes' page and twin besides their feed."
    if feed.scope == CHANGES:
        return [feed.path, urls.html_file(feed.page_url), urls.json_twin(feed.page_url)]
    return [feed.path]


def render_feeds(db: sqlite_utils.Database, env, output: Output, config: SiteConfig,
                 due: list[Feed], shown: dict[str, list[str]] | None = None,
                 changed: set[str] | None = None) -> dict[str, list[str]]:
    """Write these feeds, a batch at a time; returns the keys each one shows. Given what each
    showed last time and the questions changed since, their windows are found from those."""
    windows = {}
    for start in range(0, len(due), BATCH):
        batch = {feed: window_since(db, feed, (shown or {}).get(feed.path), changed)
                 for feed in due[start:start + BATCH]}
        windows.update({feed.path: keys for feed, keys in batch.items()})
        batch = {feed: keys for feed, keys in batch.items() if not as_shown(output, feed, keys, shown, changed)}
        entries = load_entries(db, sorted({key for keys in batch.values() for key in keys}))
        for feed, keys in batch.items():
            write_feed(output, env, config, feed, [entries[key] for key in keys])
    return windows


def as_shown(output: Output, feed: Feed, keys: list[str], shown: dict[str, list[str]] | None,
             changed: set[str] | None) -> bool:
    """Whether a feed the change concerns shows what the last build wrote: the same entries, in
    the same order, none of them changed (a question corrected below its window, say). Its
    bytes are made of those entries alone, so its files are kept (`keep`), not rendered."""
    return (shown is not None and changed is not None and shown.get(feed.path) == keys
            and changed.isdisjoint(keys) and keep(output, feed))


# -- which feeds a change concerns -------------------------------------------------------


def feeds_showing(db: sqlite_utils.Database, feeds: list[Feed], shown: dict[str, list[str]],
                  changed: set[str]) -> list[Feed]:
    """The feeds that a change to the `changed` questions can alter: those that showed one
    (it may have changed, moved out or gone), those whose scope holds one now (it may have
    moved in), and those that the last build did not write. Any change is the latest: the
    recent changes are rendered whenever a question changed."""
    by_scope = defaultdict(list)
    for feed in feeds:
        by_scope[feed.scope, feed.value].append(feed)
    due = {path for path, keys in shown.items() if not changed.isdisjoint(keys)}
    if changed:
        due.update(feed.path for feed in by_scope[CHANGES, None])
    for row in queries.feed_scopes_of(db, sorted(changed)):
        if not row["is_answered"]:
            continue
        scopes = [("archive", None), ("body", row["answering_body"]),
                  ("member", row["asking_member_id"]), ("member", row["answering_member_id"])]
        due.update(feed.path for scope in scopes for feed in by_scope.get(scope, ())
                   if row["is_corrected"] or not feed.corrected_only)
    return [feed for feed in feeds if feed.path in due or feed.path not in shown]


# -- what the last build showed ----------------------------------------------------------


def feeds_version(config: SiteConfig) -> str:
    "What besides the questions decides a feed's bytes: code, template and config."
    modules = [Path(module) for module in (__file__, urls.__file__, clean.__file__, render.__file__)]
    templates = render.templates_used("feed.xml", "changes.html")
    return stage_code_digest(modules + templates, ("Jinja2", "MarkupSafe", "nh3"),
                             json.dumps(asdict(config), sort_keys=True))


def load_shown(output: Output, version: str, titles: dict[str, str]) -> dict[str, list[str]] | None:
    """Feed path -> the keys it showed, as the last build that wrote feeds with this same
    code recorded it; None when there is no such record. A feed whose title is not the one
    recorded (`titles`: path -> title now; a member renamed, say) counts as never shown: its
    bytes hold the title, so it is rendered, whatever its entries."""
    try:
        # orjson: the record names every key each feed showed, tens of thousands of them.
        data = orjson.loads((output.root / STATE_NAME).read_bytes())
    except (OSError, ValueError):  # missing, unreadable or not JSON: as if there were none
        return None
    if not isinstance(data, dict) or data.get("version") != version:
        return None
    shown, recorded = data.get("feeds"), data.get("titles")
    valid = isinstance(shown, dict) and isinstance(recorded, dict) and all(
        isinstance(keys, list) and all(isinstance(key, str) for key in keys) for keys in shown.values())
    if not valid:
        return None
    return {path: keys for path, keys in shown.items() if path not in titles or recorded.get(path) == titles[path]}


def holds_shown(output: Output, version: str) -> bool:
    """Whether the record beside the feeds vouches for them: it is there, readable, and made by
    this code. Without it nothing says which feeds the last build wrote, nor so which are gone."""
    return load_shown(output, version, {}) is not None


def save_shown(output: Output, version: str, shown: dict[str, list[str]], titles: dict[str, str]) -> None:
    data = orjson.dumps({"version": version, "feeds": shown, "titles": {path: titles[path] for path in shown}},
                        option=orjson.OPT_SORT_KEYS)
    replace_if_changed(output.root / STATE_NAME, data)


def withdraw_shown(output: Output) -> None:
    """Until this build records what its feeds show, there is no record: a build stopped
    half way leaves none that vouches for feeds it changed, and the next renders them all."""
    (output.root / STATE_NAME).unlink(missing_ok=True)


def keep(output: Output, feed: Feed) -> bool:
    """Claim an up-to-date feed that this build does not render, if its files are there.
    Nothing is written here, so, as `Output.confirm_unchanged` does, only plain paths to
    regular files are taken, without resolving links (which costs more than the rest, for
    every feed of every body and member): anything else is rendered, and `write` checks it."""
    paths = {relative: output.plain_path(relative) for relative in files_of(feed)}
    if not all(path and is_regular_file(path) for path in paths.values()):
        return False
    for relative, path in paths.items():
        output.claim(path, relative)
    output.unchanged += len(paths)
    return True


def remove_feeds(output: Output, paths: set[str]) -> list[str]:
    "Delete the files of feeds the archive no longer has, then the folders left empty."
    removed = []
    for relative in sorted(paths):
        path = output.path_for(relative)
        if path.is_file():
            output.changing()
            path.unlink()
            removed.append(relative)
    output.prune_empty_folders(removed)
    return removed


def write_feeds(db: sqlite_utils.Database, env, output: Output, config: SiteConfig,
                changed: set[str] | None = None, names: queries.Names | None = None) -> list[str]:
    """Write the archive's feeds: all of them when `changed` is None (or the last build's
    record is missing or from other code), else only those a change to the `changed` keys
    can alter. Removes the feeds of bodies and members that are gone; returns their paths.
    `names`: as `queries.Names.load` reads them, where the caller has."""
    version = feeds_version(config)
    feeds = archive_feeds(db, config, names)
    titles = {feed.path: feed.title for feed in feeds}
    shown = load_shown(output, version, titles)
    if changed is None or shown is None:
        due, shown = feeds, shown or {}
    else:
        due = feeds_showing(db, feeds, shown, changed)
        due_paths = {feed.path for feed in due}
        # A feed not due is kept as it is, unless its file went missing.
        due += [feed for feed in feeds if feed.path not in due_paths and not keep(output, feed)]
    current = {feed.path for feed in feeds}
    gone = set(shown) - current
    if due or gone:
        withdraw_shown(output)
    removed = remove_feeds(output, gone)
    windows = {path: keys for path, keys in shown.items() if path in current}
    windows.update(render_feeds(db, env, output, config, due, shown, changed))
    save_shown(output, version, windows, titles)
    return removed
