"""gunicorn's settings for the portal (Procfile, Dockerfile, deploy/systemd all use this file).

Threads, not only processes: a CSV export of a whole force streams for tens of seconds, and
with gunicorn's default sync workers each download holds a whole process, so three
downloads stop every page (README "Deploying on several hosts" has the measurement). The
gthread worker gives each process WEB_THREADS threads: a download holds one thread, the
others keep answering pages. The portal's code is thread-safe (Django's per-thread database
connections, no module state written per request).

Environment: PORT (8000), WEB_CONCURRENCY processes (2 × cores + 1 is gunicorn's advice;
default 3), WEB_THREADS threads each (default 8), WEB_TIMEOUT seconds a request may take
(default 120: a force-size export takes ~15 s), PROMETHEUS_MULTIPROC_DIR (see
opcc_portal/metrics.py).
"""

import os
import shutil
from pathlib import Path

from prometheus_client import multiprocess


def _int(name: str, default: int) -> int:
    value = int(os.environ.get(name) or default)
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}.")
    return value


wsgi_app = "opcc_portal.wsgi"
bind = f"0.0.0.0:{_int('PORT', 8000)}"
workers = _int("WEB_CONCURRENCY", 3)
worker_class = "gthread"
threads = _int("WEB_THREADS", 8)
timeout = _int("WEB_TIMEOUT", 120)
graceful_timeout = 30
# A worker is replaced after this many requests (and a random few more, so they do not all
# restart at once): bounds any slow growth of memory.
max_requests = 2000
max_requests_jitter = 200
accesslog = None  # the portal logs each request itself (opcc_portal.observability)


def on_starting(server):
    # Request metrics of several processes are files in one folder: start each run empty, or
    # the counters of a previous run would carry on.
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


control_socket_disable = True  # no runtime control socket: one less thing listening
