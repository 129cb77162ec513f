"""What changed in the database since a stage last ran, and which question pages show it.

Reads `answers.db`: `meta` (the database's `lineage`, set afresh whenever it is built from
scratch, and its `generation`, one more on every build that writes), the `changes` log (the
generation in which each question last changed) and the tables whose facts a page shows. It
writes nothing, except `note_citation_changes`, which the db stage calls to log the questions
whose citations changed.

A stage keeps the `state` of the database it completed in its manifest. Its next run asks
`since(db, state)` which questions' pages to make again: the questions changed since, and every
question whose page shows a fact of one of them (`RELATIONS`), of a member, body or source
that changed, or of the archive's latest date (`queries.timeliness_as_of`) where that moved. The answer
is None, "everything", when there is no state, the database is another (a new lineage) or went
back in time, or a relation cannot be read.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

import sqlite_utils

from . import queries, timeliness
from .output import inputs_digest

LINEAGE = "lineage"

# Which questions' pages show a fact of the questions in :keys (a JSON array of keys). A new
# relation between pages is one more entry here. Citations read the table as it is now: a
# citation that came or went has both its questions logged as changed by the db stage.
IN_KEYS = "(select value from json_each(:keys))"
BODY_DAY = "coalesce({q}.date_answered, {q}.date_tabled, '')"
NEIGHBOUR = f"""select (select p.key from questions p
       where p.answering_body = q.answering_body
         and ({BODY_DAY.format(q="p")}, p.key) {{op}} ({BODY_DAY.format(q="q")}, q.key)
       order by {BODY_DAY.format(q="p")} {{order}}, p.key {{order}} limit 1)
    from questions q where q.key in {IN_KEYS} and q.answering_body is not null"""
RELATIONS = {
    # The citing page links the cited question by its title.
    "cites": f"select citing_key from citations where status = 'resolved' and cited_key in {IN_KEYS}",
    # The cited page lists the questions that cite it ("Cited by").
    "cited by": f"select cited_key from citations where status = 'resolved' and citing_key in {IN_KEYS}",
    # A page lists the questions grouped with it (both ways: each lists the other).
    "grouped": f"""select q.key from questions q, json_each(q.grouped_keys) g
                   where q.grouped_keys is not null and g.value in {IN_KEYS}""",
    # A page lists the earlier questions on the same subject ("Asked before"), by title and asker.
    "asked before": f"select key from related where related_key in {IN_KEYS}",
    # The questions before and after it in its body link to it ("Next", "Previous"). Its
    # neighbours before the change are the site stage's to add: only its manifest knows them.
    "the question before": NEIGHBOUR.format(op="<", order="desc"),
    "the question after": NEIGHBOUR.format(op=">", order="asc"),
}

# Facts of other tables that a page shows: table digests by row, and the questions naming a row.
NAMING = {
    "members": f"""select key from questions where asking_member_id in {IN_KEYS}
                   union select key from questions where answering_member_id in {IN_KEYS}
                   union select key from questions where correcting_member_id in {IN_KEYS}""",
    "bodies": f"select key from questions where answering_body in {IN_KEYS}",
    "sources": "select key from questions where source_id in (select cast(value as integer) from json_each(:keys))",
}


@dataclass
class ChangeSet:
    """`keys`: the questions whose pages a stage must make again (None: all of them; deleted
    questions included, so that their pages go). `state`: what the stage records once done.
    `rows`: those of `keys` whose own rows changed (None: not known), the others being there
    for what their pages show of them."""

    keys: set[str] | None
    state: dict | None
    rows: set[str] | None = None

    @property
    def everything(self) -> bool:
        return self.keys is None


def position(db: sqlite_utils.Database) -> dict:
    "The database's lineage and generation (None and 0 for a database without them)."
    rows = dict(db.execute(
        "select name, value from meta where name in ('lineage', 'generation')").fetchall())
    return {"lineage": rows.get(LINEAGE), "generation": int(rows.get("generation") or 0)}


def table_digests(db: sqlite_utils.Database) -> dict[str, dict[str, str]]:
    """For each table a page shows facts of: row id -> a short digest of the row as pages
    show it (short: only told apart from the same row's digest at another time)."""
    tables = {"members": queries.load_members(db), "bodies": queries.load_bodies(db),
              "sources": queries.load_sources(db)}
    return {table: {str(name): inputs_digest(row)[:16] for name, row in rows.items()}
            for table, rows in tables.items()}


def latest_date(db: sqlite_utils.Database) -> str | None:
    """`queries.timeliness_as_of`, worked out by the `as_of` step of the timeliness query alone: the
    same definition, without the figures that make the whole query take a second."""
    sql = timeliness.query_sql()
    start = sql.index("(", sql.index("as_of as")) + 1
    depth, end = 1, start
    while depth:
        depth += {"(": 1, ")": -1}.get(sql[end], 0)
        end += 1
    row = db.execute(f"with as_of as ({sql[start:end - 1]}) select day from as_of").fetchone()
    return row[0] if row else None


def current_state(db: sqlite_utils.Database) -> dict:
    "The state a stage records when it has made every page from this database."
    return {**position(db), "as_of": latest_date(db), "tables": table_digests(db)}


def is_state(state) -> bool:
    return (isinstance(state, dict) and isinstance(state.get("lineage"), str)
            and isinstance(state.get("generation"), int) and isinstance(state.get("tables"), dict))


def since(db: sqlite_utils.Database, recorded: dict | None) -> ChangeSet:
    """The pages to make again since a stage recorded `recorded` (None: it never completed)."""
    now = position(db)
    if not (is_state(recorded) and now["lineage"] == recorded["lineage"]
            and now["generation"] >= recorded["generation"]):
        return ChangeSet(None, current_state(db))
    if now["generation"] == recorded["generation"]:
        return ChangeSet(set(), recorded)  # the database has not been written since
    state = current_state(db)
    try:
        rows = changed_keys(db, recorded["generation"])
        keys = rows | naming_changed_rows(db, recorded["tables"], state["tables"])
        keys |= status_moved(db, recorded.get("as_of"), state["as_of"])
        keys |= showing(db, keys)
    except sqlite3.OperationalError:  # a table or column this code expects is not there
        return ChangeSet(None, state)
    return ChangeSet(keys, state, rows)


def changed_keys(db: sqlite_utils.Database, generation: int) -> set[str]:
    return {key for (key,) in db.execute("select key from changes where generation > ?", [generation])}


def showing(db: sqlite_utils.Database, keys: set[str]) -> set[str]:
    "The questions whose pages show a fact of one of `keys` (by every relation in RELATIONS)."
    if not keys:
        return set()
    parameters = {"keys": json.dumps(sorted(keys))}
    found = set()
    for sql in RELATIONS.values():
        found.update(key for (key,) in db.execute(sql, parameters) if key is not None)
    return found


def naming_changed_rows(db: sqlite_utils.Database, before: dict, after: dict) -> set[str]:
    "The questions naming a member, body or source whose row (as pages show it) changed."
    keys = set()
    for table, sql in NAMING.items():
        old, new = before.get(table) or {}, after[table]
        differ = sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))
        if differ:
            keys.update(key for (key,) in db.execute(sql, {"keys": json.dumps(differ)}))
    return keys


