"""SMTP refusing or down: bounded retries, failures recorded, nothing sent twice on recovery."""

import datetime as dt
import socket

import pytest
from celery.exceptions import Retry
from django.core import mail

from attestations.models import Flag, SentEmail
from attestations.notifications import sweep as notifications
from attestations.notifications import tasks
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


def test_a_tls_error_is_retried_within_the_bound_and_recorded(group, settings, sweep_at, at, smtp_server):
    """A misconfigured or failing TLS connection is an OSError, not an SMTP error: still a
    transient failure, retried and recorded, never left pending with nothing said."""
    settings.EMAIL_MAX_ATTEMPTS = 2
    settings.EMAIL_USE_SSL = True  # the server speaks plain SMTP: the TLS handshake fails
    sweep_at(PERIOD_END + MINUTES_15)
    at(DUE + MINUTES_15)
    [digest_id] = notifications.sweep(now=DUE + MINUTES_15, queue=False).emails
    with pytest.raises(Retry):
        tasks.send_email.apply(args=[digest_id], throw=True)
    digest = SentEmail.objects.get(pk=digest_id)
    assert (digest.status, digest.attempts) == ("pending", 1)
    assert "SSL" in digest.error
    assert tasks.send_email.apply(args=[digest_id]).get() == "failed"
    assert SentEmail.objects.get(pk=digest_id).attempts == 2
    assert smtp_server.messages == []


def test_a_refused_address_fails_at_once_and_is_not_made_again(group, admin_user, sweep_at, at, smtp_server):
    smtp_server.refused[admin_user.email] = "550 5.1.1 No such user here"
    sweep_at(PERIOD_END + MINUTES_15)
    at(DUE + MINUTES_15)
    [digest_id] = notifications.sweep(now=DUE + MINUTES_15, queue=False).emails
    assert tasks.send_email.apply(args=[digest_id]).get() == "failed"  # no retry for a 5xx
    digest = SentEmail.objects.get(pk=digest_id)
    assert (digest.status, digest.attempts, digest.sent_at) == ("failed", 1, None)
    assert "SMTPRecipientsRefused" in digest.error and "No such user" in digest.error
    # Its flags stay reported: the next sweeps make no new digest bound to be refused again.
    assert Flag.objects.filter(notified_at__isnull=True).count() == 0
    sweep_at(DUE + 2 * MINUTES_15)
    sweep_at(DUE + dt.timedelta(hours=5))
    assert SentEmail.objects.filter(kind="admin_digest").count() == 1
    assert smtp_server.messages == []


def test_a_try_later_reply_is_retried_and_then_sent_once(group, admin_user, sweep_at, at, smtp_server):
    smtp_server.data_replies.append("451 4.3.0 Mail server busy, try later")
    sweep_at(PERIOD_END + MINUTES_15)
    at(DUE + MINUTES_15)
    [digest_id] = notifications.sweep(now=DUE + MINUTES_15, queue=False).emails
    with pytest.raises(Retry):
        tasks.send_email.apply(args=[digest_id], throw=True)
    assert "451" in SentEmail.objects.get(pk=digest_id).error
    assert tasks.send_email.apply(args=[digest_id]).get() == "sent"
    assert [m["To"] for m in smtp_server.messages] == [admin_user.email]
    assert SentEmail.objects.get(pk=digest_id).attempts == 2


def test_a_message_refused_at_data_with_5xx_is_failed_at_once(group, sweep_at, at, smtp_server):
    smtp_server.data_replies.append("554 5.7.1 Message rejected as spam")
    sweep_at(PERIOD_END + MINUTES_15)
    at(DUE + MINUTES_15)
    [digest_id] = notifications.sweep(now=DUE + MINUTES_15, queue=False).emails
    assert tasks.send_email.apply(args=[digest_id]).get() == "failed"
    digest = SentEmail.objects.get(pk=digest_id)
    assert digest.attempts == 1 and "SMTPDataError" in digest.error
