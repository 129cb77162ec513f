"""The site stage: Markdown pages (+ listings from the database) -> the static archive.

Question pages come from `build/pages/**/index.md`; listings, feeds and the sitemap come
from the database (listings.py, feeds.py). Every file goes through one `Output`, which
writes only changed bytes and refuses any path outside the output folder. A manifest
(`site.manifest.sqlite`, beside it) records a digest of what each question page was rendered
from (its Markdown and its neighbours), so that unchanged question pages are not rendered again.
After a template change, a build given changes takes each Markdown page's digest from the pages
stage's manifest (`pages.manifest.sqlite`) and reads only the pages the render cache
(render_cache.py) does not hold; with no question changed since the last complete build, a page
whose text is as it was keeps the links that build recorded (`kept_links`), not read again.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack, closing, nullcontext
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import orjson
import sqlite_utils
from markupsafe import Markup

from . import (
    changes,
    clean,
    downloads,
    feeds,
    listing_record,
    listings,
    model,
    page_shape,
    pages,
    queries,
    render,
    render_cache,
    sitemap,
    timeline,
    timeliness,
    urls,
)
from .atomic import replace_if_changed
from .manifest import PageManifest, page_manifest_path
from .output import Output, bytes_digest, inputs_digest, stage_code_digest, sweep_when_worker_exits
from .pages import PageError, split_page_text
from .render import STATIC, SiteConfig, TemplateCache, make_environment, render_markdown, to_json_bytes
from .workers import ForkedCall, follow_the_build

CHUNK = 400  # question pages per task: large enough to amortize, small enough to balance


@dataclass
class SiteReport:
    question_pages: int = 0
    rendered: int = 0  # question pages rendered (whether or not their bytes changed)
    skipped: int = 0  # question pages whose inputs matched the manifest: not rendered
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    downloads: downloads.DownloadsReport | None = None  # None: not made again (nothing changed)
    # Question pages (their url: the file and why) that could not be rendered: edited by hand
    # into something that is not a page. Counted in `rendered`; the last good files are kept.
    rejected: dict[str, str] = field(default_factory=dict)

    @property
    def html_written(self) -> int:
        return sum(1 for path in self.written if path.endswith(".html"))

    @property
    def html_changed(self) -> int:
        "HTML pages written or removed: either way the search index is out of date."
        return self.html_written + sum(1 for path in self.removed if path.endswith(".html"))


# -- question pages ----------------------------------------------------------------------


@dataclass
class QuestionPages:
    "What a run over question pages did: pages rendered, skipped as up to date, rejected (url: why), files removed."
    rendered: int = 0
    skipped: int = 0
    removed: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)


def question_context(meta: dict, body_html: str, config: SiteConfig) -> dict:
    "What question.html's frame shows; the parts are given `part_context` too."
    body_url = meta.get("answering_body", {}).get("url")
    return {
        "page_url": meta["url"],
        # The `link` global, bound to this page: a plain function costs Jinja2 less to call
        # than one that is passed the context, and a page makes dozens of links.
        "link": page_links(meta["url"]),
        "q": meta,
        "body_html": body_html,
        "canonical": config.absolute(meta["url"]),
        "feed_url": urls.feed_url(body_url or urls.HOME),
    }


def part_context(meta: dict, nav: dict, config: SiteConfig) -> dict:
    """What only the parts of a question page show, besides the frame's context: worked out
    only when a part is rendered, which a template change to the frame renders none of."""
    return {
        "nav": nav,
        "timeline_events": timeline.events(meta),
        "datasette_row": config.datasette_row(meta["key"]),
        "official_url": web_link(meta.get("official_url")),
    }


# Links that lead out of a page's first folder ('days/' from 'commons/…') are the same from
# every page as deep: worked out once a worker, by (depth, target).
_links_by_depth: dict[tuple[int, str], str] = {}


def page_links(page_url: str) -> Callable[[str], str]:
    """`urls.relative` from one question page, each link worked out once: most of a page's links
    (the home page, the sections, the stylesheet, the feed) are the same as every other page's
    of its depth, and some are made twice on one page."""
    start = [part for part in page_url.split("/") if part]
    shared = bool(start) and not any(part in (".", "..") for part in start)
    own: dict[str, str] = {}

    def link(target: str) -> str:
        found = own.get(target)
        if found is not None:
            return found
        parts = target.split("/")
        if shared and parts[0] not in ("", start[0]) and not any(part in (".", "..") for part in parts):
            key = (len(start), target)
            found = _links_by_depth.get(key) or _links_by_depth.setdefault(key, urls.relative(page_url, target))
        else:
            found = urls.relative(page_url, target)
        own[target] = found
        return found

    return link


def web_link(url: str | None) -> str | None:
    """A URL from source data, only if it is a web address: anything else (javascript:,
    data:, a relative path, an address that does not parse) would become a link that runs
    code or leads nowhere."""
    try:
        is_web = bool(url) and urlsplit(url.strip()).scheme.lower() in ("http", "https")
    except ValueError:  # 'http://[' : not an address at all
        is_web = False
    return url.strip() if is_web else None


def render_question(path: Path, nav: dict, env, config: SiteConfig) -> tuple[str, str, bytes]:
    "One Markdown page -> (its url, its HTML page, its JSON twin's bytes)."
    return render_question_text(path.read_text(encoding="utf-8"), nav, env, config)


def render_question_text(text: str, nav: dict, env, config: SiteConfig) -> tuple[str, str, bytes]:
    "A Markdown page's text -> (its url, its HTML page, its JSON twin's bytes), without the render cache."
    meta, body, body_html, html = render_question_html(text, nav, env, config, PageRenderer())
    return meta["url"], html, question_twin(meta, body, body_html)


# The parts of a question page, each a template of its own rendered with the page's context
# (question.html places them from `parts`): the render cache keeps each part's HTML by the part's
# version and the page's inputs, so a change to one part, or to question.html's frame around them,
# renders only that again.
QUESTION_PARTS = ("_question_header.html", "_timeline.html", "_notices.html", "_diff.html", "_group.html",
                  "_cited_by.html", "_asked_before.html", "_citation.html", "_prev_next.html")
QUESTION_TEMPLATES = ("question.html", *QUESTION_PARTS)  # what a question page is rendered from


@dataclass
class PageRenderer:
    """How a question page's pieces are made: its front matter, its Markdown body and its parts.
    Plain rendering by default; a build passes its render cache's page (`render_cache.CachedPage`).
    A front matter of any shape but a question page's is refused (`PageError`) before a template reads it."""
    front_matter: Callable[[str], dict] = page_shape.read_front_matter
    body: Callable[[str], str] = render_markdown
    # {part name: render} -> {part name: its HTML}
    parts: Callable[[dict[str, Callable[[], str]]], dict[str, str]] = (
        lambda renders: {name: render() for name, render in renders.items()})


