"""What a correction changed: the word-level diff of an original answer and its correction,
as segments (answer_diff.py) and as the question page shows them (templates/site/_diff.html).
Made-up answers, hostile ones among them: no element may come from source text."""

from __future__ import annotations

import html

import lxml.html
import pytest

from answers import answer_diff, pages
from answers.model import Question
from conftest import served
from hostile import PAYLOADS, build_site_from_questions


def test_a_changed_figure_is_struck_through_beside_the_new_one():
    assert answer_diff.changes(
        "<p>The total was £5 million in 2023.</p><p>The rest stands.</p>",
        "<p>The total was £6 million in 2022.</p><p>The rest stands.</p>") == [
        ["same", "The total was "], ["deleted", "£5"], ["added", "£6"], ["same", " million in "],
        ["deleted", "2023"], ["added", "2022"], ["same", ".\nThe rest stands."]]


def test_words_only_added_or_only_removed_keep_the_spaces_and_stops_around_them():
    assert answer_diff.changes("<p>We will act.</p>", "<p>We will act now.</p>") == [
        ["same", "We will act "], ["added", "now"], ["same", "."]]
    assert answer_diff.changes("<p>One two three four.</p>", "<p>One four.</p>") == [
        ["same", "One "], ["deleted", "two three"], ["same", " four."]]


def test_figures_and_words_with_inner_punctuation_are_one_word():
    assert answer_diff.tokens("£1,250.5m (2023-24) don't act.") == [
        "£1,250.5m ", "(", "2023-24", ") ", "don't ", "act", "."]


def test_the_words_counted_and_a_correction_of_markup_or_spacing_alone_is_no_change():
    facts = answer_diff.page_facts({"original_answer_html": "<p>Figures for 2023 are below.</p>",
                                    "answer_html": "<p>Figures for 2022 and 2023 are below.</p>"})
    assert (facts["answer_changes"]["deleted_words"], facts["answer_changes"]["added_words"]) == (0, 2)
    assert answer_diff.page_facts({"original_answer_html": "<p>Same  <b>words</b>.</p>",
                                   "answer_html": "<div>Same words.</div>"}) == {}
    assert answer_diff.page_facts({"original_answer_html": None, "answer_html": "<p>A.</p>"}) == {}


# -- on the page ---------------------------------------------------------------------------


def corrected(uin: str, original_html: str, answer_html: str) -> Question:
    return Question(house="Commons", uin=uin, date_tabled="2024-03-01", date_answered="2024-03-05",
                    date_answer_corrected="2024-04-02", is_correction=True, heading="Corrections",
                    answering_body="Home Office", question_text="How many?", answer_html=answer_html,
                    original_answer_html=original_html)


HOSTILE = sorted(PAYLOADS)


@pytest.fixture(scope="module")
def corrections_site(tmp_path_factory):
    "One archive of made-up corrections: a plain one (uin 1), one per hostile payload (uin h<n>)."
    folder = tmp_path_factory.mktemp("corrections")
    questions = [corrected("1", "<p>There were 120 arrests in 2023.</p>",
                           "<p>There were 210 arrests in 2023.</p>")]
    # The store keeps sanitized HTML, so markup in an answer is gone by then; markup written
    # as text (escaped) is what reaches the diff, as text, and must come out as text.
    questions += [corrected(f"h{number}", f"<p>Figures: {html.escape(PAYLOADS[kind].format(tag=kind))} 5.</p>",
                            "<p>Figures: 6.</p>") for number, kind in enumerate(HOSTILE)]
    build_site_from_questions(folder, questions)
    return folder


def diff_section(folder, uin: str):
    document = lxml.html.parse(str(folder / f"site/commons/2024-03-01/{uin}/index.html")).getroot()
    [section] = document.xpath("//section[@class='answer-diff']")
    return document, section


def test_the_page_shows_the_changes_with_a_legend_in_words(corrections_site):
    document, section = diff_section(corrections_site, "1")
    [text] = section.xpath(".//div[@class='answer-diff-text']")
    assert [e.text_content() for e in text.xpath(".//del")] == ["[removed: 120]"]
    assert [e.text_content() for e in text.xpath(".//ins")] == ["[added: 210]"]
    assert text.text_content() == "There were [removed: 120][added: 210] arrests in 2023."
    # the words in brackets are for screen readers only; the legend says the rest in words
    assert text.xpath(".//del/span[@class='visually-hidden']")
    legend = " ".join(section.xpath(".//p[@class='answer-diff-legend']")[0].text_content().split())
    assert "struck through — in the original answer, removed by the correction" in legend
    assert "underlined — added by the correction" in legend
    summary = " ".join(section.xpath(".//p[@class='answer-diff-summary']")[0].text_content().split())
    assert summary == "1 word of the original answer removed, 1 word added."
    # the corrected answer and the original stay on the page in full, above the changes
    prose = document.xpath("//div[@class='prose']")[0].text_content()
    assert "There were 210 arrests" in prose and "Original answer" in prose
    notice = " ".join(document.xpath("//p[@class='notice']")[0].text_content().split())
    assert notice.endswith("and then what the correction changed, word by word.")


@pytest.mark.parametrize("number, kind", list(enumerate(HOSTILE)))
def test_hostile_text_in_a_correction_stays_text(corrections_site, number, kind):
    _, section = diff_section(corrections_site, f"h{number}")
    allowed = {"section", "h2", "p", "div", "del", "ins", "span"}
    assert {element.tag for element in section.iter()} <= allowed
    assert not [name for element in section.iter() for name in element.attrib
                if name.startswith("on") or name == "href"]
    [text] = section.xpath(".//div[@class='answer-diff-text']")
    assert PAYLOADS[kind].format(tag=kind) in text.text_content()


def test_the_change_is_in_the_front_matter_so_the_page_digest_covers_it(corrections_site):
    meta, _ = pages.read_page(corrections_site / "pages/commons/2024-03-01/1/index.md")
    assert meta["answer_changes"] == {
        "segments": [["same", "There were "], ["deleted", "120"], ["added", "210"],
                     ["same", " arrests in 2023."]],
        "deleted_words": 1, "added_words": 1}


# -- in a browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(corrections_site):
    yield from served(corrections_site / "site")


@pytest.mark.browser
@pytest.mark.parametrize("width", [375, 1100])
def test_the_timeline_and_the_changes_read_plainly_and_axe_finds_nothing_serious(browser, base_url, width):
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(base_url + "commons/2024-03-01/1/")
    timeline = page.get_by_role("region", name="Timeline")
    assert timeline.get_by_role("listitem").all_inner_texts() == [
        "1 March 2024 Tabled", "5 March 2024 Answered", "2 April 2024 Answer corrected"]
    changes = page.get_by_role("region", name="What the correction changed")
    line = "e => getComputedStyle(e).textDecorationLine"  # struck through and underlined: not colour alone
    assert changes.locator(".answer-diff-text del").evaluate(line) == "line-through"
    assert changes.locator(".answer-diff-text ins").evaluate(line) == "underline"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    results = Axe().run(page)
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []
    context.close()
