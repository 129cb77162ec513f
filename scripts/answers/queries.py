"""Every read of the database that the pages and site stages show: members, bodies, posts,
questions as listings, feeds, neighbours and the sitemap see them, the archive's figures, the
resolved citations and the timeliness figures.

One module, so that two stages that show the same fact read it the same way (the members a
question names, a body's slug, a question's title text). It reads the database and writes
nothing; each query takes named parameters, and the stages shape what it returns.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path, PurePath

import orjson
import sqlite_utils

from . import timeliness, urls

# -- the database file, for worker processes ----------------------------------------------


def database_file(db: sqlite_utils.Database) -> str:
    "The file a connection's main database lives in: what a worker process opens again."
    return next(row[2] for row in db.execute("pragma database_list") if row[1] == "main")


def read_only(path: str | Path) -> sqlite_utils.Database:
    "A connection that can only read the database at `path` (a worker's own)."
    return sqlite_utils.Database(sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True))


# -- members and bodies ------------------------------------------------------------------


def load_members(db: sqlite_utils.Database) -> dict[str, dict]:
    """Member id -> the member as the archive shows them: id, name, party, constituency and
    house (None where no source gave them), their page's `url`, and a `display` name that
    is never empty."""
    return {
        row["id"]: dict(row, url=urls.member_url(row["id"], row["name"]),
                        display=row["name"] or f"Member {row['id']}")
        for row in db.query("select id, name, party, constituency, house from members")
    }


def member_or_placeholder(members: dict[str, dict], member_id: str) -> dict:
    "The member with this id, or where no member data names them, a stand-in of the same shape."
    return members.get(member_id) or {
        "id": member_id, "name": None, "party": None, "constituency": None, "house": None,
        "url": urls.member_url(member_id), "display": f"Member {member_id}"}


def named_member_ids(db: sqlite_utils.Database) -> list[str]:
    "The ids of every member who asked or answered a question: each has a page and a feed."
    return [row["id"] for row in db.query(
        """select asking_member_id as id from questions where asking_member_id is not null
           union select answering_member_id from questions where answering_member_id is not null
           order by id""")]


@dataclass(frozen=True)
class Names:
    """What the listings and the feeds name: members, their posts, bodies, and the ids of the
    members who asked or answered a question (each has a page and a feed). Read once a build
    and handed to both: reading the members twice cost a build with one change more than the
    rest of its feeds."""
    members: dict[str, dict]
    posts: dict[str, list[dict]]
    bodies: dict[str, dict]
    named_member_ids: list[str]

    @classmethod
    def load(cls, db: sqlite_utils.Database) -> Names:
        return cls(load_members(db), load_posts(db), load_bodies(db), named_member_ids(db))


def load_posts(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    "Each member's government posts, earliest first (none when no post data was loaded)."
    posts: dict[str, list[dict]] = {}
    if "member_posts" not in db.table_names():
        return posts
    for row in db.query("""select member_id, post, organisation, start_date, end_date, source
                           from member_posts order by member_id, start_date, post"""):
        posts.setdefault(row.pop("member_id"), []).append(row)
    return posts


def load_bodies(db: sqlite_utils.Database) -> dict[str, dict]:
    "Answering body name -> its name, slug and page `url`, in slug order."
    return {
        row["name"]: {"name": row["name"], "slug": row["slug"], "url": urls.body_url(row["slug"])}
        for row in db.query("select name, slug from answering_bodies order by slug")
    }


# -- questions ---------------------------------------------------------------------------

# Enough of a question's text for its title (urls.question_title reads no further): a query
# that selects TITLE_TEXT passes TITLE_CHARS among its parameters.
TITLE_TEXT = "substr(question_text, 1, :title_chars) as question_text"
TITLE_CHARS = {"title_chars": urls.TITLE_SOURCE_CHARS}


def question_rows(db: sqlite_utils.Database):
    "Every column of every question, in key order: what the pages stage makes a page from."
    return db.query("select * from questions order by key")


def question_rows_of(db: sqlite_utils.Database, keys: set[str]):
    "Every column of the questions with these keys (those that exist), in key order."
    return db.query("select * from questions where key in (select value from json_each(:keys)) "
                    "order by key", {"keys": json.dumps(sorted(keys))})


INDEX_SQL = f"select key, house, uin, url, heading, date_tabled, {TITLE_TEXT} from questions"


def load_question_index(db: sqlite_utils.Database, keys: set[str] | None = None) -> dict[str, dict]:
    """Key -> where a question lives and what it is called, to link grouped questions: of
    every question, or of those with `keys`."""
    if keys is None:
        rows = db.query(INDEX_SQL, TITLE_CHARS)
    else:
        rows = db.query(INDEX_SQL + " where key in (select value from json_each(:keys))",
                        {"keys": json.dumps(sorted(keys)), **TITLE_CHARS})
    return {
        row["key"]: {"key": row["key"], "uin": row["uin"], "url": row["url"],
                     "heading": row["heading"], "title": urls.question_title(row),
                     "date_tabled": row["date_tabled"]}
        for row in rows
    }


def load_group_texts(db: sqlite_utils.Database, keys: set[str] | None = None) -> dict[str, dict]:
    """Key -> question text and asker of every question in a group (naming others, or named
    by one): what a grouped question's page shows of each question answered with it. With
    `keys`, only of those among them."""
    if keys is None:
        rows = db.query(
            """select key, question_text, asking_member_id from questions
               where grouped_keys is not null
                  or key in (select g.value from questions q, json_each(q.grouped_keys) g
                             where q.grouped_keys is not null)""")
    else:
        rows = db.query("""select key, question_text, asking_member_id from questions
                           where key in (select value from json_each(:keys))""",
                        {"keys": json.dumps(sorted(keys))})
    return {row["key"]: {"question_text": row["question_text"], "asking_member_id": row["asking_member_id"]}
            for row in rows}


def urls_of(db: sqlite_utils.Database, keys: set[str]) -> dict[str, str]:
    "Key -> page url of the questions with these keys (those that exist)."
    return dict(db.execute("select key, url from questions where key in (select value from json_each(?))",
                           [json.dumps(sorted(keys))]).fetchall())


def question_urls(db: sqlite_utils.Database) -> set[str]:
    "The page url of every question (one JSON array in one step of SQLite, as `one_step_dict`)."
    [(found,)] = db.execute("select json_group_array(url) from questions").fetchall()
    return set(orjson.loads(found))


def load_asked_before(db: sqlite_utils.Database, keys: set[str] | None = None) -> dict[str, list[dict]]:
    """Key -> the earlier questions on the same subject its page lists (the `related` table),
    closest first: each one's key and asking member's id. With `keys`, only their lists."""
    listed: dict[str, list[dict]] = {}
    if "related" not in db.table_names():
        return listed
    only = "" if keys is None else "where r.key in (select value from json_each(:keys))"
    # In one step of SQLite (`one_step_dict` says why), each list put in its order here.
    [(found,)] = db.execute(
        f"""select json_group_array(json_array(r.key, r.rank, r.related_key, q.asking_member_id))
            from related r join questions q on q.key = r.related_key {only}""",
        {"keys": json.dumps(sorted(keys or ()))}).fetchall()
    for key, _, related_key, asker in sorted(orjson.loads(found), key=itemgetter(0, 1)):
        listed.setdefault(key, []).append({"key": related_key, "asking_member_id": asker})
    return listed


def load_sources(db: sqlite_utils.Database) -> dict[int, dict]:
    """Source id -> the source file's name and format. Only the name: the path is the
    builder's own (often absolute), and the name with the format is what identifies it."""
    return {row["id"]: {"file": PurePath(row["path"]).name, "format": row["format"]}
            for row in db.query("select id, path, format from sources")}


