"""Emails never lost and never silently dropped (issue 12, part 3).

Every kind of email that fails for a reason that may pass (the mail server down through
every attempt, a recipient with no address yet) is made again by a later sweep until it is
sent or no longer needed; a person who should be emailed and cannot be is named on the
dashboard and the emails page; every message carries a Message-ID derived from its row.
"""

import datetime as dt
import re
from unittest.mock import ANY

import pytest
from celery.exceptions import Retry
from django.urls import reverse

from attestations import outbox, services
from attestations.models import Cycle, Flag, Obligation, SentEmail
from attestations.notifications import sweep as notifications
from attestations.notifications import tasks
from tests.conftest import service_missing
from tests.factories import MembershipFactory, UserFactory
from tests.notifications.conftest import DUE, MINUTES_15, PERIOD_END, PROMPT_DUE
from tests.notifications.test_failures import _closed_port

pytestmark = pytest.mark.django_db

MONDAY_8AM = dt.datetime(2026, 11, 16, 8, tzinfo=dt.UTC)  # the weekly summary's time (GMT)


def log(kind: str) -> list[tuple]:
    """The email log of one kind: (recipient, status, error), oldest first."""
    rows = SentEmail.objects.filter(kind=kind).order_by("pk")
    return list(rows.values_list("user__username", "status", "error"))


def attest(obligation: Obligation, when: dt.datetime) -> None:
    services.obligation_attest(
        obligations=[obligation],
        user=obligation.user,
        cleared_on=PERIOD_END.date(),
        confirmed_cleared=True,
        confirmed_saved=True,
        now=when,
    )


def fail_through_every_attempt(pk: int, attempts: int) -> None:
    for _ in range(attempts - 1):
        with pytest.raises(Retry):
            tasks.send_email.apply(args=[pk], throw=True)
    assert tasks.send_email.apply(args=[pk]).get() == "failed"


# --- The mail server down for longer than the retries --------------------------------------


def test_a_prompt_email_failed_through_every_attempt_is_made_again_until_sent_or_not_needed(
    group, admin_user, member, settings, at, sweep_at, smtp_server, django_capture_on_commit_callbacks
):
    settings.EMAIL_MAX_ATTEMPTS = 2
    port, settings.EMAIL_PORT = smtp_server.port, _closed_port()  # the mail server is down
    sweep_at(PERIOD_END + MINUTES_15)
    cycle = Cycle.objects.get(group=group)
    with django_capture_on_commit_callbacks(execute=False):
        services.cycle_prompt(cycle=cycle, by=admin_user, now=at(PERIOD_END + dt.timedelta(hours=1)))
    for pk in SentEmail.objects.filter(kind="prompt").values_list("pk", flat=True):
        fail_through_every_attempt(pk, attempts=2)
    assert not Obligation.objects.filter(prompt_emailed_at__isnull=False).exists()  # claims given back
    # Still down: the next sweep makes them again, and they fail again.
    again = notifications.sweep(now=at(PERIOD_END + dt.timedelta(hours=1, minutes=15)), queue=False).emails
    assert len(again) == 2
    for pk in again:
        fail_through_every_attempt(pk, attempts=2)
    attest(Obligation.objects.get(user=admin_user), PERIOD_END + dt.timedelta(hours=2))  # no longer needed

    settings.EMAIL_PORT = port  # the mail server is back
    sweep_at(PERIOD_END + dt.timedelta(hours=2, minutes=15))
    sweep_at(PERIOD_END + dt.timedelta(hours=2, minutes=30))
    assert [m["To"] for m in smtp_server.messages] == [member.email]
    assert sorted((who, status) for who, status, _ in log("prompt")) == [
        ("groupadmin", "failed"),
        ("groupadmin", "failed"),
        ("member", "failed"),
        ("member", "failed"),
        ("member", "sent"),
    ]
    assert Obligation.objects.get(user=member).prompt_emailed_at is not None


