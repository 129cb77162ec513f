"""Which stage's version names which template: a change to a template renders again the pages
made from it, and only those."""

from answers import feeds, listings, render, site
from answers.render import SITE_TEMPLATES


def names(paths) -> set[str]:
    return {path.name for path in paths}


def test_a_question_page_depends_on_its_template_its_parts_all_they_import_and_the_base_only():
    used = names(render.templates_used(*site.QUESTION_TEMPLATES))
    assert used == {"question.html", "base.html", "_macros.html", "_question_header.html", "_timeline.html",
                    "_notices.html", "_diff.html", "_group.html", "_cited_by.html", "_asked_before.html",
                    "_citation.html", "_prev_next.html", "_site_header.html", "_site_footer.html"}


def test_every_template_is_named_by_a_version_that_renders_it_again():
    question_pages = names(render.templates_used(*site.QUESTION_TEMPLATES, *site.EVERY_BUILD_TEMPLATES))
    listing_pages = names(render.templates_used(*listings.LISTING_TEMPLATES)) | {listings.API_TEXT}
    feed_files = names(render.templates_used("feed.xml", "changes.html"))
    every_file = {path.name for path in SITE_TEMPLATES.rglob("*") if path.is_file()}
    assert question_pages | listing_pages | feed_files == every_file
    assert "question.html" not in listing_pages | feed_files
    assert "listing.html" not in question_pages | feed_files


def test_a_template_change_moves_only_the_versions_that_name_it(monkeypatch, tmp_path):
    for path in SITE_TEMPLATES.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(render, "SITE_TEMPLATES", tmp_path)
    monkeypatch.setattr(listings, "SITE_TEMPLATES", tmp_path)
    config = render.SiteConfig()
    before = (site.site_code_version(config), listings.listings_code_version(config),
              feeds.feeds_version(config))
    question = tmp_path / "question.html"
    question.write_text(question.read_text(encoding="utf-8") + "{# changed #}\n", encoding="utf-8")
    after = (site.site_code_version(config), listings.listings_code_version(config),
             feeds.feeds_version(config))
    assert after[0] != before[0] and after[1:] == before[1:]
    base = tmp_path / "base.html"
    base.write_text(base.read_text(encoding="utf-8") + "{# changed #}\n", encoding="utf-8")
    assert all(now != then for now, then in zip((site.site_code_version(config),
               listings.listings_code_version(config), feeds.feeds_version(config)), after, strict=True))


def test_a_template_named_otherwise_than_by_one_constant_cannot_be_followed():
    plain = ('{% extends "base.html" %}{% import "_macros.html" as m %}'
             '{% from "_a.html" import x with context %}{%- include "_b.html" ignore missing -%}'
             '{{ frame_part("_c.html") }}{# include "_commented.html" #}')
    assert render.referenced_templates(plain) == ("base.html", "_macros.html", "_a.html", "_b.html", "_c.html")
    for source in ("{% extends layout %}", '{% include "_" ~ part %}', '{% include ["_a.html", "_b.html"] %}',
                   '{% extends "a.html" if wide else "b.html" %}', "{{ frame_part(name) }}",
                   "{% set place = frame_part %}"):
        assert None in render.referenced_templates(source), source


def test_what_each_template_names_is_read_once_and_kept_for_the_next_build(monkeypatch, tmp_path):
    for path in SITE_TEMPLATES.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(render, "SITE_TEMPLATES", tmp_path)
    lexed, lex = [], render.lexed_references
    monkeypatch.setattr(render, "lexed_references", lambda source: lexed.append(source) or lex(source))
    config, site_dir = render.SiteConfig(), tmp_path / "out" / "site"

    def version_in_a_new_build() -> str:
        monkeypatch.setattr(render, "TEMPLATE_REFERENCES", render.TemplateReferences())
        render.TEMPLATE_REFERENCES.load(site_dir)
        version = site.site_code_version(config)
        render.TEMPLATE_REFERENCES.save(site_dir)
        return version

    first = version_in_a_new_build()
    assert len(lexed) == len(render.templates_used(*site.QUESTION_TEMPLATES, *site.EVERY_BUILD_TEMPLATES)) > 10
    lexed.clear()
    assert version_in_a_new_build() == first and lexed == []
    base = tmp_path / "base.html"
    base.write_text(base.read_text(encoding="utf-8") + '{% include "_page_api.html" %}\n', encoding="utf-8")
    (tmp_path / "_page_api.html").write_text("{# new #}\n", encoding="utf-8")
    assert version_in_a_new_build() != first
    assert lexed == [base.read_text(encoding="utf-8"), "{# new #}\n"]  # only the changed one and the one it names
