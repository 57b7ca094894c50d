"""Serving the portal for the benchmarks: gunicorn on loopback, and people already signed in."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import CommandError

ROOT = Path(settings.BASE_DIR)


def signed_in_cookie(user) -> str:
    """A `Cookie` header for a session of `user`, made in the database as a sign-in would."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "opcc_portal.accounts.PasswordBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


class Gunicorn:
    """gunicorn serving the portal on loopback with this process's settings (as the Procfile
    runs it: gthread workers, the default timeout of 30 s), stopped on leaving."""

    def __init__(self, port: int, worker_class: str = "gthread", *, workers: int = 1, threads: int = 4):
        self.port = port
        self.args = ["--workers", str(workers), "--worker-class", worker_class]
        if worker_class == "gthread":
            self.args += ["--threads", str(threads)]

    def __enter__(self) -> psutil.Process:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                raise CommandError(f"Something already listens on 127.0.0.1:{self.port}: choose another --port.")
        env = {**os.environ, "LOG_LEVEL": "WARNING", "SECRET_KEY": settings.SECRET_KEY}
        self.process = subprocess.Popen(  # noqa: S603 - our own server, fixed arguments
            [sys.executable, "-m", "gunicorn", "opcc_portal.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--log-level", "warning", *self.args],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return psutil.Process(self.process.pid)
            except OSError:
                if self.process.poll() is not None:
                    raise CommandError("gunicorn stopped as it started") from None
                time.sleep(0.3)
        raise CommandError("gunicorn did not start")

    def __exit__(self, *exc) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)
