"""Reader for the data_parliament_csv format (not written yet)."""

FORMAT = "data_parliament_csv"


def matches(path):
    return False


def read(path):
    return iter(())
