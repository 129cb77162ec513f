"""Where things live in the archive: the relative paths of member, body, heading and day pages.

Every path is relative to the archive's root and ends in '/', like a question's `url`.
Both the pages stage and the site stage use these, so that links agree.
"""

from __future__ import annotations

import hashlib
import posixpath

from .model import slugify


def member_slug(member_id: str, name: str | None = None) -> str:
    """A URL-safe slug for a member id, readable where a name is known.

    MNIS ids are digits ("4399" -> "4399-victoria-atkins"); other ids hold '/' or ':'
    ("uk.org.publicwhip/member/2038"). Slugifying such an id could merge two ids that differ
    only in punctuation, so it carries a short digest of the id as well.
    """
    if member_id.isdigit():
        return f"{member_id}-{slugify(name)}" if name else member_id
    slug = slugify(member_id)
    if slug != member_id:
        slug += "-" + hashlib.sha256(member_id.encode("utf-8")).hexdigest()[:6]
    return slug


def member_url(member_id: str, name: str | None = None) -> str:
    return f"members/{member_slug(member_id, name)}/"


def body_url(slug: str) -> str:
    return f"bodies/{slug}/"


def heading_slug(heading: str) -> str:
    "Headings that differ only in case or punctuation share a page ('Schools: Finance')."
    return slugify(heading)


def heading_url(heading: str) -> str:
    return f"headings/{heading_slug(heading)}/"


def day_url(iso_date: str) -> str:
    year, month, day = iso_date.split("-")
    return f"days/{year}/{month}/{day}/"


def month_url(year: str, month: str) -> str:
    return f"days/{year}/{month}/"


def year_url(year: str) -> str:
    return f"days/{year}/"


def page_url(listing_url: str, number: int) -> str:
    "Page `number` of a paginated listing: the first page is the listing itself."
    return listing_url if number == 1 else f"{listing_url}page/{number}/"


def relative(from_url: str, to_url: str) -> str:
    """A link from the page at `from_url` to `to_url`, both archive paths ('' is the root).

    Relative links keep the archive working from any base path and straight from disk.
    """
    target = posixpath.relpath("/" + to_url, "/" + from_url)
    if to_url == "" or to_url.endswith("/"):
        return "./" if target == "." else target + "/"
    return target