def render_question_html(text: str, nav: dict, env, config: SiteConfig,
                         renderer: PageRenderer) -> tuple[dict, str, str, str]:
    "A Markdown page's text -> (its front matter, its Markdown body, the body's HTML, its HTML page)."
    header, body = split_page_text(text)
    meta = renderer.front_matter(header)
    body_html = renderer.body(body)
    return meta, body, body_html, render_question_page(meta, body_html, nav, env, config, renderer.parts)


def render_question_page(meta: dict, body_html: str, nav: dict | None, env, config: SiteConfig,
                         parts: Callable[[dict[str, Callable[[], str]]], dict[str, str]]) -> str:
    """A question page's HTML from its front matter and its body's HTML; `parts` as `PageRenderer.parts`.
    `nav` None: links not read, for a page whose parts all come from its entry in the render cache."""
    context = question_context(meta, body_html, config)
    made = []

    def parts_context() -> dict:
        # Made once, by the first part rendered; not functools.cache, whose wrapper, made for
        # every page, cost a page from the render cache a hundredth of its time.
        if nav is None:  # a page given no links is one whose parts all come from its entry
            raise LookupError(f"a part of {meta.get('url')!r} is rendered without its previous and next links")
        if not made:
            made.append({**context, **part_context(meta, nav, config)})
        return made[0]

    renders = {name: partial(render_part, env, name, parts_context) for name in QUESTION_PARTS}
    context["parts"] = {name: Markup(html) for name, html in parts(renders).items()}
    return env.get_template("question.html").render(context)


def render_part(env, name: str, context: Callable[[], dict]) -> str:
    "A part of a question page; `context()` gives the page's context for its parts."
    return env.get_template(name).render(context())


def question_twin(meta: dict, body: str, body_html: str) -> bytes:
    "A question page's JSON twin (its bytes): its front matter, its Markdown body and the body's HTML."
    return to_json_bytes(dict(meta, markdown=body, html=body_html))


# The code that writes twins as this module defines it, for the render cache's version (a wrapper
# put in its place, to count calls, say, writes the same twins).
TWIN_CODE = (question_twin, to_json_bytes, render.to_json)


_worker: dict = {}


def _start_pool_worker(out_dir: str, config: SiteConfig, db_path: str | None) -> None:
    """`_start_worker` in a render worker of a pool: what it inherited from the build (the
    manifest's entries, the pages to render) is never scanned by the cyclic garbage
    collector, whose full collections walked it all (a tenth of a second each, and every page
    of memory they touch is copied from the build's), though none of it becomes garbage here.
    Not in a build's own process, whose objects may."""
    gc.freeze()
    _start_worker(out_dir, config, db_path)
    sweep_when_worker_exits(_worker["replaced"])


def _start_worker(out_dir: str, config: SiteConfig, db_path: str | None = None) -> None:
    """Ready this process to render chunks of pages into `out_dir`; with `db_path`, the database
    that the previous and next links of pages given none are read from (`chunk_navigation`)."""
    follow_the_build()
    _worker["env"] = make_environment(config, Path(out_dir))
    # The templates do not change while a build renders: not checked on disk for every page.
    _worker["env"].auto_reload = False
    _worker["config"] = config
    _worker["out_dir"] = out_dir
    # Kept from chunk to chunk: a file this worker replaced is filled again some pages later.
    _worker["replaced"] = Output(Path(out_dir)).replacing_files()
    if "cache" in _worker:  # a second build in this process: its own run of the cache
        _worker["cache"].close()
    _worker["cache"] = render_cache.PageCache(render_cache.cache_path(Path(out_dir)), twin_code=TWIN_CODE,
                                              part_versions=question_part_versions(config))
    if _worker.get("db") is not None:
        _worker["db"].close()
    _worker["db"] = queries.read_only(db_path) if db_path else None


def _finish_worker() -> None:
    """Close what `_start_worker` opened, now rather than when the process exits: the cache's
    write-ahead log goes with its last connection, so that a build killed later (making the
    search index) leaves none."""
    _worker["cache"].close()
    if _worker.get("db") is not None:
        _worker["db"].close()
        _worker["db"] = None


class KeptLinks(NamedTuple):
    """What the last complete build recorded of a page whose text and links are as they were then
    (see `write_question_pages`): the digest of its inputs, and the urls of its previous and next links."""
    digest: str
    previous: str
    next: str


class PageItem(NamedTuple):
    "A question page for a render worker to render and write."
    path: str  # its Markdown page
    url: str
    nav: dict | None  # its previous and next links; None: read by the worker (`chunk_navigation`)
    html_before: str  # the digest of the HTML the last build wrote for it ('' when unknown)
    twin_before: str  # of its JSON twin likewise
    text_digest: str  # of its text, where the pages stage vouches for it: then not read ('' otherwise)
    kept: KeptLinks | None = None  # its links as the last build had them, when they still hold: not read


def chunk_navigation(items: list[PageItem]) -> list[PageItem]:
    """The chunk's items, each with its previous and next links: those an item gives, else read
    for the whole chunk in one query of the worker's database (`navigation_of`); but for an item
    that keeps the last build's (`PageItem.kept`), whose links are read only if its page needs them."""
    unknown = [item.url for item in items if item.nav is None and item.kept is None]
    return with_links(items, unknown) if unknown else items


def with_links(items: list[PageItem], page_urls: list[str]) -> list[PageItem]:
    "The items, those at these urls with their links read now, in one query, and no longer kept."
    found = navigation_of(_worker["db"], page_urls)
    wanted = set(page_urls)
    return [item._replace(nav=found.get(item.url, no_neighbours()), kept=None) if item.url in wanted else item
            for item in items]


