"""Turning Markdown and templates into HTML: the one Markdown function and the Jinja2 set-up.

Markdown rendering is a large part of a page's cost, so it sits behind `render_markdown` alone:
the renderer can be swapped for a faster one on evidence without touching anything else, and
the render cache (render_cache.py) keeps its output between builds. Whatever decides that
output is named here (extensions, settings, tags), so that the cache can tell when it changes.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import jinja2
import orjson
from markupsafe import Markup

from . import settings as defaults
from . import urls
from .atomic import remove_temporary_files, replace_if_changed
from .clean import ANSWER_TAGS, clean_html

ROOT = Path(__file__).resolve().parent.parent.parent
SITE_TEMPLATES = ROOT / "templates" / "site"
STATIC = ROOT / "static"

# fenced_code serves the site's own pages (the API page); answers never produce fences,
# because the pages stage escapes their backticks.
MARKDOWN_EXTENSIONS = ("tables", "sane_lists", "fenced_code")
MARKDOWN_OUTPUT_FORMAT = "html"
# The shortcuts the converter runs with (plain_text.py), imported with Python-Markdown when a
# process first renders: a stage's version covers them wherever it covers this module.
MARKDOWN_SHORTCUT = Path(__file__).with_name("plain_text.py")
# An answer never holds an h1 (the store drops it); the site's own pages start with one.
RENDER_TAGS = ANSWER_TAGS | {"h1"}


def render_markdown(text: str) -> str:
    """Markdown -> HTML, sanitized again (pages on disk can be edited by hand), with every
    table in a scrollable region so that a wide table never widens the page on a phone."""
    converter = markdown_converter()
    converter.reset()
    return wrap_tables(clean_html(converter.convert(text), tags=RENDER_TAGS))


@functools.cache
def markdown_converter():
    """Python-Markdown with the site's extensions, one a process, made when it first renders:
    importing the package and loading the extensions took 0.07 s of every build's start, and a
    build with nothing changed renders nothing."""
    import markdown

    from .plain_text import PlainTextShortcut  # the same HTML, sooner (plain_text.py)

    return markdown.Markdown(extensions=[*MARKDOWN_EXTENSIONS, PlainTextShortcut()],
                             output_format=MARKDOWN_OUTPUT_FORMAT)


def wrap_tables(html: str) -> str:
    # A focusable, labelled region: keyboard users can scroll it too (WCAG 2.1.1).
    return html.replace(
        "<table>", '<div class="table-scroll" role="region" tabindex="0" aria-label="Table">'
        "<table>").replace("</table>", "</table></div>")


@dataclass
class SiteConfig:
    base_url: str = defaults.BASE_URL.default
    datasette_url: str = defaults.DATASETTE_URL.default
    title: str = "Written Answers Archive"

    def __post_init__(self) -> None:
        if not self.base_url.endswith("/"):
            self.base_url += "/"
        self.datasette_url = self.datasette_url.rstrip("/")

    def absolute(self, url: str) -> str:
        return self.base_url + url

    def datasette_row(self, key: str) -> str:
        return f"{self.datasette_url}/answers/questions/{key}"


def real_date(value: str | None) -> str | None:
    """An ISO date if the value is a real one, else None: a date a source got wrong
    ('2024-13-45') is shown as given, but never placed on a calendar, in a feed or a sitemap."""
    try:
        return dt.date.fromisoformat(value[:10]).isoformat() if value else None
    except (TypeError, ValueError):
        return None


def long_date(value: str | None) -> str:
    """'2018-11-29' -> '29 November 2018'; a value that is not a date is shown as given. Each
    value is worked out once a process: a page shows a dozen dates, and formatting a month's name
    (strftime) took a twentieth of a question page's frame."""
    try:
        return long_date_once(value)
    except TypeError:  # a value that cannot be kept (a list): not a date
        return str(value) if value else ""


# typed: True (shown as 'True') is another value than 1, which it equals.
@functools.lru_cache(maxsize=16_384, typed=True)
def long_date_once(value: str | None) -> str:
    if not value:
        return ""
    try:
        day = dt.date.fromisoformat(value[:10])
    except (TypeError, ValueError):
        return str(value)
    return f"{day.day} {day:%B %Y}"


