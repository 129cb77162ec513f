"""The pages stage: the database -> one Markdown page per question, with front matter (JSON,
which is YAML too: see `front_matter_text`).

`build/pages/<url>index.md` holds everything a reader or a tool needs about one question:
the front matter gives the facts (dates, members with their names, the answering body,
states, provenance); the body gives the question and the answer in readable Markdown.
The same row always gives the same bytes, and a file is only written when its bytes change.
A manifest (`pages.manifest.sqlite`, beside the output folder) records a digest of each
page's inputs, so that a page whose inputs and code are unchanged is not converted again.
"""

from __future__ import annotations

import html
import json
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import orjson
import sqlite_utils

from . import answer_diff, changes, citations, clean, model, queries, timeliness, urls
from .clean import html_to_text
from .manifest import PageManifest
from .output import (
    DuplicateOutputError,
    Output,
    bytes_digest,
    inputs_digest,
    stage_code_digest,
    sweep_when_worker_exits,
)
from .settings import WORKERS as WORKERS_SETTING
from .workers import follow_the_build

QUESTION_COLUMNS = (
    "key", "house", "uin", "url", "date_tabled", "date_for_answer", "date_answered",
    "date_holding_answer", "date_answer_corrected", "heading", "answerer_title_as_published",
    "answering_member_office", "answering_member_office_source", "api_id", "official_url",
    "source_location",
)
FLAGS = (
    "is_holding", "is_withdrawn", "is_named_day", "is_correction", "member_has_interest",
    "question_is_clipped", "answer_is_clipped",
)
BODY_COLUMNS = ("question_text", "answer_html", "original_answer_html")
WORKERS = WORKERS_SETTING.default  # processes making the pages of a first build
# The HTML to Markdown converter's code, part of the pages' version (imported only to convert).
MARKDOWN_CONVERTER = Path(__file__).with_name("markdown_converter.py")


@dataclass
class PagesReport:
    questions: int = 0
    rendered: int = 0  # pages converted (whether or not their bytes changed)
    skipped: int = 0  # pages whose inputs matched the manifest: not converted
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    # Every question's page written into a folder that held nothing: the folder holds exactly
    # the pages of the database's questions, and the site stage need not walk it to know them.
    made_afresh: bool = False


@cache  # called for every paragraph: an import statement each time cost a first build 0.25 s
def converter():
    "The HTML to Markdown converter (markdown_converter.py)."
    # Imported here: markdownify and BeautifulSoup take a tenth of a second to import, and a
    # build that converts no page (nothing changed) needs neither.
    from .markdown_converter import CONVERTER

    return CONVERTER


def html_to_markdown(answer_html: str | None, links: dict[str, str] | None = None) -> str:
    "`links`: UIN -> where the references to it in this text link to (see citations.py)."
    if not answer_html:
        return ""
    try:
        return tidy_markdown(converter().convert_soup(citations.linked_soup(answer_html, links)))
    except RecursionError:
        # Markup nested deeper than the converter can follow (a few hundred levels; no real
        # answer comes near): the answer's text is kept, in its paragraphs, without the markup.
        return text_to_markdown(html_to_text(answer_html))


def text_to_markdown(text: str | None, links: dict[str, str] | None = None) -> str:
    """Plain text (a question) -> Markdown paragraphs, with Markdown's own characters escaped.
    Each paragraph is what the HTML converter makes of `<p>paragraph</p>`; only a text with
    references to link goes through it (parsing took four fifths of a question's conversion)."""
    if not text:
        return ""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n|\r?\n", text) if p.strip()]
    if links:
        return html_to_markdown("".join(f"<p>{html.escape(p)}</p>" for p in paragraphs), links)
    return tidy_markdown("\n\n".join(filter(None, map(paragraph_markdown, paragraphs))))


# How markdownify collapses the whitespace of a text outside <pre> (its own two patterns).
NEWLINE_WHITESPACE = re.compile(r"[\t \r\n]*[\r\n][\t \r\n]*")
RUN_OF_SPACES = re.compile(r"[\t ]+")