def links_where_wanted(items: list[PageItem], digests: list[str],
                       cache: render_cache.PageCache) -> tuple[list[PageItem], list[str], list]:
    """The chunk's items, digests and the render cache's entries of the items that keep the last
    build's links (None for the others): such a page needs its links only when its entry does not
    make it alone (`CachedPage.makes_page_alone`, a part to render, or no entry); those are read
    now, in one query, and their digests worked out from them."""
    pages = [cache.page(digest) if item.kept else None for item, digest in zip(items, digests, strict=True)]
    lacking = [item.url for item, page in zip(items, pages, strict=True)
               if page is not None and not page.makes_page_alone(item.url)]
    if not lacking:
        return items, digests, pages
    items = with_links(items, lacking)
    for index, item in enumerate(items):
        if pages[index] is not None and item.kept is None:
            digests[index], pages[index] = question_digest(None, item.nav, item.text_digest), None
    return items, digests, pages


def no_neighbours() -> dict:
    "The links of a page with no previous or next question in its body (each page its own dict)."
    return {"previous": None, "next": None}


def _render_chunk(items: list[PageItem]) -> tuple[list[str], int, set[str], dict, dict, set[bytes]]:
    """Render and write a chunk of question pages in a worker process. Returns what it wrote,
    how many files were already up to date, every path it wrote or confirmed (so that the
    build knows which files are still part of the archive), each page's manifest entry, the
    pages rejected (url: why) and the keys of the render cache's entries it made or used."""
    output = Output(Path(_worker["out_dir"]), replaced=_worker["replaced"])
    entries, rejected = {}, {}
    items = chunk_navigation(items)
    # Read once: the digest must describe exactly the text that was rendered. A page whose text's
    # digest the pages stage vouches for is not read while the render cache holds its entry.
    texts = [None if item.text_digest else read_page(item.path) for item in items]
    text_digests = [item.text_digest or text_digest_of(text) for item, text in zip(items, texts, strict=True)]
    digests = [item.kept.digest if item.kept else question_digest(None, item.nav, text_digest) if text_digest else ""
               for item, text_digest in zip(items, text_digests, strict=True)]
    cache = _worker["cache"]
    cache.prefetch([digest for digest in digests if digest])
    items, digests, held_pages = links_where_wanted(items, digests, cache)
    for item, text, text_digest, digest, held_page in zip(items, texts, text_digests, digests, held_pages,
                                                          strict=True):
        try:
            made = render_chunk_page(output, cache, item, text, text_digest, digest, held_page)
        except PageError as error:  # a page edited wrong by hand: said, and the build goes on
            rejected[item.url] = f"{item.path}: {error}"
            continue
        except Exception as error:
            # Anything else points to the code (a template, a helper), not to one page: rejecting
            # every page would let the build sweep all their files as stale. It stops, naming the page.
            error.add_note(f"while rendering {item.path}")
            raise
        # Encoded once, for its digest and its file alike.
        url, data = made.meta["url"], made.html.encode("utf-8")
        html_digest = bytes_digest(data)
        # Bytes other than the last build wrote here: the old file need not be read to know it.
        output.write(urls.html_file(url), data, changed=item.html_before not in ("", html_digest))
        twin_digest = made.twin()
        made.page.done(twin_digest)
        entries[item.url] = [made.digest, url, html_digest, twin_digest, *made.neighbours, made.text_digest]
    cache.flush()
    return output.written, output.unchanged, output.seen, entries, rejected, cache.take_used()


class MadePage(NamedTuple):
    "A page as `render_chunk_page` made it."
    page: render_cache.CachedPage  # its entry in the render cache
    digest: str  # of its inputs
    meta: dict  # its front matter
    html: str  # its HTML page
    twin: Callable[[], str]  # writes its JSON twin (unless kept) and gives the digest of its bytes
    neighbours: list[str]  # the urls of its previous and next links ('' for none)
    text_digest: str  # of the text it was made from


def render_chunk_page(output: Output, cache: render_cache.PageCache, item: PageItem, text: str | Exception | None,
                      text_digest: str, digest: str, held_page: render_cache.CachedPage | None = None) -> MadePage:
    """One page of `_render_chunk`'s, from its text (or why it could not be read) and the digests
    of its text and inputs. A page not read (`text` None) is made from its entry (`held_page`,
    else looked up now) when the cache holds it and its twin is kept; else from its text, read
    now (and its links, if it kept the last build's). Raises `PageError` for a page that cannot
    be rendered."""
    if text is None:
        page = held_page or cache.page(digest)
        held = render_held_page(output, page, item.url, item.nav, item.twin_before)
        if held is not None:
            meta, html, twin_digest = held
            neighbours = [item.kept.previous, item.kept.next] if item.kept else neighbour_urls(item.nav)
            return MadePage(page, digest, meta, html, lambda: twin_digest, neighbours, text_digest)
        text, text_digest = read_page(item.path), ""
    if isinstance(text, Exception):
        raise PageError(str(text))
    if not text_digest:  # read just now: its digests are worked out from the text as it is
        if item.kept:  # and its links read, where its entry made it but for its twin, which takes its text
            item = with_links([item], [item.url])[0]
        text_digest = bytes_digest(text)
        digest = question_digest(None, item.nav, text_digest)
    page = cache.page(digest)
    renderer = PageRenderer(page.front_matter, page.body, page.parts)
    meta, body, body_html, html = render_own_page(text, item.url, item.nav, renderer)
    return MadePage(page, digest, meta, html,
                    partial(write_twin, output, page.twin_digest, item.twin_before, meta, body, body_html),
                    neighbour_urls(item.nav), text_digest)


def render_held_page(output: Output, page: render_cache.CachedPage, url: str, nav: dict | None,
                     twin_before: str) -> tuple[dict, str, str] | None:
    """The page at `url` from its entry in the render cache alone, its text unread: (its front
    matter, its HTML page, its twin's digest). None unless the entry is held, gives this url and
    its twin is kept (`kept_twin`): writing the twin takes the page's Markdown."""
    if page.held is None or page.held["meta"].get("url") != url:
        return None
    twin_digest = kept_twin(output, url, page.twin_digest, twin_before)
    if twin_digest is None:
        return None
    meta, body_html = page.held_pieces()
    return meta, render_question_page(meta, body_html, nav, _worker["env"], _worker["config"], page.parts), twin_digest


def text_digest_of(text: str | Exception | None) -> str:
    "The digest of a page's text ('' for a page not read, or that could not be)."
    return bytes_digest(text) if isinstance(text, str) else ""


