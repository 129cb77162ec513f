"""Members and ministerial posts: names for member ids, and the office a member held on a date.

`MemberDirectory` (in `directory`) is what the store and the site use. It is built from the
reference data kept beside the corpus, one module a source:

- `elections`: lists of MPs and the House of Commons Library's election results;
- `ifg`: the Institute for Government Ministers Database (names and posts by MNIS id);
- `parlparse`: parlparse's members, peers, people and ministers (by parlparse id);
- `reference`: finding those files under the folders given, and reading their fields.

Reference files are found by name anywhere under the folders given, so a missing file only
means fewer names or posts. Only `MemberDirectory.apply_offices` writes (to the database).
"""

from .directory import MemberDirectory, posts_in_body
from .ifg import IFG_SOURCE, repair_reversed_ranges
from .parlparse import PARLPARSE_2010_SOURCE, PARLPARSE_XML_SOURCE
from .reference import Post, ReferenceFiles, normalise_name

__all__ = [
    "IFG_SOURCE", "PARLPARSE_2010_SOURCE", "PARLPARSE_XML_SOURCE", "MemberDirectory", "Post",
    "ReferenceFiles", "normalise_name", "posts_in_body", "repair_reversed_ranges",
]
