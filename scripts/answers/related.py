"""Asked before: for each question, up to five earlier questions on the same subject.

Reads the `questions` table, its full-text index (`questions_fts`, FTS5 with the porter
stemmer) and the members' constituencies; writes the `related` table: (key, related_key,
rank, score), rank 1 the closest.

What counts as "asked before":
- earlier: tabled on an earlier day than the question;
- by someone else, or in another session: a different asking member, or (the same member
  asking again) tabled before the question's session began. Sessions are the ones the data
  shows (`citations.Sessions`: a session starts where the UINs restart);
- never the question itself, nor a question answered with it (its `grouped_keys`, either way).

How "the same subject" is found: the question's heading and the distinctive words of its
text become one FTS5 query, ranked by bm25 over the heading and question columns (a heading
word counts several times a question word; the answer is not searched). Distinctive words
are what is left after dropping the addressee ("To ask the Secretary of State for Defence,"),
stop words, the parliamentary formulas ("what steps his Department is taking", "potential
merits", "(a)", "(ii)"), numbers, constituency names, and any word found in more than one
question in COMMON_SHARE; of those, the MAX_TERMS rarest are kept. Every word goes into the
query quoted, as a string: text from a source never becomes FTS5 syntax (NEAR, AND, `*`,
`^`, a column filter), so it can neither break nor steer the query.

How it is searched: one query a question keeps every match scoring at least LEAST_SHARE of
the question's own score (bm25 computed once a match, no sort); among equal scores the key
decides. A full pass (FULL_PASS_FROM questions or more: a rebuild) searches a copy of the
index whose rowids follow the day tabled (`write_day_ordered_index`: same rows, columns and
tokenizer, so the same scores), bounding the rowid so that no later question is scored, and
shares the questions among worker processes. That copy is read into memory once, before the
workers are forked, which share it (`Scorer`); they score the queries there, by bm25's own
formula and order of operations: the same scores to the last bit, without FTS5 working out
every word's weight again at each search.

Since only earlier questions are listed, a question's list depends on questions tabled
before it: the db stage computes the lists of the questions it changed, and all of them on a
full rebuild. Two things an incremental build leaves as they were, until the next full
rebuild: a question arriving late (tabled before questions already listed) joins no later
question's list, and the bm25 weights of the lists already made are those of the archive
they were made in.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import sqlite3
from array import array
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from . import queries, schema
from .citations import Sessions
from .workers import follow_the_build

LIMIT = 5  # earlier questions listed per question
MAX_TERMS = 12  # distinctive words of a question's text put into its query (and of its heading)
# Words of a text counted to find its rarest: no real question has more than 55 distinct ones,
# and a text of a million words must not cost a million counts.
WORDS_COUNTED = 100
COMMON_SHARE = 0.02  # a word in more questions than this share says little about a subject
NEVER_COMMON = 50  # ... but in a small archive, no word in fewer questions than this is
# A question listed must match at least this share of how well the question matches its own
# query: one shared word of a dozen is not the same subject.
LEAST_SHARE = 0.3
# bm25 weights of questions_fts's columns: heading, question_text, answer_text.
WEIGHTS = (4.0, 1.0, 0.0)
BM25 = f"bm25({{table}}, {', '.join(map(str, WEIGHTS))})"  # of the index searched
BY_DAY = "by_day"  # the schema the day-ordered copy of the index is attached as
SEARCHED_COLUMNS = "{heading question_text}"
HEADING_COLUMN = "{heading}"

# "To ask the Secretary of State for Foreign, Commonwealth and Development Affairs, what ..."
# -> "what ...": up to the comma after which the question itself starts.
ADDRESSEE = re.compile(
    r"^\W*t?to\s+ask\b.*?,\s*(?=(?:what|how|whether|if|when|which|why|who|where|pursuant|with|"
    r"for|further|following|in|on|to|by|as|given|has|have|is|are|does|do|will)\b)",
    re.IGNORECASE | re.DOTALL)
WORD = re.compile(r"[^\W_]+")
ROMAN = re.compile(r"^[ivxlc]+$")

STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each either few for
from further had has have having he her here hers herself him himself his how i if in into is
it its itself just me more most my myself no nor not now of off on once only or other our ours
out over own same she should so some such than that the their theirs them themselves then
there these they this those through to too under until up upon very was we were what when
where whether which while who whom why will with would you your yours within without via per
including include includes regarding among amongst since across whose
ask asked asking secretary state minister ministers department departments departmental
government governments hon right member members steps step taking take taken takes make made
making assessment assessments potential merits merit impact impacts implications estimate
estimates estimated plans plan planned planning intends intend intention proposals proposed
policy policies statement answer answers question questions pursuant reference referring
refer response respond responded provide provided providing information data number numbers
many much proportion total level levels recent recently current currently ensure ensuring
help support supporting discussions discussion held hold holds counterparts colleagues
progress report reports reported publish published publication place placed introduce
introducing consider considered considering review reviewed reviewing timetable available
whereby therefore however following further given give gave last next year years month months
week weeks day days period date dates time times since each financial calendar ago
has have what made his her their its department's uk's s t
constituency constituencies area areas local nationally national england wales scotland
northern ireland united kingdom uk country
guidance issued issue issuing effectiveness effective adequacy adequate encourage encouraging
prioritise tackle tackling improve improving improvement reduce reducing increase increasing
use used using ways way role potentially affected affect affecting
january february march april may june july august september october november december
one two three four five six seven eight nine ten first second third annual annually
""".split())


