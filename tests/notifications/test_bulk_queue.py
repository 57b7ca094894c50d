"""Emails decided in bulk are queued in batches: one task per EMAIL_QUEUE_BATCH emails, each
email still sent once, a transient failure still retried by the one-email task."""

from __future__ import annotations

import datetime as dt
import smtplib

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from attestations import outbox
from attestations.models import SentEmail
from attestations.notifications import sweep as notifications
from attestations.notifications import tasks
from tests import factories
from tests.notifications.conftest import DUE, PERIOD_END

pytestmark = pytest.mark.django_db

REMINDERS_DUE = DUE - dt.timedelta(hours=23)


@pytest.fixture
def seven_members(group):
    for n in range(6):  # with `member`, seven people owe a clear-down
        factories.MembershipFactory(group=group, user=factories.UserFactory(username=f"person{n}"))
    return group


@pytest.fixture
def published(monkeypatch):
    """What is published to the broker, by task: (task name, arguments)."""
    calls = []
    for task in (tasks.send_email, tasks.send_emails):
        monkeypatch.setattr(task, "apply_async", lambda args, _name=task.name, **kw: calls.append((_name, args)))
    return calls


def test_from_the_batch_size_on_emails_are_queued_in_batches(seven_members, sweep_at, settings, published):
    settings.EMAIL_QUEUE_BATCH = 3
    sweep_at(PERIOD_END + dt.timedelta(minutes=15))
    ids = sweep_at(REMINDERS_DUE).emails
    reminders = list(SentEmail.objects.filter(kind="reminder").order_by("pk").values_list("pk", flat=True))
    [digest] = SentEmail.objects.filter(kind="admin_digest").values_list("pk", flat=True)  # the prompt missed
    assert len(reminders) == 8 and ids == [*reminders, digest]  # seven members and the admin
    assert published == [
        (outbox.SEND_BATCH_TASK, (reminders[0:3],)),
        (outbox.SEND_BATCH_TASK, (reminders[3:6],)),
        (outbox.SEND_BATCH_TASK, (reminders[6:8],)),
        (outbox.SEND_TASK, (digest,)),  # a step's emails are queued together: one alone is one task
    ]


def test_below_the_batch_size_each_email_is_its_own_task(seven_members, sweep_at, settings, published):
    settings.EMAIL_QUEUE_BATCH = 9
    sweep_at(PERIOD_END + dt.timedelta(minutes=15))
    ids = sweep_at(REMINDERS_DUE).emails
    assert published == [(outbox.SEND_TASK, (pk,)) for pk in ids]


def test_a_batch_task_sends_each_email_once(seven_members, sweep_at, settings):
    settings.EMAIL_QUEUE_BATCH = 3
    sweep_at(PERIOD_END + dt.timedelta(minutes=15))
    ids = sweep_at(REMINDERS_DUE).emails  # eager Celery: the batches run as they are queued
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        SentEmail.objects.filter(pk__in=ids).values_list("to_address", flat=True)
    )
    assert SentEmail.objects.filter(pk__in=ids, status="sent").count() == len(ids) == 9
    assert tasks.send_emails.apply(args=[ids]).get() == 0  # again: nothing more is sent
    assert len(mail.outbox) == len(ids)


def test_a_transient_failure_in_a_batch_is_retried_by_the_one_email_task(seven_members, at, settings, monkeypatch):
    at(PERIOD_END + dt.timedelta(minutes=15))
    notifications.sweep(now=PERIOD_END + dt.timedelta(minutes=15), queue=False)
    at(REMINDERS_DUE)
    ids = notifications.sweep(now=REMINDERS_DUE, queue=False).emails
    failing = SentEmail.objects.get(pk=ids[2])
    real_send = EmailMultiAlternatives.send

    def send(message, *args, **kwargs):
        if message.to == [failing.to_address]:
            raise smtplib.SMTPServerDisconnected("gone")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMultiAlternatives, "send", send)
    retried = []
    monkeypatch.setattr(tasks.send_email, "apply_async", lambda args, **kw: retried.append((args, kw)))
    assert tasks.send_emails.apply(args=[ids]).get() == len(ids) - 1
    assert retried == [((failing.pk,), {"countdown": settings.EMAIL_RETRY_SECONDS})]
    failing.refresh_from_db()
    assert (failing.status, failing.attempts) == ("pending", 1)
    assert len(mail.outbox) == len(ids) - 1


def test_at_exactly_the_batch_size_a_steps_emails_are_one_batch_through_one_connection(
    seven_members, sweep_at, settings, monkeypatch
):
    settings.EMAIL_QUEUE_BATCH = 8
    calls = []
    for task in (tasks.send_email, tasks.send_emails):
        monkeypatch.setattr(
            task, "apply_async", lambda args, _name=task.name, **kw: calls.append((_name, args, kw.get("producer")))
        )
    sweep_at(PERIOD_END + dt.timedelta(minutes=15))
    sweep_at(REMINDERS_DUE)
    reminders = list(SentEmail.objects.filter(kind="reminder").order_by("pk").values_list("pk", flat=True))
    [digest] = SentEmail.objects.filter(kind="admin_digest").values_list("pk", flat=True)
    assert [(name, args) for name, args, _ in calls] == [
        (outbox.SEND_BATCH_TASK, (reminders,)),
        (outbox.SEND_TASK, (digest,)),
    ]
    # Each step publishes through the broker connection it acquired once, not one per message.
    assert all(producer is not None for _, _, producer in calls)
