"""The schedule on the real parts: a Celery worker on the configured broker, a real SMTP server,
and PostgreSQL for the races."""

import contextlib
import datetime as dt
import threading

import pytest
from celery.signals import task_postrun
from django.core import mail
from django.db import connection

from attestations import outbox
from attestations.models import Flag, Obligation, SentEmail
from attestations.notifications import sweep as notifications
from attestations.notifications import tasks
from opcc_portal.celery import app as celery_app
from tests.conftest import run_at_once, service_missing, wait_for
from tests.factories import MembershipFactory, UserFactory
from tests.notifications.conftest import DUE, MINUTES_15, PERIOD_END, PROMPT_DUE

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def task_finished(task):
    """An event set when the worker (a thread of this process) has run `task` to its end."""
    finished = threading.Event()

    def done(sender=None, **kwargs):
        if sender is not None and sender.name == task.name:
            finished.set()

    task_postrun.connect(done, weak=False)
    try:
        yield finished
    finally:
        task_postrun.disconnect(done)


@pytest.fixture
def real_celery(eager_celery):
    """Tasks go through the broker to the worker thread, not run in the test's process."""
    celery_app.conf.task_always_eager = False
    yield


def test_it_runs_a_full_week_on_the_real_worker_and_smtp_server(
    real_celery, celery_worker, smtp_server, group, admin_user, member, at, settings
):
    settings.EMAIL_RETRY_SECONDS = 1  # a transient SMTP hiccup under load is retried within the wait
    # The worker runs in this process, so it shares the frozen clock: move it, run the sweep
    # on the worker, wait for the emails.
    at(PERIOD_END + MINUTES_15)
    tasks.sweep.delay()
    wait_for(lambda: Obligation.objects.count() == 2)
    at(PROMPT_DUE + MINUTES_15)  # prompt missed; reminders (24 h before the deadline)
    tasks.sweep.delay()
    wait_for(lambda: SentEmail.objects.filter(status="sent").count() == 3, timeout=40)  # two reminders, a digest
    at(DUE + MINUTES_15)  # the deadline passed: both are overdue
    tasks.sweep.delay()
    wait_for(lambda: SentEmail.objects.filter(kind="admin_digest", status="sent").count() == 2, timeout=40)
    digests = [m for m in smtp_server.messages if "overdue" in m["Subject"]]
    assert [m["To"] for m in digests] == [admin_user.email]
    [digest] = digests
    assert "Morgan Lee" in digest.get_body(("plain",)).get_content()
    assert f"/groups/{group.pk}/" in digest.get_body(("html",)).get_content()
    assert Flag.objects.filter(resolved_at__isnull=True).count() == 3

    # A late attestation through the web resolves the member's flag.
    from django.test import Client

    client = Client()
    client.force_login(member)
    obligation = Obligation.objects.get(user=member)
    at(DUE + dt.timedelta(hours=2))
    response = client.post("/", {"obligations": [obligation.pk], "cleared_on": "2026-11-15", "confirmed_saved": "on"})
    assert response.status_code == 302
    assert Flag.objects.get(user=member, kind="member_overdue").resolved_at == DUE + dt.timedelta(hours=2)
    with task_finished(tasks.sweep) as finished:
        tasks.sweep.delay()
        assert finished.wait(30), "the worker did not run the sweep"
    at(DUE + dt.timedelta(hours=3))
    assert len([m for m in smtp_server.messages if "overdue" in m["Subject"]]) == 1  # nothing new
    assert SentEmail.objects.filter(status="pending").count() == 0


def test_two_sweeps_at_once_raise_each_flag_once_and_send_each_digest_once(group, member, at):
    if connection.vendor != "postgresql":
        service_missing("needs PostgreSQL for concurrent transactions (set DATABASE_URL)")
    for _ in range(10):
        MembershipFactory(group=group, user=UserFactory())
    notifications.sweep(now=at(PERIOD_END + MINUTES_15), queue=False)
    now = at(DUE + MINUTES_15)

    def sweep_and_send():
        for pk in notifications.sweep(now=now, queue=False).emails:
            outbox.sentemail_send(sent_email_id=pk, now=now)

    assert run_at_once(sweep_and_send, sweep_and_send) == ["ok", "ok"]
    assert Flag.objects.filter(kind="member_overdue").count() == 12
    assert Flag.objects.filter(kind="prompt_missed").count() == 1
    assert SentEmail.objects.filter(kind="admin_digest").count() == 1
    assert [m.to for m in mail.outbox] == [[group.admin.email]]


def test_a_group_suspended_mid_week_is_chased_on_the_real_worker_and_smtp_server(
    real_celery, celery_worker, smtp_server, group, admin_user, member, dpo, at, settings
):
    """R13 end to end: suspended before its deadline, the group's week stays owed; the
    suspension's own final period is asked for; the worker emails the reminders and the
    admin's digest over SMTP, each saying the group is suspended."""
    from groups import services as group_services

    settings.EMAIL_RETRY_SECONDS = 1
    at(PERIOD_END + MINUTES_15)
    tasks.sweep.delay()
    wait_for(lambda: Obligation.objects.count() == 2)
    at(PERIOD_END + dt.timedelta(hours=2))
    group_services.chatgroup_transition(group=group, action="suspend", by=dpo, reason="Team moved to Teams")
    at(PROMPT_DUE + MINUTES_15)  # the final period closed, the week's prompt missed, reminders due
    tasks.sweep.delay()
    wait_for(lambda: Obligation.objects.count() == 4)
    wait_for(lambda: SentEmail.objects.filter(kind="reminder", status="sent").count() == 2, timeout=40)
    at(DUE + MINUTES_15)  # the week overdue; the final period's reminders due (its deadline is 19:00)
    tasks.sweep.delay()
    wait_for(lambda: any("overdue" in m["Subject"] for m in smtp_server.messages), timeout=40)
    # One reminder per member for each period: the week, and the final one up to the suspension.
    wait_for(lambda: SentEmail.objects.filter(kind="reminder", status="sent").count() == 4, timeout=40)
    note = "Group suspended on 13 Nov 2026: clear it and do not post in it."
    [digest] = [m for m in smtp_server.messages if "overdue" in m["Subject"]]
    reminders = [m for m in smtp_server.messages if m["Subject"].startswith("Reminder")]
    assert [m["To"] for m in reminders].count(member.email) == 2
    for message in (digest, *reminders):
        assert note in message.get_body(("plain",)).get_content()
        assert note in message.get_body(("html",)).get_content()
    assert Flag.objects.filter(cycle__period_end=PERIOD_END, resolved_at__isnull=True).count() == 3