# What each kind of listing holds, as a condition on the questions table with one named
# parameter `:value`. Fixed strings: a listing's value is always a parameter, never SQL.
LISTING_FILTERS = {
    "all": "1",
    # The rows whose day starts with the date `:value`, as a range on the indexed expression
    # (schema.py's questions_listed_day), which a condition on its substr cannot use: every
    # string from that date up to the next day's starts with it, but for strings that are not
    # dates ('2024-07-1x'), which the listings leave out (listings.owner_items).
    "day": """coalesce(date_answered, date_tabled) >= :value
              and coalesce(date_answered, date_tabled) < date(:value, '+1 day')""",
    "body": "answering_body = :value",
    "asked": "asking_member_id = :value",
    "answered": "answering_member_id = :value",
    "heading": "heading in (select value from json_each(:value))",  # :value: a JSON list
}


# The order of the listings, as the record of their places (listing_record.Placed.sort_key)
# and a member's, merged from two reads, count it: a question without a date is the oldest.
PLACE_ORDER = "coalesce(date_answered, date_tabled, '') desc, key desc"
# A body's listing in its order as schema.py's questions_body_order index holds it, which SQLite
# then reads from the index, newest first, instead of sorting every row of the body to give its
# newest page (13 ms against 0.1 ms for the longest body) or one page further back. A member's
# lists, in no index's order, are sorted (see `listing_rows`).
LISTING_ORDER = {"body": PLACE_ORDER, "asked": PLACE_ORDER, "answered": PLACE_ORDER}
# The lists of a member's listing, a minister's thousands long: a part of one is chosen by
# the dates and keys alone before its rows are read whole (each with its answer's text, to cut
# its snippet), where sorting the rows themselves would read every answer of the list.
CHOSEN_BY_KEY = {"asked", "answered"}


