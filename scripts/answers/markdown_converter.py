"""HTML answers as Markdown that Python-Markdown reads back the same way (markdownify).

A module of its own so that only a build that converts pages imports markdownify and
BeautifulSoup; `pages.py` says when to convert, and what with.
"""

from __future__ import annotations

import re

from markdownify import MarkdownConverter

from .clean import sanitize_html

# What Python-Markdown would read as markup in text (see AnswerConverter.escape).
INLINE_MARKUP = re.compile(r"([`*_\[\]|])")
LINE_START_MARKUP = re.compile(r"^(\s*)([#>+-])", re.MULTILINE)
ORDERED_ITEM = re.compile(r"^(\s*\d+)\.(?=\s|$)", re.MULTILINE)
SETEXT_EQUALS = re.compile(r"^(\s*)=", re.MULTILINE)
# Elements that make a table cell more than one line of inline text: a Markdown table
# cannot hold them, so such a table stays HTML.
BLOCK_IN_CELL = {"table", "ul", "ol", "dl", "blockquote", "pre", "div", "br", "hr",
                 "h2", "h3", "h4", "h5", "h6"}


class AnswerConverter(MarkdownConverter):
    """HTML answers -> Markdown that Python-Markdown reads back the same way.

    Nested list content is indented four spaces (Python-Markdown's rule), and a table that a
    Markdown table cannot hold without loss (spans, captions, blocks in cells, ragged rows)
    is kept as its sanitized HTML.
    """

    class Options(MarkdownConverter.DefaultOptions):
        heading_style = "ATX"
        bullets = "-"
        escape_misc = False  # its escapes are CommonMark's; Python-Markdown's differ (escape())
        table_infer_header = True
        strip_document = "strip"

    def escape(self, text, parent_tags):
        """Escape text for Python-Markdown: only characters it knows how to unescape get a
        backslash; '&' and '<' become entities, so that text never turns into markup."""
        if not text:
            return ""
        text = text.replace("\\", "\\\\")
        text = text.replace("&", "&amp;").replace("<", "&lt;")
        text = INLINE_MARKUP.sub(r"\\\1", text)
        text = LINE_START_MARKUP.sub(r"\1\\\2", text)
        text = ORDERED_ITEM.sub(r"\1\\.", text)
        return SETEXT_EQUALS.sub(r"\1&#61;", text)

    def convert_li(self, el, text, parent_tags):
        text = (text or "").strip()
        if not text:
            return "\n"
        parent = el.parent
        if parent is not None and parent.name == "ol":
            start = str(parent.get("start") or "1")
            number = (int(start) if start.isdigit() else 1) + len(el.find_previous_siblings("li"))
            bullet = f"{number}. "
        else:
            bullet = "- "
        lines = text.split("\n")
        rest = ["    " + line if line.strip() else "" for line in lines[1:]]
        return "\n".join([bullet + lines[0], *rest]) + "\n"

    def convert_table(self, el, text, parent_tags):
        if is_simple_table(el):
            return super().convert_table(el, text, parent_tags)
        return "\n\n" + sanitize_html(str(el)) + "\n\n"


def is_simple_table(table) -> bool:
    "Whether a table converts to a Markdown table without loss."
    if table.find_parent("table") or table.find(["caption", "tfoot", "colgroup"]):
        return False
    rows = table.find_all("tr")
    if not rows or len(table.find_all("thead")) > 1:
        return False
    widths = set()
    for row in rows:
        cells = row.find_all(["td", "th"], recursive=False)
        widths.add(len(cells))
        for cell in cells:
            if cell.get("colspan", "1") != "1" or cell.get("rowspan", "1") != "1":
                return False
            if cell.find(BLOCK_IN_CELL) or len(cell.find_all("p")) > 1:
                return False
    thead = table.find("thead")
    if thead is not None and len(thead.find_all("tr")) != 1:
        return False
    return len(widths) == 1 and 0 not in widths


CONVERTER = AnswerConverter()
