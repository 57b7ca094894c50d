"""SMTP refusing or down: bounded retries, failures recorded, nothing sent twice on recovery."""

import datetime as dt
import socket

import pytest
from celery.exceptions import Retry
from django.core import mail

from attestations import notifications, tasks
from attestations.models import Flag, SentEmail
from tests.notifications.conftest import DUE, MINUTES_15, PERIOD_END

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again on leaving: nothing listens there


def test_smtp_down_retries_within_the_bound_records_the_failure_and_recovers_once(
    group, admin_user, settings, sweep_at, at, smtp_server
):
    settings.EMAIL_MAX_ATTEMPTS = 3
    port = smtp_server.port
    settings.EMAIL_PORT = _closed_port()
    sweep_at(PERIOD_END + MINUTES_15)
    at(DUE + MINUTES_15)
    [digest_id] = notifications.sweep(now=DUE + MINUTES_15, queue=False).emails
    for _ in range(2):  # a transient error: the task asks to be retried, with a backoff
        with pytest.raises(Retry, match="Retry in"):
            tasks.send_email.apply(args=[digest_id], throw=True)
    assert tasks.send_email.apply(args=[digest_id]).get() == "failed"  # the bound: three attempts
    assert tasks.send_email.apply(args=[digest_id]).get() is None  # and no more
    digest = SentEmail.objects.get(pk=digest_id)
    assert (digest.status, digest.attempts, digest.sent_at) == ("failed", 3, None)
    assert "ConnectionRefusedError" in digest.error
    # Its flags are given back, so the next sweep reports them in a new digest.
    assert Flag.objects.filter(notified_at__isnull=True).count() == 3
    assert smtp_server.messages == []

    settings.EMAIL_PORT = port  # the mail server is back
    sweep_at(DUE + 2 * MINUTES_15)
    sweep_at(DUE + 3 * MINUTES_15)
    assert [m["To"] for m in smtp_server.messages] == [admin_user.email]
    assert SentEmail.objects.filter(kind="admin_digest", status="sent").count() == 1


def test_a_second_task_for_an_email_already_sent_sends_nothing(group, sweep_at):
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(DUE + MINUTES_15)
    [digest] = SentEmail.objects.filter(kind="admin_digest")
    assert len(mail.outbox) == 1
    assert tasks.send_email.delay(digest.pk).get() is None
    assert len(mail.outbox) == 1


def test_an_email_whose_task_was_lost_is_queued_again_by_a_later_sweep(group, sweep_at, at):
    sweep_at(PERIOD_END + MINUTES_15)
    at(DUE + MINUTES_15)
    notifications.sweep(now=DUE + MINUTES_15)  # on_commit never runs: as if the broker lost it
    assert mail.outbox == []
    sweep_at(DUE + 2 * MINUTES_15)  # too soon: the task may only be waiting
    assert mail.outbox == []
    sweep_at(DUE + dt.timedelta(minutes=45))
    assert len(mail.outbox) == 1
    assert SentEmail.objects.get(kind="admin_digest").status == "sent"