def test_a_reminder_failed_through_every_attempt_is_made_again_by_a_later_sweep(
    group, admin_user, member, settings, sweep_at, smtp_server
):
    settings.EMAIL_MAX_ATTEMPTS = 1
    port, settings.EMAIL_PORT = smtp_server.port, _closed_port()
    sweep_at(PERIOD_END + MINUTES_15)
    reminder_time = DUE - dt.timedelta(hours=23, minutes=45)
    sweep_at(reminder_time)
    assert sorted(log("reminder")) == [("groupadmin", "failed", ANY), ("member", "failed", ANY)]
    assert not Obligation.objects.filter(reminder_sent_at__isnull=False).exists()  # claims given back
    settings.EMAIL_PORT = port
    sweep_at(reminder_time + MINUTES_15)
    reminded = sorted(m["To"] for m in smtp_server.messages if m["Subject"].startswith("Reminder"))
    assert reminded == sorted([admin_user.email, member.email])
    assert Obligation.objects.filter(reminder_sent_at=reminder_time + MINUTES_15).count() == 2


@pytest.fixture
def deputy(group):
    deputy = UserFactory(username="deputy", first_name="Dee", last_name="Puty")
    MembershipFactory(group=group, user=deputy)
    group.deputy = deputy
    group.save()
    return deputy


def test_a_digest_that_reached_one_of_its_recipients_keeps_its_flags_reported(
    group, admin_user, deputy, settings, sweep_at, smtp_server
):
    """The admin's copy went; the deputy's failed through every attempt. Making the digest
    again would send the admin the same flags twice: the flags stay reported."""
    settings.EMAIL_MAX_ATTEMPTS = 1
    smtp_server.refused[deputy.email] = "450 4.2.1 Mailbox busy, try later"
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(PROMPT_DUE + MINUTES_15)
    assert sorted(log("admin_digest")) == [("deputy", "failed", ANY), ("groupadmin", "sent", "")]
    assert Flag.objects.get(kind="prompt_missed").notified_at == PROMPT_DUE + MINUTES_15
    sweep_at(PROMPT_DUE + 2 * MINUTES_15)
    assert len(log("admin_digest")) == 2


def test_a_digest_that_reached_none_of_its_recipients_gives_its_flags_back(
    group, admin_user, deputy, settings, sweep_at, smtp_server
):
    """Both copies failed through every attempt: its flags go in a later digest, even though
    an earlier digest of the same week (another batch of flags) was sent."""
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(PROMPT_DUE + MINUTES_15)  # the missed prompt, reported and sent
    settings.EMAIL_MAX_ATTEMPTS = 1
    port, settings.EMAIL_PORT = smtp_server.port, _closed_port()
    sweep_at(DUE + MINUTES_15)  # the overdue members: both copies fail
    assert sorted(log("admin_digest")[-2:]) == [("deputy", "failed", ANY), ("groupadmin", "failed", ANY)]
    overdue = Flag.objects.filter(kind="member_overdue")
    assert overdue.count() == 3 and not overdue.filter(notified_at__isnull=False).exists()
    settings.EMAIL_PORT = port
    sweep_at(DUE + 2 * MINUTES_15)
    assert not overdue.filter(notified_at__isnull=True).exists()
    assert [status for _, status, _ in log("admin_digest")].count("sent") == 4


def test_a_weekly_summary_failed_through_every_attempt_is_made_again_by_a_later_sweep(
    dpo, client, settings, at, sweep_at, smtp_server, django_capture_on_commit_callbacks
):
    settings.EMAIL_MAX_ATTEMPTS = 1
    port, settings.EMAIL_PORT = smtp_server.port, _closed_port()
    with django_capture_on_commit_callbacks(execute=True):
        notifications.dpo_summaries_queue(now=at(MONDAY_8AM))
    assert [status for _, status, _ in log("dpo_summary")] == ["failed"]
    sweep_at(MONDAY_8AM + MINUTES_15)  # still down
    settings.EMAIL_PORT = port
    sweep_at(MONDAY_8AM + 2 * MINUTES_15)
    sweep_at(MONDAY_8AM + 3 * MINUTES_15)
    assert [m["To"] for m in smtp_server.messages] == [dpo.email]
    assert [status for _, status, _ in log("dpo_summary")] == ["failed", "failed", "sent"]
    client.force_login(dpo)
    page = text_of(client.get(reverse("dashboard:emails") + "?status=failed").content.decode())
    assert page.count("Made again by a later sweep") == 2  # the emails page says the failures were not the end


