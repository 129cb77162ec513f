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
