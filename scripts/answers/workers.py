"""Every process a build starts ends with it.

A build's worker processes (the reader of source files, "Asked before", the pages' and the
site's render workers, the search index beside them) are its children. A kill of the build's
process group (Ctrl-C, a supervisor stopping it) ends them with it; a kill of the build's
process alone, by its id, does not. A pool's worker would then wait for its next task for
ever, since the other workers hold the ends of the pool's pipes that would tell it the build
has gone, and the search index would go on writing into the site beside the next build's.
`follow_the_build`, called first in each of them, ends them soon after the build instead.
`ForkedCall` runs one function in such a process, beside the build, and gives back its result."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
import traceback

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


class ForkedCall:
    """A function called in a process of its own, forked from the build, beside what the build
    does meanwhile; `result` gives what it returned, or raises what it raised. A function that
    spends its time reading, hashing and writing files does so there without taking turns at
    the interpreter's lock with the build's own work, as a thread of the build must (see
    `site.OtherFiles.write`).

    Forked only while this process runs one thread: a thread may hold a lock the child would
    need. Like the search index's process, the child follows the build (`follow_the_build`)."""

    def __init__(self, process, receiver):
        self.process = process
        self.receiver = receiver

    @classmethod
    def start(cls, name: str, function, *args) -> ForkedCall | None:
        "`function(*args)`, started now in a process called `name`; None if another thread is running."
        if threading.active_count() > 1:
            return None
        import multiprocessing  # here: only a build that forks needs it

        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=call_in_child, args=(sender, function, args), name=name)
        process.start()
        sender.close()  # the child's alone: its end closing is how a child that died is seen
        return cls(process, receiver)

    def result(self):
        "What the function returned, once its process ends; what it raised is raised here."
        try:
            kind, value = self.receiver.recv()
        except EOFError:  # killed, or failed with an error it printed (multiprocessing does)
            kind, value = "error", ChildProcessError(f"the {self.process.name} process ended without finishing")
        finally:
            self.close()
        if kind == "error":
            raise value
        return value

    def close(self) -> None:
        """Wait for the process to end: a build that fails meanwhile leaves none running. Only
        for a result that fits the pipe's buffer, or one already received: a larger one keeps
        the process waiting to send it, for ever. Else `cancel`."""
        self.process.join()
        self.receiver.close()

    def cancel(self) -> None:
        "End the process now, its result not wanted (what it writes is its caller's to sweep)."
        self.process.kill()
        self.close()


def call_in_child(sender, function, args) -> None:
    "A ForkedCall's function in its process; what it returned or raised sent back."
    follow_the_build()
    try:
        outcome = ("result", function(*args))
    except Exception as error:
        outcome = ("error", sendable(error))
    sender.send(outcome)


def sendable(error: Exception) -> Exception:
    """An error raised in a ForkedCall's process, as the build is to raise it: with where it was
    raised in a note, since its traceback stays in the child; as a ChildProcessError telling it
    in full when the build could not make it again from what pickling sends (an error whose
    class takes other arguments than its args)."""
    told = "".join(traceback.format_exception(error))
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return ChildProcessError(f"the forked process failed:\n{told}")
    error.add_note(f"raised in the forked process:\n{told}")
    return error
