"""Every process a build starts ends with it.

A build's worker processes (the reader of source files, "Asked before", the pages' and the
site's render workers, the search index beside them) are its children. A kill of the build's
process group (Ctrl-C, a supervisor stopping it) ends them with it; a kill of the build's
process alone, by its id, does not. A pool's worker would then wait for its next task for
ever, since the other workers hold the ends of the pool's pipes that would tell it the build
has gone, and the search index would go on writing into the site beside the next build's.
`follow_the_build`, called first in each of them, ends them soon after the build instead."""

from __future__ import annotations

import os
import signal
import threading
import time

WATCH_SECONDS = 0.5  # how often a worker looks for the build's process


def follow_the_build() -> None:
    """End this process soon after the process that started it (the build) has ended: that
    shows as this one handed to another parent. It ends as a kill of the build's process group
    would end it; what it was writing is in a temporary file, which the next build sweeps."""
    import multiprocessing  # here: a worker has it already, and a build need not import it

    build = multiprocessing.parent_process()
    if build is None:  # not started by multiprocessing: no build to follow
        return
    build_pid = build.pid  # recorded before this process started: no race with the build's end

    def watch() -> None:
        while os.getppid() == build_pid:
            time.sleep(WATCH_SECONDS)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="build watch", daemon=True).start()
