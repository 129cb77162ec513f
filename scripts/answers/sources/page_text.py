"""Reader for the page_text format (not written yet)."""

FORMAT = "page_text"


def matches(path):
    return False


def read(path):
    return iter(())
