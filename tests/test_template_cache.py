"""The compiled templates kept between builds: beside the site folder, never inside it, used by
the next environment instead of compiling, and compiled again when a template's source, Jinja2
or the environment's set-up changes."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from answers import render
from answers.render import SiteConfig, TemplateCache


@pytest.fixture
def compiled(monkeypatch) -> list[str]:
    "The name of every template compiled from now on."
    names = []
    compile_source = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, *args, **kwargs):
        names.append(name)
        return compile_source(self, source, name, filename, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    return names


def environment(site_dir: Path, templates: dict[str, str], cache_type=TemplateCache) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.DictLoader(templates), bytecode_cache=cache_type(site_dir))


def test_the_site_environment_keeps_its_templates_beside_the_site_folder(tmp_path, compiled):
    site = tmp_path / "site"
    first = render.make_environment(SiteConfig(), site).get_template("robots.txt").render(page_url="/")
    assert compiled == ["robots.txt"]
    assert [path.suffix for path in (tmp_path / "site.template-cache").iterdir()] == [".cache"]
    assert not site.exists()  # nothing is written inside what is published
    again = render.make_environment(SiteConfig(), site).get_template("robots.txt").render(page_url="/")
    assert again == first and compiled == ["robots.txt"]


def test_a_changed_template_is_compiled_again(tmp_path, compiled):
    assert environment(tmp_path / "site", {"page": "one"}).get_template("page").render() == "one"
    assert environment(tmp_path / "site", {"page": "two"}).get_template("page").render() == "two"
    assert compiled == ["page", "page"]


def test_other_code_compiles_every_template_again(tmp_path, compiled):
    class OtherCode(TemplateCache):
        "As another version of Jinja2 or of the environment's set-up would be."

        def __init__(self, site_dir: Path):
            super().__init__(site_dir)
            self.code += "changed"

    assert environment(tmp_path / "site", {"page": "one"}).get_template("page").render() == "one"
    environment(tmp_path / "site", {"page": "one"}, OtherCode).get_template("page")
    environment(tmp_path / "site", {"page": "one"}).get_template("page")
    assert compiled == ["page", "page", "page"]


def test_what_a_build_killed_while_saving_a_compiled_template_left_is_removed(tmp_path):
    # Jinja2 writes a compiled template to a temporary file beside its place, then renames it:
    # killed in between, it leaves that file, under a name no later save reuses.
    site = tmp_path / "site"
    render.make_environment(SiteConfig(), site).get_template("robots.txt")
    folder = tmp_path / "site.template-cache"
    kept = sorted(folder.iterdir())
    (folder / f"{kept[0].name}k1lled.tmp").write_bytes(b"half compiled")
    (folder / "unrelated.tmp").write_bytes(b"not Jinja2's")

    TemplateCache.remove_leftovers(site)

    assert sorted(folder.iterdir()) == sorted([*kept, folder / "unrelated.tmp"])