def listing_rows(db: sqlite_utils.Database, snippet: int, kind: str = "all", value=None, limit: int = -1,
                 offset: int = 0):
    """The questions of one listing (`kind` names a LISTING_FILTERS entry; all of them by
    default) as a listing shows them, newest first (by answer date, or the date tabled while
    unanswered), with the first `snippet` characters of its answer's text; the first `limit`
    (-1: all) after the first `offset`."""
    order = LISTING_ORDER.get(kind, "coalesce(date_answered, date_tabled) desc, key desc")
    chosen = f"where {LISTING_FILTERS[kind]} order by {order} limit :limit offset :offset"
    if kind in CHOSEN_BY_KEY:
        chosen = f"where key in (select key from questions {chosen}) order by {order}"
    # Every row in one step of SQLite, numbered in the listing's order (an aggregate's input
    # order is SQLite's to choose): row by row, each row gives up and takes back the
    # interpreter's lock, and beside a busy thread (the downloads, in the site stage) every take
    # waits its turn: a day's listing of a few hundred rows took 190 ms so, against 15 alone.
    [(found,)] = db.execute(
        f"""select json_group_array(json_array(position, {', '.join(LISTING_NAMES)})) from (
              select row_number() over (order by {order}) as position, * from (
                select {LISTING_COLUMNS} from questions {chosen}))""",
        {"snippet": snippet, "value": value, "limit": limit, "offset": offset, **TITLE_CHARS}).fetchall()
    return [dict(zip(LISTING_NAMES, row[1:], strict=True)) for row in sorted(orjson.loads(found), key=itemgetter(0))]


def count_listed(db: sqlite_utils.Database, kind: str, value) -> int:
    "How many questions one listing holds (as `listing_rows` gives them)."
    return db.execute(f"select count(*) from questions where {LISTING_FILTERS[kind]}",
                      {"value": value}).fetchone()[0]


def count_listed_before(db: sqlite_utils.Database, kind: str, value, day: str, key: str) -> int:
    """How many questions of one listing come before the place (`day`, `key`) in its order,
    oldest first (`listing_rows` gives them newest first)."""
    return db.execute(
        f"""select count(*) from questions where {LISTING_FILTERS[kind]}
            and (coalesce(date_answered, date_tabled, ''), key) < (:day, :key)""",
        {"value": value, "day": day, "key": key}).fetchone()[0]


LISTING_COLUMNS = f"""key, url, heading, uin, house, date_tabled, date_answered, answering_body,
    asking_member_id, answering_member_id, is_holding, is_withdrawn, is_correction,
    substr(answer_text, 1, :snippet) as snippet, {TITLE_TEXT},
    coalesce(date_answered, date_tabled) as day"""
LISTING_NAMES = ("key", "url", "heading", "uin", "house", "date_tabled", "date_answered", "answering_body",
                 "asking_member_id", "answering_member_id", "is_holding", "is_withdrawn", "is_correction",
                 "snippet", "question_text", "day")  # of LISTING_COLUMNS, in its order


def latest_answered_rows(db: sqlite_utils.Database, snippet: int, limit: int):
    "The `limit` latest answers as a listing shows them, latest first (by date, then key)."
    return db.query(
        f"""select {LISTING_COLUMNS} from questions where date_answered is not null
            order by date_answered desc, key desc limit :limit""",
        {"snippet": snippet, "limit": limit, **TITLE_CHARS})


# A question's place, as the listings' record keeps it (`listed_places`): name -> its SQL.
PLACE_COLUMNS = {"key": "key", "url": "url", "day": "coalesce(date_answered, date_tabled)",
                 "answering_body": "answering_body", "asking_member_id": "asking_member_id",
                 "answering_member_id": "answering_member_id", "heading": "heading"}