@dataclass
class RelatedReport:
    questions: int = 0  # questions whose lists were computed
    listed: int = 0  # rows written to `related`
    queries: int = 0  # full-text searches run (term counts included)


# -- a question's query -----------------------------------------------------------------


def quoted(word: str) -> str:
    "One word as an FTS5 string: always a term to match, never an operator or a filter."
    return '"' + word.replace('"', '""') + '"'


def words(text: str | None) -> list[str]:
    "The words of a text as the full-text index's tokenizer sees them, lower-cased, in order."
    return WORD.findall((text or "").lower())


def is_distinctive(word: str) -> bool:
    "Whether a word can say what a question is about: no stop word, number or list marker."
    return (word not in STOP_WORDS and len(word) > 1 and not word.isdigit()
            and not ROMAN.match(word))


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def fts_query(chosen_words: list[str]) -> str:
    "Words -> the FTS5 query matching any of them in headings and questions."
    return f"{SEARCHED_COLUMNS} : ({' OR '.join(quoted(word) for word in chosen_words)})"


# What `Finder.learn` notes of a question, after its rowid.
NOTED_COLUMNS = "key, date_tabled, asking_member_id, grouped_keys"


class Finder:
    "Earlier questions on the same subject, one question at a time, from one database."

    def __init__(self, db: sqlite_utils.Database, by_day: bool = False, scorer: Scorer | None = None,
                 sessions: Sessions | None = None):
        """`by_day`: search the copy of the index that `_start_worker` attached to `db`, whose
        rowids follow the day tabled, so that a search skips every later question unscored.
        `scorer`: that copy read into memory (`Scorer`), which then scores the queries.
        `sessions`: those of `db`, if already read."""
        self.scorer = scorer
        self.db = db
        self.table = "questions_by_day" if by_day else "questions_fts"
        self.index = f"{BY_DAY}.{self.table}" if by_day else self.table
        self.bm25 = BM25.format(table=self.table)
        self.sessions = sessions or Sessions.from_database(db)
        self.constituencies = Constituencies.from_database(db)
        self.total = db.execute("select count(*) from questions").fetchone()[0]
        self.document_counts: dict[tuple[str, str], int] = {}
        self.queries = 0
        # rowid -> key, and key -> (day tabled, asker, the keys its group names): what the rules
        # of the list look at. A full pass reads every question's at the start; the lists of a
        # few questions read those of the questions their searches find, as they find them.
        self.key_of: dict[int, str] = {}
        self.rowid_of: dict[str, int] = {}
        self.by_key: dict[str, tuple[str, str | None, frozenset[str]]] = {}
        # day -> the first rowid of a question tabled that day or later: the search's bound.
        self.first_of_day: dict[str, int] = {}
        if by_day:
            self.learn(db.execute(f"""select k.rowid, k.key, q.date_tabled, q.asking_member_id, q.grouped_keys
                                      from {BY_DAY}.keys_by_day k join questions q on q.key = k.key"""))
            for rowid, key in self.key_of.items():
                tabled = self.by_key[key][0]
                if tabled:
                    self.first_of_day[tabled] = min(rowid, self.first_of_day.get(tabled, rowid))
            self.unbounded = max(self.key_of, default=0) + 1
        else:
            self.unbounded = (db.execute("select max(rowid) from questions").fetchone()[0] or 0) + 1

    def learn(self, rows: Iterable[tuple]) -> None:
        "Note (rowid, key, date tabled, asker, grouped keys) of each of these questions."
        for rowid, key, tabled, asker, grouped in rows:
            self.key_of[rowid] = key
            self.rowid_of[key] = rowid
            self.by_key[key] = ((tabled or "")[:10], asker, frozenset(json.loads(grouped) if grouped else ()))

    def learn_rowids(self, rowids: Iterable[int]) -> None:
        "Note the questions of these rowids that are not noted yet (see `learn`)."
        unknown = [rowid for rowid in rowids if rowid not in self.key_of]
        if unknown:
            self.learn(self.db.execute(
                f"select rowid, {NOTED_COLUMNS} from questions where rowid in (select value from json_each(?))",
                [json.dumps(unknown)]))

    def rowid(self, key: str) -> int:
        "The rowid of the question `key` in the index searched."
        if key not in self.rowid_of:
            self.learn(self.db.execute(f"select rowid, {NOTED_COLUMNS} from questions where key = ?", [key]))
        return self.rowid_of[key]

    def question_words(self, question_text: str | None, asker: str | None = None) -> list[str]:
        "The words of a question's text that can say what it is about, in order, once each."
        text = ADDRESSEE.sub("", question_text or "", count=1)
        return unique(word for word in self.constituencies.strip(words(text), asker) if is_distinctive(word))

    def document_count(self, word: str, columns: str) -> int:
        "In how many questions' `columns` a word occurs (as the index stems it)."
        if (word, columns) not in self.document_counts:
            self.queries += 1
            self.document_counts[word, columns] = self.db.execute(
                f"select count(*) from {self.index} where {self.table} match :query",
                {"query": f"{columns} : {quoted(word)}"}).fetchone()[0]
        return self.document_counts[word, columns]

    def query(self, row: dict) -> str | None:
        "A question's FTS5 query (see `query_words`); None when no word is left."
        chosen = self.query_words(row)
        return fts_query(chosen) if chosen else None

    def query_words(self, row: dict) -> list[str]:
        """The words of a question's query: its heading's words and its text's rarest words, to
        be matched in headings and questions. A heading word is left out when too many headings
        have it (the headings are the official record's subject index: "housing" names a
        subject there, but is too common in question texts); a text word, when too many
        questions have it, or no other question does."""
        common = max(NEVER_COMMON, int(self.total * COMMON_SHARE))
        heading_words = [word for word in unique(words(row["heading"])) if is_distinctive(word)][:MAX_TERMS]
        heading = [word for word in heading_words if 1 < self.document_count(word, HEADING_COLUMN) <= common]
        text_words = self.question_words(row["question_text"], row["asking_member_id"])[:WORDS_COUNTED]
        counted = [(self.document_count(word, SEARCHED_COLUMNS), word) for word in text_words
                   if word not in heading]
        rarest = [word for count, word in sorted(counted) if 1 < count <= common][:MAX_TERMS]
        return heading + rarest

    def related_to(self, row: dict) -> list[dict]:
        "The `related` rows of one question (a row of `questions`), closest first."
        chosen_words = self.query_words(row) if row["date_tabled"] else []
        if not chosen_words:
            return []
        wanted = self.wanted(row)
        chosen = [(score, key) for score, key in self.matches(chosen_words, row) if wanted(key)]
        chosen = sorted(chosen, key=lambda pair: (-pair[0], pair[1]))[:LIMIT]
        return [{"key": row["key"], "related_key": key, "rank": rank, "score": round(score, 4)}
                for rank, (score, key) in enumerate(chosen, start=1)]

    def matches(self, chosen_words: list[str], row: dict) -> list[tuple[float, str]]:
        """Every question matching a question's query words and scoring at least LEAST_SHARE of
        the question's own score, as (score, key): from the scorer in memory when it can read
        every word of the query, else from the full-text index."""
        day = row["date_tabled"][:10]
        terms = self.scorer.terms(chosen_words) if self.scorer is not None else None
        if terms is not None:
            return self.scorer.matches(terms, self.rowid(row["key"]), self.bound(day), self.key_of)
        query = fts_query(chosen_words)
        least = self.own_score(query, row["key"]) * LEAST_SHARE
        return self.search(query, least, day)

    def bound(self, day: str) -> int:
        "The first rowid a search for a question tabled on `day` leaves out."
        return self.first_of_day.get(day, self.unbounded)

    def own_score(self, query: str, key: str) -> float:
        "How well a question matches its own query: the most another question can be expected to."
        self.queries += 1
        found = self.db.execute(
            f"""select {self.bm25} from {self.index} where {self.table} match :query and rowid = :rowid""",
            {"query": query, "rowid": self.rowid(key)}).fetchone()
        return -found[0] if found else 0.0

    def search(self, query: str, least: float, day: str) -> list[tuple[float, str]]:
        """Every match of a query scoring at least `least`, as (score, key). The full-text
        index scores each match once and keeps only those (bm25 is negative: lower is better);
        no sort and no second search. In the day-ordered index, questions tabled on `day` or
        later are skipped before they are scored. The other rules of what may be listed are
        applied to its answer (joining `questions` inside the search costs four times as much)."""
        self.queries += 1
        found = self.db.execute(
            f"""select rowid, {self.bm25} as score from {self.index}
                where {self.table} match :query and rowid < :before and {self.bm25} <= :most""",
            {"query": query, "most": -least, "before": self.bound(day)}).fetchall()
        self.learn_rowids(rowid for rowid, _ in found)
        return [(-score, self.key_of[rowid]) for rowid, score in found]

    def wanted(self, row: dict):
        "Whether a question (by key) may be listed as asked before this one."
        tabled = row["date_tabled"][:10]
        session = self.sessions.of(row["house"], row["date_tabled"])
        session_start = session[0] if session else ""
        asker = row["asking_member_id"]
        # The question and those answered with it, whichever of them names the other.
        own_group = {row["key"], *json.loads(row["grouped_keys"] or "[]")}

        def wanted(key: str) -> bool:
            other_tabled, other_asker, other_group = self.by_key[key]
            return ("" < other_tabled < tabled and key not in own_group and row["key"] not in other_group
                    and (other_asker != asker or other_tabled < session_start))
        return wanted


