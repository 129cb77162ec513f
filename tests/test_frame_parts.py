"""The parts of every page's frame (the site's header and footer), rendered once for the pages whose
links from them are the same: each page gets the very bytes its own rendering gives."""

from __future__ import annotations

import jinja2
import pytest

from answers import render, site
from answers.render import SiteConfig

PAGE = '{{ frame_part("_site_header.html") }}|{{ frame_part("_site_footer.html") }}'
FRAME_PARTS = ("_site_header.html", "_site_footer.html")
# Pages at several depths, in one folder and in others, a page of the header's own sections, and
# urls that are not plain paths.
PAGE_URLS = ["", "about/", "days/", "days/2024/", "days/2024/08/", "commons/2024-08-30/3283/",
             "lords/2024-08-30/HL1/", "commons/2024-08-30/3284/", "search/", "members/a/", "static/x/",
             "days/../bodies/", "./days/2024/"]


def own_rendering(env: jinja2.Environment, page_url: str, **context) -> str:
    "The frame parts rendered for this page alone, as if nothing were kept."
    return "|".join(env.get_template(name).render(page_url=page_url, **context) for name in FRAME_PARTS)


@pytest.mark.parametrize("absolute_links", [False, True])
def test_each_page_gets_its_own_rendering_of_the_frame_parts(absolute_links):
    env = render.make_environment(SiteConfig())
    page = env.from_string(PAGE)
    for page_url in PAGE_URLS * 2:
        assert page.render(page_url=page_url, absolute_links=absolute_links) == own_rendering(
            env, page_url, absolute_links=absolute_links), page_url


def test_pages_as_deep_in_a_folder_share_one_rendering_and_a_page_s_own_link_is_used():
    env = render.make_environment(SiteConfig())
    page, rendered = env.from_string(PAGE), []
    urls = ("commons/2024-08-30/3283/", "commons/2024-08-30/3284/", "lords/2024-08-30/HL1/")
    expected = [own_rendering(env, url) for url in urls]
    real = env.get_template

    def counting(name, *args, **kwargs):
        rendered.append(name)
        return real(name, *args, **kwargs)

    env.get_template = counting
    # The link function a question page is given (site.page_links), not the global one.
    assert [page.render(page_url=url, link=site.page_links(url)) for url in urls] == expected
    assert sorted(rendered) == sorted(FRAME_PARTS * 2)  # once for commons/, once for lords/