def listed_places(db: sqlite_utils.Database, keys: list[str]):
    "Where the questions with these keys are listed: url, day, body, asker, answerer, heading."
    columns = ", ".join(f"{sql} as {name}" for name, sql in PLACE_COLUMNS.items())
    return db.query(f"select {columns} from questions where key in (select value from json_each(:keys))",
                    {"keys": json.dumps(sorted(keys))})


# What each kind of listing files a question under, as `grouped_listing_rows` reads them: the
# value, and the condition on the row. A member's listing holds the questions they asked, and
# those they answered but did not ask. Fixed strings: never SQL made from a value.
LISTED_UNDER = {
    "body": [("answering_body", "1")],
    "day": [("coalesce(date_answered, date_tabled)", "1")],
    "heading": [("heading", "1")],
    "member": [("asking_member_id", "1"), ("answering_member_id", "asking_member_id is not answering_member_id")],
}


def listed_values(db: sqlite_utils.Database, kind: str) -> set:
    "Every value that questions are filed under by one kind of listing (LISTED_UNDER)."
    return {value for column, _ in LISTED_UNDER[kind]
            for (value,) in db.execute(f"select distinct {column} from questions where {column} is not null")}


def grouped_listing_rows(db: sqlite_utils.Database, snippet: int, kind: str, owners: dict):
    """Every listing of one kind (LISTED_UNDER) as `listing_rows` gives each: (owner, its rows,
    newest first), in the owners' order. `owners` maps each value a question is filed under to
    the listing that shows it; a value it leaves out is in none. Read as `grouped_listing_pages`
    reads them, one listing at a time in Python: a full build holds the largest listing, not the archive."""
    for owner, pages in groupby(grouped_listing_pages(db, snippet, kind, owners, GROUP_PAGE), key=itemgetter(0)):
        # Pages come oldest first, each newest first.
        yield owner, [row for *_, rows in reversed(list(pages)) for row in rows]


# The questions a step of `grouped_listing_pages` gives where the caller wants whole listings:
# one step of SQLite for the longest body's 8,300 rows, as before.
GROUP_PAGE = 1_000_000_000


def grouped_listing_pages(db: sqlite_utils.Database, snippet: int, kind: str, owners: dict, page_size: int):
    """Every listing of one kind (LISTED_UNDER) as `listing_rows` gives each, in pages of
    `page_size` counted from its oldest question: (owner, how many questions its listing holds,
    the page's number, 1 for the oldest, and its rows, newest first), in the owners' order, each
    owner's pages oldest first. `owners` maps each value a question is filed under to the
    listing that shows it; a value it leaves out is in none. One read, sorted by SQLite, and a
    page at a time in Python: a full build holds a page, not the largest listing. Each page is
    one step of SQLite (`listing_rows` says why)."""
    placed = " union all ".join(
        f"select key, date_answered, date_tabled, owners.owner from questions cross join owners"
        f" on owners.value = {column} where {condition}" for column, condition in LISTED_UNDER[kind])
    # CROSS JOINs: every question read once, each value looked up in an index SQLite makes of the
    # owners, rather than the owners read in full for every question; then each placed question's
    # row read by its key, in the listings' order. Numbered and sorted by its key, dates and owner
    # alone before its row is read whole: sorting whole rows (each with its snippet and title)
    # took SQLite a third longer (over the whole corpus, 3.2 s for the four kinds against 4.3 s).
    found = db.execute(
        f"""with owners(value, owner) as materialized (select key, value from json_each(:owners)),
            placed(listed_key, owner, position, total) as materialized (
              select key, owner, row_number() over (partition by owner order by {PLACE_ORDER}),
                     count(*) over (partition by owner)
              from ({placed}))
            select owner, total, page, json_group_array(json_array(position, {', '.join(LISTING_NAMES)})) from (
              select (total - position) / :page_size + 1 as page, owner, total, position, {LISTING_COLUMNS}
              from placed cross join questions on questions.key = placed.listed_key)
            group by owner, page order by owner, page""",
        {"owners": json.dumps(owners), "snippet": snippet, "page_size": page_size, **TITLE_CHARS})
    for owner, total, page, listed in found:
        yield owner, total, page, [dict(zip(LISTING_NAMES, row[1:], strict=True))
                                   for row in sorted(orjson.loads(listed), key=itemgetter(0))]


