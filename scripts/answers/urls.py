"""Where each page of the archive lives and what it is called: the one place that knows.

Every path is relative to the archive's root and ends in '/', like a question's `url`, except
the files that are not pages (feeds, the sitemap, robots.txt, the 404 page). The pages stage,
the site stage and the templates (as the Jinja global `urls`) all take paths and titles from
here, so that links, listings, feeds and pages agree.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable
from functools import partial

from .clean import cut_at_word
from .model import question_url as question_url  # a question's page: fixed when it is stored
from .model import slugify

HOME = ""
DAYS = "days/"
BODIES = "bodies/"
MEMBERS = "members/"
HEADINGS = "headings/"
TIMELINESS = "timeliness/"  # whether answers came by their date for answer
SEARCH = "search/"
ABOUT = "about/"
API = "api/"
DOWNLOADS = "downloads/"
CHANGES = "changes/"  # the questions most recently tabled, answered or corrected, and its feed
STATIC = "static/"  # the stylesheet and scripts, copied as they are
# What the site's navigation calls each section, in the order it lists them.
SECTIONS = {DAYS: "By day", BODIES: "Departments", MEMBERS: "Members", HEADINGS: "Topics",
            TIMELINESS: "Timeliness", SEARCH: "Search", ABOUT: "About"}

FEED = "feed.xml"
CORRECTIONS = "corrections/"  # beside a page's feed, the feed of its corrected answers
SITEMAP = "sitemap.xml"
ROBOTS = "robots.txt"
NOT_FOUND = "404.html"

# A title made from a question's text: about this many characters, cut at a word. Only the
# first TITLE_SOURCE_CHARS of the text are read, so a caller that reads that many characters
# from the database gets the same title as one that reads the whole text.
TITLE_LENGTH = 90
TITLE_SOURCE_CHARS = 1000


def question_title(question: dict) -> str:
    """What a question is called everywhere: its heading; where it has none (many unanswered
    questions), the start of its text; where it has neither, its house and UIN."""
    if question.get("heading"):
        return question["heading"]
    text = " ".join((question.get("question_text") or "")[:TITLE_SOURCE_CHARS].split())
    if text:
        title, was_cut = cut_at_word(text, TITLE_LENGTH)
        return title + ("…" if was_cut else "")
    return f"{question.get('house') or 'Parliament'} question {question.get('uin') or question.get('key')}"


# model.question_url's shape: the house's slug, the date tabled (or answered; 'undated' when a
# source gave neither: the store keeps real ISO dates only), the UIN's slug. Slugs are what
# model.slugify makes: lower-case letters and digits in words joined by single hyphens.
SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
# ASCII digits only: `\d` would also take other scripts' digits (٢٠٢٤), which no store date holds.
QUESTION_URL = re.compile(rf"{SLUG}/(?:[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}|undated)/{SLUG}/")


def is_question_url(url: str) -> bool:
    """Whether a question's page may live at `url` ('commons/2024-08-30/3283/'): no listing's,
    section's or other page's url has its shape."""
    return QUESTION_URL.fullmatch(url) is not None


def html_file(url: str) -> str:
    "The file that holds the page at `url`."
    return url + "index.html"


def json_twin(url: str) -> str:
    "The page's data as JSON, beside it."
    return url + "index.json"


def markdown_file(url: str) -> str:
    "A question's Markdown page, as the pages stage writes it."
    return url + "index.md"


def feed_url(url: str = HOME) -> str:
    "The Atom feed of the page at `url` (a body's, a member's; at the root, the whole archive's)."
    return url + FEED


def corrections_feed_url(url: str = HOME) -> str:
    """The Atom feed of the corrected answers among the page's (a body's; at the root, the whole
    archive's). Named like every feed, so that the site stage treats it as one."""
    return url + CORRECTIONS + FEED


def corrections_feed_title(name: str) -> str:
    "What the corrections feed of a body (or, given the archive's title, of the archive) is called."
    return f"Corrected answers: {name}"