def month_name(month: str | int) -> str:
    "'11' -> 'November'; a value that is not a month is shown as given."
    try:
        return dt.date(2000, int(month), 1).strftime("%B")
    except (TypeError, ValueError):
        return str(month)


def number(value: int) -> str:
    return f"{value:,}"


HOUSE_NAMES = {"Commons": "House of Commons", "Lords": "House of Lords"}


def house_name(house: str) -> str:
    "'Commons' -> 'House of Commons'; another house is shown as given."
    return HOUSE_NAMES.get(house, house)


@jinja2.pass_context
def link(context, target: str) -> str:
    """A relative link from the page being rendered (its `page_url`) to an archive path.

    The 404 page is served at any path, so its links are absolute instead."""
    if context.get("absolute_links"):
        return context["config"].absolute(target)
    return urls.relative(context["page_url"], target)


@jinja2.pass_context
def frame_part(context, name: str) -> Markup:
    """A part of every page's frame (the site's header, its footer) that shows nothing of the page
    but links from it: the template `name`, rendered with the page's `link` alone. Kept by the
    environment for the pages as deep as this one in the same first folder, whose links out of
    that folder are the same (`urls.relative`); those into it are checked. A build makes tens of
    thousands of pages, nearly all with the same header and footer."""
    page_link = context.resolve("link")
    folders = [part for part in context.get("page_url", "").split("/") if part]
    if any(part in (".", "..") for part in folders):  # not a plain path: nothing is shared
        return Markup(context.environment.get_template(name).render(
            link=lambda target: context.call(page_link, target)))
    first = folders[0] if folders else ""
    key = (name, bool(context.get("absolute_links")), len(folders), first)
    kept = context.environment.frame_parts.get(key)
    if kept is not None and all(context.call(page_link, target) == href for target, href in kept[0].items()):
        return kept[1]
    hrefs: dict[str, str] = {}

    def recorded_link(target: str) -> str:
        hrefs[target] = href = context.call(page_link, target)
        return href

    html = Markup(context.environment.get_template(name).render(link=recorded_link))
    context.environment.frame_parts[key] = (
        {target: href for target, href in hrefs.items() if may_lead_elsewhere(target, first)}, html)
    return html


def may_lead_elsewhere(target: str, first_folder: str) -> bool:
    """Whether the link to `target` may differ between two pages as deep in `first_folder`: one
    into that folder, or through '.' or '..' (a link out of it climbs to the root, then down)."""
    parts = target.split("/")
    return parts[0] == first_folder or any(part in (".", "..") for part in parts)


DICT_ATTRIBUTES = frozenset(dir(dict))


class SiteEnvironment(jinja2.Environment):
    """Jinja2's environment, reading `mapping.name` as the mapping's key first. Pages read their
    front matter (dicts) by attribute a hundred times each, and Jinja2 tries a Python attribute
    first, failing every time; the result is the same, since a name that is also a dict
    method's ('items') keeps Jinja2's order. `frame_parts` keeps what `frame_part` rendered:
    (template name, absolute links, the page's depth, its first folder) -> (the links it made that
    another page of that key may make otherwise: their hrefs, its HTML)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frame_parts: dict[tuple, tuple[dict[str, str], Markup]] = {}

    def getattr(self, obj, attribute):
        if type(obj) is dict and attribute not in DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)

    def make_globals(self, d):
        """A template's globals as one plain dict, not Jinja2's ChainMap over the environment's:
        every render and every import `with context` copies them, and copying a ChainMap runs in
        Python (about 30 µs a copy, a dozen copies a question page). The same values, since no
        global changes once a template is loaded, as Jinja2 asks."""
        return {**self.globals, **(d or {})}


class TemplateCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between builds, in a folder beside the site's (never inside what
    is published): compiling them all costs a build about 0.2 s. Jinja2 compiles a template again
    when the checksum of its source differs from the one stored with its code; here that checksum
    covers Jinja2's version and this module too, since the environment's options (trim_blocks
    and the like) shape the compiled code as much as the source does."""

    SUFFIX = ".template-cache"
    PATTERN = "__jinja2_%s.cache"  # each compiled template's file name (Jinja2's default)

    def __init__(self, site_dir: Path):
        folder = self.folder_of(site_dir)
        folder.mkdir(parents=True, exist_ok=True)
        super().__init__(str(folder), self.PATTERN)
        self.code = template_code()

    def get_source_checksum(self, source: str) -> str:
        return super().get_source_checksum(self.code + "\0" + source)

    @classmethod
    def folder_of(cls, site_dir: Path) -> Path:
        return site_dir.with_name(site_dir.name + cls.SUFFIX)

    @classmethod
    def remove_leftovers(cls, site_dir: Path) -> None:
        """What a build killed while Jinja2 saved a compiled template left: Jinja2 writes each
        to a temporary file beside it (`<its name><random>.tmp`), then renames it. Call it before
        any process of the build renders."""
        for path in cls.folder_of(site_dir).glob(cls.PATTERN % "*" + "*.tmp"):
            path.unlink(missing_ok=True)
        remove_temporary_files(cls.folder_of(site_dir), TemplateReferences.NAME)