def test_a_weekly_summary_refused_for_good_is_not_made_again(
    dpo, at, sweep_at, smtp_server, django_capture_on_commit_callbacks
):
    smtp_server.refused[dpo.email] = "550 5.1.1 No such user here"
    with django_capture_on_commit_callbacks(execute=True):
        notifications.dpo_summaries_queue(now=at(MONDAY_8AM))
    sweep_at(MONDAY_8AM + MINUTES_15)
    sweep_at(MONDAY_8AM + dt.timedelta(hours=5))
    assert [status for _, status, _ in log("dpo_summary")] == ["failed"]


# --- Nobody to write to: the work waits, and the dashboard says who --------------------------

NOTICE = re.compile(
    r"(\d+ (?:person|people) the portal should email (?:has|have) no email address.*?)(?:</section>)", re.S
)


def notice(client, url: str) -> str | None:
    match = NOTICE.search(client.get(url).content.decode())
    return " ".join(text_of(match.group(1)).split()) if match else None


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_an_escalation_waits_for_a_dpo_with_an_address_and_the_dashboard_says_who(
    group, admin_user, dpo, client, sweep_at, smtp_server
):
    dpo.email = ""
    dpo.save()
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(PROMPT_DUE + MINUTES_15)  # the prompt was not issued: a flag, in the admin's digest
    escalation_due = PROMPT_DUE + dt.timedelta(hours=72, minutes=15)
    sweep_at(escalation_due)
    assert log("dpo_escalation") == []
    assert Flag.objects.get(kind="prompt_missed").escalated_at is None  # not marked done: it waits
    client.force_login(dpo)
    for url in (reverse("dashboard:index"), reverse("dashboard:emails")):
        said = notice(client, url)
        assert said is not None and said.startswith("1 person the portal should email has no email address")
        assert "Dana Price (dpo): DPO" in said

    dpo.email = "dana.price@example.org"  # the address is fixed
    dpo.save()
    sweep_at(escalation_due + MINUTES_15)
    assert [m["To"] for m in smtp_server.messages if m["Subject"].startswith("Escalation")] == [dpo.email]
    assert log("dpo_escalation") == [("dpo", "sent", "")]
    assert Flag.objects.get(kind="prompt_missed").escalated_at == escalation_due + MINUTES_15
    assert notice(client, reverse("dashboard:index")) is None


def test_a_weekly_summary_to_a_dpo_with_no_address_is_made_again_once_they_have_one(
    dpo, at, sweep_at, smtp_server, django_capture_on_commit_callbacks
):
    dpo.email = ""
    dpo.save()
    with django_capture_on_commit_callbacks(execute=True):
        notifications.dpo_summaries_queue(now=at(MONDAY_8AM))
    sweep_at(MONDAY_8AM + MINUTES_15)  # nobody to write to yet: nothing new
    assert log("dpo_summary") == [("dpo", "cancelled", "no email address")]
    dpo.email = "dana.price@example.org"
    dpo.save()
    sweep_at(MONDAY_8AM + 2 * MINUTES_15)
    sweep_at(MONDAY_8AM + 3 * MINUTES_15)
    assert [m["To"] for m in smtp_server.messages] == [dpo.email]
    assert log("dpo_summary")[1:] == [("dpo", "sent", "")]


def test_a_digest_waits_for_an_admin_with_an_address_and_the_dashboard_says_who(
    group, admin_user, dpo, client, sweep_at, smtp_server
):
    admin_user.email = ""
    admin_user.save()
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(PROMPT_DUE + MINUTES_15)
    assert log("admin_digest") == []
    client.force_login(dpo)
    said = notice(client, reverse("dashboard:index"))
    assert "Grace Adeyemi (groupadmin): admin or deputy of a group, member of a group" in said
    admin_user.email = "grace@example.org"
    admin_user.save()
    sweep_at(PROMPT_DUE + 2 * MINUTES_15)
    assert log("admin_digest") == [("groupadmin", "sent", "")]