def read_page(path: str) -> str | Exception:
    "A Markdown page's text, or why it cannot be read (a page deleted or garbled by hand)."
    try:
        # By its plain string: a Path for each of 56,000 pages cost more than the read. Read as
        # bytes, unbuffered, and decoded at once: a text file's reader and the terminal check its
        # opening makes took 9.7 us a page where this takes 6.9 us.
        with open(path, "rb", buffering=0) as page:
            text = page.readall().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return error
    # Line ends as a text file's reader gives them: a page edited by hand on Windows reads the same.
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def render_own_page(text: str, url: str, nav: dict, renderer: PageRenderer) -> tuple[dict, str, str, str]:
    """`render_question_html` for the page at `url`, in the worker's environment. A page whose
    front matter names another url (edited by hand) would write over that question's files:
    refused, as one whose front matter cannot be parsed is."""
    rendered = render_question_html(text, nav, _worker["env"], _worker["config"], renderer)
    if rendered[0].get("url") != url:
        raise PageError(f"its front matter gives the url {rendered[0].get('url')!r}, not its own {url!r}")
    return rendered


def write_twin(output: Output, known: str | None, written_before: str, meta: dict, body: str,
               body_html: str) -> str:
    """Write a page's JSON twin unless its file still holds what the render cache says this page's
    twin is (`kept_twin`); returns the digest of its bytes."""
    kept = kept_twin(output, meta["url"], known, written_before)
    if kept is not None:
        return kept
    twin = question_twin(meta, body, body_html)
    output.write(urls.json_twin(meta["url"]), twin)
    return bytes_digest(twin)


def kept_twin(output: Output, url: str, known: str | None, written_before: str) -> str | None:
    """`known` if the JSON twin of the page at `url` still holds it (what the render cache says this
    page's twin is: the twin does not depend on the templates, so a template change leaves every
    twin as it was), the file then claimed; else None. When the last complete build wrote those
    very bytes there (`written_before`), the file is trusted as it left it, as every unchanged
    file of an incremental build is, once seen to be there: hashing 56,000 twins after a template
    change cost a sixth of the build. `make verify` re-hashes them (its items give no
    `written_before`)."""
    path = urls.json_twin(url)
    if known is not None and known == written_before and output.confirm_present(path):
        return known
    if known is not None and output.confirm_unchanged({path: known}):
        return known
    return None


def question_digest(text: str | None, nav: dict, text_digest: str = "") -> str:
    """Everything a question page is rendered from, besides the code and the config. The text
    goes in by its own digest (`text_digest` when it is known without reading the text): encoding
    it as JSON, escapes and all, cost three times the hash."""
    return inputs_digest(text_digest or bytes_digest(text), nav)


def neighbour_urls(nav: dict) -> list[str]:
    "The urls of a page's previous and next links ('' for none)."
    return [(nav.get(side) or {}).get("url") or "" for side in ("previous", "next")]


def is_manifest_entry(entry) -> bool:
    """[digest of the page's inputs, url of its files, digests of its HTML and JSON as written,
    urls of its previous and next links, digest of its text]: a page is kept only if its files
    still hold what the build wrote; the links tell a later build which pages linked to a
    question that moved; with the text's digest, a build after a change of code alone knows the
    pages whose inputs are as they were without reading their links (`kept_links`)."""
    return (isinstance(entry, list) and len(entry) == 7
            and all(isinstance(part, str) for part in entry))


# Rendered on every build that changes anything (the downloads page by its stage), so kept in
# the question pages' version: a change to one must be seen even by a build with no new data.
EVERY_BUILD_TEMPLATES = ("downloads.html", "robots.txt", "sitemap.xml", "sitemap_index.xml")


QUESTION_CODE = (__file__, render.__file__, render.MARKDOWN_SHORTCUT, pages.__file__, page_shape.__file__,
                 urls.__file__, model.__file__, clean.__file__, timeline.__file__, timeliness.__file__)
QUESTION_PACKAGES = ("Markdown", "nh3", "Jinja2", "MarkupSafe", "orjson", "PyYAML")


def question_code_version(config: SiteConfig, *templates: str) -> str:
    "What besides its inputs decides what these templates make of a question page: code, templates, config."
    return stage_code_digest([Path(module) for module in QUESTION_CODE] + render.templates_used(*templates),
                             QUESTION_PACKAGES, json.dumps(asdict(config), sort_keys=True))


def question_part_versions(config: SiteConfig) -> dict[str, str]:
    "Each part's version: a change to one part's template (or what it imports) moves only its own."
    return {name: question_code_version(config, name) for name in QUESTION_PARTS}


# What reads a question page's previous and next links from the database (`navigation_of`).
NAVIGATION_CODE = (__file__, queries.__file__, urls.__file__)


def site_code_version(config: SiteConfig) -> str:
    """What besides its inputs decides a question page's bytes (code, templates and config);
    after a '-', what decides the files every build renders; after another, the code that reads
    the pages' links. A change to the first part alone renders again only the question pages."""
    question_pages = question_code_version(config, *QUESTION_TEMPLATES)
    every_build = stage_code_digest(render.templates_used(*EVERY_BUILD_TEMPLATES), ("Jinja2",),
                                    json.dumps(asdict(config), sort_keys=True))
    navigation = stage_code_digest([Path(module) for module in NAVIGATION_CODE], ())
    return f"{question_pages}-{every_build}-{navigation}"


def same_version_part(manifest: PageManifest, version: str, part: int) -> bool:
    "Whether the last complete build, under other code, ran this part of `version` (`site_code_version`) alike."
    other = (manifest.other_code_version or "").split("-")
    return (manifest.other_code_state is not None and len(other) > part
            and other[part] == version.split("-")[part])


def only_question_code_changed(manifest: PageManifest, version: str) -> bool:
    "Whether the last complete build ran other code that renders the files of every build alike."
    return same_version_part(manifest, version, 1)


def html_written_before(entry: list[str] | None, url: str) -> str:
    "The digest of the HTML the last build wrote for the page at `url` ('' when unknown)."
    return entry[2] if entry is not None and entry[1] == url else ""


def twin_written_before(entry: list[str] | None, url: str) -> str:
    "The digest of the JSON twin the last build wrote for the page at `url` ('' when unknown)."
    return entry[3] if entry is not None and entry[1] == url else ""