class Scorer:
    """The day-ordered index read into memory once, to score a query as FTS5's bm25 does, term
    by term, without searching: the same formula over the same counts, in the same order of
    operations, gives the same floating-point scores (`tests/test_related.py` checks them
    against the index's own). A search scores every question matching any of a query's two
    dozen words (about 1,500 of them), and FTS5 works out each word's weight again for every
    search; here a word's weight and each question's term frequencies are worked out once.

    It reads the words of the heading and question columns (`fts5vocab`), each question's
    length in tokens over all three columns (bm25's document length) and the number of rows.
    A word the tokenizer does not make into exactly one term is left to the index."""

    K1, B = 1.2, 0.75  # FTS5's bm25 constants

    def __init__(self, db: sqlite_utils.Database, table: str):
        "`table`: the day-ordered index, as `schema.table`."
        schema_name, name = table.split(".")
        lengths = {rowid: sum(varints(sizes)) for rowid, sizes in db.execute(
            f"select id, sz from {schema_name}.{name}_docsize")}
        self.rows = len(lengths)
        average = sum(lengths.values()) / self.rows if self.rows else 1.0
        # bm25's length normalisation of each question, as FTS5 computes it
        norm = {rowid: self.K1 * (1 - self.B + self.B * length / average) for rowid, length in lengths.items()}
        self.postings = self.read_postings(db, schema_name, name, norm)
        for rowids, parts in self.postings.values():  # each part times its term's weight
            weight = self.weight(len(rowids))
            for at, part in enumerate(parts):
                parts[at] = weight * part
        # Opened on first use: a scorer read before the workers are forked carries no
        # connection into them (SQLite's may not cross a fork).
        self.tokenizer: sqlite3.Connection | None = None
        self.term_of: dict[str, str | None] = {}

    def read_postings(self, db, schema_name: str, name: str, norm: dict[int, float]) -> dict:
        """term -> (rowids ascending, the term's bm25 frequency part in each): from every
        instance of a term in a heading (weight WEIGHTS[0]) or a question (WEIGHTS[1]). The
        parts are multiplied by the term's weight afterwards: its share of each row's score."""
        db.execute(f"create virtual table if not exists temp.{name}_instances "
                   f"using fts5vocab({schema_name}, {name}, instance)")
        weight = {"heading": WEIGHTS[0], "question_text": WEIGHTS[1]}
        postings: dict[str, tuple[array, array]] = {}
        rowids, parts = array("q"), array("d")
        term = doc = None
        frequency = 0.0
        for this_term, this_doc, column in db.execute(
                f"select term, doc, col from temp.{name}_instances where col <> 'answer_text'"):
            if this_term != term or this_doc != doc:
                if doc is not None:
                    rowids.append(doc)
                    parts.append(frequency * (self.K1 + 1.0) / (frequency + norm[doc]))
                if this_term != term:
                    if term is not None and this_term < term:
                        raise ValueError("fts5vocab gave the index's terms out of order")
                    rowids, parts = postings.setdefault(this_term, (array("q"), array("d")))
                elif this_doc < doc:
                    raise ValueError("fts5vocab gave a term's rows out of order")
                term, doc, frequency = this_term, this_doc, 0.0
            frequency += weight[column]
        if doc is not None:
            rowids.append(doc)
            parts.append(frequency * (self.K1 + 1.0) / (frequency + norm[doc]))
        db.execute(f"drop table temp.{name}_instances")
        return postings

    def terms(self, chosen_words: list[str]) -> list[str] | None:
        "The index's term for each word, in order; None if some word is not exactly one term."
        unknown = [word for word in chosen_words if word not in self.term_of]
        if unknown:
            self.learn(unknown)
        terms = [self.term_of[word] for word in chosen_words]
        return None if None in terms else terms

    def weight(self, hits: int) -> float:
        "The inverse document frequency bm25 gives a term found in `hits` rows."
        weight = math.log((self.rows - hits + 0.5) / (hits + 0.5))
        return weight if weight > 0.0 else 1e-6

    def learn(self, new_words: list[str]) -> None:
        "Run words through the index's tokenizer, as a query's quoted strings are."
        if self.tokenizer is None:
            self.tokenizer = sqlite3.connect(":memory:")
            self.tokenizer.executescript(f"""
                create virtual table words using fts5(word, tokenize='{schema.FTS_TOKENIZER}');
                create virtual table word_terms using fts5vocab(words, instance);""")
        self.tokenizer.execute("delete from words")
        self.tokenizer.executemany("insert into words (rowid, word) values (?, ?)", enumerate(new_words))
        found: dict[int, list[str]] = {}
        for doc, term in self.tokenizer.execute("select doc, term from word_terms order by doc, offset"):
            found.setdefault(doc, []).append(term)
        for number, word in enumerate(new_words):
            made = found.get(number, [])
            self.term_of[word] = made[0] if len(made) == 1 else None

    def matches(self, terms: list[str], own: int, before: int, key_of: dict[int, str]) -> list[tuple[float, str]]:
        """Every question below rowid `before` matching any of `terms` and scoring at least
        LEAST_SHARE of what question `own` scores, as (score, key): the search of
        `Finder.search`, with the floor of `Finder.own_score`. Each score is summed term by
        term in the query's order, as bm25 sums it."""
        own_score, scores = 0.0, {}
        for term in terms:
            rowids, shares = self.postings.get(term, EMPTY_POSTINGS)
            at = bisect.bisect_left(rowids, own)
            if at < len(rowids) and rowids[at] == own:
                own_score += shares[at]
            end = bisect.bisect_left(rowids, before)
            add = scores.get
            for rowid, share in zip(rowids[:end], shares[:end], strict=True):
                scores[rowid] = add(rowid, 0.0) + share
        # The index keeps bm25 <= -least (bm25 is the score negated); negating a float is exact.
        least = own_score * LEAST_SHARE
        return [(score, key_of[rowid]) for rowid, score in scores.items() if score >= least]