def paragraph_markdown(paragraph: str) -> str:
    """One paragraph of plain text as `CONVERTER` writes `<p>paragraph</p>`, by the same steps
    without the parse: whitespace collapsed, Markdown's characters escaped, the ends trimmed.
    Each pattern is run only where the characters it needs are there: run on every question's
    text, the first (which tries a match at every space) cost a first build 1.6 s, 0.08 so."""
    if "\n" in paragraph or "\r" in paragraph:
        paragraph = NEWLINE_WHITESPACE.sub("\n", paragraph)
    if "\t" in paragraph or "  " in paragraph:
        paragraph = RUN_OF_SPACES.sub(" ", paragraph)
    return converter().escape(paragraph, set()).lstrip(" \t\r\n").rstrip()


SPACES_BEFORE_BLANK_LINE = re.compile(r"[ \t]+\n(?=\s*\n)")
BLANK_LINES = re.compile(r"\n{3,}")


def tidy_markdown(markdown: str) -> str:
    """No trailing spaces on lines that don't mean a line break, no runs of blank lines. Each
    pattern is run only where the characters it needs are there (see `paragraph_markdown`)."""
    if " \n" in markdown or "\t\n" in markdown:
        markdown = SPACES_BEFORE_BLANK_LINE.sub("\n", markdown)
    if "\n\n\n" in markdown:
        markdown = BLANK_LINES.sub("\n\n", markdown)
    return markdown.strip()


# -- one page ----------------------------------------------------------------------------


def front_matter(row: dict, context: PageContext) -> dict:
    data = {name: row[name] for name in QUESTION_COLUMNS if row.get(name) not in (None, "")}
    data.update({name: bool(row[name]) for name in FLAGS})
    data["title"] = urls.question_title(row)
    for role in ("asking", "answering", "correcting"):
        member_id = row.get(f"{role}_member_id")
        if member_id:
            data[f"{role}_member"] = member_facts(context.members, member_id)
    if row.get("answering_body"):
        data["answering_body"] = context.bodies.get(
            row["answering_body"], {"name": row["answering_body"]})
    if row.get("heading"):
        data["heading_url"] = urls.heading_url(row["heading"])
    data.update(group_facts(row, context))
    if row.get("source_id") in context.sources:
        data["source"] = context.sources[row["source_id"]]
    data["has_answer"] = bool(row.get("answer_html"))
    data["has_original_answer"] = bool(row.get("original_answer_html"))
    data.update(answer_diff.page_facts(row))
    data.update(citations.page_facts(row["key"], context.citations, context.questions))
    data.update(timeliness.page_facts(row, context.as_of))
    asked_before = asked_before_facts(context.asked_before.get(row["key"], []), context)
    if asked_before:
        data["asked_before"] = asked_before
    return data


def group_facts(row: dict, context: PageContext) -> dict:
    """A grouped question's group as one unit (`group`): every question answered together,
    this one among them (`current`), each with its asker and text, in the same order on every
    page of the group. The other questions' texts and askers are in the front matter, so that
    a change to any of them makes this page again."""
    grouped = json.loads(row["grouped_keys"]) if row.get("grouped_keys") else []
    if not grouped:
        return {}
    keys = dict.fromkeys([row["key"], *grouped])  # in order, once each
    group = [dict(group_member(key, context), current=key == row["key"]) for key in keys]
    return {"group": sorted(group, key=group_order)}


def group_member(key: str, context: PageContext) -> dict:
    "One question of a group as its pages show it; only its key when it is not in the archive."
    if key not in context.questions:
        return {"key": key}
    member = dict(context.questions[key])
    texts = context.group_texts.get(key, {})
    if texts.get("question_text"):
        member["question_text"] = texts["question_text"]
    if texts.get("asking_member_id"):
        member["asking_member"] = member_facts(context.members, texts["asking_member_id"])
    return member


def group_order(member: dict) -> tuple:
    "Date tabled, then UIN as a number where it is one; questions not in the archive last."
    uin = member.get("uin") or ""
    return (member.get("date_tabled") or "\uffff", not uin.isdigit(), int(uin) if uin.isdigit() else 0,
            uin, member["key"])


def asked_before_facts(listed: list[dict], context: PageContext) -> list[dict]:
    """Earlier questions on the same subject, as the page lists them: url, title, date tabled
    and asker's name. Part of the page, so a page is written again when one is retitled."""
    facts = []
    for earlier in listed:
        question = context.questions.get(earlier["key"])
        if question is None:
            continue
        fact = {"url": question["url"], "title": question["title"]}
        if question["date_tabled"]:
            fact["date_tabled"] = question["date_tabled"]
        if earlier["asking_member_id"]:
            fact["asker"] = queries.member_or_placeholder(
                context.members, earlier["asking_member_id"])["display"]
        facts.append(fact)
    return facts


