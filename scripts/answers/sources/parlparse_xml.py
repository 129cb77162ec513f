"""Reader for the parlparse_xml format (not written yet)."""

FORMAT = "parlparse_xml"


def matches(path):
    return False


def read(path):
    return iter(())
