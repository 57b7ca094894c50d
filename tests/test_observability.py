"""Logs a machine can read: a request id on every line, one line per request, JSON when
asked for, and the request's id carried into the tasks it queues (README: Logs)."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opcc_portal.celery import app
from opcc_portal.observability import REQUEST_ID, TASK, ContextFilter
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent
SEEN: list[tuple[str, tuple[str, str]]] = []


@app.task(name="tests.remember_request_id")
def remember_request_id() -> None:
    SEEN.append((REQUEST_ID.get(), TASK.get()))


def _request_lines(caplog):
    return [r for r in caplog.records if r.name == "opcc_portal.requests"]


@pytest.mark.django_db
def test_each_request_gets_an_id_and_one_log_line_with_its_facts(client, member, caplog):
    client.force_login(member)
    with caplog.at_level("INFO", logger="opcc_portal.requests"):
        response = client.get("/")
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    [line] = _request_lines(caplog)
    assert (line.request_id, line.method, line.path, line.status) == (request_id, "GET", "/", 200)
    assert line.user_id == member.pk and line.duration_ms >= 0


@pytest.mark.django_db
def test_a_proxys_well_formed_request_id_is_kept_and_a_malformed_one_replaced(client, caplog):
    with caplog.at_level("INFO", logger="opcc_portal.requests"):
        kept = client.get("/privacy/", headers={"X-Request-ID": "lb-7f3a9c21-0001"})
        replaced = client.get("/privacy/", headers={"X-Request-ID": "bad id\nwith a line break"})
    assert kept["X-Request-ID"] == "lb-7f3a9c21-0001"
    assert replaced["X-Request-ID"] != "bad id\nwith a line break" and len(replaced["X-Request-ID"]) == 32
    assert [r.request_id for r in _request_lines(caplog)] == [kept["X-Request-ID"], replaced["X-Request-ID"]]
    # Nobody signed in, and the page did not need to load a user to say so.
    assert [r.user_id for r in _request_lines(caplog)] == [None, None]


def test_every_record_carries_the_current_request_and_task():
    """The filter on the console handler names the request (or task) on any logger's record."""
    record = logging.LogRecord("attestations.outbox", logging.WARNING, __file__, 1, "a problem", (), None)
    request_token, task_token = REQUEST_ID.set("req-abcdef12"), TASK.set(("attestations.tasks.sweep", "t-1"))
    try:
        assert ContextFilter().filter(record)
    finally:
        REQUEST_ID.reset(request_token)
        TASK.reset(task_token)
    assert (record.request_id, record.task, record.task_id) == ("req-abcdef12", "attestations.tasks.sweep", "t-1")
    outside = logging.LogRecord("attestations.outbox", logging.WARNING, __file__, 1, "a problem", (), None)
    ContextFilter().filter(outside)
    assert (outside.request_id, outside.task, outside.task_id) == ("", "", "")


@pytest.mark.django_db
def test_the_request_id_ends_with_its_request(client):
    client.get("/privacy/")
    assert REQUEST_ID.get() == ""


def test_json_lines_have_one_field_per_fact():
    """The settings' JSON format, end to end in a process of its own: one request, one line."""
    code = (
        "from django.test import Client; import logging; "
        "Client().get('/healthz', headers={'X-Request-ID': 'probe-000001'}); "
        "logging.getLogger('attestations.outbox').warning('Email %s failed', 7, extra={'email_id': 7})"
    )
    env = {**os.environ, "DEBUG": "true", "LOG_FORMAT": "json", "ALLOWED_HOSTS": "testserver"}
    env.pop("DATABASE_URL", None)  # the healthz line only needs a database it can reach
    env["VAR_DIR"] = str(ROOT / "var" / "log-test")
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    [request] = [line for line in lines if line["logger"] == "opcc_portal.requests"]
    assert request["request_id"] == "probe-000001" and request["path"] == "/healthz"
    assert request["method"] == "GET" and request["status"] in (200, 503) and request["duration_ms"] >= 0
    assert request["level"] == "INFO" and request["time"].endswith("+00:00")
    [email] = [line for line in lines if line["logger"] == "attestations.outbox"]
    assert email["email_id"] == 7 and email["message"] == "Email 7 failed" and email["request_id"] == ""


def test_a_task_queued_during_a_request_runs_under_the_requests_id(celery_worker, monkeypatch):
    # Through the broker to the worker thread, whatever an earlier test left the setting at.
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    SEEN.clear()
    token = REQUEST_ID.set("req-0123456789")
    try:
        remember_request_id.delay()
    finally:
        REQUEST_ID.reset(token)
    remember_request_id.delay()  # queued outside any request: no id
    # The folder broker does not promise the order; a slow machine may take a while to start.
    assert wait_for(lambda: len(SEEN) == 2, timeout=60)
    by_id = {request_id: task for request_id, task in SEEN}
    assert set(by_id) == {"req-0123456789", ""}
    task_name, task_id = by_id["req-0123456789"]
    assert task_name == "tests.remember_request_id" and task_id
