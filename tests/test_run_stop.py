"""`make run` stops cleanly on Ctrl-C: the worker finishes its warm shutdown, nothing is killed.

The processes of Procfile.dev (but the web server, which needs a free port and a migrated
database and stops at once) run under bench/run_dev.py, as `make run` runs them, on the
embedded defaults in a throw-away folder. SIGINT (what Ctrl-C sends) must stop them all
without a SIGKILL, and the runner must exit 0 so `make` reports no error.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ctrl_c_stops_the_worker_and_beat_cleanly(tmp_path):
    procfile = tmp_path / "Procfile"
    lines = (ROOT / "Procfile.dev").read_text().splitlines()
    procfile.write_text("\n".join(line for line in lines if not line.startswith("web:")) + "\n")
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "DEBUG": "true",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        runner = subprocess.Popen(
            [sys.executable, "bench/run_dev.py", "-f", str(procfile), "--no-colour", "start"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 90
            while "ready." not in log.read_text() and time.monotonic() < deadline:
                assert runner.poll() is None, log.read_text()
                time.sleep(0.5)
            assert "ready." in log.read_text(), log.read_text()
            runner.send_signal(signal.SIGINT)
            code = runner.wait(timeout=60)
        finally:
            if runner.poll() is None:
                os.killpg(runner.pid, signal.SIGKILL)
    output = log.read_text()
    assert "SIGINT received" in output
    assert "SIGKILL" not in output, output
    assert "worker.1 stopped" in output and "beat.1 stopped" in output
    assert code == 0, output