def is_up_to_date(path: str, key: str, nav: dict, output: Output, manifest: PageManifest) -> bool:
    """Whether a page was rendered from this same text and navigation by the last build and
    its files are still there; if so they are kept, and its entry carried over."""
    entry = manifest.previous.get(key)
    if entry is None:
        return False
    text = read_page(path)
    if not isinstance(text, str) or question_digest(text, nav) != entry[0]:
        return False
    if not output.confirm_unchanged({urls.html_file(entry[1]): entry[2], urls.json_twin(entry[1]): entry[3]}):
        return False
    manifest.current[key] = entry
    return True


def write_question_pages(pages_dir: Path, output: Output, links: dict, config: SiteConfig,
                         workers: int, manifest: PageManifest | None = None,
                         page_urls: list[str] | None = None,
                         meanwhile: Callable[[], None] = lambda: None,
                         every_page: bool | None = None,
                         text_digests: Callable[[list[str]], dict[str, str]] | None = None,
                         db_path: str | None = None, links_kept: bool = False) -> QuestionPages:
    """Render the Markdown pages into `output` (in `workers` processes when there is more
    than one chunk of pages to render), skipping those the manifest shows up to date;
    returns how many were rendered and skipped, and those rejected. `page_urls`: only the pages at these
    urls, else every page in `pages_dir`; `every_page`: whether
    they are all the pages there are (by default, only when `page_urls` is not given);
    `text_digests`: gives the digest of each page's text by its url, for a chunk of urls, where the
    pages stage vouches for it (`vouched_text_digests`), so that the page need not be read.
    `links`: each page's previous and next links, by url (none where it has no entry); or, given
    `db_path`, read from that database a chunk of pages at a time (`navigation_of`), by the
    worker that renders them, and here only where the manifest may show a page up to date: the
    links of every question, held at once, were among the largest things a full build held.
    `links_kept`: the database, and the code that reads the links, are as they were for the last
    complete build (under other code), so a page whose text is too keeps the links it had (`kept_links`).
    `meanwhile` runs once, while the workers render (see `render_items`)."""
    manifest = manifest or PageManifest(None, "")
    strays = {}
    if page_urls is None:
        found = set_strays_apart(markdown_pages(pages_dir), strays)
    else:
        # Plain strings: a Path made and joined for each of 56,000 pages took half a second
        # before any worker could start.
        folder = os.path.join(str(pages_dir), "")
        found = [(folder + urls.markdown_file(url), url) for url in sorted(page_urls)]
    made = QuestionPages()
    chunks = page_chunks(found, output, manifest, links, text_digests or (lambda page_urls: {}), db_path,
                         links_kept, made)
    rendered, used = render_items(chunks, output, config, workers, manifest, meanwhile, db_path)
    made.rejected = strays | rendered
    if (page_urls is None if every_page is None else every_page) and made.rendered and not made.skipped:
        # every page was rendered: what the cache did not give is unused
        render_cache.prune(render_cache.cache_path(output.root), used)
    return made


def page_chunks(found: Iterable[tuple[str, str]], output: Output, manifest: PageManifest, links: dict,
                text_digests: Callable[[list[str]], dict[str, str]], db_path: str | None, links_kept: bool,
                made: QuestionPages) -> Iterator[list[PageItem]]:
    """The pages `found` ((path, url), in order) that are not up to date (`is_up_to_date`), as the
    render workers' items, `CHUNK` at a time (`write_question_pages` says what the arguments
    are). What each needs of the manifests is looked up a chunk at a time as the chunk is made,
    so that the workers begin on the first while the build makes the rest: reading every entry
    of both manifests first kept both workers waiting half a second. Counts the items, and the
    pages skipped, in `made`."""
    empty = no_neighbours()
    items = []
    written_before = manifest.written_before()
    # Only a page the manifest holds an entry for can be up to date, and only then are its links wanted here.
    checking = db_path is not None and bool(manifest.previous)
    found = iter(found)
    with closing(queries.read_only(db_path)) if checking else nullcontext() as db:
        while window := list(itertools.islice(found, CHUNK)):
            keys = [key for _, key in window]
            known = navigation_of(db, keys) if checking else links
            entries, digests = written_before.batch(keys), text_digests(keys)
            for path, key in window:
                nav = known.get(key, empty)
                if is_up_to_date(path, key, nav, output, manifest):
                    made.skipped += 1
                    continue
                before = entries.get(key)
                # A page the current manifest vouched for was checked just now and failed: its twin
                # is not trusted. One rendered because the code changed may trust its twin.
                twin = "" if key in manifest.previous else twin_written_before(before, key)
                text_digest = digests.get(key, "")
                items.append(PageItem(path, key, None if db_path is not None and not checking else nav,
                                      html_written_before(before, key), twin, text_digest,
                                      kept_links(before, key, text_digest) if links_kept else None))
            while len(items) >= CHUNK:
                made.rendered += CHUNK
                yield items[:CHUNK]
                items = items[CHUNK:]
    if items:
        made.rendered += len(items)
        yield items


def kept_links(entry: list[str] | None, url: str, text_digest: str) -> KeptLinks | None:
    """What the last build recorded of the page at `url` (its `entry`), when it was rendered from this
    same text (`text_digest`, as the pages stage vouches for it): given that its links are as they
    were too (`write_question_pages`'s `links_kept`), so are its inputs and their digest."""
    if entry is None or entry[1] != url or not text_digest or entry[6] != text_digest:
        return None
    return KeptLinks(entry[0], entry[4], entry[5])


