"""Reader for the longform_sqlite format (not written yet)."""

FORMAT = "longform_sqlite"


def matches(path):
    return False


def read(path):
    return iter(())
