"Worker processes end with the build that started them, however it ends."

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from answers import workers
from processes import ended_within, is_running

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_a_pools_worker_waiting_for_work_ends_with_a_build_killed_alone(start_method):
    # The build's process killed by its id (not its group): without follow_the_build, its
    # render workers would wait for their next page for ever.
    build = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import multiprocessing, os
        from concurrent.futures import ProcessPoolExecutor
        from answers.workers import follow_the_build
        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context({start_method!r}),
                                   initializer=follow_the_build)
        print(*{{pool.submit(os.getpid).result() for _ in range(20)}}, flush=True)
        os.kill(os.getpid(), 9)
        """)], stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")})
    with build.stdout:  # the workers hold this pipe too: read the first line, not to the end
        worker_pids = [int(pid) for pid in build.stdout.readline().split()]
    build.wait()
    assert worker_pids
    try:
        assert all(ended_within(pid, 30) for pid in worker_pids)
    finally:
        for pid in worker_pids:
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_process_not_started_by_multiprocessing_has_no_build_to_follow():
    before = {thread.name for thread in threading.enumerate()}
    workers.follow_the_build()  # this test's own process: nothing to watch, nothing ended
    assert "build watch" not in {thread.name for thread in threading.enumerate()} - before



def forked_call_told(function_source: str, call: str) -> str:
    """What a build that runs `call` (a ForkedCall of a function defined in `function_source`)
    tells of it: its result, or the error it raises with its notes and traceback. In a process
    of its own, which runs one thread as a build does: this one may run others."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(function_source) + textwrap.dedent(f"""
        import traceback
        from answers.workers import ForkedCall
        call = {call}
        assert call is not None
        try:
            print("returned", call.result())
        except Exception as error:
            print("".join(traceback.format_exception(error)))
        """)], capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")},
        check=True)
    return done.stdout


def test_an_error_in_a_forked_call_is_raised_in_the_build_with_where_the_child_raised_it():
    told = forked_call_told("""
        def fail_deep_inside(message):
            raise ValueError(message)
        """, 'ForkedCall.start("failing", fail_deep_inside, "the export is damaged")')
    assert "ValueError: the export is damaged" in told
    assert 'line 3, in fail_deep_inside' in told  # the child's own frame, where it raised


def test_an_error_in_a_forked_call_that_cannot_be_sent_back_as_it_is_is_still_told_in_full():
    # An error its class cannot make again from its args alone, as unpickling it in the build would.
    told = forked_call_told("""
        class TwoPartError(Exception):
            def __init__(self, table, reason):
                super().__init__(f"{table}: {reason}")

        def fail_with_two_parts():
            raise TwoPartError("questions", "no such column")
        """, 'ForkedCall.start("failing", fail_with_two_parts)')
    assert "ChildProcessError" in told
    assert "TwoPartError: questions: no such column" in told and "fail_with_two_parts" in told


def test_a_forked_call_gives_back_what_its_function_returned():
    assert forked_call_told("", 'ForkedCall.start("adding", sum, [1, 2, 3])') == "returned 6\n"


def test_builds_in_this_suite_run_in_a_one_thread_process_as_answers_build_does():
    """Every thread the tests before this one started has ended (those that make Datasette here,
    whose threads cannot end, run after it: see conftest). A thread left running would make every
    later build fall back from forking its helpers to threads, and its tests pass without the
    forked ways ever running."""
    assert [thread.name for thread in threading.enumerate() if thread is not threading.main_thread()] == []