def places_in_batches(db: sqlite_utils.Database, batch: int = 5000):
    """Every question's place (as `listed_places` gives them), in key order, read `batch` at a
    time, each batch in one step of SQLite: a full build saves them without holding them all."""
    return in_key_order(db, PLACE_COLUMNS, batch)


def timeliness_inputs_in_batches(db: sqlite_utils.Database, batch: int = 5000):
    "(key, its values of TIMELINESS_INPUTS) of every question, in key order, read `batch` at a time."
    columns = {"key": "key", **{name: name for name in TIMELINESS_INPUTS}}
    for row in in_key_order(db, columns, batch):
        yield row["key"], [row[name] for name in TIMELINESS_INPUTS]


def in_key_order(db: sqlite_utils.Database, columns: dict[str, str], batch: int):
    """Every question as a dict of these columns (name -> SQL; `key` among them), in key order,
    read `batch` at a time, each batch in one step of SQLite (`listing_rows` says why)."""
    names = list(columns)
    after = ""
    while True:
        [(found,)] = db.execute(
            f"""select json_group_array(json_array({', '.join(names)})) from (
                  select {', '.join(f'{sql} as {name}' for name, sql in columns.items())}
                  from questions where key > :after order by key limit :batch)""",
            {"after": after, "batch": batch}).fetchall()
        rows = [dict(zip(names, row, strict=True)) for row in orjson.loads(found)]
        if not rows:
            return
        rows.sort(key=itemgetter("key"))  # an aggregate's input order is SQLite's to choose
        yield from rows
        after = rows[-1]["key"]


def count_by(db: sqlite_utils.Database, column: str) -> dict:
    """How many questions have each value of `column` ('day' for the date a listing files a
    question under), leaving out none: the listings' indexes count from this."""
    expression = {"day": "coalesce(date_answered, date_tabled)", "answering_body": "answering_body",
                  "asking_member_id": "asking_member_id",
                  "answering_member_id": "answering_member_id", "heading": "heading"}[column]
    # The expressions are those of schema.py's indexes, which SQLite then reads instead of rows.
    return one_step_dict(db, f"select {expression} as value, count(*) as n from questions group by value")


def count_headings(db: sqlite_utils.Database, headings: list[str]) -> dict[str, int]:
    "How many questions carry each of these headings (those that any does), read from the index on headings."
    return one_step_dict(db, """select heading as value, count(*) as n from questions
                                where heading in (select value from json_each(?)) group by heading""",
                         [json.dumps(sorted(headings))])


def one_step_dict(db: sqlite_utils.Database | sqlite3.Connection, query: str, parameters=()) -> dict:
    """value -> n, from the rows of a query of two columns named so, made into one JSON array
    in a single step of SQLite: tens of thousands of rows each fetched in a step of their own
    give up and take back the interpreter's lock once a row, and beside a busy thread (the
    downloads, in the site stage) every take waits its turn."""
    [(found,)] = db.execute(f"select json_group_array(json_array(value, n)) from ({query})", parameters).fetchall()
    return dict(orjson.loads(found))


# Which answered questions a feed draws from: the whole archive's, a body's or a member's (who
# asked or answered). Each takes `:value`, the body's name or the member's id.
FEED_SCOPES = {
    "archive": "1",
    "body": "answering_body = :value",
    "member": "(asking_member_id = :value or answering_member_id = :value)",
}
CORRECTED = "(is_correction = 1 or date_answer_corrected is not null)"
# When an answer last changed: the date of its correction, else the date it was given.
FEED_UPDATED = "coalesce(date_answer_corrected, date_answered)"


# Limits a feed's query to the questions whose keys are in :keys (a JSON array), when given.
AMONG_KEYS = "key in (select value from json_each(:keys))"


def feed_order(db: sqlite_utils.Database, scope: str, value: str | None, corrected_only: bool,
               among: list[str] | None = None):
    """The answered questions of one feed's scope, latest update first: only their keys and
    dates, so that a feed takes its newest few without reading any answer's text. With `among`,
    only those of these keys."""
    where = FEED_SCOPES[scope] + (f" and {CORRECTED}" if corrected_only else "")
    where += "" if among is None else f" and {AMONG_KEYS}"
    return db.query(
        f"""select key, date_answered, {FEED_UPDATED} as updated from questions
            where date_answered is not null and {where}
            order by updated desc, key desc""", {"value": value, "keys": json.dumps(among)})