def member_facts(members: dict[str, dict], member_id: str) -> dict:
    "A member as a page's front matter gives them: only the facts some source gave."
    member = queries.member_or_placeholder(members, member_id)
    return {key: value for key, value in member.items()
            if key != "display" and value not in (None, "")}


def body_inputs(row: dict) -> dict:
    "The only columns a page's Markdown body is made from."
    return {name: row.get(name) for name in BODY_COLUMNS}


def page_body(texts: dict, meta: dict | None = None) -> str:
    links = citations.body_links(meta or {})
    sections = ["## Question", text_to_markdown(texts["question_text"], links["question"])
                or "*No question text was published.*"]
    if texts["answer_html"]:
        sections += ["## Answer", html_to_markdown(texts["answer_html"], links["answer"])]
    if texts["original_answer_html"]:
        sections += ["## Original answer", html_to_markdown(texts["original_answer_html"])]
    return "\n\n".join(sections) + "\n"


def render_page(row: dict, context: PageContext) -> str:
    return page_text(front_matter(row, context), body_inputs(row))


def page_text(meta: dict, texts: dict) -> str:
    "A page from its front matter and body columns: all that its bytes depend on, besides code."
    return f"---\n{front_matter_text(meta)}---\n\n{page_body(texts, meta)}"


# The front matter is JSON, which YAML reads too (JSON is YAML's flow style): Hugo, Jekyll-style
# tools and any YAML parser read the page's facts, and the site stage reads them with orjson:
# 5 us a page, where PyYAML (libyaml, with its Python constructor) took 380; writing them takes
# 10 us, where PyYAML's emitter took 240. Two spaces of indent and sorted keys: a diff of two
# builds' pages shows one fact a line.
JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
# Characters JSON may write as they are that YAML (1.1, PyYAML's) does not read back as they
# are: U+0085, U+2028 and U+2029 are line breaks to YAML, folded inside a quoted string, and
# DEL, the C1 controls, U+FFFE and U+FFFF are characters PyYAML refuses to read. Written as
# JSON's escapes, which both read alike. Outside strings JSON's text is ASCII, so only the
# strings hold them.
NOT_FOR_YAML = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")


def front_matter_text(meta: dict) -> str:
    """The front matter's text: JSON (`JSON_OPTIONS`), with the characters YAML reads otherwise
    escaped. A lone surrogate cannot be in a page (it has no UTF-8, and the store refuses or
    escapes it before anything is stored): orjson refuses it, and the page is not written."""
    try:
        text = orjson.dumps(meta, option=JSON_OPTIONS).decode("utf-8")
    except orjson.JSONEncodeError as error:
        raise ValueError(f"front matter that JSON cannot hold: {error}") from None
    if not text.isascii() or "\x7f" in text:  # searching took more than the dump: most pages are ASCII
        text = NOT_FOR_YAML.sub(json_escape, text)
    return text + "\n"


def json_escape(character: re.Match) -> str:
    return f"\\u{ord(character[0]):04x}"


INDEX_KEPT = 50_000  # index entries a pages process keeps between batches (about 50 MB)