EMPTY_POSTINGS = (array("q"), array("d"))


def varints(blob: bytes) -> list[int]:
    "The numbers of an FTS5 docsize record: SQLite varints, seven bits a byte, high bit first."
    numbers, value, at = [], 0, 0
    while at < len(blob):
        value, size = 0, 0
        while True:
            byte = blob[at]
            at += 1
            size += 1
            if size == 9:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        numbers.append(value)
    return numbers


class Constituencies:
    """Constituency names say where, not what about, and would otherwise be among the rarest
    words of many questions: a name followed by "constituency" ("in (a) Witham constituency")
    is left out of a question's words, and so is the asking member's own constituency
    wherever it is named."""

    def __init__(self, by_member: dict[str, str]):
        self.of_member = {member: tuple(words(name)) for member, name in by_member.items() if words(name)}
        self.names = set(self.of_member.values())
        self.longest = max(map(len, self.names), default=0)

    @classmethod
    def from_database(cls, db: sqlite_utils.Database) -> Constituencies:
        return cls(dict(db.execute("select id, constituency from members where constituency is not null")))

    def strip(self, tokens: list[str], asker: str | None) -> list[str]:
        "The words of a text without the constituencies it names as places."
        own = self.of_member.get(asker or "")
        kept: list[str] = []
        for token in tokens:
            if token in ("constituency", "constituencies"):
                for size in range(min(self.longest, len(kept)), 0, -1):
                    if tuple(kept[-size:]) in self.names:
                        del kept[-size:]
                        break
                continue
            kept.append(token)
            if own and tuple(kept[-len(own):]) == own:
                del kept[-len(own):]
        return kept