def feed_rows(db: sqlite_utils.Database, keys: list[str], text_limit: int):
    """These questions as a feed entry shows them, with the first `text_limit` characters of
    the answer's HTML and of the question's text (an answer can be huge, and an entry shows
    only its start)."""
    return db.query(
        f"""select q.key, q.url, q.heading, q.uin, q.house, q.date_tabled, q.date_answered,
                  q.date_answer_corrected, {FEED_UPDATED} as updated,
                  substr(q.answer_html, 1, :text_limit) as answer_html,
                  substr(q.question_text, 1, :text_limit) as question_text,
                  q.answering_body, q.asking_member_id, q.answering_member_id,
                  a.name as answerer_name
           from questions q
           left join members a on a.id = q.answering_member_id
           where q.key in (select value from json_each(:keys))""",
        {"text_limit": text_limit, "keys": json.dumps(keys)})


def real_day(column: str) -> str:
    """SQL for a date column's day where it is a real date, else null (as render.real_date).
    The '+0 days' makes SQLite carry 2024-02-30 over to March, so that it does not match."""
    day = f"substr({column}, 1, 10)"
    return f"case when {day} > '0000' and date({day}, '+0 days') = {day} then {day} end"


def recent_changes(db: sqlite_utils.Database, limit: int, among: list[str] | None = None):
    """The `limit` questions changed most recently, by the latest of their real dates (tabled,
    answered, corrected), then the key: what the sources say happened, never which build
    brought it, so that an update lists what a clean build lists. Only keys and dates, each
    date null unless it is a real one. With `among`, only those of these keys."""
    return db.query(
        f"""with dated as (
              select key, {real_day("date_tabled")} as tabled, {real_day("date_answered")} as answered,
                     {real_day("date_answer_corrected")} as corrected
              from questions q
              {"" if among is None else "where q." + AMONG_KEYS})
            select key, tabled, answered, corrected from dated
            where coalesce(tabled, answered, corrected) is not null
            order by max(coalesce(tabled, ''), coalesce(answered, ''), coalesce(corrected, '')) desc, key desc
            limit :limit""", {"limit": limit, "keys": json.dumps(among)})


def feed_scopes_of(db: sqlite_utils.Database, keys: list[str]):
    "For these questions (those still stored): the body and members whose feeds may show them."
    return db.query(
        f"""select key, answering_body, asking_member_id, answering_member_id,
                  date_answered is not null as is_answered, {CORRECTED} as is_corrected
           from questions where key in (select value from json_each(:keys))""",
        {"keys": json.dumps(keys)})


# The order of a question page's previous and next links: its body's questions by date (answer
# date, or the date tabled while unanswered), then key. One neighbour of a question (`q`) in it:
# one step of the expression index questions_body_order. Written as a range on the date and a
# test of the key, not as the row value `(date, key) < (…)`, which SQLite cannot seek to in an
# expression index: it read the whole body's entries for each question, and the links of every
# page of the corpus, a chunk at a time, took 38 s of CPU instead of 2.4 s. The neighbour's rowid
# alone, not its title's columns: each question is the neighbour of two others, and its row is
# read once for them all (`title_rows`), not made into JSON for each (a third less time).
BODY_DAY = "coalesce({table}.date_answered, {table}.date_tabled, '')"
NEIGHBOUR_SQL = f"""(select p.rowid from questions p where p.answering_body = q.answering_body
      and {BODY_DAY.format(table="p")} {{op}}= {BODY_DAY.format(table="q")}
      and ({BODY_DAY.format(table="p")} {{op}} {BODY_DAY.format(table="q")} or p.key {{op}} q.key)
    order by {BODY_DAY.format(table="p")} {{order}}, p.key {{order}} limit 1)"""


def neighbour_rowids(db: sqlite_utils.Database, page_urls: list[str]) -> list[tuple[str, int | None, int | None]]:
    """The questions at these urls that have an answering body, each as (its url, the rowid of
    the previous question in that body, of the next), a rowid None where there is none."""
    return db.execute(
        f"""select q.url, {NEIGHBOUR_SQL.format(op="<", order="desc")}, {NEIGHBOUR_SQL.format(op=">", order="asc")}
            from questions q where q.url in (select value from json_each(?))
              and q.answering_body is not null""", [json.dumps(sorted(page_urls))]).fetchall()


