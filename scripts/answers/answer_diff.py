"""Corrections: what a correction changed, word by word, between the original answer and the
answer that corrected it.

Reads the two answers' HTML (as the database keeps them: sanitized) and writes nothing: it
gives the changes as segments `[kind, text]`, kind one of 'same', 'deleted' (in the original
only) or 'added' (in the corrected answer only). The pages stage puts them in the page's front
matter (`answer_changes`, with the count of words deleted and added), so that the page's inputs
digest covers them; `templates/site/_diff.html` shows them. The segments are plain text taken
from source: the template escapes every one of them.

The texts are compared as words (difflib, on the answers' plain text), so that a change of
spacing or markup alone is no change, and a changed figure shows as the old figure struck
through beside the new one.
"""

from __future__ import annotations

import difflib
import re

from .clean import html_to_text

# A word (letters, digits and signs, with the punctuation inside it: "1,250.5", "£5m",
# "don't", "2023-24") or one other character, with the whitespace after it: a full stop or a
# bracket is a change of its own, not part of the word beside it.
TOKEN = re.compile(r"(?:[\w£$€%]+(?:[.,'’/:-][\w£$€%]+)*|\S)\s*")
SAME, DELETED, ADDED = "same", "deleted", "added"


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def changes(original_html: str | None, corrected_html: str | None) -> list[list[str]] | None:
    """The segments that turn the original answer into the corrected one, or None when there
    is no original to compare or the two read the same, word for word."""
    if not original_html or not corrected_html:
        return None
    old, new = tokens(html_to_text(original_html)), tokens(html_to_text(corrected_html))
    # autojunk off: in a long answer it would treat common words ('the', 'of') as noise and
    # show whole unchanged passages as deleted and added again.
    matcher = difflib.SequenceMatcher(None, [word.strip() for word in old],
                                      [word.strip() for word in new], autojunk=False)
    segments: list[list[str]] = []
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag == "equal":
            add(segments, SAME, "".join(new[new_start:new_end]))
        else:
            add_change(segments, "".join(old[old_start:old_end]), "".join(new[new_start:new_end]))
    if all(kind == SAME for kind, _ in segments):
        return None
    return segments


def add_change(segments: list[list[str]], deleted: str, added: str) -> None:
    """Deleted then added words, each without the space after it, so that the strike-through
    and underline stop at the last word; the space after them is unchanged text."""
    add(segments, DELETED, deleted.rstrip())
    add(segments, ADDED, added.rstrip())
    after = added or deleted
    add(segments, SAME, after[len(after.rstrip()):])


def add(segments: list[list[str]], kind: str, text: str) -> None:
    "Append a segment, joined to the one before when it is of the same kind."
    if not text:
        return
    if segments and segments[-1][0] == kind:
        segments[-1][1] += text
    else:
        segments.append([kind, text])


def page_facts(row: dict) -> dict:
    """What a question page's front matter says of its correction: the segments, and how many
    words were deleted and added (nothing where there is no original answer to compare)."""
    segments = changes(row.get("original_answer_html"), row.get("answer_html"))
    if segments is None:
        return {}
    words = {DELETED: 0, ADDED: 0}
    for kind, text in segments:
        if kind in words:
            words[kind] += len(text.split())
    return {"answer_changes": {"segments": segments, "deleted_words": words[DELETED],
                               "added_words": words[ADDED]}}