# -- the table --------------------------------------------------------------------------


def write_related(db: sqlite_utils.Database, keys: Iterable[str], workers: int = 1,
                  sessions: Sessions | None = None) -> RelatedReport:
    """Compute the lists of the questions `keys` and replace their rows of `related` (the table
    `schema.create_schema` makes); other questions' rows are left as they are. From
    FULL_PASS_FROM questions on, the lists are made from a day-ordered copy of the index, in
    `workers` processes each reading the database file on its own: what `db` holds must be
    committed by then. `sessions`: those of `db`, if already read."""
    chosen = sorted(set(keys))
    path = queries.database_file(db)
    if len(chosen) >= FULL_PASS_FROM and path and not db.conn.in_transaction:
        results = full_pass(path, chosen, workers)
    else:
        results = [lists_of(Finder(db, sessions=sessions), chosen)]
    report = RelatedReport(questions=len(chosen))
    batch = [row for rows, _ in results for row in rows]
    report.queries = sum(searches for _, searches in results)
    with db.atomic():
        db.execute("delete from related where key in (select value from json_each(?))", [json.dumps(chosen)])
        db.conn.executemany("insert into related (key, related_key, rank, score) "  # parameterised
                            "values (:key, :related_key, :rank, :score)", batch)
    report.listed = len(batch)
    return report


