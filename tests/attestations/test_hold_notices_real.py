"""A hold on a 30-member group, end to end on the real parts (issue 20): PostgreSQL, a Celery
worker on the configured broker and a real SMTP server. Every email exactly once."""

import datetime as dt
from collections import Counter

import pytest
from django.test import Client
from django.urls import reverse

from attestations import hold_notices, links
from attestations.models import HoldNotice, SentEmail
from attestations.notifications import tasks
from opcc_portal.celery import app as celery_app
from tests.attestations.conftest import utc
from tests.conftest import wait_for
from tests.factories import ChatGroupFactory, MembershipFactory, UserFactory
from tests.notifications.test_real import task_finished

pytestmark = pytest.mark.django_db(transaction=True)

NOW = utc(2026, 11, 14, 9)


@pytest.fixture
def real_celery(eager_celery):
    celery_app.conf.task_always_eager = False
    yield


def run_sweep():
    with task_finished(tasks.sweep) as finished:
        tasks.sweep.delay()
        assert finished.wait(60), "the worker did not run the sweep"


def sent(kind: str) -> int:
    return SentEmail.objects.filter(kind=kind, status="sent").count()


def test_a_hold_on_a_30_member_group_reaches_everyone_exactly_once(
    real_celery, celery_worker, smtp_server, dpo, at, settings
):
    settings.EMAIL_RETRY_SECONDS = 1  # a transient SMTP hiccup under load is retried within the wait
    group = ChatGroupFactory(name="Case Team")  # its admin is a member
    for _ in range(29):
        MembershipFactory(group=group)
    at(NOW)
    hold = hold_notices.hold_place(group=group, by=dpo, reference="FOI-2026-0099", reason="FOI request", now=NOW)
    wait_for(lambda: sent("hold_notice") == 30, timeout=60)

    # A member added while it stands is told by the next sweep; nobody is told twice.
    newcomer = UserFactory(username="newcomer")
    MembershipFactory(group=group, user=newcomer, joined_at=NOW + dt.timedelta(minutes=5))
    at(NOW + dt.timedelta(minutes=15))
    run_sweep()
    wait_for(lambda: sent("hold_notice") == 31, timeout=60)
    run_sweep()

    # One member acknowledges from the email's link; a repeat makes no second record.
    someone = HoldNotice.objects.filter(hold=hold).exclude(user=newcomer).select_related("user").first()
    client = Client()
    client.force_login(someone.user)
    url = reverse("attestations:hold_ack_link", args=[links.hold_notice_link_token(someone)])
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 302
    someone.refresh_from_db()
    assert someone.acknowledged_at == NOW + dt.timedelta(minutes=15) and someone.channel == "email"
    assert HoldNotice.objects.filter(hold=hold, user=someone.user).count() == 1
    assert someone.history.filter(history_change_reason__startswith="Acknowledged").count() == 1

    # The other 30 are reminded once, then escalated to the DPO once.
    at(NOW + dt.timedelta(hours=25))
    run_sweep()
    wait_for(lambda: sent("hold_reminder") == 30, timeout=60)
    at(NOW + dt.timedelta(hours=49))
    run_sweep()
    wait_for(lambda: sent("hold_escalation") == 1, timeout=30)
    at(NOW + dt.timedelta(hours=50))
    run_sweep()

    # Lifting tells all 31 that clear-downs resume.
    at(NOW + dt.timedelta(hours=51))
    hold_notices.hold_lift(hold=hold, by=dpo, reason="Request answered", now=NOW + dt.timedelta(hours=51))
    wait_for(lambda: sent("hold_release") == 31, timeout=60)
    run_sweep()

    subjects = Counter(m["Subject"].split(":")[0] for m in smtp_server.messages)
    assert subjects["HOLD FOI-2026-0099"] == 31
    assert subjects["Reminder"] == 30
    assert subjects["30 members have not acknowledged a hold"] == 1
    assert subjects["Hold FOI-2026-0099 ended"] == 31
    assert Counter(m["To"] for m in smtp_server.messages if m["Subject"].startswith("HOLD"))[newcomer.email] == 1
    assert SentEmail.objects.exclude(status="sent").filter(kind__startswith="hold").count() == 0