def render_items(chunks: Iterable[list[PageItem]], output: Output, config: SiteConfig,
                 workers: int, manifest: PageManifest, meanwhile: Callable[[], None] = lambda: None,
                 db_path: str | None = None) -> tuple[dict[str, str], set[bytes]]:
    """Render the chunks of items, each chunk handed to a worker process as soon as it is made,
    when there are enough (more than one) and workers to render them; an item's navigation None:
    read from the database at `db_path` with its chunk's (`chunk_navigation`). Returns the pages
    rejected (url: why), whose files the last build made are kept (`keep_last_good`), and the
    keys of the render cache's entries made or used.
    `meanwhile` runs here while they render, once every worker is started (so that no process
    is forked while a thread it starts may hold a lock); when the items are rendered here, before
    them, so that the downloads it starts in a process of their own work beside these pages too.
    What it writes must not be a question page's file."""
    chunks = iter(chunks)
    first = list(itertools.islice(chunks, 2))  # one chunk alone is rendered here
    if first:
        output.changing()  # the workers write with Outputs of their own
        render_cache.prepare(render_cache.cache_path(output.root))
    if workers <= 1 or len(first) <= 1:
        meanwhile()
        _start_worker(str(output.root), config, db_path)
        try:
            results = list(map(_render_chunk, itertools.chain(first, chunks)))
        finally:
            _finish_worker()
    else:
        # The with-block shuts the pool down even when a chunk fails. With the fork start method,
        # the first submit starts every worker.
        with ProcessPoolExecutor(workers, initializer=_start_pool_worker,
                                 initargs=(str(output.root), config, db_path)) as pool:
            rendering = []
            try:
                for chunk in itertools.chain(first, chunks):
                    rendering.append(pool.submit(_render_chunk, chunk))
                meanwhile()
            except BaseException:
                for future in rendering:  # the chunks not yet started are not waited for
                    future.cancel()
                raise
            results = [future.result() for future in rendering]
    rejected, used = {}, set()
    for written, unchanged, seen, entries, refused, cache_used in results:
        output.written += written
        output.unchanged += unchanged
        output.seen |= seen
        manifest.current.update(entries)
        rejected.update(refused)
        used |= cache_used
    for url in rejected:
        keep_last_good(url, output, manifest)
    return rejected, used


def keep_last_good(url: str, output: Output, manifest: PageManifest) -> None:
    """A rejected page's files as the last build left them: not removed as stale, whether or not
    the manifest holds their entry (a build stopped half way leaves none, new code or settings
    none that count). An entry describes the text they were made from, so every build that
    checks the page tries it again until it is mended (`make verify` rewrites the page from
    the database). With no entry, or with its files gone (the entry would vouch for files that
    are not there), it keeps none: every build that renders any page renders it until then
    (`pages_gone` finds it unrecorded)."""
    entry = manifest.previous.get(url)
    present = [output.confirm_present(path) for path in (urls.html_file(url), urls.json_twin(url))]
    if entry is not None and entry[1] == url and all(present):
        manifest.current[url] = entry
    else:  # an incremental build carried the last build's entry over
        manifest.current.pop(url, None)


def navigation_of(db: sqlite_utils.Database, page_urls: list[str]) -> dict[str, dict]:
    "The previous and next links of the pages at these urls, as `neighbours` gives them."
    found = queries.neighbour_rowids(db, page_urls)
    links = {row["rowid"]: {"url": row["url"], "title": urls.question_title(row)}
             for row in queries.title_rows(db, {rowid for _, *pair in found for rowid in pair if rowid is not None})}
    return {url: {"previous": links.get(previous), "next": links.get(following)}
            for url, previous, following in found}


def write_changed_question_pages(db: sqlite_utils.Database, keys: set[str], pages_dir: Path,
                                 output: Output, config: SiteConfig, workers: int, manifest: PageManifest,
                                 meanwhile: Callable[[], None] = lambda: None) -> QuestionPages:
    """The pages of the questions in the change set, and of the questions that were their
    neighbours before (their links move), from the pages the pages stage wrote; the files of
    questions the pages stage no longer has are removed. Other entries are carried over
    unchecked. Returns how many pages were rendered and skipped, those rejected and the files removed.
    `meanwhile` runs once, while the workers render (see `render_items`).

    The pages stage has completed on this same database (`site_changes`), so its pages are
    those of the questions the database holds: their urls are read from there, not from its
    manifest, which is the size of the archive."""
    # Carried over even when no question changed: the database may have moved on (a file that
    # gave nothing new), and the manifest is saved with its state, entries and all.
    manifest.carry_over()
    if not keys:  # nothing changed: the manifest's entries are not even read
        meanwhile()
        return QuestionPages(skipped=db["questions"].count)
    changed_urls = set(queries.urls_of(db, keys).values())
    gone, unrecorded = pages_gone(db, manifest, changed_urls)
    wanted = changed_urls | unrecorded
    for url in changed_urls:
        wanted.update(filter(None, (manifest.previous.get(url) or [])[4:6]))  # its neighbours before
    wanted = sorted(wanted.difference(gone))
    written = write_question_pages(pages_dir, output, navigation_of(db, wanted), config,
                                   workers, manifest, wanted, meanwhile)
    for url in gone:
        del manifest.current[url]
    written.removed = output.remove([name for url in gone for name in (urls.html_file(url), urls.json_twin(url))])
    return written


def pages_gone(db: sqlite_utils.Database, manifest: PageManifest,
               changed_urls: set[str]) -> tuple[list[str], set[str]]:
    """The urls of the last build's question pages whose question the database no longer holds;
    and of the questions besides the changed ones whose page the manifest holds no entry for,
    to render again (a page rejected when its files were gone: see `keep_last_good`).
    A database of the same lineage never loses a question, and a question new since the last
    build is in its change set: when the counts agree with that (the manifest holds every
    question but the new ones), no page is gone or unrecorded, and 56,000 urls need not be read
    twice over. Otherwise every url is compared."""
    new = sum(not manifest.previous.holds(url) for url in changed_urls)
    if len(manifest.previous) == db["questions"].count - new:
        return [], set()
    paged, recorded = queries.question_urls(db), set(manifest.previous)
    return sorted(recorded - paged), paged - recorded - changed_urls


def vouched_text_digests(pages_dir: Path, on_leaving: ExitStack) -> Callable[[list[str]], dict[str, str]]:
    """What gives the digest of each Markdown page's text as the pages stage wrote it, by url, for
    a chunk of urls at a time, from that stage's manifest (open until `on_leaving` closes): a build
    given changes trusts the pages as that stage left them, and after a template change the render
    cache holds each page's entry under the same digest, so no page is read. Reading and hashing
    the 56,000 pages cost that build a twentieth of its time."""
    manifest = on_leaving.enter_context(
        PageManifest(page_manifest_path(pages_dir), pages.pages_code_version(), pages.is_manifest_entry))
    manifest.open()
    return lambda page_urls: {url: entry[1] for url, entry in manifest.previous.batch(page_urls).items()}