def title_rows(db: sqlite_utils.Database, rowids: Iterable[int]):
    "The questions of these rowids, each with its rowid and the columns a title needs."
    return db.query(f"select rowid, url, heading, uin, house, key, {TITLE_TEXT} from questions "
                    "where rowid in (select value from json_each(:rowids))",
                    {"rowids": json.dumps(sorted(rowids)), **TITLE_CHARS})


def sitemap_rows(db: sqlite_utils.Database, part: str | None = None):
    """Every question's url and the date it last changed, in url order; with `part`, only
    those of that sitemap part (see `SITEMAP_PART`): but for 'other', the urls that start
    with the part's name, read as a range of the index on url."""
    where, bounds = "", {}
    if part is not None:
        where = f"where {SITEMAP_PART} = :part"
        if part != "other":  # the urls that start with its name: an index range
            where += " and url >= :low and url < :high"
            bounds = {"low": part, "high": following(part)}
    return db.query(
        f"""select url, coalesce(date_answer_corrected, date_answered, date_tabled) as lastmod
           from questions {where} order by url""", {"part": part, **bounds})


# The sitemap part that lists a question: its url up to the month ('commons/2024-08-30/3283/' ->
# 'commons/2024-08'; fixed when the question is stored), or 'other' where there is no month.
# A month's part holds a few thousand questions: the part a new question enters is small.
URL_MONTH = "substr(url, instr(url, '/') + 1, 7)"
SITEMAP_PART = (f"case when {URL_MONTH} glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]' "
                "then substr(url, 1, instr(url, '/') + 7) else 'other' end")


def following(prefix: str) -> str:
    "The least string after every string that starts with `prefix` (not empty)."
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def sitemap_part_sizes(db: sqlite_utils.Database) -> dict[str, int]:
    """How many questions each sitemap part lists (see `SITEMAP_PART`). Counted one range of
    the index on url at a time, from the first url not counted to the end of the urls that
    start with its part's name (or with itself, in 'other'): a few dozen ranges, counted
    from the index alone, where grouping every question works the expression out for each. A
    part named up to the first '/' of its urls holds every url of its range; of another, the
    urls of the range are grouped by their own parts."""
    sizes: Counter = Counter()
    start = db.execute("select min(url) from questions").fetchone()[0]
    while start is not None:
        part = db.execute(f"select {SITEMAP_PART} from (select ? as url)", [start]).fetchone()[0]
        high = following((start if part == "other" else part) or "\0")  # past '', if a url were empty
        if part != "other" and "/" in part:
            sizes[part] += db.execute("select count(*) from questions where url >= ? and url < ?",
                                      [start, high]).fetchone()[0]
        else:
            sizes.update(dict(db.execute(
                f"select {SITEMAP_PART}, count(*) from questions where url >= ? and url < ? group by 1",
                [start, high]).fetchall()))
        start = db.execute("select min(url) from questions where url >= ?", [high]).fetchone()[0]
    missing = db.execute("select count(*) from questions where url is null").fetchone()[0]
    sizes.update({"other": missing} if missing else {})  # as the expression files them
    return dict(sizes)


def sitemap_parts_of(db: sqlite_utils.Database, urls_: list[str]) -> set[str]:
    "The sitemap parts that list these question urls."
    return {row["part"] for row in db.query(
        f"select distinct {SITEMAP_PART} as part from (select value as url from json_each(:urls))",
        {"urls": json.dumps(urls_)})}


# -- figures -----------------------------------------------------------------------------


def coverage(db: sqlite_utils.Database, member_ids: list[str] | None = None) -> dict:
    """What the archive holds: questions, answers, states, date ranges, bodies, members, houses.
    `member_ids`: `named_member_ids`, where the caller has already read them."""
    # One aggregate a subquery: SQLite then answers each from an index (a minimum or maximum
    # from one end of it), where together they read every row.
    row = next(db.query(
        """select (select count(*) from questions) as questions,
                  (select count(date_answered) from questions) as answered,
                  (select sum(is_holding) from questions) as holding,
                  (select sum(is_correction) from questions) as corrected,
                  (select min(date_tabled) from questions) as first_tabled,
                  (select max(date_tabled) from questions) as last_tabled,
                  (select min(date_answered) from questions) as first_answered,
                  (select max(date_answered) from questions) as last_answered,
                  (select count(distinct answering_body) from questions) as bodies"""))
    row["members"] = len(named_member_ids(db) if member_ids is None else member_ids)
    row["awaiting"] = row["questions"] - row["answered"]
    row["houses"] = [dict(r) for r in db.query(
        "select house, count(*) as questions from questions group by house order by house")]
    return row


