"""Grouped questions as one unit: each page of a group shows every question the one answer
replied to (asker, UIN, text), each with its own anchor, this page's question marked, and the
answer once. Made-up groups for the rules and hostile text; a real group of the official API
for the rendered page."""

from __future__ import annotations

import json

import lxml.html
import pytest
import sqlite_utils

from answers import pages, site
from answers.build import build_database
from answers.model import MemberRef, Question
from answers.render import SiteConfig
from conftest import served
from hostile import PAYLOADS, build_site_from_questions

KEYS = [f"commons-2024-05-01-{uin}" for uin in (10, 11, 9)]
PAYLOAD = PAYLOADS["img"].format(tag="group") + PAYLOADS["breakout"].format(tag="group")


def member_of_group(uin: int, text: str, asker: str) -> Question:
    key = f"commons-2024-05-01-{uin}"
    return Question(house="Commons", uin=str(uin), date_tabled="2024-05-01", date_answered="2024-05-08",
                    heading="Rivers: Pollution", answering_body="Department for Environment",
                    asking_member=MemberRef(f"name:{asker.lower().replace(' ', '-')}", name=asker),
                    question_text=text, answer_html="<p>The one answer to all three.</p>",
                    grouped_keys=[other for other in KEYS if other != key])


@pytest.fixture(scope="module")
def group_site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("group")
    build_site_from_questions(folder, [
        member_of_group(10, "To ask about the Thames.", "Ann Able"),
        member_of_group(11, "To ask about the Severn " + PAYLOAD, "Ben Baker"),
        member_of_group(9, "To ask about the Trent.", "Cal Cole"),
    ])
    return folder


def group_items(folder, uin: int):
    document = lxml.html.parse(str(folder / f"site/commons/2024-05-01/{uin}/index.html")).getroot()
    return document, document.xpath("//section[@class='group']/ol/li")


def text_of(element) -> str:
    return " ".join(element.text_content().split())


def test_a_group_page_shows_every_question_with_its_anchor_and_marks_its_own(group_site):
    document, items = group_items(group_site, 10)
    # the same order on every page of the group: by UIN as a number (9 before 10)
    assert [item.get("id") for item in items] == [
        "q-commons-2024-05-01-9", "q-commons-2024-05-01-10", "q-commons-2024-05-01-11"]
    assert [text_of(item.xpath("p[@class='group-member-meta']")[0]) for item in items] == [
        "UIN 9, tabled 1 May 2024, asked by Cal Cole",
        "This question UIN 10, tabled 1 May 2024, asked by Ann Able",
        "UIN 11, tabled 1 May 2024, asked by Ben Baker"]
    assert [item.get("aria-current") for item in items] == [None, "true", None]
    assert items[0].xpath("p/a/@href")[0] == "../9/"
    assert not items[1].xpath("p/a[text()='UIN 10']")  # no link to the page itself
    assert text_of(items[0].xpath("p[@class='group-member-text']")[0]) == "To ask about the Trent."
    assert text_of(document).count("The one answer to all three.") == 1


def test_every_page_of_the_group_shows_the_same_group(group_site):
    for uin in (9, 10, 11):
        _, items = group_items(group_site, uin)
        assert len(items) == 3
        [current] = [item.get("id") for item in items if item.get("aria-current")]
        assert current == f"q-commons-2024-05-01-{uin}"


def test_a_member_s_hostile_text_stays_text(group_site):
    _, items = group_items(group_site, 9)
    [severn] = [item for item in items if item.get("id").endswith("-11")]
    assert {element.tag for element in severn.iter()} <= {"li", "p", "a", "strong", "span"}
    assert not [name for element in severn.iter() for name in element.attrib if name.startswith("on")]
    assert PAYLOAD in severn.xpath("p[@class='group-member-text']")[0].text_content()


