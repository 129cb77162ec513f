"""Asked before: for each question, up to five earlier questions on the same subject.

Reads the `questions` table, its full-text index (`questions_fts`, FTS5 with the porter
stemmer), the members' constituencies and the fixed statistics of reference/related/
(`Statistics`); writes the `related` table: (key, related_key, rank, score), rank 1 the
closest, and `related_queries`: what each question's list was made from and what a
question must score to enter it (see "Incremental" below).

What counts as "asked before":
- earlier: tabled on an earlier day than the question, and among the WINDOW questions tabled
  last before that day (whole days: `Window`), so that a list costs as much to make however
  large the archive grows;
- by someone else, or in another session: a different asking member, or (the same member
  asking again) tabled before the question's session began. Sessions are the ones the data
  shows (`citations.Sessions`: a session starts where the UINs restart);
- never the question itself, nor a question answered with it (its `grouped_keys`, either way).

How "the same subject" is found: the question's heading and the distinctive words of its
text are its query, scored by bm25 over the heading and question columns (a heading word
counts HEADING_WEIGHT times a question word; the answer is neither searched nor counted in a
question's length). Distinctive words are what is left after dropping the addressee ("To ask
the Secretary of State for Defence,"), stop words, the parliamentary formulas ("what steps his
Department is taking", "potential merits", "(a)", "(ii)"), numbers, constituency names, and
any word found in more than COMMON_SHARE of the questions or in no other; of those, the
MAX_TERMS rarest are kept. A question's words are only ever looked up as data (run through
the index's tokenizer, found in the statistics and the postings): text from a source never
becomes FTS5 syntax, so it can neither break nor steer the search.

Every weight comes from `Statistics`, made once from the whole corpus and committed, never
from the archive as it grows: the number of questions, their average length and how many
headings and questions hold each term. So a question's score for another depends on the two
questions' own text alone, and its list on its own text and that of the earlier questions.

How it is scored: `Scorer` sums, term by term in the query's order, each question's share of
each query term (`share`, bm25's formula) from postings read out of the index (`Index`).
A question keeps every match scoring at least LEAST_SHARE of its own score; among equal
scores the key decides. A full pass (FULL_PASS_FROM questions or more: a rebuild) reads the
postings of a copy of the index whose rowids follow the day tabled (`write_day_ordered_index`)
into memory once, before forking its workers, which share it and read each term's postings
from the first question of the window's first day to the first tabled on the question's own
day, and add up the shares with numpy rather than one at a time (the same sums, in the same
order). A few questions read the postings of their query's terms only, from the archive's
own index, as they need them: the same shares, to the last bit, either way; the rules of the
list leave out what is outside the window.

Incremental: the db stage recomputes exactly the lists that can differ from a clean build's
(`affected`). A question whose heading, text, day, house, asker or group changed (or that is
new) has its own list made again, and so does every later question that lists it now or that
it can enter: whose window holds its day, and whose query it scores at least the floor of,
and at least the fifth listed score of (`related_queries` keeps each question's query terms,
floor and fifth score). A change of answer alone changes no list. So do the questions whose
session began on another day than before (the data's sessions moved), those whose window
now starts on another day (questions arrived or moved on the days before them), and those
whose words a changed constituency strips differently.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import re
import sqlite3
from array import array
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import accumulate
from pathlib import Path

import sqlite_utils

from . import queries, schema
from .citations import Sessions
from .workers import ForkedCall, follow_the_build

LIMIT = 5  # earlier questions listed per question
# Earlier questions a question's list is chosen from, at most: the latest, by whole days (see
# `Window`). More than this archive holds, so that every list here is chosen from them all; in
# the whole record (about a million questions since 2014), about the last fifteen months.
WINDOW = 100_000
MAX_TERMS = 12  # distinctive words of a question's text put into its query (and of its heading)
# Words of a text counted to find its rarest: no real question has more than 55 distinct ones,
# and a text of a million words must not cost a million counts.
WORDS_COUNTED = 100
COMMON_SHARE = 0.02  # a word in more questions than this share says little about a subject
NEVER_COMMON = 50  # ... but in a small archive, no word in fewer questions than this is
# A question listed must match at least this share of how well the question matches its own
# query: one shared word of a dozen is not the same subject.
LEAST_SHARE = 0.3
ABOVE_ZERO = math.nextafter(0.0, 1.0)  # the least total a question any term found can have
# How much one occurrence of a query term counts, by the column it is in: the headings are the
# official record's subject index. The answer is not searched.
COLUMN_WEIGHTS = {"heading": 4.0, "question_text": 1.0}
K1, B = 1.2, 0.75  # bm25's constants, as FTS5 has them
BY_DAY = "by_day"  # the schema the day-ordered copy of the index is attached as
# The statistics every build scores with (`Statistics`), kept in the repository.
STATISTICS_FOLDER = Path(__file__).resolve().parents[2] / "reference" / "related"
TERMS_FILE = "terms.tsv"
TOTALS_FILE = "totals.tsv"
# The db's `meta` rows recording the sessions and constituencies the lists were made with.
SESSIONS_META = "related_sessions"
CONSTITUENCIES_META = "related_constituencies"
WINDOW_META = "related_window"  # ... and the first day searched for each day's questions (`Window`)

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
    queries: int = 0  # terms whose postings were read from the index


# -- a question's words -----------------------------------------------------------------


def quoted(word: str) -> str:
    "One word as an FTS5 string: always a term to match, never an operator or a filter."
    return '"' + word.replace('"', '""') + '"'


def words(text: str | None) -> list[str]:
    "The words of a text as the full-text index's tokenizer sees them, lower-cased, in order."
    return WORD.findall((text or "").lower())


@lru_cache(maxsize=1 << 16)  # asked of every word of every question: a full pass asks again and again
def is_distinctive(word: str) -> bool:
    "Whether a word can say what a question is about: no stop word, number or list marker."
    return (word not in STOP_WORDS and len(word) > 1 and not word.isdigit()
            and not ROMAN.match(word))


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# -- the fixed statistics ------------------------------------------------------------------


@dataclass(frozen=True)
class Statistics:
    """What the scores and the choice of a query's words take from the archive as a whole:
    the number of questions, their average length in tokens (heading and question), and for
    each index term in how many headings, and in how many headings or questions, it occurs.
    Made once from the whole corpus (`of_database`, `answers related-statistics`) and kept in
    reference/related/, so that they do not move as questions arrive. A term they do not hold
    counts as found in no question: never a query's word. Only the terms a query can choose
    are kept (in two questions or more, and not common in both columns)."""

    questions: int
    average_length: float
    counts: dict[str, tuple[int, int]]  # term -> (in headings, in headings or questions)

    @property
    def common(self) -> int:
        "The most questions a word may be found in and still be a query's word."
        return max(NEVER_COMMON, int(self.questions * COMMON_SHARE))

    def in_headings(self, term: str | None) -> int:
        return self.counts.get(term, (0, 0))[0] if term else 0

    def in_questions(self, term: str | None) -> int:
        return self.counts.get(term, (0, 0))[1] if term else 0

    @classmethod
    def read(cls, folder: Path = STATISTICS_FOLDER) -> Statistics:
        totals = dict(line.split("\t") for line in (folder / TOTALS_FILE).read_text(encoding="utf-8").splitlines()[1:])
        counts = {}
        for line in (folder / TERMS_FILE).read_text(encoding="utf-8").splitlines()[1:]:
            term, headings, questions = line.split("\t")
            counts[term] = (int(headings), int(questions))
        return cls(int(totals["questions"]), float(totals["average_length"]), counts)

    def files(self) -> dict[str, str]:
        "The files that hold these statistics, by name, as `read` reads them."
        terms = "".join(f"{term}\t{headings}\t{in_questions}\n"
                        for term, (headings, in_questions) in sorted(self.counts.items()))
        return {TOTALS_FILE: f"name\tvalue\nquestions\t{self.questions}\naverage_length\t{self.average_length!r}\n",
                TERMS_FILE: "term\tin_headings\tin_questions\n" + terms}

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in self.files().items():
            (folder / name).write_text(text, encoding="utf-8")

    @classmethod
    def of_database(cls, db: sqlite_utils.Database) -> Statistics:
        "The statistics of a built database's questions (its `questions_fts` index)."
        lengths = [searched_length(sizes) for (sizes,) in db.execute("select sz from questions_fts_docsize")]
        db.execute("create virtual table if not exists temp.statistics_instances "
                   "using fts5vocab(main, questions_fts, instance)")
        found = db.execute("""select term, count(distinct case when col = 'heading' then doc end),
                                     count(distinct doc)
                              from temp.statistics_instances where col <> 'answer_text' group by term""").fetchall()
        db.execute("drop table temp.statistics_instances")
        made = cls(len(lengths), sum(lengths) / len(lengths) if lengths else 1.0, {})
        common = made.common
        made.counts.update((term, (headings, in_questions)) for term, headings, in_questions in found
                           if 1 < in_questions <= common or 1 < headings <= common)
        return made


def searched_length(sizes: bytes) -> int:
    "A question's length in tokens, heading and question, from its FTS5 docsize record."
    if sizes[0] < 0x80 and sizes[1] < 0x80:  # each under 128 tokens: one byte each, most often
        return sizes[0] + sizes[1]
    heading, question_text, *_ = varints(sizes)
    return heading + question_text


def share(weight: float, frequency: float, norm: float) -> float:
    """A question's share of its score for one query term (bm25's formula): `weight` the term's
    (`Scorer.weight`), `frequency` its weighted count in the question, `norm` the question's
    length normalisation (`Scorer.norm`). One function for every score, so that a score is the
    same to the last bit whoever computes it."""
    return weight * (frequency * (K1 + 1.0) / (frequency + norm))


# -- scoring ---------------------------------------------------------------------------------


class Scorer:
    """The weights of the fixed statistics, and the index's tokenizer: a word's term, a text's
    terms. Holds no connection across a fork (the tokenizer's is opened on first use)."""

    def __init__(self, statistics: Statistics):
        self.statistics = statistics
        self.weights: dict[str, float] = {}
        self.tokenizer: sqlite3.Connection | None = None
        self.term_of: dict[str, str | None] = {}

    def weight(self, term: str) -> float:
        "The inverse document frequency bm25 gives a term, from the statistics."
        if term not in self.weights:
            rows, hits = self.statistics.questions, self.statistics.in_questions(term)
            weight = math.log((rows - hits + 0.5) / (hits + 0.5))
            self.weights[term] = weight if weight > 0.0 else 1e-6
        return self.weights[term]

    def norm(self, length: int) -> float:
        "bm25's normalisation of a question `length` tokens long."
        return K1 * (1 - B + B * length / self.statistics.average_length)

    def term(self, word: str) -> str | None:
        "The index's term for a word; None if the tokenizer does not make it exactly one term."
        if word not in self.term_of:
            counts, length = self.document(word, None)
            self.term_of[word] = next(iter(counts)) if length == 1 else None
        return self.term_of[word]

    def document(self, heading: str | None, question_text: str | None) -> tuple[dict[str, float], int]:
        "A question's terms with their weighted counts, and its length, as the index has them."
        connection = self.tokenizing()
        connection.execute("delete from texts")
        connection.execute("insert into texts (rowid, heading, question_text) values (1, ?, ?)",
                           [heading, question_text])
        counts: dict[str, float] = {}
        for term, column in connection.execute("select term, col from text_terms"):
            counts[term] = counts.get(term, 0.0) + COLUMN_WEIGHTS[column]
        (sizes,) = connection.execute("select sz from texts_docsize").fetchone()
        return counts, searched_length(sizes)

    def learn_terms(self, words: Iterable[str]) -> None:
        """The index's term of each of these words (as `term` finds it), found in one pass of
        the tokenizer: a word at a time, a full pass spent most of its time in SQLite's calls.
        Each word is a row of its own, so each is tokenized as if alone."""
        unknown = sorted(set(words) - self.term_of.keys())
        if not unknown:
            return
        connection = self.tokenizing()
        connection.executescript(f"""
            drop table if exists temp.word_terms;
            drop table if exists temp.words;
            create virtual table temp.words using fts5(word, tokenize='{schema.FTS_TOKENIZER}');
            create virtual table temp.word_terms using fts5vocab(temp, words, instance);""")
        connection.executemany("insert into temp.words (rowid, word) values (?, ?)", enumerate(unknown))
        terms_of: dict[int, list[str]] = {}
        for rowid, term in connection.execute("select doc, term from temp.word_terms"):
            terms_of.setdefault(rowid, []).append(term)
        for rowid, word in enumerate(unknown):
            terms = terms_of.get(rowid, [])
            self.term_of[word] = terms[0] if len(terms) == 1 else None

    def tokenizing(self) -> sqlite3.Connection:
        if self.tokenizer is None:
            self.tokenizer = sqlite3.connect(":memory:")
            self.tokenizer.executescript(f"""
                create virtual table texts using fts5(heading, question_text, tokenize='{schema.FTS_TOKENIZER}');
                create virtual table text_terms using fts5vocab(texts, instance);""")
        return self.tokenizer

    def score(self, terms: list[str], document: tuple[dict[str, float], int]) -> float:
        "A question's score for a query's terms, from its `document`: as `matches` sums it."
        counts, length = document
        norm, score = self.norm(length), 0.0
        for term in terms:
            if term in counts:
                score = score + share(self.weight(term), counts[term], norm)
        return score

    def matches(self, terms: list[str], own: int, after: int, before: int,
                index: Index) -> tuple[float, list[tuple[float, int]]]:
        """The floor of question `own` (LEAST_SHARE of its own score), and every question from
        rowid `after` to below rowid `before` matching any of `terms` and scoring at least the
        floor, as (score, rowid). Each score is summed term by term in the query's order."""
        own_score, ends = self.own_score_and_ends(terms, own, after, before, index)
        scores: dict[int, float] = {}
        add = scores.get
        for term, start, end in ends:
            rowids, shares = index.postings(term)
            for rowid, part in zip(rowids[start:end], shares[start:end], strict=True):
                scores[rowid] = add(rowid, 0.0) + part
        least = own_score * LEAST_SHARE
        return least, [(score, rowid) for rowid, score in scores.items() if score >= least]

    def matches_in_bulk(self, terms: list[str], own: int, after: int, before: int,
                        index: Index) -> tuple[float, object, object]:
        """`matches`, the same to the last bit, for the thousands of questions of a full pass:
        numpy's bincount adds up each question's shares in the order they are given, term by
        term in the query's order, as `matches` does one share at a time in Python (most of a
        full pass's time, before). The matches as two numpy arrays: scores, and rowids
        (ascending)."""
        import numpy  # here: only a full pass needs it, and it is slow to import

        own_score, ends = self.own_score_and_ends(terms, own, after, before, index)
        least = own_score * LEAST_SHARE
        found = [(index.as_numpy(term), start, end) for term, start, end in ends if end > start]
        if not found:
            return least, numpy.zeros(0), numpy.zeros(0, dtype=numpy.int64)
        posted = numpy.concatenate([rowids[start:end] for (rowids, _), start, end in found])
        # Counted from `after`: as many totals as the window holds questions, whatever the
        # archive's size (from 0, not moved, in an archive smaller than a window).
        totals = numpy.bincount(posted - after if after else posted,
                                weights=numpy.concatenate([shares[start:end] for (_, shares), start, end in found]))
        # Every share is above zero: a question no term found totals zero, and is no match. One
        # comparison over every rowid, not two and their `and`: a sixth of this search's time
        # with 224,000 questions searched.
        matched = numpy.flatnonzero(totals >= max(least, ABOVE_ZERO))
        return least, totals[matched], matched + after if after else matched

    @staticmethod
    def own_score_and_ends(terms: list[str], own: int, after: int, before: int, index: Index) -> tuple[float, list]:
        """Question `own`'s score for its query's `terms` (summed in the query's order), and
        each term with the slice of its postings from rowid `after` to below rowid `before`
        (term, start, end)."""
        own_score, ends = 0.0, []
        for term in terms:
            rowids, shares = index.postings(term)
            at = bisect.bisect_left(rowids, own)
            if at < len(rowids) and rowids[at] == own:
                own_score = own_score + shares[at]
            # No window's first rowid (most questions, in an archive smaller than a window): no search for it.
            ends.append((term, bisect.bisect_left(rowids, after) if after else 0, bisect.bisect_left(rowids, before)))
        return own_score, ends


EMPTY_POSTINGS = (array("q"), array("d"))


class Index:
    """Postings of a full-text index of the questions: term -> (rowids ascending, each
    question's share of its score for the term). Every term a query can choose at once (a
    full pass: then no connection is kept, and the workers forked after share it), or each
    term when first asked for (a few questions)."""

    def __init__(self, db: sqlite_utils.Database, table: str, scorer: Scorer, every_term: bool = False):
        "`table`: the index, as `schema.name`."
        self.schema_name, self.name = table.split(".")
        self.scorer = scorer
        self.norms: dict[int, float] = {}
        self.read: dict[str, tuple[array, array]] = {}
        # The postings as numpy arrays (sharing their memory), made when first needed.
        self.numpy_arrays: dict[str, tuple] = {}
        self.reads = 0  # terms read from the index
        self.db: sqlite_utils.Database | None = db
        db.execute(f"create virtual table if not exists temp.{self.name}_instances "
                   f"using fts5vocab({self.schema_name}, {self.name}, instance)")
        if every_term:
            self.note_norms(db.execute(f"select id, sz from {table}_docsize"))
            # Only the terms a query can choose: a third of the index's words are others ("the",
            # "secretari"), and each word read costs far more in Python than in SQLite.
            db.execute(f"create temp table {self.name}_chosen (term text primary key) without rowid")
            db.conn.executemany(f"insert into temp.{self.name}_chosen (term) values (?)",
                                ((term,) for term in scorer.statistics.counts))
            self.add(db.execute(f"""select i.term, i.doc, i.col from temp.{self.name}_chosen c
                                    join temp.{self.name}_instances i on i.term = c.term
                                    where i.col <> 'answer_text'"""))
            db.execute(f"drop table temp.{self.name}_instances")
            db.execute(f"drop table temp.{self.name}_chosen")
            self.db = None

    @classmethod
    def of_postings(cls, scorer: Scorer, norms: dict[int, float], read: dict[str, tuple[array, array]]) -> Index:
        "An index of every term a query can choose, from the norms and postings another one read."
        index = cls.__new__(cls)
        index.scorer, index.norms, index.read = scorer, norms, read
        index.numpy_arrays, index.reads, index.db = {}, 0, None
        return index

    def postings(self, term: str) -> tuple[array, array]:
        if term not in self.read and self.db is not None:
            self.reads += 1
            found = self.db.execute(f"select term, doc, col from temp.{self.name}_instances "
                                    "where term = ? and col <> 'answer_text'", [term]).fetchall()
            unknown = sorted({doc for _, doc, _ in found} - self.norms.keys())
            self.note_norms(self.db.execute(
                f"select id, sz from {self.schema_name}.{self.name}_docsize "
                "where id in (select value from json_each(?))", [json.dumps(unknown)]))
            self.add(found)
            self.read.setdefault(term, EMPTY_POSTINGS)  # read: not to be read again
        return self.read.get(term, EMPTY_POSTINGS)

    def as_numpy(self, term: str) -> tuple:
        "A term's postings (see `postings`) as numpy arrays over the same memory."
        if term not in self.numpy_arrays:
            import numpy

            rowids, shares = self.postings(term)
            self.numpy_arrays[term] = (numpy.frombuffer(rowids, dtype=numpy.int64),
                                       numpy.frombuffer(shares, dtype=numpy.float64))
        return self.numpy_arrays[term]

    def note_norms(self, sizes: Iterable[tuple[int, bytes]]) -> None:
        norm = self.scorer.norm
        self.norms.update((rowid, norm(searched_length(blob))) for rowid, blob in sizes)

    def add(self, instances: Iterable[tuple[str, int, str]]) -> None:
        """The postings of these instances (term, rowid, column), in the index's order (term,
        then rowid): each question's weighted count of a term, turned into its share of the
        score. Terms no query can choose (not in the statistics) are left out."""
        statistics, weight_of = self.scorer.statistics, self.scorer.weight
        term = doc = None
        kept, weight, frequency = False, 0.0, 0.0
        rowids, shares = EMPTY_POSTINGS
        for this_term, this_doc, column in instances:
            if this_term != term or this_doc != doc:
                if kept and doc is not None:
                    rowids.append(doc)
                    shares.append(share(weight, frequency, self.norms[doc]))
                if this_term != term:
                    if term is not None and this_term < term:
                        raise ValueError("fts5vocab gave the index's terms out of order")
                    kept = statistics.in_questions(this_term) > 0
                    if kept:
                        weight = weight_of(this_term)
                        rowids, shares = self.read.setdefault(this_term, (array("q"), array("d")))
                elif this_doc < doc:
                    raise ValueError("fts5vocab gave a term's rows out of order")
                term, doc, frequency = this_term, this_doc, 0.0
            frequency += COLUMN_WEIGHTS[column]
        if kept and doc is not None:
            rowids.append(doc)
            shares.append(share(weight, frequency, self.norms[doc]))


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


# -- a question's list -------------------------------------------------------------------------

# What `Finder.learn` notes of a question, after its rowid.
NOTED_COLUMNS = "key, date_tabled, asking_member_id, grouped_keys"
# What a question's list is made from, and what decides whether it enters another's.
LISTED_COLUMNS = "key, house, date_tabled, heading, question_text, asking_member_id, grouped_keys"


def inputs_of(row: dict) -> str:
    """A digest of what a question's own list, and its place in other lists, is made from:
    not its answer, which is neither searched nor counted."""
    values = [row["house"], (row["date_tabled"] or "")[:10], row["asking_member_id"], row["grouped_keys"],
              row["heading"], row["question_text"]]
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


class Window:
    """Which earlier questions a question's list is chosen from: those tabled on the days before
    its own, back to the earliest day from which they number at most WINDOW. Whole days, so
    that whether a question is searched depends on its day alone, as the day-ordered index
    and the rules of the list see it. An archive of fewer questions searches them all."""

    def __init__(self, day_counts: list[tuple[str, int]]):
        "`day_counts`: (day, questions tabled that day), by day."
        self.size = WINDOW  # as it is now: a window made stays the same
        self.days = [day for day, _ in day_counts]
        # The questions tabled before each day, and before a day after the last.
        self.tabled_before = list(accumulate((count for _, count in day_counts), initial=0))
        self.start_of: dict[str, str] = {}  # day -> `start`: asked for each question, twice

    @classmethod
    def from_database(cls, db: sqlite_utils.Database) -> Window:
        # Counted as stored, in the order of the column's index, then by day here: a fifth of
        # the time of SQLite grouping by the day, which sorts every question again.
        by_day: dict[str, int] = {}
        for tabled, count in db.execute(
                "select date_tabled, count(*) from questions where date_tabled > '' group by date_tabled"):
            by_day[tabled[:10]] = by_day.get(tabled[:10], 0) + count
        return cls(sorted(by_day.items()))

    def start(self, day: str) -> str:
        "The first day searched for a question tabled on `day`: '' when it is every earlier day."
        if day not in self.start_of:
            self.start_of[day] = self.first_day(day)
        return self.start_of[day]

    def first_day(self, day: str) -> str:
        earlier = self.tabled_before[bisect.bisect_left(self.days, day)]
        first = bisect.bisect_left(self.tabled_before, earlier - self.size)
        if not first:
            return ""
        return self.days[first] if first < len(self.days) else day  # past the last: none searched

    def starts(self) -> dict[str, str]:
        "Day -> its first day searched, for the days whose search starts after the first day."
        return {day: start for day in self.days if (start := self.start(day))}


class Finder:
    "Earlier questions on the same subject, one question at a time, from one database."

    def __init__(self, db: sqlite_utils.Database, scorer: Scorer, index: Index | None = None,
                 by_day: bool = False, sessions: Sessions | None = None, window: Window | None = None):
        """`index`: the postings searched; by default the archive's own index, read a term at
        a time. `by_day`: `index` is the day-ordered copy that `_start_worker` attached to
        `db` (whose rowids follow the day tabled, so that a search stops at the question's
        day). `sessions`, `window`: those of `db`, if already read."""
        self.db = db
        self.scorer = scorer
        self.statistics = scorer.statistics
        self.index = index or Index(db, "main.questions_fts", scorer)
        self.sessions = sessions or Sessions.from_database(db)
        self.constituencies = Constituencies.from_database(db)
        self.window = window or Window.from_database(db)
        # rowid -> key, and key -> (day tabled, asker, the keys its group names): what the rules
        # of the list look at. A full pass reads every question's at the start; the lists of a
        # few questions read those of the questions their searches find, as they find them.
        self.key_of: dict[int, str] = {}
        self.rowid_of: dict[str, int] = {}
        self.by_key: dict[str, tuple[str, str | None, frozenset[str]]] = {}
        # day -> the first rowid of a question tabled that day or later: the search's bound.
        self.first_of_day: dict[str, int] = {}
        self.knows_all = by_day  # every question noted at the start: none to look up
        self.ranks_of_keys = None  # see `key_ranks`
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

    def query_words(self, row: dict) -> tuple[list[str], list[str]]:
        "The words a question's query is chosen from: its heading's, and its text's (see `query_terms`)."
        heading_words = [word for word in unique(words(row["heading"])) if is_distinctive(word)][:MAX_TERMS]
        return heading_words, self.question_words(row["question_text"], row["asking_member_id"])[:WORDS_COUNTED]

    def query_terms(self, row: dict, chosen_from: tuple[list[str], list[str]] | None = None) -> list[str]:
        """The index terms of a question's query: its heading's words and its text's rarest
        words, to be matched in headings and questions. A heading word is left out when too
        many headings have it (the headings are the official record's subject index: "housing"
        names a subject there, but is too common in question texts); a text word, when too
        many questions have it, or no other question does (by the fixed statistics).
        `chosen_from`: the question's `query_words`, if found already."""
        common, term, statistics = self.statistics.common, self.scorer.term, self.statistics
        heading_words, text_words = chosen_from or self.query_words(row)
        heading = [word for word in heading_words if 1 < statistics.in_headings(term(word)) <= common]
        counted = [(statistics.in_questions(term(word)), word) for word in text_words if word not in heading]
        rarest = [word for count, word in sorted(counted) if 1 < count <= common][:MAX_TERMS]
        return [term(word) for word in heading + rarest]

    def session_start(self, row: dict) -> str:
        "The first day of the question's session, as the data shows it ('' where it shows none)."
        session = self.sessions.of(row["house"], row["date_tabled"])
        return session[0] if session else ""

    def related_to(self, row: dict, chosen_from: tuple[list[str], list[str]] | None = None) -> tuple[list[dict], dict]:
        """The `related` rows of one question (a row of `questions`), closest first, and its
        `related_queries` row. `chosen_from`: its `query_words`, if found already."""
        terms = self.query_terms(row, chosen_from) if row["date_tabled"] else []
        least, chosen = 0.0, []
        if terms:
            least, ranked = self.ranked_matches(terms, row)
            chosen = closest(ranked, self.wanted(row))
        query = {"key": row["key"], "day": (row["date_tabled"] or "")[:10], "terms": json.dumps(terms),
                 "least": least, "fifth": chosen[-1][0] if len(chosen) == LIMIT else None,
                 "session_start": self.session_start(row), "inputs": inputs_of(row)}
        return [{"key": row["key"], "related_key": key, "rank": rank, "score": round(score, 4)}
                for rank, (score, key) in enumerate(chosen, start=1)], query

    def matches(self, terms: list[str], row: dict) -> tuple[float, list[tuple[float, str]]]:
        "The question's floor, and every match numbered within its `bounds` at or above it, as (score, key)."
        own, (after, before) = self.rowid(row["key"]), self.bounds(row["date_tabled"][:10])
        if self.knows_all:
            least, scores, rowids = self.scorer.matches_in_bulk(terms, own, after, before, self.index)
            found = list(zip(scores.tolist(), rowids.tolist(), strict=True))
        else:
            least, found = self.scorer.matches(terms, own, after, before, self.index)
            self.learn_rowids(rowid for _, rowid in found)
        return least, [(score, self.key_of[rowid]) for score, rowid in found]

    def ranked_matches(self, terms: list[str], row: dict) -> tuple[float, Iterator[tuple[float, str]]]:
        """The question's floor, and its matches (see `matches`) closest first: the highest
        score first, the key deciding among equal scores. A full pass ranks them with numpy,
        and names only those the list asks for: most lists are full long before the end."""
        if not self.knows_all:
            least, found = self.matches(terms, row)
            return least, iter(sorted(found, key=lambda pair: (-pair[0], pair[1])))
        import numpy

        least, scores, rowids = self.scorer.matches_in_bulk(
            terms, self.rowid(row["key"]), *self.bounds(row["date_tabled"][:10]), self.index)
        order = numpy.lexsort((self.key_ranks()[rowids], -scores))  # the last key sorts first
        return least, ((score, self.key_of[rowid])
                       for score, rowid in zip(scores[order].tolist(), rowids[order].tolist(), strict=True))

    def key_ranks(self):
        "A numpy array: each noted question's place among them all in the order of their keys, by rowid."
        if self.ranks_of_keys is None:
            import numpy

            by_key = sorted(self.key_of, key=self.key_of.__getitem__)
            self.ranks_of_keys = numpy.zeros(max(self.key_of, default=0) + 1, dtype=numpy.int64)
            self.ranks_of_keys[numpy.array(by_key, dtype=numpy.int64)] = numpy.arange(len(by_key))
        return self.ranks_of_keys

    def bounds(self, day: str) -> tuple[int, int]:
        """The rowids a search for a question tabled on `day` reads: from the first, to the
        first it leaves out. From the day-ordered index, those of its window (`Window`);
        from the archive's own, every rowid, and the rules of the list leave out the rest."""
        start = self.window.start(day)
        return self.first_of_day.get(start, 0), self.first_of_day.get(day, self.unbounded)

    def wanted(self, row: dict):
        "Whether a question (by key) may be listed as asked before this one."
        tabled = row["date_tabled"][:10]
        first_day = self.window.start(tabled)
        session_start = self.session_start(row)
        asker = row["asking_member_id"]
        # The question and those answered with it, whichever of them names the other.
        own_group = {row["key"], *json.loads(row["grouped_keys"] or "[]")}

        def wanted(key: str) -> bool:
            other_tabled, other_asker, other_group = self.by_key[key]
            return ("" < other_tabled < tabled and first_day <= other_tabled and key not in own_group
                    and row["key"] not in other_group and (other_asker != asker or other_tabled < session_start))
        return wanted


def closest(ranked: Iterable[tuple[float, str]], wanted: Callable[[str], bool]) -> list[tuple[float, str]]:
    """The LIMIT wanted matches (score, key) scoring highest, of matches given closest first
    (`Finder.ranked_matches`). Each is asked whether wanted only until LIMIT are found:
    asking costs more than ranking, and most lists are full long before the matches end."""
    chosen = []
    for score, key in ranked:
        if wanted(key):
            chosen.append((score, key))
            if len(chosen) == LIMIT:
                break
    return chosen


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




# -- which lists a build must make again ----------------------------------------------------


def affected(db: sqlite_utils.Database, changed: list[str], scorer: Callable[[], Scorer], sessions: Sessions,
             archive: ArchiveInputs) -> set[str]:
    """The questions whose lists may differ from those `related` holds, after a build wrote the
    rows of `changed`: the lists that a clean build would make otherwise, and no others
    that can be told apart cheaply (see the module's "Incremental"). `scorer`: gives the
    scorer, read only if a question moved."""
    held = dict(db.execute("select key, inputs from related_queries where key in (select value from json_each(?))",
                           [json.dumps(changed)]))
    moved = [row for row in db.query(f"select {LISTED_COLUMNS} from questions where key in "
                                     "(select value from json_each(?))", [json.dumps(changed)])
             if held.get(row["key"]) != inputs_of(row)]
    if len(moved) >= FULL_PASS_FROM:
        # Every list: a full pass makes them all for less than finding the later questions
        # each moved one may now enter (`entered` compares each with every later question).
        return {key for (key,) in db.execute("select key from questions")}
    todo = {row["key"] for row in moved}
    todo.update(key for (key,) in db.execute(
        "select key from related where related_key in (select value from json_each(?))",
        [json.dumps([row["key"] for row in moved])]))
    todo.update(entered(db, moved, scorer, archive.window))
    if archive.moved(WINDOW_META):
        todo.update(moved_windows(db, *archive.moved(WINDOW_META)))
    if archive.moved(SESSIONS_META):
        todo.update(moved_sessions(db, sessions, *archive.moved(SESSIONS_META)))
    if archive.moved(CONSTITUENCIES_META):
        todo.update(moved_constituencies(db, *archive.moved(CONSTITUENCIES_META)))
    return todo


def entered(db: sqlite_utils.Database, moved: list[dict], scorer_of: Callable[[], Scorer], window: Window) -> set[str]:
    """The later questions whose list a moved question may now enter: their window holds its
    day, and it scores at least their floor, and at least their fifth listed score if they
    list five (the other rules of who may be listed are left to the list made again)."""
    days = sorted((row["date_tabled"] or "")[:10] for row in moved if row["date_tabled"])
    if not days:
        return set()
    rows = db.execute("select key, day, terms, least, fifth from related_queries where day > ? and terms <> '[]'",
                      [days[0]]).fetchall()
    first_day = {day: window.start(day) for day in {row[1] for row in rows}}  # once a day, not once a pair
    later = [(key, first_day[day], day, json.loads(terms), least, fifth) for key, day, terms, least, fifth in rows]
    found = set()
    for row in moved:
        day = (row["date_tabled"] or "")[:10]
        candidates = [candidate for candidate in later if candidate[1] <= day < candidate[2]] if day else []
        if not candidates:
            continue
        scorer = scorer_of()
        document = scorer.document(row["heading"], row["question_text"])
        for key, _, _, terms, least, fifth in candidates:
            if not document[0].keys().isdisjoint(terms):
                score = scorer.score(terms, document)
                if score >= least and (fifth is None or score >= fifth):
                    found.add(key)
    return found


def moved_sessions(db: sqlite_utils.Database, sessions: Sessions, held: dict, now: dict) -> set[str]:
    """The questions whose session now starts on another day than when their list was made
    (the spans were `held`, are `now`): only days in a span that is new or gone can be among
    them."""
    found = set()
    for house in sorted(set(held) | set(now)):
        for first, last in sorted(set(map(tuple, held.get(house, []))) ^ set(map(tuple, now.get(house, []))),
                                  key=tuple):
            for key, tabled, start in db.execute(
                    """select q.key, q.date_tabled, r.session_start from questions q
                       join related_queries r on r.key = q.key
                       where q.house = ? and q.date_tabled >= ? and q.date_tabled < ?""",
                    [house, first, f"{last}~"]):
                session = sessions.of(house, tabled)
                if (session[0] if session else "") != start:
                    found.add(key)
    return found


def moved_windows(db: sqlite_utils.Database, held: dict[str, str], now: dict[str, str]) -> set[str]:
    """The questions whose window starts on another day than when their list was made (day ->
    its first day searched was `held`, is `now`; a day not named searches every day before)."""
    days = sorted(day for day in set(held) | set(now) if held.get(day, "") != now.get(day, ""))
    return {key for (key,) in db.execute(
        "select key from related_queries where day in (select value from json_each(?))", [json.dumps(days)])}


def moved_constituencies(db: sqlite_utils.Database, held: dict, now: dict) -> set[str]:
    """The questions whose words a changed constituency strips differently (member ->
    constituency was `held`, is `now`): those asked by a member whose constituency changed,
    and those whose text holds every word of a constituency that was added or went, and the
    word "constituency" (`Constituencies.strip`). Every word, not the name as written: the
    asker's own constituency, left out first, can bring a name's words together ("Runcorn
    Halton and Helsby constituency", asked by Halton's member, names Runcorn and Helsby)."""
    members = sorted(member for member in set(held) | set(now) if held.get(member) != now.get(member))
    found = {key for (key,) in db.execute(
        "select key from questions where asking_member_id in (select value from json_each(?))", [json.dumps(members)])}
    names = {tuple(words(name)) for name in held.values()} ^ {tuple(words(name)) for name in now.values()}
    for name in sorted(name for name in names if name):
        search = (f"{{question_text}} : ({' AND '.join(map(quoted, name))}) AND "
                  f"({quoted('constituency')} OR {quoted('constituencies')})")
        found.update(key for (key,) in db.execute(
            "select q.key from questions_fts f join questions q on q.rowid = f.rowid where questions_fts match ?",
            [search]))
    return found


def spans_of(sessions: Sessions) -> dict[str, list[list[str]]]:
    return {house: [list(span) for span in spans] for house, spans in sorted(sessions.spans.items())}


def constituencies_of(db: sqlite_utils.Database) -> dict[str, str]:
    return dict(db.execute("select id, constituency from members where constituency is not null order by id"))


class ArchiveInputs:
    """What the lists read of the archive as a whole, beside the questions: the sessions the
    data shows, the members' constituencies and the days each day's window starts, as `meta`
    holds them from when the lists were last made, and as they are now."""

    def __init__(self, db: sqlite_utils.Database, sessions: Sessions):
        self.window = Window.from_database(db)
        self.now = {SESSIONS_META: spans_of(sessions), CONSTITUENCIES_META: constituencies_of(db),
                    WINDOW_META: self.window.starts()}
        self.held = {name: json.loads(value) for name, value in db.execute(
            "select name, value from meta where name in (select value from json_each(?))",
            [json.dumps(list(self.now))])}

    def moved(self, name: str) -> tuple | None:
        "(held, now) of what moved since the lists were made; None if it did not, or none were made."
        held = self.held.get(name)
        return None if held is None or held == self.now[name] else (held, self.now[name])

    def changed_rows(self) -> list[dict]:
        "The `meta` rows to write: those that differ from what it holds."
        return [{"name": name, "value": json.dumps(value)} for name, value in self.now.items()
                if self.held.get(name) != value]


# -- the tables --------------------------------------------------------------------------------


class FullPassNeeded(Exception):
    """So many lists to make again that worker processes should make them, which read the
    database file: what `db` holds must be committed first, and it is not (an update's
    transaction)."""


def write_related(db: sqlite_utils.Database, changed: Iterable[str], workers: int = 1,
                  sessions: Sessions | None = None, statistics: Statistics | None = None,
                  everything: bool = False, day_ordered: DayOrderedIndex | None = None) -> RelatedReport:
    """Bring `related` and `related_queries` (the tables `schema.create_schema` makes) up to
    date after a build wrote the rows of the questions `changed`: the lists that may differ
    (`affected`) are made again, or every list if `everything`. From FULL_PASS_FROM lists on,
    they are made from a day-ordered copy of the index, in `workers` processes each reading
    the database file on its own: what `db` holds must be committed by then (inside a
    transaction, FullPassNeeded is raised instead). `sessions`: those
    of `db`, if already read; `statistics`: the committed ones unless given; `day_ordered`: that
    copy, made ahead with the same statistics (`DayOrderedIndex.beside`), for a full pass."""
    sessions = sessions or Sessions.from_database(db)
    archive = ArchiveInputs(db, sessions)
    # Read when first needed: a build whose changes move no list reads no statistics.
    scorer = cache(lambda: Scorer(statistics or Statistics.read()))
    if everything:
        chosen = [key for (key,) in db.execute("select key from questions order by key")]
    else:
        chosen = sorted(affected(db, sorted(set(changed)), scorer, sessions, archive))
    if not chosen and not archive.changed_rows():
        return RelatedReport()
    path = queries.database_file(db)
    if len(chosen) >= FULL_PASS_FROM and path:
        if db.conn.in_transaction:
            raise FullPassNeeded(f"{len(chosen)} lists to make again")
        results = full_pass(path, chosen, workers, scorer().statistics, day_ordered)
    else:
        results = [lists_of(Finder(db, scorer(), sessions=sessions, window=archive.window), chosen)]
    report = RelatedReport(questions=len(chosen))
    with db.atomic():
        hold_made(db, results, report)  # first: the workers read the database until it returns
        listed_before = {} if everything else lists_held(db, chosen)
        db.execute("delete from related where key in (select value from json_each(?))", [json.dumps(chosen)])
        db.execute(f"insert into related select * from temp.{MADE_LISTS}")
        db.execute(f"insert or replace into related_queries select * from temp.{MADE_QUERIES}")
        db.execute(f"drop table temp.{MADE_LISTS}")
        db.execute(f"drop table temp.{MADE_QUERIES}")
        if archive.changed_rows():
            db["meta"].upsert_all(archive.changed_rows(), pk="name")
        if not everything:
            note_list_changes(db, chosen, listed_before)
    return report


# The lists and queries made, held in temporary tables as the workers return them: they are
# written to the database only once the workers, which read it, are done, and a full pass of a
# million questions would hold gigabytes of them in memory.
MADE_LISTS, MADE_QUERIES = "related_made", "related_queries_made"


def hold_made(db: sqlite_utils.Database, results: Iterable[tuple[list[dict], list[dict], int]],
              report: RelatedReport) -> None:
    "Each (lists, queries, terms read) of `results` into the temporary tables, counted in `report`."
    for table, like in ((MADE_LISTS, "related"), (MADE_QUERIES, "related_queries")):
        db.execute(f"drop table if exists temp.{table}")  # left by a pass that failed on this connection
        db.execute(f"create temp table {table} as select * from {like} where 0")
    try:
        for lists, made, reads in results:
            db.conn.executemany(f"insert into temp.{MADE_LISTS} (key, related_key, rank, score) "  # parameterised
                                "values (:key, :related_key, :rank, :score)", lists)
            db.conn.executemany(
                f"insert into temp.{MADE_QUERIES} (key, day, terms, least, fifth, session_start, inputs) "
                "values (:key, :day, :terms, :least, :fifth, :session_start, :inputs)", made)
            report.listed += len(lists)
            report.queries += reads
    finally:
        # A full pass left part way (the tables could not hold its lists: a full disk) stops its
        # workers and removes its copy of the index now: left to the garbage collector, they made
        # every other list first, while the build reported the error.
        if isinstance(results, Generator):
            results.close()


def lists_held(db: sqlite_utils.Database, keys: list[str]) -> dict[str, list[str]]:
    "Key -> the questions its list names, closest first (a page shows them in that order)."
    held: dict[str, list[str]] = {}
    for key, listed in db.execute("select key, related_key from related where key in (select value from json_each(?)) "
                                  "order by key, rank", [json.dumps(keys)]):
        held.setdefault(key, []).append(listed)
    return held


def note_list_changes(db: sqlite_utils.Database, keys: list[str], before: dict[str, list[str]]) -> None:
    """Log as changed, in this generation, every question whose list now names other
    questions, or the same in another order: its page shows the list (changes.py)."""
    now = lists_held(db, keys)
    db.conn.executemany(
        """insert into changes (key, generation)
           values (?, (select cast(value as integer) from meta where name = 'generation'))
           on conflict (key) do update set generation = excluded.generation""",
        [(key,) for key in keys if before.get(key, []) != now.get(key, [])])


def lists_of(finder: Finder, keys: list[str]) -> tuple[list[dict], list[dict], int]:
    "The `related` rows and the `related_queries` rows of these questions, and the terms read."
    found = finder.db.query(f"select {LISTED_COLUMNS} from questions where key in "
                            "(select value from json_each(:keys)) order by key", {"keys": json.dumps(keys)})
    reads_before = finder.index.reads
    lists, made = [], []
    rows = [(row, finder.query_words(row)) for row in found]
    # Every word these queries may choose from, tokenized at once rather than one by one.
    finder.scorer.learn_terms(word for _, (heading, text) in rows for word in heading + text)
    for row, chosen_from in rows:
        listed, query = finder.related_to(row, chosen_from)
        lists.extend(listed)
        made.append(query)
    return lists, made, finder.index.reads - reads_before




# -- a full pass: many questions' lists, from a day-ordered index, in worker processes ------

# Fewer questions than this are quicker from the index as it is, in this process.
FULL_PASS_FROM = 2000
CHUNK = 500  # questions a task: small enough for the workers to finish together
# The day-ordered index's file: the database's name and this (build.py removes what a killed
# build left).
DAY_ORDERED_SUFFIX = "-by-day"
DAY_ORDERED_POSTINGS = "main.questions_by_day"  # as a connection to the copy's own file names it
_worker: dict = {}


def full_pass(db_path: str, keys: list[str], workers: int, statistics: Statistics,
              day_ordered: DayOrderedIndex | None = None) -> Iterator[tuple]:
    """The lists and queries of these questions (as `lists_of`), a chunk at a time, as the workers
    make them; from `day_ordered` when the build made it ahead (`DayOrderedIndex.beside`), else
    from one made here."""
    chunks = [keys[i:i + CHUNK] for i in range(0, len(keys), CHUNK)]
    if day_ordered is not None and day_ordered.scorer.statistics is not statistics:
        raise ValueError("the day-ordered copy was read with other statistics than the pass scores with")
    try:
        day_ordered = day_ordered or DayOrderedIndex(db_path, statistics)
        # Read once, before the workers start: forked from this process, they share it (its pages
        # are copied only when written), instead of each reading the index for several seconds.
        _worker["index"] = day_ordered.index()
        index_path = str(day_ordered.path)
        if workers <= 1:
            _start_worker(db_path, index_path)
            yield from map(_lists_of_chunk, chunks)
            return
        # Here: multiprocessing is slow to import.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # Forked, whatever the platform's default: that is how the workers get the postings.
        # The with-block shuts the pool down even when a chunk fails.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_start_worker, initargs=(db_path, index_path)) as pool:
            yield from pool.map(_lists_of_chunk, chunks)
    finally:
        _worker.clear()  # closes this process's connection to the index, if it opened one
        if day_ordered is not None:
            day_ordered.close()


class DayOrderedIndex:
    """A full pass's day-ordered copy of the index (`write_day_ordered_index`), written when made,
    and its postings (`index`). Made by the pass itself, or ahead of it by a rebuild (`beside`),
    whose postings are then read in a process of their own while the build indexes the archive
    and finds its citations: on one core, 1.9 s of a fresh build of the corpus, beside 2.2 s of
    reading. Made from the questions' rows alone: those must be committed, and stay as they are
    until the pass. `close` removes the copy, once any reading has ended."""

    def __init__(self, db_path: str, statistics: Statistics, read_beside: bool = False):
        self.scorer = Scorer(statistics)
        self.path = Path(f"{db_path}{DAY_ORDERED_SUFFIX}")
        self.reading: ForkedCall | None = None
        try:
            write_day_ordered_index(db_path, self.path)
            if read_beside:  # None where another thread runs: then read by `index`
                self.reading = ForkedCall.start("asked before's postings", read_postings,
                                                str(self.path), statistics)
        except BaseException:
            self.close()
            raise

    @classmethod
    def beside(cls, db: sqlite_utils.Database, statistics: Statistics) -> DayOrderedIndex | None:
        """Ahead of a rebuild's full pass, once its questions are committed: None where the pass will
        not be a full one (fewer than FULL_PASS_FROM questions, or a database in memory)."""
        path = queries.database_file(db)
        if not path or db.conn.in_transaction:
            return None
        if db.execute("select count(*) from questions").fetchone()[0] < FULL_PASS_FROM:
            return None
        return cls(path, statistics, read_beside=True)

    def index(self) -> Index:
        "Every posting of the copy: read in this process, or taken from the reading beside."
        if self.reading is None:
            norms, read = read_postings(str(self.path), self.scorer.statistics)
        else:
            reading, self.reading = self.reading, None
            norms, read = reading.result()
        return Index.of_postings(self.scorer, norms, read)

    def close(self) -> None:
        if self.reading is not None:  # never taken: the postings it would send are not wanted
            self.reading.cancel()
            self.reading = None
        for leftover in (self.path, Path(f"{self.path}-journal")):
            leftover.unlink(missing_ok=True)


def read_postings(index_path: str, statistics: Statistics) -> tuple[dict, dict]:
    """The norms and postings of the day-ordered copy (as `Index` holds them): read in a process of
    its own, through a connection to the copy alone, so that the build's writes to the database
    meanwhile never wait on it."""
    with closing(queries.read_only(index_path)) as db:
        index = Index(db, DAY_ORDERED_POSTINGS, Scorer(statistics), every_term=True)
    return index.norms, index.read


def write_day_ordered_index(db_path: str, index_path: Path) -> None:
    """A copy of `questions_fts` whose rowids follow the day tabled (then the key), and the
    key of each rowid (`keys_by_day`), in a file of its own beside the database. The same
    rows, searched columns and tokenizer give every question the same shares as the
    archive's index (a share counts the heading and question alone, and so does a question's
    length); the order lets a search stop at the question's day, so that no later question is
    scored. The answers, never searched, are left out: they are most of the words, and
    indexing them, then passing over them when the postings are read, was most of the work.
    Built in well under a second a thousand questions (see README, "Asked before")."""
    index_path.unlink(missing_ok=True)
    with closing(sqlite3.connect(index_path)) as index:
        index.execute("attach database ? as archive", [f"{Path(db_path).resolve().as_uri()}?mode=ro"])
        index.executescript(f"""
            create virtual table questions_by_day using fts5(
              heading, question_text, tokenize='{schema.FTS_TOKENIZER}');
            create table keys_by_day (rowid integer primary key, key text not null);
            insert into keys_by_day (key)
              select key from archive.questions order by substr(date_tabled, 1, 10), key;
            insert into questions_by_day (rowid, heading, question_text)
              select k.rowid, q.heading, q.question_text
              from keys_by_day k join archive.questions q on q.key = k.key order by k.rowid;
            """)
        index.commit()


def open_day_ordered(db_path: str, index_path: str) -> sqlite_utils.Database:
    "The database read-only, with the day-ordered copy of its index attached as BY_DAY."
    db = queries.read_only(db_path)
    db.execute(f"attach database ? as {BY_DAY}", [f"{Path(index_path).resolve().as_uri()}?mode=ro"])
    return db


def _start_worker(db_path: str, index_path: str) -> None:
    """A worker's own read-only connections, and its own Finder (a few tenths of a second),
    with the postings the full pass read before starting the workers."""
    follow_the_build()
    db = open_day_ordered(db_path, index_path)
    index = _worker["index"]
    _worker["finder"] = Finder(db, index.scorer, index=index, by_day=True)


def _lists_of_chunk(keys: list[str]) -> tuple[list[dict], list[dict], int]:
    return lists_of(_worker["finder"], keys)