@dataclass
class PageContext:
    members: dict[str, dict]
    bodies: dict[str, dict]
    questions: dict[str, dict]
    sources: dict[int, dict]
    citations: tuple = ({}, {})  # queries.citation_links: what each question cites, and is cited by
    as_of: str | None = None  # queries.timeliness_as_of: the day unanswered questions are counted to
    group_texts: dict[str, dict] = field(default_factory=dict)  # queries.load_group_texts
    asked_before: dict = field(default_factory=dict)  # queries.load_asked_before
    # Of `for_rows`: the questions' index entries read for earlier batches, shared by the
    # contexts it makes. A question is named by many pages (an "asked before" list names four),
    # so each is read about once, up to INDEX_KEPT of them.
    index_kept: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, db: sqlite_utils.Database, as_of: str | None = None) -> PageContext:
        "Everything any page may show: `load_shared`, with every question."
        return replace(cls.load_shared(db, as_of), questions=queries.load_question_index(db),
                       group_texts=queries.load_group_texts(db), asked_before=queries.load_asked_before(db))

    @classmethod
    def load_shared(cls, db: sqlite_utils.Database, as_of: str | None = None) -> PageContext:
        """What pages show of members, bodies, sources and citations, without the questions they
        name (`for_rows` adds those); `as_of` is `queries.timeliness_as_of` (read here if not given)."""
        return cls(queries.load_members(db), queries.load_bodies(db), {}, queries.load_sources(db),
                   queries.citation_links(db), as_of or changes.latest_date(db))

    @classmethod
    def load_for(cls, db: sqlite_utils.Database, rows: list[dict], as_of: str | None) -> PageContext:
        "What the pages of these rows show: only the other questions they name are indexed."
        return cls.load_shared(db, as_of).for_rows(db, rows)

    def for_rows(self, db: sqlite_utils.Database, rows: list[dict]) -> PageContext:
        """This context with what the pages of these rows name: their "asked before" lists, and
        the questions they cite, are cited by, group or list, read for them alone. Pages made a
        batch at a time so hold their batch's questions, not the archive's."""
        links = self.citations
        # A group's page lists its own question too, each with its text.
        grouped = {key for row in rows if row.get("grouped_keys")
                   for key in [row["key"], *json.loads(row["grouped_keys"])]}
        asked_before = queries.load_asked_before(db, {row["key"] for row in rows})
        named = set(grouped)
        for row in rows:
            named.update(cite["key"] for cite in links[0].get(row["key"], []))
            named.update(links[1].get(row["key"], []))
            named.update(earlier["key"] for earlier in asked_before.get(row["key"], []))
        return replace(self, questions=self.index_of(db, named),
                       group_texts=queries.load_group_texts(db, grouped), asked_before=asked_before)

    def index_of(self, db: sqlite_utils.Database, keys: set[str]) -> dict[str, dict]:
        "The index entries of the questions with these keys (those that exist), read once where kept."
        missing = keys - self.index_kept.keys()
        if len(self.index_kept) + len(missing) > INDEX_KEPT:
            self.index_kept.clear()
            missing = keys
        self.index_kept.update(queries.load_question_index(db, missing))
        return {key: self.index_kept[key] for key in keys if key in self.index_kept}


def pages_code_version() -> str:
    "What besides its inputs decides a page's bytes: this code and the libraries it calls."
    modules = (__file__, MARKDOWN_CONVERTER, citations.__file__, queries.__file__, urls.__file__, model.__file__,
               clean.__file__, timeliness.__file__, answer_diff.__file__, changes.__file__)
    return stage_code_digest([Path(module) for module in modules],
                             ("markdownify", "beautifulsoup4", "orjson", "nh3"))


KEY_PART = 2  # the position of the question's key in a manifest entry: the stage finds entries by it


def is_manifest_entry(entry) -> bool:
    """[digest of the page's inputs, digest of the page written, the question's key]: a page
    is kept only if both digests hold, so a page edited or restored by another hand is written
    again (by a build that checks every page: see `write_pages`)."""
    return (isinstance(entry, list) and len(entry) == 3
            and all(isinstance(part, str) for part in entry))


def write_pages(db_path: Path, out_dir: Path, check_all: bool = False) -> PagesReport:
    """Write one Markdown page per question and remove the pages of questions no longer in
    the db. Driven by the database's change log (changes.py): only the pages of questions
    changed since the last complete run, and of those whose pages show them, are made again,
    and the other pages are trusted to be as that run left them. Where the change log cannot
    tell (no manifest, another database, other code) or `check_all` asks, every page is
    checked against the manifest and converted again only if its inputs changed or its file
    does not hold what was written."""
    report = PagesReport()
    output = Output(out_dir)
    with (PageManifest.take(output, pages_code_version(), is_manifest_entry, indexed_part=KEY_PART) as manifest,
          closing(sqlite_utils.Database(db_path)) as db):
        change = changes.since(db, None if check_all else manifest.state)
        if change.keys == set() and change.state == manifest.state:
            report.questions = report.skipped = db["questions"].count  # nothing to do
            return report
        if change.everything or not manifest.holds_entries():
            write_every_page(db, change.state, output, manifest, report, WORKERS)
            report.made_afresh = output.began_empty
        else:
            write_changed_pages(db, change, output, manifest, report)
        if not manifest.unchanged(change.state):
            manifest.save(change.state)
    report.written = output.written
    report.unchanged = output.unchanged
    return report