def markdown_pages(pages_dir: Path) -> Iterator[tuple[str, str]]:
    """(path, url) of every Markdown page below `pages_dir`, in the order of their folders' names,
    each as the walk finds it: the render workers begin on the first pages while the build walks
    the rest of the 56,000 folders (0.7 s, and over 3 s when they are not in memory). One walk of
    the folders with plain strings: Path objects and relpath for each page took seconds."""
    page_name, top = urls.markdown_file(""), os.path.normpath(pages_dir)
    for folder, folders, files in os.walk(top):
        folders.sort()  # walked in order: a folder's page, then its folders' in the order of their names
        if page_name in files:
            path = os.path.join(folder, page_name)
            yield path, (folder[len(top) + 1:].replace(os.sep, "/") + "/" if folder != top
                         else url_of(pages_dir, path))


def set_strays_apart(found: Iterable[tuple[str, str]], strays: dict[str, str]) -> Iterator[tuple[str, str]]:
    """The (path, url) of `markdown_pages` where a question's page may live; the others rejected
    into `strays` (url: why) as they are found: a stray index.md ('notes/index.md',
    'commons/x/index.md') is no question's page, and rendered it would land where none belongs,
    or over a listing."""
    for path, url in found:
        if urls.is_question_url(url):
            yield path, url
        else:
            strays[url] = f"{path}: no question's page lives there (a question's folder is its house, date and UIN)"


def url_of(pages_dir: Path, page_path: str) -> str:
    "'…/pages/commons/2024-08-30/3283/index.md' -> 'commons/2024-08-30/3283/'."
    return Path(os.path.relpath(os.path.dirname(page_path), pages_dir)).as_posix() + "/"


# -- everything else ---------------------------------------------------------------------


def write_static(output: Output) -> None:
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            output.write(urls.STATIC + path.relative_to(STATIC).as_posix(), path.read_bytes())


# Files the site stage generates; anything else in the output folder (pagefind/, downloads/, files a
# deployment adds) is not the build's to remove.
GENERATED = (urls.html_file(""), urls.json_twin(""), urls.FEED, "sitemap*.xml", "*.tmp")
NOT_GENERATED = ("static", "pagefind", "downloads")


def build_site(db_path: Path, pages_dir: Path, out_dir: Path, config: SiteConfig | None = None,
               workers: int | None = None,
               check_all: bool = False, pages_made_afresh: bool = False) -> SiteReport:
    """Write the archive. Driven by the database's change log (changes.py) when the pages stage
    has made the pages of this same database: only the question pages of changed questions and
    of those showing them are rendered again, the files of removed questions removed, the rest
    trusted as the last complete build left it. Otherwise, or when `check_all` asks, every page
    is checked against the manifest (and its files re-hashed), and the files this build did not
    write are removed (a question, member, body, heading, day or listing page that no longer
    exists). The other files (listings, feeds, sitemap, downloads) are written while the render
    workers render the question pages, or before the pages when they are rendered in this
    process (so that the downloads' own process works beside them).

    `changed` below is what the listings, feeds and sitemap are given: the keys of the
    questions whose pages may differ since the last complete build (deleted questions
    included), or None for "everything".

    `pages_made_afresh`: the pages stage, in this same process, has just written every
    question's page into a folder that held nothing (`pages.PagesReport.made_afresh`), so the
    pages are those of the database's questions, and no stray page can be among them."""
    config = config or SiteConfig()
    workers = workers or min(2, os.cpu_count() or 1)
    output = Output(out_dir)
    TemplateCache.remove_leftovers(output.root)
    render.TEMPLATE_REFERENCES.load(output.root)  # before any version is worked out
    report = SiteReport()
    with (PageManifest.take(output, site_code_version(config), is_manifest_entry) as manifest,
          closing(sqlite_utils.Database(db_path)) as db, ThreadPoolExecutor(1) as beside,
          ExitStack() as on_leaving):
        change = site_changes(db, pages_dir, manifest, check_all, records_vouch(output, config))
        changed = change.keys
        others = OtherFiles(db, db_path, output, config, change, manifest, beside, check_all)
        on_leaving.callback(others.close)
        if changed is None or manifest.other_code_state is not None:  # new code: every question page
            # Given changes, the pages stage has completed on this database (or has just made
            # every page afresh): its pages are those of the questions it holds, read from there
            # instead of walking 56,000 folders.
            known = changed is not None or pages_made_afresh
            page_urls = list(queries.question_urls(db)) if known else None
            pages_made = write_question_pages(
                pages_dir, output, {}, config, workers, manifest, page_urls,
                meanwhile=others.write, every_page=True,
                text_digests=None if changed is None else vouched_text_digests(pages_dir, on_leaving),
                db_path=str(db_path),
                # No question changed since the last complete build, under other code: if that code
                # read the links as this does, each page's links are the ones it had.
                links_kept=changed == set() and same_version_part(manifest, manifest.version, 2))
        else:
            pages_made = write_changed_question_pages(
                db, changed, pages_dir, output, config, workers, manifest, meanwhile=others.write)
        report.rendered, report.skipped, report.rejected = pages_made.rendered, pages_made.skipped, pages_made.rejected
        report.removed = pages_made.removed
        report.question_pages = report.rendered + report.skipped
        # None: the same database as the last complete build, so the same files.
        report.downloads = others.downloads and others.downloads.result()
        report.removed += others.removed
        if changed is None:
            report.removed += output.remove_stale(GENERATED, spare_folders=NOT_GENERATED)
        report.removed += output.remove_leftovers(("*.tmp",))
        # Withdrawn by a change to another file (a listing template's, say): its entries still hold.
        if changed != set() or change.state != manifest.state or manifest.withdrawn:
            manifest.save(change.state)
        others.record()
    render.TEMPLATE_REFERENCES.save(output.root)
    report.written = output.written
    report.unchanged = output.unchanged
    return report


