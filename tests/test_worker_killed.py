"""A Celery worker killed in the middle of sending an email: the next run sends it, once.

The worker is a real `celery worker` process on the configured broker (Redis in CI), on the
test database, talking to a real SMTP server that holds the first message unanswered. The
worker is killed (SIGKILL) while it waits there, a new one is started, and the sweep's
re-queue (plus a stray redelivery of every task) must deliver each email exactly once.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from attestations import outbox, services
from attestations.models import Cycle, SentEmail
from attestations.notifications import tasks
from opcc_portal.celery import app as celery_app
from tests.attestations.conftest import BASE, PERIOD_END
from tests.conftest import service_missing, wait_for
from tests.factories import ChatGroupFactory, MembershipFactory

# The worker is another process, which the run's clock (tests/clock.py) cannot reach: the test
# and the worker share the real clock instead. No answer here depends on the hour: the week closed
# is whichever ended last, and every date is made relative to now.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_clock]

BASE_DIR = Path(__file__).resolve().parent.parent


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def start_worker(celery_queue, smtp_server):
    """Start `celery worker` processes on this test's queue, database and SMTP server."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        service_missing("needs Redis as the broker to share a queue with a worker process (set CELERY_BROKER_URL)")
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "SITE_URL": settings.SITE_URL,
    }
    processes = []

    def start() -> subprocess.Popen:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "opcc_portal",
            "worker",
            "--pool",
            "solo",
            "-Q",
            celery_queue,
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "-l",
            "warning",
        ]
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL)  # noqa: S603
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def queue_length(name: str) -> int:
    with celery_app.connection_for_write() as conn:
        return conn.default_channel.client.llen(name)


def test_a_worker_killed_while_sending_loses_nothing_and_duplicates_nothing(
    start_worker, celery_queue, smtp_server, group, admin_user, member
):
    celery_app.conf.task_always_eager = False
    MembershipFactory(group=group)
    MembershipFactory(group=group)
    services.cycle_close_due(now=timezone.now())
    cycle = Cycle.objects.get(group=group)
    smtp_server.stall_next()

    first = start_worker()
    services.cycle_prompt(cycle=cycle, by=admin_user)  # four prompt emails, queued on commit
    assert smtp_server.stalled.wait(60), "the worker never reached the SMTP server"
    first.send_signal(signal.SIGKILL)  # mid-send: the server has the message but has not answered
    first.wait(timeout=30)
    smtp_server.released.set()
    emails = SentEmail.objects.filter(kind="prompt")
    assert emails.count() == 4
    assert emails.filter(status="sent").count() < 4

    start_worker()
    # The sweep's re-queue after EMAIL_REQUEUE_MINUTES, and a stray redelivery of every task.
    later = timezone.now() + dt.timedelta(minutes=settings.EMAIL_REQUEUE_MINUTES + 1)
    outbox.emails_requeue(now=later)
    for pk in emails.values_list("pk", flat=True):
        tasks.send_email.delay(pk)
    wait_for(lambda: emails.filter(status="sent").count() == 4, timeout=60)
    wait_for(lambda: queue_length(celery_queue) == 0, timeout=30)
    time.sleep(1)  # the last task taken off the queue finishes (each is a no-op by now)

    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert recipients == sorted(emails.values_list("to_address", flat=True))  # each once
    assert set(emails.values_list("status", flat=True)) == {"sent"}
    assert all(attempts == 1 for attempts in emails.values_list("attempts", flat=True))


def test_a_worker_killed_after_the_server_took_a_message_sends_it_again_as_the_same_message(
    start_worker, celery_queue, smtp_server, admin_user, member, time_machine
):
    """At least once, the same message: the server has delivered it, the worker dies before
    it hears "250" and before the row says sent, and the next worker sends it again with
    the same Message-ID, which mail clients show once."""
    celery_app.conf.task_always_eager = False
    time_machine.move_to(BASE, tick=False)
    group = ChatGroupFactory(admin=admin_user)
    MembershipFactory(group=group, user=member)
    time_machine.move_to(PERIOD_END + dt.timedelta(hours=1), tick=True)
    [cycle] = services.cycle_close_due(now=timezone.now()).cycles
    smtp_server.stall_next(deliver=True)

    first = start_worker()
    services.cycle_prompt(cycle=cycle, by=admin_user)  # two prompt emails, queued on commit
    assert smtp_server.stalled.wait(60), "the worker never reached the SMTP server"
    first.send_signal(signal.SIGKILL)  # the message is delivered; its row still says pending
    first.wait(timeout=30)
    smtp_server.released.set()
    rows = SentEmail.objects.filter(kind="prompt")
    assert rows.filter(status="sent").count() < 2

    start_worker()
    outbox.emails_requeue(now=timezone.now() + dt.timedelta(minutes=settings.EMAIL_REQUEUE_MINUTES + 1))
    wait_for(lambda: rows.filter(status="sent").count() == 2, timeout=60)
    wait_for(lambda: queue_length(celery_queue) == 0, timeout=30)
    time.sleep(1)  # the last task taken off the queue finishes (a no-op by now)

    [first_to] = [m["To"] for m in smtp_server.messages[:1]]
    copies = [m["Message-ID"] for m in smtp_server.messages if m["To"] == first_to]
    row = rows.get(to_address=first_to)
    assert copies == [outbox.message_id(row)] * 2  # sent twice, as one message
    assert len(smtp_server.messages) == 3  # the other member's email once