def sitemap_part(name: str) -> str:
    "One of the sitemaps that the sitemap index lists, when one file cannot hold all."
    return f"sitemap-{name}.xml"


def member_slug(member_id: str, name: str | None = None) -> str:
    """A URL-safe slug for a member id, readable where a name is known.

    MNIS ids are digits ("4399" -> "4399-victoria-atkins"); other ids hold '/' or ':'
    ("uk.org.publicwhip/member/2038"). Slugifying such an id could merge two ids that differ
    only in punctuation, so it carries a short digest of the id as well.
    """
    if member_id.isdigit():
        return f"{member_id}-{slugify(name)}" if name else member_id
    slug = slugify(member_id)
    if slug != member_id:
        slug += "-" + hashlib.sha256(member_id.encode("utf-8")).hexdigest()[:6]
    return slug


def member_url(member_id: str, name: str | None = None) -> str:
    return f"{MEMBERS}{member_slug(member_id, name)}/"


def member_role_url(member_url: str, role: str) -> str:
    "A member's questions in one role ('asked', 'answered'), all of them, page by page."
    return f"{member_url}{role}/"


def body_url(slug: str) -> str:
    return f"{BODIES}{slug}/"


def heading_slug(heading: str) -> str:
    "Headings that differ only in case or punctuation share a page ('Schools: Finance')."
    return slugify(heading)


def heading_url(heading: str) -> str:
    return heading_slug_url(heading_slug(heading))


def heading_slug_url(slug: str) -> str:
    return f"{HEADINGS}{slug}/"


def heading_letter_url(letter: str) -> str:
    "The index of headings that start with this letter."
    return f"{HEADINGS}_letters/{letter}/"


def day_url(iso_date: str) -> str:
    year, month, day = iso_date.split("-")
    return f"{DAYS}{year}/{month}/{day}/"


def month_url(year: str, month: str) -> str:
    return f"{DAYS}{year}/{month}/"


def year_url(year: str) -> str:
    return f"{DAYS}{year}/"


def page_url(listing_url: str, number: int) -> str:
    """Page `number` of a paginated listing, counted from its oldest items; the listing's own
    url shows its newest page (see listings.paginate)."""
    return f"{listing_url}page/{number}/"


def relative_path(from_url: str, to_url: str) -> str:
    """`posixpath.relpath("/" + to_url, "/" + from_url)`, without its normalizing where the
    paths need none: a page holds dozens of links, and relpath costs more than the rest."""
    start = [part for part in from_url.split("/") if part]
    target = [part for part in to_url.split("/") if part]
    if any(part in (".", "..") for part in start + target):
        return posixpath.relpath("/" + to_url, "/" + from_url)
    common = 0
    while common < min(len(start), len(target)) and start[common] == target[common]:
        common += 1
    return "/".join([".."] * (len(start) - common) + target[common:]) or "."


def relative(from_url: str, to_url: str) -> str:
    """A link from the page at `from_url` to `to_url`, both archive paths ('' is the root).

    Relative links keep the archive working from any base path and straight from disk.
    """
    target = relative_path(from_url, to_url)
    if to_url == "" or to_url.endswith("/"):
        return "./" if target == "." else target + "/"
    return target


def links_from(from_url: str) -> Callable[[str], str]:
    """`relative` from one page, for its many links: its folders are split once. A listing
    page's links lead mostly out of its first folder (its questions, the sections, the
    stylesheet): such a link is the climb to the root followed by the target as it is, when
    the target is made of plain names; any other goes through `relative`."""
    start = [part for part in from_url.split("/") if part]
    if any(part in (".", "..") for part in start):
        return partial(relative, from_url)
    climb = "../" * len(start)
    first = start[0] if start else None

    def link(to_url: str) -> str:
        # No empty name ('//', a leading '/'), none starting with '.' ('..', '.'), not the root.
        plain = to_url and to_url[0] not in "/." and "//" not in to_url and "/." not in to_url
        if plain and to_url.partition("/")[0] != first:
            return climb + to_url
        return relative(from_url, to_url)

    return link