def write_every_page(db: sqlite_utils.Database, state: dict, output: Output, manifest: PageManifest,
                     report: PagesReport, workers: int = 1) -> None:
    """Every question's page. Where no page can be skipped (no manifest entries: a first
    build, or new code) and there are enough of them, `workers` processes make them."""
    keys = [key for (key,) in db.execute("select key from questions order by key")]
    context = PageContext.load_shared(db, as_of=state["as_of"])
    if workers > 1 and len(keys) >= PARALLEL_FROM and not manifest.previous:
        write_pages_in_workers(queries.database_file(db), keys, context, output, manifest, report, workers)
    else:
        for chunk in chunked(keys):
            rows = list(queries.question_rows_of(db, set(chunk)))
            chunk_context = context.for_rows(db, rows)
            for row in rows:
                write_page(row, chunk_context, output, manifest, report)
    report.removed = output.remove_stale(("index.md", "*.tmp"))
    report.removed += output.remove_leftovers(("*.tmp",))


def write_changed_pages(db: sqlite_utils.Database, change: changes.ChangeSet, output: Output,
                        manifest: PageManifest, report: PagesReport) -> None:
    """The pages of the questions in the change set; the manifest's other entries are carried
    over unchecked. A question gone from the db (or moved to another url) loses its old page."""
    manifest.carry_over()
    rows = list(queries.question_rows_of(db, change.keys))
    context = PageContext.load_for(db, rows, change.state["as_of"])
    for row in rows:
        write_page(row, context, output, manifest, report)
    now_at = {row["key"]: row["url"] for row in rows}
    gone = [url for url, entry in manifest.previous.with_part(change.keys).items()
            if now_at.get(entry[KEY_PART]) != url]
    for url in gone:
        del manifest.current[url]
    report.removed = output.remove([urls.markdown_file(url) for url in gone])
    report.removed += output.remove_leftovers(("*.tmp",))
    report.questions = len(manifest.current)
    report.skipped = report.questions - report.rendered


def write_page(row: dict, context: PageContext, output: Output, manifest: PageManifest,
               report: PagesReport) -> None:
    """One question's page. Its front matter is cheap to work out and holds every joined fact
    the page shows; converting the body is the cost, skipped when the digest of both inputs
    matches the last build's and the page is still there."""
    meta, texts = front_matter(row, context), body_inputs(row)
    digest = inputs_digest(meta, texts)
    path = urls.markdown_file(row["url"])
    entry = manifest.previous.get(row["url"])
    if entry and entry[0] == digest and entry[2] == row["key"] and output.confirm_unchanged({path: entry[1]}):
        report.skipped += 1
        manifest.current[row["url"]] = entry
    else:
        manifest.current[row["url"]] = written_page(row, meta, texts, digest, output)
        report.rendered += 1
    report.questions += 1


def written_page(row: dict, meta: dict, texts: dict, digest: str, output: Output) -> list[str]:
    "Convert and write one page; its manifest entry (see `is_manifest_entry`)."
    text = page_text(meta, texts)
    # The lean write of the many question pages: each folder checked once, not each path resolved.
    output.write(urls.markdown_file(row["url"]), text)
    return [digest, bytes_digest(text), row["key"]]


# -- in worker processes (every page of a first build) ------------------------------------

PARALLEL_FROM = 2000  # fewer pages than this are quicker in one process than starting workers
CHUNK = 500  # pages a task: small enough for the workers to finish together
_worker: dict = {}


def chunked(keys: list[str]) -> list[list[str]]:
    "The keys in batches of CHUNK, each made with what its pages name (`PageContext.for_rows`)."
    return [keys[i:i + CHUNK] for i in range(0, len(keys), CHUNK)]


def write_pages_in_workers(db_path: str, keys: list[str], context: PageContext, output: Output,
                           manifest: PageManifest, report: PagesReport, workers: int) -> None:
    """Every page, made and written in `workers` processes, each with an Output of its own.
    The workers are forked, and share what this process loaded of members, bodies, sources and
    citations (`PageContext.load_shared`); each batch reads the questions its pages name."""
    chunks = chunked(keys)
    output.changing()  # the workers write with Outputs of their own
    _worker["context"] = context  # what the forked workers start from (its pages copied only when written)
    try:
        # The with-block shuts the pool down even when a chunk fails.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_start_worker, initargs=(db_path, str(output.root))) as pool:
            for written, unchanged, seen, entries in pool.map(_write_chunk, chunks):
                if output.seen & seen:  # two questions claiming one file, in two workers
                    raise DuplicateOutputError(f"written twice in one build: {sorted(output.seen & seen)[0]}")
                output.written += written
                output.unchanged += unchanged
                output.seen |= seen
                manifest.current.update(entries)
                report.rendered += len(entries)
                report.questions += len(entries)
    finally:
        _worker.clear()