def test_a_change_to_one_member_makes_the_group_s_pages_again(group_site):
    "The other members' texts are in each page's front matter, so its inputs digest covers them."
    db = sqlite_utils.Database(group_site / "answers.db")
    db["questions"].update(KEYS[2], {"question_text": "To ask about the Trent and the Soar."})
    db.close()
    report = pages.write_pages(group_site / "answers.db", group_site / "pages")
    assert sorted(report.written) == sorted(f"commons/2024-05-01/{uin}/index.md" for uin in (9, 10, 11))
    site.build_site(group_site / "answers.db", group_site / "pages", group_site / "site", SiteConfig(),
                    workers=1)
    _, items = group_items(group_site, 11)
    assert "To ask about the Trent and the Soar." in text_of(items[0])


def api_group_record(uin: int) -> dict:
    "One question of a group of three, as the official API lists it."
    others = [str(other) for other in (9, 10, 11) if other != uin]
    return {"value": {"id": 9300000 + uin, "house": "Commons", "uin": str(uin),
                      "dateTabled": "2024-05-01T00:00:00", "heading": "Rivers: Pollution",
                      "questionText": f"To ask about river {uin}.", "askingMemberId": 4000 + uin,
                      "answeringBodyName": "Department for Environment", "answeringBodyId": 1,
                      "answerText": "One answer.", "dateAnswered": "2024-05-08T00:00:00",
                      "groupedQuestions": others,
                      "groupedQuestionsDates": [{"questionUin": other, "dateTabled": "2024-05-01T00:00:00"}
                                                for other in others]}}


def test_the_change_driven_build_makes_the_group_s_pages_again(tmp_path):
    "What the pages of a group show of each other (text, asker, title) is one of the build's relations."
    changes = pytest.importorskip("answers.changes", reason="the change-driven build is not in this tree")
    (tmp_path / "group.json").write_text(json.dumps([api_group_record(uin) for uin in (9, 10, 11)]))
    build_database([tmp_path / "group.json"], tmp_path / "answers.db")
    db = sqlite_utils.Database(tmp_path / "answers.db")
    # a member's text or title: the pages of the others show it
    assert changes.showing(db, {KEYS[2]}) >= {KEYS[0], KEYS[1]}
    # a member's asker renamed: the question naming them changes, and so the pages showing it
    [(asker,)] = db.execute("select asking_member_id from questions where key = ?", [KEYS[2]]).fetchall()
    named = {key for (key,) in db.execute(changes.NAMING["members"], {"keys": json.dumps([asker])})}
    assert named == {KEYS[2]} and changes.showing(db, named) >= {KEYS[0], KEYS[1]}
    db.close()


def test_a_real_group_lists_each_question_the_answer_replied_to(built_site):
    rows = {row["key"]: row for row in sqlite_utils.Database(built_site.db).query(
        """select key, url, uin, grouped_keys, asking_member_id from questions
           where key like 'commons-2024-08-30-%' and grouped_keys is not null""")}
    largest = max(rows.values(), key=lambda row: (len(json.loads(row["grouped_keys"])), row["key"]))
    keys = [largest["key"], *json.loads(largest["grouped_keys"])]
    document = lxml.html.parse(str(built_site.site / largest["url"] / "index.html")).getroot()
    items = document.xpath("//section[@class='group']/ol/li")
    assert sorted(item.get("id") for item in items) == sorted(f"q-{key}" for key in keys)
    assert len(keys) == 6  # 3144 and five questions tabled with it
    for item in items:
        assert item.xpath("p[@class='group-member-text']")[0].text_content().startswith("To ask")
        assert "asked by" in text_of(item.xpath("p[@class='group-member-meta']")[0])


# -- in a browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(group_site):
    yield from served(group_site / "site")


@pytest.mark.browser
def test_a_member_s_anchor_leads_to_it_and_axe_finds_nothing_serious(browser, base_url):
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_page(viewport={"width": 375, "height": 700})
    page.goto(base_url + "commons/2024-05-01/10/#q-commons-2024-05-01-11")
    severn = page.locator("#q-commons-2024-05-01-11")
    assert severn.is_visible() and severn.evaluate("e => e.getBoundingClientRect().top") < 700
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    group = page.get_by_role("region", name="Answered together")
    assert group.get_by_role("listitem").count() == 3
    assert group.get_by_role("link", name="UIN 9").get_attribute("href") == "../9/"
    results = Axe().run(page)
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []
    page.close()