def source_formats(db: sqlite_utils.Database) -> list[dict]:
    "Per source format: how many files, and how many records were read, stored and rejected."
    return [dict(row) for row in db.query(
        """select format, count(*) as files, sum(read) as read, sum(stored) as stored,
                  sum(rejected) as rejected from sources group by format order by format""")]


# -- citations and timeliness (each module resolves or defines them; they are read here) ----


def citation_links(db: sqlite_utils.Database) -> tuple[dict[str, list[dict]], dict[str, list[str]]]:
    """The resolved citations (citations.py), both ways: citing key -> what its texts cite
    (field, UIN, cited key), and cited key -> the keys of the questions citing it. A question
    citing itself (an answer given to several questions at once) is left out of both."""
    cites: dict[str, list[dict]] = {}
    cited_by: dict[str, list[str]] = {}
    if "citations" not in db.table_names():
        return cites, cited_by
    for citing, field, uin, cited in db.execute(
            "select distinct citing_key, field, uin, cited_key from citations where status = 'resolved'"
            " and cited_key != citing_key order by citing_key, field, uin"):
        cites.setdefault(citing, []).append({"field": field, "uin": uin, "key": cited})
        if citing not in cited_by.get(cited, []):
            cited_by.setdefault(cited, []).append(citing)
    return cites, cited_by


def timeliness_figures(db: sqlite_utils.Database, body: str = "", month: str = "") -> list[dict]:
    """Rows of the `timeliness` query of metadata.yml, the one definition of the figures (every
    body and month when `body` and `month` are '')."""
    return [dict(row) for row in db.query(timeliness.query_sql(), {"body": body, "month": month})]


def timeliness_tallies(db: sqlite_utils.Database, month: str = "") -> dict[str, list[list]]:
    """Month -> how many of the archive's questions the `timeliness` query counts with each
    [kind, days_late, past_due, had_holding, n] (timeliness.tally_sql), of every month or of one."""
    tallies: dict[str, list[list]] = {}
    for row in db.execute(timeliness.tally_sql(), {"body": timeliness.ALL_BODIES, "month": month}):
        tallies.setdefault(row[0], []).append(list(row[1:]))
    return tallies


def rounded_share(db: sqlite_utils.Database, part: int | None, whole: int) -> float | None:
    "`part` in `whole` as a percentage, rounded as the `timeliness` query rounds it (SQLite's round)."
    return db.execute("select round(100.0 * ? / ?, 1)", [part, whole]).fetchone()[0]


def timeliness_due_between(db: sqlite_utils.Database, low: str, high: str) -> set[tuple[str | None, str]]:
    """The (answering body, month) of the questions without a substantive answer whose date for
    answer is from `low` up to, not including, `high`: those the `timeliness` query counts past
    due or not by whether the archive's latest date is past one or the other. (An answered
    question counts the same either way: its `days_late` is not null, tested as the query does.)"""
    return {tuple(row) for row in db.execute(
        """select distinct answering_body, substr(date_for_answer, 1, 7) from questions
           where date_for_answer >= :low and date_for_answer < :high
             and case when date_answered is not null and not is_holding then 0 else 1 end""",
        {"low": low, "high": high})}


# Every column of a question that the `timeliness` query reads, besides those of the archive's
# latest date: a question whose values of these are the same counts the same in every figure.
TIMELINESS_INPUTS = ("answering_body", "date_for_answer", "house", "is_withdrawn", "is_named_day",
                     "date_answered", "is_holding", "date_holding_answer")


def timeliness_inputs(db: sqlite_utils.Database, keys: set[str] | None = None) -> dict[str, list]:
    "Key -> its values of TIMELINESS_INPUTS, in that order (of these questions, or of all)."
    where = "" if keys is None else "where key in (select value from json_each(:keys))"
    return {key: list(values) for key, *values in db.execute(
        f"select key, {', '.join(TIMELINESS_INPUTS)} from questions {where}",
        {"keys": json.dumps(sorted(keys or ()))})}


def timeliness_as_of(db: sqlite_utils.Database) -> str | None:
    """The archive's latest date (the latest real date tabled, answered or holding-answered):
    the day its figures and page statuses are counted to, as the query works it out."""
    rows = timeliness_figures(db, timeliness.ALL_BODIES, timeliness.ALL_MONTHS)
    return rows[0]["as_of"] if rows else None