def _start_worker(db_path: str, out_dir: str) -> None:
    """A worker's own read-only connection, beside the context it inherited, and its files replaced
    (kept from chunk to chunk: one is filled again some pages later)."""
    follow_the_build()
    _worker.update(db=queries.read_only(db_path), out_dir=out_dir, replaced=Output(Path(out_dir)).replacing_files())
    sweep_when_worker_exits(_worker["replaced"])


def _write_chunk(keys: list[str]) -> tuple[list[str], int, set[str], dict]:
    """Make and write the pages of these questions; what was written, how many were already
    as made, every file claimed, and each page's manifest entry."""
    output = Output(Path(_worker["out_dir"]), replaced=_worker["replaced"])
    entries = {}
    rows = list(queries.question_rows_of(_worker["db"], set(keys)))
    context = _worker["context"].for_rows(_worker["db"], rows)
    for row in rows:
        meta, texts = front_matter(row, context), body_inputs(row)
        entries[row["url"]] = written_page(row, meta, texts, inputs_digest(meta, texts), output)
    return output.written, output.unchanged, output.seen, entries


def read_page(path: Path) -> tuple[dict, str]:
    "A page's front matter and Markdown body."
    return split_front_matter(path.read_text(encoding="utf-8"))


FRONT_MATTER_END = "\n---\n"


class PageError(ValueError):
    "A page whose text is not front matter between two '---' lines followed by Markdown."


def split_front_matter(text: str) -> tuple[dict, str]:
    """A page's text -> its front matter and Markdown body.

    The front matter ends at the first line that is exactly '---'. Its JSON never holds such a
    line: every line between its braces is indented, and a line break in a string is written
    as an escape, so a heading or a name holding '---' (or a line of it) cannot end the front
    matter early. Nor does YAML's block style (a page edited by hand): every line of a value
    after the first is indented."""
    header, body = split_page_text(text)
    return parse_front_matter(header), body


def split_page_text(text: str) -> tuple[str, str]:
    "A page's text -> its front matter's text and its Markdown body, unparsed."
    if not text.startswith("---\n"):
        raise PageError("a page must start with a '---' line")
    end = text.find(FRONT_MATTER_END, 3)
    if end < 0:
        raise PageError("the front matter has no closing '---' line")
    return text[4:end + 1], text[end + len(FRONT_MATTER_END):].lstrip("\n")


def yaml_loader():
    """PyYAML's safe loader: libyaml's, several times faster, where PyYAML was built with it (the
    pure-Python one reads the same mappings). PyYAML is imported here, when a page edited into
    YAML is first read or the render cache names the loader: the pages the pages stage writes are
    JSON, and its import took a build that renders nothing a twentieth of its start."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml_without_aliases(header: str):
    """YAML a person wrote, refused if it holds an alias: an alias repeats a whole value, so a few
    hundred bytes of nested aliases stand for a billion strings, which the page's JSON twin
    would spell out. No page the pages stage writes needs one."""
    import yaml

    if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(header, Loader=yaml_loader())):
        raise PageError("the front matter is YAML with an alias (*name), which a page never needs")
    return yaml.load(header, Loader=yaml_loader())


def parse_front_matter(header: str) -> dict:
    """The front matter's text -> its mapping. JSON, as `front_matter_text` writes it, is read
    by orjson; anything else by the YAML parser: a page a person edited into YAML's block style
    still reads (and `answers verify` writes it again as it was)."""
    try:
        meta = orjson.loads(header)
    except orjson.JSONDecodeError as json_error:
        import yaml  # not JSON: a page edited by hand (see `yaml_loader`)

        try:
            meta = load_yaml_without_aliases(header)
        # ValueError: a value YAML reads that Python cannot make (an unquoted date with no such
        # day, 2024-02-30; an integer of over 4,300 digits), raised past PyYAML's own errors.
        except (yaml.YAMLError, ValueError) as yaml_error:
            # Both parsers' words: a page written as JSON and edited by hand is best told where
            # its JSON went wrong; one edited into YAML, where its YAML did.
            raise PageError(f"the front matter reads as neither JSON ({json_error}) "
                            f"nor YAML ({yaml_error})") from None
    if not isinstance(meta, dict):
        raise PageError("the front matter is not a mapping")
    return meta