@dataclass
class OtherFiles:
    """The files of the site besides the question pages, written by `write` (in the main process:
    the listings, feeds and sitemap share its database connection); then what it removed and
    the downloads under way, in a process of their own or in `beside`."""
    db: sqlite_utils.Database
    db_path: Path
    output: Output
    config: SiteConfig
    change: changes.ChangeSet
    manifest: PageManifest
    beside: ThreadPoolExecutor
    check_all: bool  # the downloads read every file they keep, to find edits by hand
    removed: list[str] = field(default_factory=list)
    downloads: Future | ForkedCall | None = None  # None: not made again (nothing changed)
    version: str = ""  # `other_files_version`, once `write` has worked it out
    skipped: bool = False  # whether `write` found them all as the last complete build left them

    def write(self) -> None:
        db, output, config, change = self.db, self.output, self.config, self.change
        changed = change.keys
        self.version = other_files_version(config)
        record = other_files_record(output.root)
        if (changed == set() and change.state is not None and change.state == self.manifest.state
                and read_record(record) == {"version": self.version, "state": change.state}):
            # Nothing changed since they were written, by this same code, from this same database:
            # the same bytes. One edited by hand in the output is for `make verify` to find.
            self.skipped = True
            return
        output.before_first_change.append(partial(record.unlink, missing_ok=True))
        # One environment for every page: each template (base.html above all) is compiled once.
        # Jinja2 environments may render in several threads at once.
        env = make_environment(config, output.root)
        # The same database as the last complete build and the same downloads page (a change to
        # it changes the version's second part, which gives no empty change set): the same files.
        if changed != set() or change.state not in (self.manifest.state, self.manifest.other_code_state):
            # Beside the rest, once no worker process is left to fork: the downloads read the
            # database on their own connection and write only their folder. In a process of
            # their own where this one runs no other thread (a build of one change): their
            # thousand-odd reads and hashes of the database's pieces, each taking the
            # interpreter's lock back from the listings, made a thread of them take 0.6-1.2 s
            # beside the listings, where alone they take 0.3 s (one correction beside 0.3 s of
            # pure Python: 0.59 s in all as a thread, 0.46 s forked). Else in a thread.
            arguments = (self.db_path, output.root / urls.DOWNLOADS, env, config, self.check_all)
            self.downloads = (ForkedCall.start("downloads", downloads.write_downloads, *arguments)
                              or self.beside.submit(downloads.write_downloads, *arguments))
        write_static(output)
        # A listing shows a question's own row (and the members and bodies, whose change
        # renders every listing): the questions changed only for what they show of another
        # change no listing.
        names = queries.Names.load(db)  # read once for the listings and the feeds
        # The latest date as the change set found it, on this connection: not worked out again.
        listed = listings.write_listings(db, env, output, config, changed if change.rows is None else change.rows,
                                         names, (change.state or {}).get("as_of"))
        feeds_removed = feeds.write_feeds(db, env, output, config, changed, names)
        # Listing pages and sitemap parts that are no longer made: a build given changes finds
        # them from their records, without walking the folder.
        listed.removed += sitemap.write_sitemaps(output, env, db, listed, change.rows)
        output.write(urls.ROBOTS, env.get_template("robots.txt").render(page_url=urls.HOME))
        self.removed = listed.removed + feeds_removed

    def record(self) -> None:
        """Once the build has completed: what these files were written from, when `write` wrote
        them from a database whose state is known (changes.py)."""
        if self.skipped:
            return
        record = other_files_record(self.output.root)
        if self.change.state is None:
            record.unlink(missing_ok=True)
        else:
            replace_if_changed(record, orjson.dumps({"version": self.version, "state": self.change.state},
                                                    option=orjson.OPT_SORT_KEYS))

    def close(self) -> None:
        "Wait for the downloads' process, if they have one: a build that fails leaves none running."
        if isinstance(self.downloads, ForkedCall):
            self.downloads.close()


# Beside the site folder, never inside what is published: what the files besides the question
# pages were last written from by a complete build (`OtherFiles.record`).
OTHER_FILES_SUFFIX = ".other-files.json"


def other_files_record(site_dir: Path) -> Path:
    return site_dir.with_name(site_dir.name + OTHER_FILES_SUFFIX)


def read_record(path: Path) -> dict | None:
    "A record's contents (None when it is missing or not JSON)."
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def other_files_version(config: SiteConfig) -> str:
    """What besides the database decides the files besides the question pages (listings, feeds,
    sitemap, static files, robots.txt): their code, templates and static files, and the config."""
    static = sorted(path for path in STATIC.rglob("*") if path.is_file())
    templates = render.templates_used("robots.txt", "sitemap.xml", "sitemap_index.xml")
    # The static files' places too: the digest names a file by its name alone, and one moved to
    # another folder is written there.
    places = "\n".join(path.relative_to(STATIC).as_posix() for path in static)
    return stage_code_digest([Path(__file__), Path(sitemap.__file__), *static, *templates], ("Jinja2",),
                             listings.listings_code_version(config), feeds.feeds_version(config),
                             json.dumps(asdict(config), sort_keys=True), places)


def records_vouch(output: Output, config: SiteConfig) -> bool:
    """Whether the records of what the listings and the feeds wrote last time are there, whole
    and made by this code: only they say which of those files a build given changes must remove."""
    return (listing_record.holds_pages(output.root, listings.listings_code_version(config))
            and feeds.holds_shown(output, feeds.feeds_version(config)))


def site_changes(db: sqlite_utils.Database, pages_dir: Path, manifest: PageManifest,
                 check_all: bool, records_vouched: bool) -> changes.ChangeSet:
    """What to render again: the change set since this stage last completed, if the pages
    stage has completed on this same database (the pages are what is rendered) and the
    records of the listings and feeds vouch for their files (`records_vouch`); else everything.
    After a change of code alone, the empty change set: the manifest then holds no entries,
    and every question page is rendered again."""
    made_from = PageManifest.read(pages_dir, pages.pages_code_version(), pages.is_manifest_entry).state or {}
    position = changes.position(db)
    if not all(made_from.get(name) == value for name, value in position.items()):
        # Pages behind (or ahead of) the database: render what is there, and record no state,
        # so that the next build, once the pages stage has caught up, renders everything.
        return changes.ChangeSet(None, None)
    change = changes.since(db, None if check_all else manifest.state)
    if change.keys and not manifest.holds_entries():
        return changes.ChangeSet(None, change.state)
    if change.keys is None and not check_all and only_question_code_changed(manifest, manifest.version):
        same_data = changes.since(db, manifest.other_code_state)
        if same_data.keys == set():
            # Only the question pages' code changed (question.html, say): build_site renders
            # every question page, and the listings, feeds and downloads have no new data to show.
            change = same_data
    if change.keys is not None and not records_vouched:
        # A record deleted by hand, or a copy of the build without it: the listings and feeds
        # render every file they make, but only a build that checks every file finds those they
        # no longer make (the page of a heading whose only question was renamed).
        return changes.ChangeSet(None, change.state)
    return change
