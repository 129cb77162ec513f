"""The shortcuts of plain_text.py: Python-Markdown with them gives the same HTML as without
them, for any text and for the corpus's answers; the inline one passes over plain text only
while every inline pattern registered is one it knows, and neither takes the place of another
extension's step."""

from __future__ import annotations

import markdown
import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown.htmlparser import HTMLExtractor
from markdown.inlinepatterns import SimpleTextInlineProcessor
from markdown.preprocessors import HtmlBlockPreprocessor
from markdown.treeprocessors import InlineProcessor

from answers import pages, render
from answers.plain_text import (
    NEEDED_CHARACTERS,
    PlainTextShortcut,
    ShortcutHtmlBlockPreprocessor,
    ShortcutInlineProcessor,
)

# What Markdown's inline patterns start from, and what lies around them.
PIECES = ["`", "``", "\\", "\\`", "[", "]", "(", ")", "![", "[a]: http://x.org", "[a][]", "<",
          ">", "<b>", "</b>", "<!-- c -->", "<http://x.org>", "<a@b.org>", "&", "&amp;", "&#60;",
          "&copy;", "*", "**", "_", "__", "  \n", "\n", "\n\n", "  ", " ", "a", "word", "é",
          "1.", "- ", "| a | b |\n|---|---|\n| 1 | 2 |", "```\ncode\n```", "~~~", "#", "> ", "!"]
TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=30).map("".join)


def plain_converter() -> markdown.Markdown:
    return markdown.Markdown(extensions=list(render.MARKDOWN_EXTENSIONS),
                             output_format=render.MARKDOWN_OUTPUT_FORMAT)


def converted(converter: markdown.Markdown, text: str) -> str:
    converter.reset()
    return converter.convert(text)


PLAIN = plain_converter()


@settings(max_examples=600, derandomize=True, deadline=None)
@given(TEXT)
def test_any_text_converts_to_the_same_html_with_the_shortcut_as_without_it(text):
    assert converted(render.markdown_converter(), text) == converted(PLAIN, text)


def test_the_sites_converter_passes_over_plain_text_alone(monkeypatch):
    converter = render.markdown_converter()
    inline = converter.treeprocessors["inline"]
    assert [type(item) for item in converter.treeprocessors] == [
        ShortcutInlineProcessor, *[type(item) for item in PLAIN.treeprocessors][1:]]
    read = []
    real = InlineProcessor._InlineProcessor__handleInline
    monkeypatch.setattr(InlineProcessor, "_InlineProcessor__handleInline",
                        lambda self, data, index=0: read.append(data) or real(self, data, index))
    plain = "To ask the Secretary of State, what steps (a) and (b) his Department is taking."
    assert converted(converter, plain) == f"<p>{plain}</p>"
    assert read == []
    for name, characters in NEEDED_CHARACTERS.items():
        assert name in converter.inlinePatterns
        for character in characters:
            text = f"Funding {character}x{character} here"
            read.clear()
            assert converted(converter, text) == converted(PLAIN, text)
            assert any(data.startswith("Funding") for data in read), (name, character)
    text = "Funding & *emphasis*, `code`, [a link](https://example.org) and <b>bold</b>"
    assert converted(converter, text) == converted(PLAIN, text)
    assert "&amp;" in converted(converter, text) and "<em>emphasis</em>" in converted(converter, text)
    assert inline.needed is not None


def test_a_pattern_it_does_not_know_turns_the_shortcut_off():
    "Another extension's pattern, or a known name given to another module's class: every text is read."
    converter = render.markdown_converter.__wrapped__()
    converter.inlinePatterns.register(SimpleTextInlineProcessor(r"(zz)"), "doubled_z", 5)
    assert converted(converter, "a zz b") == "<p>a zz b</p>"
    assert converter.treeprocessors["inline"].needed is None

    class OwnLink(SimpleTextInlineProcessor):
        pass

    renamed = markdown.Markdown(extensions=[PlainTextShortcut()])
    renamed.inlinePatterns.register(OwnLink(r"(qq)"), "link", 160)
    converted(renamed, "plain")
    assert renamed.treeprocessors["inline"].needed is None


def test_a_text_without_tags_or_references_skips_the_html_parser_and_one_with_them_does_not(monkeypatch):
    converter = render.markdown_converter()
    assert type(converter.preprocessors["html_block"]) is ShortcutHtmlBlockPreprocessor
    fed = []
    real = HTMLExtractor.feed
    monkeypatch.setattr(HTMLExtractor, "feed", lambda self, data: fed.append(data) or real(self, data))
    plain = "## Answer\n\nThe Department has *no* plans (see [the guidance](https://example.org)).\n"
    assert converted(converter, plain) == converted(PLAIN, plain)
    assert len(fed) == 1  # the plain converter's alone
    for text in ["<table><tr><td>1</td></tr></table>\n\nText", "Costs &pound;5 &amp more", "a <!-- c --> b"]:
        fed.clear()
        assert converted(converter, text) == converted(PLAIN, text)
        assert len(fed) == 2, text


def test_another_extensions_own_step_is_left_in_place():
    class OwnInline(InlineProcessor):
        pass

    class OwnHtmlBlock(HtmlBlockPreprocessor):
        pass

    class OwnSteps(markdown.extensions.Extension):
        def extendMarkdown(self, md):
            md.treeprocessors.register(OwnInline(md), "inline", 20)
            md.preprocessors.register(OwnHtmlBlock(md), "html_block", 20)

    converter = markdown.Markdown(extensions=[OwnSteps(), PlainTextShortcut()])
    assert type(converter.treeprocessors["inline"]) is OwnInline
    assert type(converter.preprocessors["html_block"]) is OwnHtmlBlock


def test_the_corpus_answers_render_the_same_with_the_shortcut_as_without_it(corpus_db):
    "Every 25th question of the corpus: its page's body, made as the pages stage makes it."
    with sqlite_utils.Database(corpus_db) as db:
        rows = list(db.query("select question_text, answer_html, original_answer_html from questions "
                             "where rowid % 25 = 0"))
    assert len(rows) > 2000
    for row in rows:
        body = pages.page_body(row)
        assert converted(render.markdown_converter(), body) == converted(PLAIN, body), row["question_text"][:80]
