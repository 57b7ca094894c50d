"""Health checks a load balancer can trust (issue 12, part 4).

`/healthz` is liveness: it fails only when this web process cannot serve (the database
cannot be reached), and answers within a couple of seconds even when the database accepts
connections and never answers. `/healthz/status` is for monitoring: database, broker, the
worker's heartbeat and the time of the last sweep, each stale after two intervals.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.urls import reverse

from attestations import services
from attestations.models import Heartbeat
from attestations.notifications import tasks
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_database():
    """A "database" that takes connections (the kernel completes them) and never says a word,
    as a hung PostgreSQL server or a black-holed proxy does."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # never accepted, never answered
        yield f"postgres://portal@127.0.0.1:{listener.getsockname()[1]}/portal"


@pytest.fixture
def web_process(tmp_path):
    """Start the portal under gunicorn with the given database; yields its base URL."""
    processes = []

    def start(database_url: str) -> str:
        port = _free_port()
        env = {
            **os.environ,
            "DEBUG": "true",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": "filesystem://",
            "VAR_DIR": str(tmp_path),
        }
        env.pop("DATABASE_CONNECT_TIMEOUT", None)  # the default is what is tested
        # Preloaded: the portal is imported before the port opens, so no request waits for it.
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "opcc_portal.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "--preload",
        ]
        processes.append(
            subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        )

        def listening() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, timeout=60, interval=0.2)
        base = f"http://127.0.0.1:{port}"
        # A first request that needs no database (a static file): the worker is up and warm.
        with urllib.request.urlopen(f"{base}/static/css/portal.css", timeout=60) as response:  # noqa: S310 - loopback
            assert response.status == 200
        return base

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a worker still stuck on the database
            process.kill()
            process.wait(timeout=10)


def _get(url: str, timeout: float) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - a loopback URL
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_liveness_fails_within_seconds_when_the_database_accepts_connections_and_never_answers(
    silent_database, web_process
):
    base = web_process(silent_database)
    started = time.monotonic()
    status, body = _get(f"{base}/healthz", timeout=30)
    elapsed = time.monotonic() - started
    assert status == 503 and body["status"] == "unavailable" and body["database"] == "down"
    assert elapsed < 4, f"/healthz took {elapsed:.1f} s"  # the 2-second connect timeout, and a busy machine


# --- The detailed status, in this process -------------------------------------------------


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.mark.django_db
def test_the_status_reports_a_worker_and_beat_never_seen(client, clock):
    response = client.get(reverse("healthz_status"))
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "broker": "ok",
        "worker": {"status": "never seen", "last_seen": None},
        "beat": {"status": "never seen", "last_sweep": None},
    }
    assert client.get(reverse("healthz")).status_code == 200  # liveness does not care


@pytest.mark.django_db
def test_the_status_calls_the_heartbeat_and_the_last_sweep_stale_after_two_intervals(client, clock, settings):
    services.heartbeat_record(name="worker", now=NOW)
    services.heartbeat_record(name="sweep", now=NOW)

    def status_at(minutes: float) -> dict:
        clock.move_to(NOW + dt.timedelta(minutes=minutes), tick=False)
        response = client.get(reverse("healthz_status"))
        body = response.json()
        return {"code": response.status_code, "worker": body["worker"]["status"], "beat": body["beat"]["status"]}

    assert settings.HEARTBEAT_MINUTES == 5 and settings.SWEEP_MINUTES == 15
    assert status_at(0) == {"code": 200, "worker": "ok", "beat": "ok"}
    assert status_at(10) == {"code": 200, "worker": "ok", "beat": "ok"}
    assert status_at(10.5) == {"code": 503, "worker": "stale", "beat": "ok"}
    assert status_at(30.5) == {"code": 503, "worker": "stale", "beat": "stale"}
    services.heartbeat_record(name="worker")  # the worker is back; beat is not
    body = client.get(reverse("healthz_status")).json()
    assert body["worker"] == {"status": "ok", "last_seen": "2026-11-16T09:30:30+00:00"}
    assert body["beat"] == {"status": "stale", "last_sweep": "2026-11-16T09:00:00+00:00"}
    assert client.get(reverse("healthz")).status_code == 200


@pytest.mark.django_db
def test_the_status_can_require_a_token(client, settings):
    settings.HEALTH_STATUS_TOKEN = "s3cret-token"
    assert client.get(reverse("healthz_status")).status_code == 403
    assert client.get(reverse("healthz_status"), headers={"Authorization": "Bearer wrong"}).status_code == 403
    answered = client.get(reverse("healthz_status"), headers={"Authorization": "Bearer s3cret-token"})
    assert answered.status_code in (200, 503) and answered.json()["database"] == "ok"
    assert client.get(reverse("healthz")).status_code == 200  # liveness stays open


def test_beat_runs_the_heartbeat_and_the_sweep_on_the_intervals_the_status_judges(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["heartbeat"]["task"] == "attestations.tasks.heartbeat"
    assert schedule["heartbeat"]["schedule"] == dt.timedelta(minutes=settings.HEARTBEAT_MINUTES)
    assert schedule["sweep"]["schedule"]._orig_minute == f"*/{settings.SWEEP_MINUTES}"


# --- The heartbeat and the sweep record themselves when a real worker runs them ------------


def test_a_real_worker_records_its_heartbeat_and_the_sweep_its_time(celery_worker, clock, monkeypatch):
    from opcc_portal.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", False)
    clock.move_to(NOW, tick=True)
    tasks.heartbeat.delay()
    tasks.sweep.delay()
    wait_for(lambda: Heartbeat.objects.count() == 2, timeout=60)
    seen = dict(Heartbeat.objects.values_list("name", "seen_at"))
    assert all(NOW <= when < NOW + dt.timedelta(minutes=1) for when in seen.values())
