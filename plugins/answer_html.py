"""Datasette plugin for the archive: answers shown as HTML, and links to the archive's pages.

Only the columns named below are touched; every other cell keeps Datasette's own rendering.
Its configuration (plugins: answer_html:) has one key, `archive_url`: where the static archive
is served, so that a question's relative `url` becomes a link to its page. `answers serve` sets
it to the address it serves the archive on; a deployment may set it in metadata.yml; unset, it is
the archive's default base URL (answers.settings).
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from datasette import hookimpl
from datasette.utils import tilde_encode

from answers.clean import sanitize_html
from answers.settings import BASE_URL

DATABASE = "answers"
# Where the archive is when neither `answers serve` nor metadata.yml says: the site's default.
DEFAULT_ARCHIVE_URL = BASE_URL.default
# Sanitized HTML in the database, shown as HTML rather than as escaped source.
HTML_COLUMNS = {("questions", "answer_html"), ("questions", "original_answer_html")}
# Tables and views whose `key` is a question's key (None: the results of a canned query).
QUESTION_KEY_TABLES = {"question_list", None}
# Member ids shown with the member's name (on the row page, where Datasette shows bare ids).
MEMBER_COLUMNS = {"asking_member_id", "answering_member_id", "correcting_member_id"}
# Long text: clipped to a few lines in table listings by CSS (base.html); whole on row pages.
LONG_TEXT_COLUMNS = {"question_text", "answer_text", "heading", "answerer_title_as_published",
                     "answering_member_office", "reason", "location", "post", "path"}
# The markers the `search` query's snippet() puts around matched words.
SNIPPET_MARKS = re.compile(r"(<mark>|</mark>)")


def is_web_url(url: str) -> bool:
    "Only http(s) URLs become links: never javascript:, data: or any other scheme."
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def archive_url(datasette) -> str:
    "The archive's base URL, ending in '/'."
    config = datasette.plugin_config("answer_html") or {}
    base = config.get("archive_url") or DEFAULT_ARCHIVE_URL
    if not is_web_url(base):
        raise ValueError(f"answer_html: archive_url must be an http(s) URL, not {base!r}")
    return base if base.endswith("/") else base + "/"


def page_url(base: str, path: str | None) -> str | None:
    """The absolute URL of an archive page from its relative path, or None.

    The path comes from the data (or from a ?sql= query), so it is untrusted: urljoin keeps
    an absolute URL of any scheme ("javascript:...") or host ("//elsewhere"), and only a
    URL that stays under the archive's own base becomes a link."""
    if not path:
        return None
    url = urljoin(base, path)
    return url if is_web_url(url) and url.startswith(base) else None


def snippet_parts(snippet: str) -> list[tuple[str, bool]]:
    """A snippet split into (text, is_match) pieces. The text stays text: only the markers
    that snippet() added become highlighting, whatever the answer itself contains."""
    parts, marked = [], False
    for piece in SNIPPET_MARKS.split(snippet):
        if piece == "<mark>":
            marked = True
        elif piece == "</mark>":
            marked = False
        elif piece:
            parts.append((piece, marked))
    return parts


# The macros of _answer_cells.html by Datasette instance: making the module costs more than
# rendering a cell, and a table page renders a hundred cells.
CELL_MACROS: dict[int, object] = {}


async def render_macro(datasette, name: str, *args):
    "A cell rendered by a macro of templates/datasette/_answer_cells.html, which holds the markup."
    if id(datasette) not in CELL_MACROS:
        template = datasette.jinja_env.get_template("_answer_cells.html")
        CELL_MACROS[id(datasette)] = await template.make_module_async()
    return await getattr(CELL_MACROS[id(datasette)], name)(*args)


# Member names by id, per Datasette instance: the database is immutable while served.
MEMBER_NAMES: dict[int, dict[str, str]] = {}


async def member_names(datasette) -> dict[str, str]:
    if id(datasette) not in MEMBER_NAMES:
        rows = await datasette.get_database(DATABASE).execute("select id, name from members")
        MEMBER_NAMES[id(datasette)] = {row["id"]: row["name"] for row in rows if row["name"]}
    return MEMBER_NAMES[id(datasette)]


async def member_cell(datasette, member_id: str):
    name = (await member_names(datasette)).get(member_id)
    href = datasette.urls.row(DATABASE, "members", tilde_encode(member_id))
    return await render_macro(datasette, "member_link", href, member_id, name)


@hookimpl
def prepare_connection(conn, database, datasette):
    # archive_url(url) in SQL, so that canned queries (and their Atom feeds) can link pages.
    base = archive_url(datasette)
    conn.create_function("archive_url", 1, lambda path: page_url(base, path), deterministic=True)


@hookimpl
def extra_template_vars(datasette):
    base = archive_url(datasette)
    return {"archive_url": base, "archive_page_url": lambda path: page_url(base, path)}


@hookimpl
def render_cell(value, column, table, database, datasette):
    if database != DATABASE or not isinstance(value, str) or not value:
        return None
    if (table, column) in HTML_COLUMNS:
        # Sanitized when the database was built; cleaned again here in case it was not.
        return render_macro(datasette, "answer_html", sanitize_html(value))
    if column == "url" and table in {"questions", "question_list", None}:
        href = page_url(archive_url(datasette), value)
        # Anything that is not a page of the archive stays text, even an http(s) URL elsewhere.
        return render_macro(datasette, "archive_link", href, value) if href else render_macro(
            datasette, "text", value)
    if column == "key" and table in QUESTION_KEY_TABLES:
        href = datasette.urls.row(DATABASE, "questions", tilde_encode(value))
        return render_macro(datasette, "question_link", href, value)
    if column == "snippet" and table is None:
        return render_macro(datasette, "snippet", snippet_parts(value))
    if column in MEMBER_COLUMNS and table in {"questions", "question_list"}:
        return member_cell(datasette, value)
    if column in LONG_TEXT_COLUMNS:
        return render_macro(datasette, "long_text", value)
    return None
