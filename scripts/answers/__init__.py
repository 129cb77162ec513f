"""The Written Answers Archive's build scripts: one module a stage (see docs/ARCHITECTURE.md).

Importing the package imports sqlite-utils, with numpy and pandas hidden from it. sqlite-utils
imports both at its own import whenever they are installed, only to map their scalar types
(numpy.int64 and the like) to column types; the archive never hands it a numpy or pandas value,
so without them it stores the same rows. Their import cost every command a quarter of a second
of its start (numpy alone, about 0.1 s of CPU here), a build with nothing to do most of its
time. Hidden only while sqlite-utils is imported: related.py's full pass imports numpy after.
"""

import sys

HIDDEN_FROM_SQLITE_UTILS = ("numpy", "pandas")


def import_sqlite_utils_without(hidden: tuple[str, ...]) -> None:
    """Import sqlite-utils as if the `hidden` packages were not installed (None in `sys.modules`
    makes their import fail), then put back exactly what `sys.modules` held for each."""
    held = {name: sys.modules[name] for name in hidden if name in sys.modules}
    sys.modules.update(dict.fromkeys(hidden))
    try:
        import sqlite_utils  # noqa: F401
    finally:
        for name in hidden:
            if name in held:
                sys.modules[name] = held[name]
            else:
                del sys.modules[name]


import_sqlite_utils_without(HIDDEN_FROM_SQLITE_UTILS)