@functools.cache
def template_code() -> str:
    "What, besides a template's source, decides what it compiles to and names: Jinja2 and this module."
    return jinja2.__version__ + "\0" + Path(__file__).read_text(encoding="utf-8")


def make_environment(config: SiteConfig, site_dir: Path | None = None) -> jinja2.Environment:
    "The site's Jinja2 environment; given the site's folder, compiled templates are kept beside it."
    env = SiteEnvironment(
        bytecode_cache=TemplateCache(Path(site_dir)) if site_dir is not None else None,
        loader=jinja2.FileSystemLoader(SITE_TEMPLATES),
        autoescape=True,  # every template, .xml included
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # A build's versions digest the templates as they were when it began: one edited while it
        # runs must not be read half way. And checking, each time a page fetches or imports a
        # template, whether its file changed costs the listings a stat call a template a page.
        auto_reload=False,
        # Every template kept in a plain dict, not Jinja2's LRU cache of 400, whose lock and
        # reordering each include, import and part of a page paid for: a few dozen templates,
        # looked up a dozen times a page. A question page's templates took 3-7% less time (five
        # alternations on real pages).
        cache_size=-1,
    )
    env.filters.update(long_date=long_date, month_name=month_name, number=number, house_name=house_name,
                       safe_html=Markup)
    env.globals.update(link=link, frame_part=frame_part, config=config, urls=urls)
    return env


def templates_used(*names: str) -> list[Path]:
    """The template files that rendering these templates reads: each one and all it extends,
    imports or includes, followed to the end. What a stage's version names, so that a change
    to one kind of page's template renders again only the pages of that kind. Every template
    when one names another through a variable, which cannot be followed."""
    found: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for referenced in referenced_templates((SITE_TEMPLATES / name).read_text(encoding="utf-8")):
            if referenced is None:
                return sorted(path for path in SITE_TEMPLATES.rglob("*") if path.is_file())
            todo.append(referenced)
    return sorted(SITE_TEMPLATES / name for name in found)


# The tags that name another template by an expression after the tag's name, and the words
# that may follow a constant name in them ('import "x" as y', 'include "x" ignore missing').
NAMING_TAGS = frozenset({"extends", "include", "import", "from"})
AFTER_A_NAME = frozenset({"as", "import", "ignore", "with", "without"})


def referenced_templates(source: str) -> tuple[str | None, ...]:
    """The templates a template's source names (None: one named otherwise than by a single
    string constant, which cannot be followed), those it places through `frame_part` included.
    Each source is read once (`lexed_references`), its names kept by its checksum, between
    builds too (`TEMPLATE_REFERENCES`)."""
    return TEMPLATE_REFERENCES.of(source)


