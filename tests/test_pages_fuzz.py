"""Property-based fuzzing of the pages round trip (Hypothesis): real question rows, as they are
and with their text mutated (markup characters, '---' lines, YAML's special values, control
characters, any unicode), become a Markdown page that reads back to the same front matter and
body, and whose question page renders.

Bounded and derandomized, so that every run tries the same examples.
"""

from __future__ import annotations

import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from answers import pages, queries, site
from answers.build import build_database
from answers.render import SiteConfig, make_environment

# Pieces that mean something to YAML, Markdown, HTML or the page's own layout.
FRAGMENTS = [
    "---", "\n---\n", "---\n", "\n...\n", "...", "- ", ": ", "? ", "#", "&", "*", "!", "%", "@",
    "`", "|", ">", "'", '"', "{", "}", "[", "]", "\\", "~", "null", "yes", "No", "on", "0x1F",
    "1e3", "2024-08-30", "<script>alert(1)</script>", "<b>", "</p>", "&amp;", "&#60;",
    "[x](javascript:alert(1))", "    ", "\t", "\r\n", "\r", "\n\n", "\x00", "\x1b", "\x7f",
    "\x85", "\u2028", "\u2029", "\ufeff", "\u200b", "é", "ß", "中文", "🙂", "\U0010fffd",
]
# Any character a Python string read from SQLite can hold (lone surrogates cannot be stored).
CHARACTERS = st.characters(exclude_categories=("Cs",))
TEXT = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(CHARACTERS, max_size=12)),
                max_size=12).map("".join)
TEXT_FIELDS = ("heading", "uin", "question_text", "answer_html", "original_answer_html",
               "answerer_title_as_published", "answering_member_office",
               "answering_member_office_source", "official_url", "source_location",
               "answering_body", "date_tabled", "date_answered", "date_holding_answer",
               "date_for_answer", "date_answer_corrected")
MEMBER_FIELDS = ("name", "party", "constituency", "house")
ENV = make_environment(SiteConfig())
NAV = {"previous": None, "next": None}
EXAMPLES = 150


def real_rows(corpus, seeds, folder) -> tuple[list[dict], pages.PageContext]:
    "Question rows from a few real sources: the seed page, the API's edge cases, a parlparse day."
    db_path = folder / "real.db"
    build_database([seeds, corpus / "samples" / "api-edge-cases.json",
                          corpus / "twfy-parlparse-xml" / "lordswrans" / "lordswrans2009-10-29a.xml"],
                         db_path)
    db = sqlite_utils.Database(db_path)
    rows = [dict(row) for row in queries.question_rows(db)]
    context = pages.PageContext.load(db)
    db.close()
    return rows, context


@st.composite
def mutated(draw, rows: list[dict], context: pages.PageContext) -> tuple[dict, pages.PageContext]:
    "A real row with some text fields, and its members' names, replaced or spliced with fuzz."
    row = dict(draw(st.sampled_from(rows)))
    for name in draw(st.lists(st.sampled_from(TEXT_FIELDS), unique=True)):
        original = row.get(name) or ""
        fuzz = draw(TEXT)
        at = draw(st.integers(0, len(original)))
        row[name] = draw(st.sampled_from([fuzz, original[:at] + fuzz + original[at:]]))
    members = dict(context.members)
    for role in ("asking", "answering", "correcting"):
        member_id = row.get(f"{role}_member_id")
        if member_id and draw(st.booleans()):
            member = dict(queries.member_or_placeholder(members, member_id))
            member.update({field: draw(TEXT) for field in MEMBER_FIELDS})
            members[member_id] = member
    return row, pages.PageContext(members, context.bodies, context.questions, context.sources)


def test_pages_round_trip_and_render_for_real_and_mutated_rows(corpus, seeds, tmp_path_factory):
    rows, context = real_rows(corpus, seeds, tmp_path_factory.mktemp("fuzz"))
    assert len(rows) > 20
    fuzzed = []

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(mutated(rows, context))
    def round_trip(example):
        row, row_context = example
        text = pages.render_page(row, row_context)
        meta, body = pages.split_front_matter(text)
        assert meta == pages.front_matter(row, row_context)
        assert body == pages.page_body(pages.body_inputs(row))
        url, html, twin = site.render_question_text(text, NAV, ENV, SiteConfig())
        assert url == row["url"] and "<h1" in html and twin
        fuzzed.append(any("---" in str(meta.get(name)) for name in ("heading", "uin", "title")))

    round_trip()
    assert len(fuzzed) >= EXAMPLES
    assert sum(fuzzed) >= 10  # front matter values holding '---' were among them
