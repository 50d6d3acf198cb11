"""Pause points: places where a test can hold a run to kill it or read the warehouse meanwhile.

A run passes through each point untouched unless SECONDLOOK_PAUSE_AT names it; then it writes
SECONDLOOK_PAUSE_FILE and waits until that file is removed (at most five minutes). The kill and
concurrent-reader tests of tests/e2e/ use them to prove that an interrupted run never leaves a
mixed or stale site.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

MAX_PAUSE_SECONDS = 300.0


def pause_point(name: str) -> None:
    if os.environ.get("SECONDLOOK_PAUSE_AT") != name:
        return
    flag = Path(os.environ["SECONDLOOK_PAUSE_FILE"])
    flag.write_text(str(os.getpid()))
    deadline = time.monotonic() + MAX_PAUSE_SECONDS
    while flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
