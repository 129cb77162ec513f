"""Run a command as a child of this small process, and write its peak memory and CPU time as
JSON to a file: `launch.py REPORT COMMAND...`; exits with the command's status.

Linux keeps, in a process's peak resident set, the largest resident set of the process it was
started from (fork or vfork, then exec). A command started by the benchmarks, whose own
process may have held hundreds of megabytes, would report at least that much; started from
this process, it reports at least this process's few megabytes. A command killed by a signal
(the kernel's, out of memory) kills this process with the same signal: its caller sees what
it would have seen of the command itself.
"""

import json
import os
import signal
import sys


def main() -> None:
    report, command = sys.argv[1], sys.argv[2:]
    child = os.fork()
    if child == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)  # not found or not runnable: as a shell reports it
    _, status, usage = os.wait4(child, 0)
    with open(report, "w", encoding="utf-8") as file:
        json.dump({"peak_kb": usage.ru_maxrss, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                   "system_seconds": usage.ru_stime}, file)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # killed: sys.exit(-9) would exit with the status 247, which says nothing
        if -code != signal.SIGKILL:  # SIGKILL's action cannot be set; another's (SIGINT: Python's) ends this process
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


if __name__ == "__main__":
    main()