def lexed_references(source: str) -> tuple[str | None, ...]:
    """`referenced_templates`, read from Jinja2's tokens rather than its syntax tree: a build
    works out a dozen versions over every template, and parsing costs three times what reading
    the tokens does. Anything beyond the plain forms (an expression, a list, `frame_part`
    passed around) gives None."""
    tokens = [(token.type, token.value) for token in LEXER.tokenize(source)]
    tokens += [("eof", "")] * 3  # what follows the last token, as far as the checks look
    named: list[str | None] = []
    for at, (kind, value) in enumerate(tokens):
        if kind != "name":
            continue
        if value in NAMING_TAGS and at and tokens[at - 1][0] == "block_begin":
            (name_kind, name), after = tokens[at + 1], tokens[at + 2]
            plain = name_kind == "string" and (after[0] == "block_end" or after in
                                               {("name", word) for word in AFTER_A_NAME})
        elif value == frame_part.__name__:
            name_kind, name = tokens[at + 2]
            plain = [kind for kind, _ in tokens[at + 1:at + 4]] == ["lparen", "string", "rparen"]
        else:
            continue
        named.append(name if plain else None)
    return tuple(named)


# Lexes as the site's environment does (the same delimiters); comments and whitespace dropped.
LEXER = jinja2.Environment().lexer


class TemplateReferences:
    """What `lexed_references` found in each template's source, by a checksum of the source and
    `template_code` (as the compiled templates are kept): read once a process, and kept between
    builds beside the compiled templates (`load`, `save`). Lexing every template for the
    versions took a build with nothing to do 0.05 s, a sixth of its time; a source changed by a
    single byte has another checksum, and is read again."""

    NAME = "references.json"  # in `TemplateCache.folder_of(site_dir)`

    def __init__(self) -> None:
        self.found: dict[str, tuple[str | None, ...]] = {}
        self.lexed = False  # whether `found` holds what the kept file does not

    def of(self, source: str) -> tuple[str | None, ...]:
        key = self.checksum(source)
        found = self.found.get(key)
        if found is None:
            found = self.found[key] = lexed_references(source)
            self.lexed = True
        return found

    @staticmethod
    def checksum(source: str) -> str:
        return hashlib.sha256(f"{template_code()}\0{source}".encode()).hexdigest()

    def load(self, site_dir: Path) -> None:
        "Add what the builds of this site kept (nothing from a file missing, damaged or of another shape)."
        try:
            kept = orjson.loads((TemplateCache.folder_of(site_dir) / self.NAME).read_bytes())
        except (OSError, ValueError):
            return
        if isinstance(kept, dict) and all(isinstance(names, list) and all(
                name is None or isinstance(name, str) for name in names) for names in kept.values()):
            for key, names in kept.items():
                self.found.setdefault(key, tuple(names))

    def save(self, site_dir: Path) -> None:
        "Keep what this process read, if it read any source, for the templates there are now."
        if not self.lexed:
            return
        now = {self.checksum(path.read_text(encoding="utf-8"))
               for path in SITE_TEMPLATES.rglob("*") if path.is_file()}
        kept = {key: names for key, names in self.found.items() if key in now}
        replace_if_changed(TemplateCache.folder_of(site_dir) / self.NAME,
                           orjson.dumps(kept, option=orjson.OPT_SORT_KEYS))
        self.lexed = False


TEMPLATE_REFERENCES = TemplateReferences()


def to_json(data) -> str:
    """JSON twins: stable key order, readable (two spaces a level, as orjson indents and as the
    pages' front matter is written), UTF-8."""
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


# orjson as `to_json` writes: keys sorted, a line a value, the final newline; anything but JSON's
# own types (a date, a subclass of str) raises, to be written by `to_json` as before.
ORJSON_OPTIONS = (orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
                  | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
                  | orjson.OPT_PASSTHROUGH_DATACLASS)


def to_json_bytes(data) -> bytes:
    """`to_json(data)` as UTF-8, made by orjson: json's indented encoder runs in Python, and a
    question page's twin took it 0.15 ms. The same bytes for text, integers, booleans, null, lists
    and mappings with text keys (all a page's front matter holds); a float is written as orjson
    writes it (0.00001 for 1e-05, null for NaN), and what orjson cannot write (an integer beyond
    64 bits, a key that is not text) as `to_json` writes it. (Indented one space a level, as
    twins once were, orjson's output took several passes more to halve it: 46-57 us a twin where
    orjson takes 9-11, about 3 s of CPU over the 80,600 twins of a whole site.)"""
    try:
        return orjson.dumps(data, option=ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError
        return to_json(data).encode("utf-8")