def lists_of(finder: Finder, keys: list[str]) -> tuple[list[dict], int]:
    "The `related` rows of these questions, and the full-text searches it took."
    rows = finder.db.query(
        """select key, house, date_tabled, heading, question_text, asking_member_id, grouped_keys
           from questions where key in (select value from json_each(:keys)) order by key""",
        {"keys": json.dumps(keys)})
    searches_before = finder.queries
    lists = [listed for row in list(rows) for listed in finder.related_to(row)]
    return lists, finder.queries - searches_before


# -- a full pass: every question's list, from a day-ordered index, in worker processes ------

# Fewer questions than this are quicker from the index as it is, in this process.
FULL_PASS_FROM = 2000
CHUNK = 500  # questions a task: small enough for the workers to finish together
# The day-ordered index's file: the database's name and this (build.py removes what a killed
# build left).
DAY_ORDERED_SUFFIX = "-by-day"
DAY_ORDERED_INDEX = f"{BY_DAY}.questions_by_day"  # as a worker's connection names it
_worker: dict = {}


def full_pass(db_path: str, keys: list[str], workers: int) -> list[tuple[list[dict], int]]:
    chunks = [keys[i:i + CHUNK] for i in range(0, len(keys), CHUNK)]
    index_path = Path(f"{db_path}{DAY_ORDERED_SUFFIX}")
    try:
        write_day_ordered_index(db_path, index_path)
        # Read here, once: the workers, forked from this process, share it (its pages are
        # copied only when written), instead of each reading the index for several seconds.
        _worker["scorer"] = read_scorer(db_path, str(index_path))
        if workers <= 1:
            _start_worker(db_path, str(index_path))
            return list(map(_lists_of_chunk, chunks))
        # Here: multiprocessing is slow to import.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # Forked, whatever the platform's default: that is how the workers get the scorer.
        # The with-block shuts the pool down even when a chunk fails.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_start_worker, initargs=(db_path, str(index_path))) as pool:
            return list(pool.map(_lists_of_chunk, chunks))
    finally:
        _worker.clear()  # closes this process's connection to the index, if it opened one
        for leftover in (index_path, Path(f"{index_path}-journal")):
            leftover.unlink(missing_ok=True)