def test_a_member_with_no_address_is_not_written_to_and_gets_what_is_still_owed_once_they_have_one(
    group, admin_user, member, dpo, client, at, sweep_at, smtp_server, django_capture_on_commit_callbacks
):
    member.email = ""
    member.save()
    sweep_at(PERIOD_END + MINUTES_15)
    with django_capture_on_commit_callbacks(execute=True):
        services.cycle_prompt(
            cycle=Cycle.objects.get(group=group), by=admin_user, now=at(PERIOD_END + dt.timedelta(hours=1))
        )
    sweep_at(DUE - dt.timedelta(hours=23, minutes=45))  # reminder time
    assert log("prompt") == [("groupadmin", "sent", "")]  # no row bound to be cancelled
    assert log("reminder") == [("groupadmin", "sent", "")]
    client.force_login(dpo)
    assert "Morgan Lee (member): member of a group" in notice(client, reverse("dashboard:emails"))

    member.email = "morgan.lee@example.org"
    member.save()
    sweep_at(DUE - dt.timedelta(hours=23, minutes=30))
    to_member = [m["Subject"].strip() for m in smtp_server.messages if m["To"] == member.email]
    assert len(to_member) == 2 and to_member[1].startswith("Reminder")  # the prompt, then the reminder
    assert to_member[0] == "Clear the Urgent Ops chat for 6–13 Nov and confirm by Sun 15 Nov, 17:00"
    assert log("prompt")[1:] == log("reminder")[1:] == [("member", "sent", "")]


# --- The same message when sent again ---------------------------------------------------------


def test_every_email_carries_a_message_id_derived_from_its_row(group, sweep_at, smtp_server):
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(PROMPT_DUE + MINUTES_15)  # the reminders and the admin's digest
    rows = list(SentEmail.objects.filter(status="sent"))
    assert len(rows) == 3 and len(smtp_server.messages) == 3
    assert {m["Message-ID"] for m in smtp_server.messages} == {outbox.message_id(row) for row in rows}
    for row in rows:
        assert re.fullmatch(rf"<sentemail-{row.pk}\.[0-9a-f]{{16}}@testserver>", outbox.message_id(row))
        assert outbox.message_id(SentEmail.objects.get(pk=row.pk)) == outbox.message_id(row)  # stable


# --- The worker down: each pending email queued once per interval -----------------------------


@pytest.fixture
def broker_queue(celery_queue, settings):
    """Tasks really published to this test process's Redis queue, with no worker taking them."""
    from opcc_portal.celery import app

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        service_missing("needs Redis as the broker to count the tasks queued (set CELERY_BROKER_URL)")
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    with app.connection_for_write() as conn:
        redis = conn.default_channel.client
        redis.delete(celery_queue)
        yield lambda: redis.llen(celery_queue)
        redis.delete(celery_queue)
    app.conf.task_always_eager = eager


def test_sweeps_run_back_to_back_after_a_worker_outage_queue_each_pending_email_once(
    group, admin_user, broker_queue, sweep_at
):
    deputy = UserFactory(username="deputy")
    MembershipFactory(group=group, user=deputy)
    group.deputy = deputy
    group.save()
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(DUE + MINUTES_15)  # the deadline passed: a digest each to the admin and the deputy
    pending = SentEmail.objects.filter(status="pending").count()
    assert pending == 2 and broker_queue() == 2  # queued once each; no worker takes them

    # An hour later the worker is back and runs the sweeps beat queued meanwhile, one after another.
    back = DUE + dt.timedelta(hours=1, minutes=15)
    for second in range(3):
        sweep_at(back + dt.timedelta(seconds=second))
    assert broker_queue() == 2 * pending  # queued again once, not once per sweep
    sweep_at(back + dt.timedelta(minutes=10))
    assert broker_queue() == 2 * pending
    sweep_at(back + MINUTES_15 + dt.timedelta(seconds=3))  # a full interval since it was last queued
    assert broker_queue() == 3 * pending
    assert set(SentEmail.objects.values_list("queued_at", flat=True)) == {back + MINUTES_15 + dt.timedelta(seconds=3)}