def status_moved(db: sqlite_utils.Database, before: str | None, after: str | None) -> set[str]:
    """The questions whose timeliness status may differ when the archive's latest date moves:
    those due between the two dates (a status compares the date for answer with it)."""
    if before == after:
        return set()
    low, high = sorted((before or "", after or ""))
    if not before or not after:
        low, high = "", "\uffff"  # no date before or after: every status may differ
    return {key for (key,) in db.execute(
        "select key from questions where date_for_answer >= ? and date_for_answer <= ?",
        [low, high])}


# -- the db stage's side ------------------------------------------------------------------------


def resolved_citations(db: sqlite_utils.Database) -> set[tuple[str, str]]:
    "(citing key, cited key) of every resolved citation (none before the table exists)."
    if "citations" not in db.table_names():
        return set()
    return set(db.execute(
        "select distinct citing_key, cited_key from citations where status = 'resolved'").fetchall())


def note_citation_changes(db: sqlite_utils.Database, before: set[tuple[str, str]]) -> None:
    """Log as changed, in this generation, both questions of every citation that came or went
    since `before`: each one's page shows the other."""
    keys = {key for pair in before ^ resolved_citations(db) for key in pair}
    db.conn.executemany(
        """insert into changes (key, generation)
           values (?, (select cast(value as integer) from meta where name = 'generation'))
           on conflict (key) do update set generation = excluded.generation""",
        [(key,) for key in sorted(keys)])