def write_day_ordered_index(db_path: str, index_path: Path) -> None:
    """A copy of `questions_fts` whose rowids follow the day tabled (then the key), and the
    key of each rowid (`keys_by_day`), in a file of its own beside the database. The same
    rows, columns and tokenizer give every search the same scores as the archive's index;
    the order lets a search bound the rowid, so that no later question is scored. Built in
    well under a second a thousand questions (see README, "Asked before")."""
    index_path.unlink(missing_ok=True)
    with closing(sqlite3.connect(index_path)) as index:
        index.execute("attach database ? as archive", [f"{Path(db_path).resolve().as_uri()}?mode=ro"])
        index.executescript(f"""
            create virtual table questions_by_day using fts5(
              heading, question_text, answer_text, tokenize='{schema.FTS_TOKENIZER}');
            create table keys_by_day (rowid integer primary key, key text not null);
            insert into keys_by_day (key)
              select key from archive.questions order by substr(date_tabled, 1, 10), key;
            insert into questions_by_day (rowid, heading, question_text, answer_text)
              select k.rowid, q.heading, q.question_text, q.answer_text
              from keys_by_day k join archive.questions q on q.key = k.key order by k.rowid;
            """)
        index.commit()


def open_day_ordered(db_path: str, index_path: str) -> sqlite_utils.Database:
    "The database read-only, with the day-ordered copy of its index attached as BY_DAY."
    db = queries.read_only(db_path)
    db.execute(f"attach database ? as {BY_DAY}", [f"{Path(index_path).resolve().as_uri()}?mode=ro"])
    return db


def read_scorer(db_path: str, index_path: str) -> Scorer:
    "The day-ordered index read into memory (`Scorer`), through a connection closed after."
    with closing(open_day_ordered(db_path, index_path)) as db:
        return Scorer(db, DAY_ORDERED_INDEX)


def _start_worker(db_path: str, index_path: str) -> None:
    """A worker's own read-only connections, and its own Finder (a few tenths of a second),
    with the scorer the full pass read before starting the workers (else one read here)."""
    follow_the_build()
    db = open_day_ordered(db_path, index_path)
    scorer = _worker.get("scorer") or Scorer(db, DAY_ORDERED_INDEX)
    _worker["finder"] = Finder(db, by_day=True, scorer=scorer)


def _lists_of_chunk(keys: list[str]) -> tuple[list[dict], int]:
    return lists_of(_worker["finder"], keys)
