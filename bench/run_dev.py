"""Run the processes of a Procfile with honcho, and stop them cleanly on Ctrl-C.

Used by `make run`: `python bench/run_dev.py -f Procfile.dev start`, with honcho's own
arguments. Two things differ from plain honcho:

- honcho gives its processes 5 seconds to stop before it kills them (`KILL_WAIT`, which
  honcho 2.0 offers no option for). A Celery worker can need longer to shut down warm, and
  one killed during its shutdown may leave the task it was running half done, so the wait
  here is 30 seconds. Anything still running then is killed, as before.
- honcho exits 130 after Ctrl-C (143 after SIGTERM), which `make` reports as an error. A stop
  that was asked for is a clean stop: exit 0. A process that fails on its own still ends the
  run with its own status.
"""

from __future__ import annotations

import sys

import honcho.manager
from honcho.command import main

STOP_WAIT_SECONDS = 30
ASKED_TO_STOP = {130, 143}  # 128 + SIGINT, 128 + SIGTERM


def run() -> int:
    honcho.manager.KILL_WAIT = STOP_WAIT_SECONDS
    try:
        main()
    except SystemExit as exit_:
        code = exit_.code
        return 0 if code in ASKED_TO_STOP else code
    return 0


if __name__ == "__main__":
    sys.exit(run())
