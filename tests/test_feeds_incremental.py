"""Change-driven feeds: told which questions changed, the site stage renders only the feeds that
showed one or whose scope holds one now, removes the feeds of bodies and members that are gone,
and leaves the archive's feeds exactly as a full build would make them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlite_utils

from answers import feeds, queries
from answers.output import Output
from feeddb import CONFIG, answer, feed_files, store, write

CHANGES = ["changes/feed.xml", "changes/index.html", "changes/index.json"]  # the recent changes
ANSWERS = [answer(str(n), body, f"2024-03-{10 + n % 15}")
           for n, body in enumerate(["Home Office", "HM Treasury", "Cabinet Office"] * 4)]


@pytest.fixture
def rendered(monkeypatch):
    "The paths of the feeds rendered (whether or not their bytes changed), as they happen."
    paths = []
    real = feeds.write_feed

    def spy(output, env, config, feed, entries):
        paths.append(feed.path)
        return real(output, env, config, feed, entries)

    monkeypatch.setattr(feeds, "write_feed", spy)
    return paths


@pytest.fixture
def archive(tmp_path):
    db = store(tmp_path / "answers.db", ANSWERS)
    write(db, tmp_path / "site")
    yield db, tmp_path / "site"
    db.close()


def assert_same_as_full_build(db, site, tmp_path):
    "The feeds as they stand are byte for byte what a full build makes from the same database."
    write(db, tmp_path / "full")
    assert feed_files(site) == feed_files(tmp_path / "full")


def test_a_new_answer_rewrites_its_bodys_members_and_the_archives_feeds_only(archive, tmp_path, rendered):
    db, site = archive
    new = answer("99", "Home Office", "2024-04-30")
    store(tmp_path / "answers.db", [new]).close()
    output, removed = write(db, site, changed={new.key})
    assert sorted(output.written) == ["bodies/home-office/feed.xml", *CHANGES, "feed.xml",
                                      "members/4001-ann-asker/feed.xml", "members/4100-hugh-minister/feed.xml"]
    # Not a correction: no corrections feed rendered. The recent changes are one feed and a page.
    assert sorted(rendered) == sorted(set(output.written) - set(CHANGES[1:]))
    assert removed == []
    assert_same_as_full_build(db, site, tmp_path)


def test_a_correction_rewrites_the_corrections_feeds_of_its_body_and_the_archive(archive, tmp_path):
    db, site = archive
    key = ANSWERS[1].key  # HM Treasury's
    db["questions"].update(key, {"is_correction": 1, "date_answer_corrected": "2024-05-02",
                                 "answer_html": "<p>Corrected.</p>"})
    output, _ = write(db, site, changed={key})
    assert sorted(output.written) == [
        "bodies/hm-treasury/corrections/feed.xml", "bodies/hm-treasury/feed.xml", *CHANGES, "corrections/feed.xml",
        "feed.xml", "members/4001-ann-asker/feed.xml", "members/4200-tess-minister/feed.xml"]
    assert_same_as_full_build(db, site, tmp_path)


def test_an_answer_that_moves_body_leaves_one_feed_and_joins_the_other(archive, tmp_path):
    db, site = archive
    key = ANSWERS[0].key  # Home Office's, moved to the Cabinet Office
    db["questions"].update(key, {"answering_body": "Cabinet Office"})
    output, _ = write(db, site, changed={key})
    assert {"bodies/home-office/feed.xml", "bodies/cabinet-office/feed.xml"} <= set(output.written)
    assert not [path for path in output.written if "hm-treasury" in path]
    assert_same_as_full_build(db, site, tmp_path)


def test_the_feeds_of_a_body_and_member_that_are_gone_are_removed(archive, tmp_path):
    db, site = archive
    gone = [q.key for q in ANSWERS if q.answering_body == "Cabinet Office"]
    with db.conn:
        db.execute("delete from questions where answering_body = 'Cabinet Office'")
        db.execute("delete from answering_bodies where name = 'Cabinet Office'")
    output, removed = write(db, site, changed=set(gone))
    assert removed == ["bodies/cabinet-office/corrections/feed.xml", "bodies/cabinet-office/feed.xml",
                       "members/4300-carl-minister/feed.xml"]
    assert not (site / "bodies/cabinet-office").exists()  # nothing else was in its folder
    assert not (site / "members/4300-carl-minister").exists()
    assert_same_as_full_build(db, site, tmp_path)


def test_nothing_changed_renders_nothing_and_a_lost_feed_is_written_again(archive, rendered):
    db, site = archive
    output, removed = write(db, site, changed=set())
    assert (output.written, removed, rendered) == ([], [], [])
    (site / "bodies/hm-treasury/feed.xml").unlink()
    output, _ = write(db, site, changed=set())
    assert output.written == rendered == ["bodies/hm-treasury/feed.xml"]


def test_without_the_last_builds_record_every_feed_is_rendered(archive, rendered):
    db, site = archive
    (site / feeds.STATE_NAME).write_text("{not json", encoding="utf-8")
    output, _ = write(db, site, changed={ANSWERS[0].key})
    assert output.written == [] and len(rendered) == len(feed_files(site)) == 13


def test_a_change_reads_only_the_entries_of_the_feeds_it_concerns(tmp_path, monkeypatch):
    many = [answer(f"{body[:2]}{n}", body, f"2024-0{1 + n % 9}-{10 + n % 19}")
            for body in ("Home Office", "HM Treasury") for n in range(120)]
    db = store(tmp_path / "answers.db", many)
    write(db, tmp_path / "site")
    loaded = []
    real = queries.feed_rows

    def spy(database, keys, text_limit):
        loaded.extend(keys)
        return real(database, keys, text_limit)

    monkeypatch.setattr(queries, "feed_rows", spy)
    key = many[-1].key  # HM Treasury's
    db["questions"].update(key, {"answer_html": "<p>Changed.</p>"})
    output, _ = write(db, tmp_path / "site", changed={key})
    # Its body's feed, the archive's and two members': at most four windows, not 240 rows.
    assert len(set(loaded)) <= 4 * feeds.FEED_SIZE and not [k for k in loaded if k.startswith("Ho")]
    assert "bodies/home-office/feed.xml" not in output.written
    assert_same_as_full_build(db, tmp_path / "site", tmp_path)
    db.close()


@pytest.mark.corpus
def test_corpus_a_changed_answer_gives_the_feeds_of_a_full_build(built_site, tmp_path):
    db_path = tmp_path / "answers.db"
    shutil.copy(built_site.db, db_path)
    db = sqlite_utils.Database(db_path)
    write(db, tmp_path / "site")
    [row] = db.query("""select key, answering_body from questions where answering_body is not null
                        and date_answered is not null order by date_answered desc, key limit 1""")
    db["questions"].update(row["key"], {"is_correction": 1, "date_answer_corrected": "2099-01-01",
                                        "answer_html": "<p>Corrected in the test.</p>"})
    output, removed = write(db, tmp_path / "site", changed={row["key"]})
    assert "corrections/feed.xml" in output.written and removed == []
    # The archive's, the body's and two members' feeds, the archive's and the body's corrections,
    # and the recent changes (a feed, a page and its twin).
    assert len(set(output.written) - set(CHANGES)) <= 6
    assert_same_as_full_build(db, tmp_path / "site", tmp_path)
    db.close()


@pytest.fixture
def full_windows(tmp_path, monkeypatch):
    """120 answers of two bodies, their feeds written; yields the database, the site folder and
    the calls that ordered a whole scope (no `among`) during the next write."""
    many = [answer(f"{body[:2]}{n}", body, f"2024-0{1 + n % 9}-{10 + n % 19}")
            for body in ("Home Office", "HM Treasury") for n in range(120)]
    db = store(tmp_path / "answers.db", many)
    write(db, tmp_path / "site")
    whole_scopes = []
    real_order, real_changes = queries.feed_order, queries.recent_changes

    def order(database, scope, value, corrected_only, among=None):
        if among is None:
            whole_scopes.append((scope, value))
        return real_order(database, scope, value, corrected_only, among)

    def changes(database, limit, among=None):
        if among is None:
            whole_scopes.append((feeds.CHANGES, None))
        return real_changes(database, limit, among)

    monkeypatch.setattr(queries, "feed_order", order)
    monkeypatch.setattr(queries, "recent_changes", changes)
    yield db, tmp_path / "site", many, whole_scopes
    db.close()


def test_a_new_answer_finds_each_feeds_window_among_what_it_showed_and_the_change(full_windows, tmp_path):
    db, site, _, whole_scopes = full_windows
    new = answer("HM999", "HM Treasury", "2024-09-28")
    store_more(db, [new])
    output, _ = write(db, site, changed={new.key})
    assert "bodies/hm-treasury/feed.xml" in output.written and whole_scopes == []
    assert_same_as_full_build(db, site, tmp_path)


def test_a_question_that_leaves_a_full_feed_makes_it_order_its_whole_scope(full_windows, tmp_path):
    db, site, many, whole_scopes = full_windows
    shown = feeds.load_shown(Output(site), feeds.feeds_version(CONFIG), {})["bodies/hm-treasury/feed.xml"]
    with db.conn:
        db.execute("delete from questions where key = ?", [shown[0]])
    write(db, site, changed={shown[0]})
    assert ("body", "HM Treasury") in whole_scopes  # the question after its window's last comes in
    assert_same_as_full_build(db, site, tmp_path)


def test_a_change_to_a_shown_question_that_keeps_it_in_its_feed_orders_no_whole_scope(full_windows, tmp_path):
    db, site, _, whole_scopes = full_windows
    shown = feeds.load_shown(Output(site), feeds.feeds_version(CONFIG), {})["bodies/home-office/feed.xml"]
    db["questions"].update(shown[0], {"answer_html": "<p>Changed.</p>"})
    write(db, site, changed={shown[0]})
    assert whole_scopes == []
    assert_same_as_full_build(db, site, tmp_path)


def store_more(db, questions) -> None:
    store(Path(queries.database_file(db)), questions).close()


def test_a_feed_whose_window_and_entries_are_as_shown_is_not_rendered(tmp_path, rendered):
    "A change below every window it falls in: the feeds it concerns are kept, none rendered."
    many = [answer(f"Ho{n}", "Home Office", f"2024-0{1 + n % 9}-{10 + n % 19}") for n in range(120)]
    db = store(tmp_path / "answers.db", many)
    write(db, tmp_path / "site")
    rendered.clear()
    (key,) = db.execute("select key from questions order by date_answered, key limit 1").fetchone()
    db["questions"].update(key, {"answer_html": "<p>Changed, far below the feeds' windows.</p>"})
    output, _ = write(db, tmp_path / "site", changed={key})
    assert (rendered, output.written) == ([], [])
    assert_same_as_full_build(db, tmp_path / "site", tmp_path)
    db.close()


@pytest.mark.parametrize("answered", ["2024-13-45", None], ids=["answered-on-no-real-date", "unanswered"])
def test_a_renamed_members_feed_is_rendered_though_it_shows_the_same_entries(tmp_path, answered):
    """A member's feed is titled with their name, and a rename that keeps their url keeps its
    path: whether the change concerns the feed (its window, empty, as shown) or not (nothing
    answered), it must show the new name as a full build does."""
    from answers.model import MemberRef, Question
    from feeddb import MINISTER

    member = MemberRef(id="4999", name="Zed Member")
    question = Question(house="Commons", uin="77", date_tabled="2024-03-10", date_answered=answered,
                        heading="Question 77", answering_body="Home Office", asking_member=member,
                        answering_member=MINISTER["Home Office"] if answered else None,
                        question_text="To ask.", answer_html="<p>A.</p>" if answered else None)
    db = store(tmp_path / "answers.db", [question])
    write(db, tmp_path / "site")
    db["members"].update("4999", {"name": "Zed MEMBER"})  # only the case: the same url
    write(db, tmp_path / "site", changed={question.key})  # as the db stage's naming rule gives
    write(db, tmp_path / "full")
    site, full = feed_files(tmp_path / "site"), feed_files(tmp_path / "full")
    assert site == full
    assert b"Answers to and by Zed MEMBER" in site["members/4999-zed-member/feed.xml"]
    db.close()
