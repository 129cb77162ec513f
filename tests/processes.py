"Looking at processes a test started, by their ids."

import time
from pathlib import Path


def is_running(pid: int) -> bool:
    "Whether the process is there and not ended (a zombie: ended, not yet reaped)."
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def ended_within(pid: int, seconds: float) -> bool:
    "Whether the process has ended, or ends within `seconds`."
    deadline = time.monotonic() + seconds
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not is_running(pid)
