"""The admin's prompt: recorded once, emails with signed links, safe to retry; excusing (R5, R7)."""

import datetime as dt
import logging
import smtplib

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from attestations import outbox, selectors, services
from attestations.links import obligation_link_read
from attestations.models import Flag, Obligation, SentEmail
from attestations.notifications import tasks
from groups.models import ChatGroup
from tests.attestations.conftest import PERIOD_END, utc
from tests.factories import ChatGroupFactory, HoldFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = PERIOD_END + dt.timedelta(hours=2)


def prompt(cycle, by, capture, **kwargs):
    with capture(execute=True):
        return services.cycle_prompt(cycle=cycle, by=by, now=NOW, **kwargs)


def test_it_records_the_prompt_and_emails_each_member_who_owes(
    cycle, admin_user, member, django_capture_on_commit_callbacks
):
    result = prompt(cycle, admin_user, django_capture_on_commit_callbacks)
    cycle.refresh_from_db()
    assert (cycle.prompted_at, cycle.prompted_by) == (NOW, admin_user)
    assert result.first and result.outstanding == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([admin_user.email, member.email])
    assert cycle.history.latest().history_user == admin_user


def test_the_prompt_email_has_text_and_html_with_an_absolute_signed_link(
    cycle, admin_user, member, django_capture_on_commit_callbacks
):
    prompt(cycle, admin_user, django_capture_on_commit_callbacks)
    [message] = [m for m in mail.outbox if m.to == [member.email]]
    assert message.subject == "Clear the Urgent Ops chat for 6–13 Nov and confirm by Sun 15 Nov, 17:00"
    html = message.alternatives[0][0]
    assert message.alternatives[0][1] == "text/html"
    for body in (message.body, html):
        assert "Clear Chat" in body and "Urgent Ops" in body and "http://testserver/clear-downs/how-to/" in body
    link = next(word for word in message.body.split() if word.startswith("http://testserver/clear-downs/link/"))
    assert f'href="{link}"' in html
    token = link.rstrip("/").rsplit("/", 1)[1]
    obligation = cycle.obligations.get(user=member)
    assert obligation_link_read(token) == (obligation.pk, member.pk)


def test_it_emails_nobody_who_has_attested_or_been_excused(
    cycle, admin_user, member, dpo, django_capture_on_commit_callbacks
):
    services.obligation_excuse(obligation=cycle.obligations.get(user=admin_user), by=dpo, reason="Leave")
    prompt(cycle, admin_user, django_capture_on_commit_callbacks)
    assert [m.to for m in mail.outbox] == [[member.email]]
    # Not even an email cancelled when it is sent: the email log has the member's alone.
    assert list(SentEmail.objects.values_list("user", "status")) == [(member.pk, "sent")]


def test_a_second_prompt_changes_nothing_and_emails_nobody(
    cycle, admin_user, member, django_capture_on_commit_callbacks
):
    prompt(cycle, admin_user, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    again = prompt(cycle, admin_user, django_capture_on_commit_callbacks)
    cycle.refresh_from_db()
    assert not again.first and cycle.prompted_at == NOW
    assert mail.outbox == []


def test_each_prompt_email_is_recorded_and_a_repeated_task_sends_it_once(
    cycle, admin_user, member, django_capture_on_commit_callbacks
):
    prompt(cycle, admin_user, django_capture_on_commit_callbacks)
    emails = SentEmail.objects.filter(kind=SentEmail.Kind.PROMPT).select_related("obligation")
    assert sorted(emails.values_list("to_address", "status")) == sorted(
        [(admin_user.email, "sent"), (member.email, "sent")]
    )
    assert {e.obligation.user_id for e in emails} == {admin_user.pk, member.pk}
    for email in emails:  # a retried or duplicated task for each email
        assert tasks.send_email.delay(email.pk).get() is None
    assert len(mail.outbox) == 2
    assert not cycle.obligations.filter(prompt_emailed_at__isnull=True).exists()


def requeue(capture, minutes: int) -> list[int]:
    with capture(execute=True):
        return outbox.emails_requeue(now=NOW + dt.timedelta(minutes=minutes))


def test_a_prompt_email_the_mail_server_refused_is_sent_once_later(
    cycle, admin_user, member, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the task is lost: sent by hand below
        services.cycle_prompt(cycle=cycle, by=admin_user, now=NOW)

    def refuse(self, messages):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    email = SentEmail.objects.get(kind="prompt", user=member)
    outcome = outbox.sentemail_send(sent_email_id=email.pk, now=NOW)
    assert outcome.retry
    email.refresh_from_db()
    assert (email.status, email.attempts, email.error) == ("pending", 1, "SMTPServerDisconnected: gone")
    monkeypatch.undo()
    assert requeue(django_capture_on_commit_callbacks, 5) == []  # too soon: its retry may be on its way
    assert len(requeue(django_capture_on_commit_callbacks, 30)) == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([admin_user.email, member.email])
    assert SentEmail.objects.filter(kind="prompt", status="sent").count() == 2
    assert requeue(django_capture_on_commit_callbacks, 60) == []


def test_the_prompt_and_its_emails_stand_when_the_broker_is_down(
    cycle, admin_user, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.send_email, "apply_async", broker_down)
    with caplog.at_level(logging.ERROR, logger="attestations.outbox"):
        result = prompt(cycle, admin_user, django_capture_on_commit_callbacks)
    cycle.refresh_from_db()
    assert result.first and cycle.prompted_at == NOW
    assert [r.getMessage() for r in caplog.records] == [
        "Could not queue 2 email(s); each stays pending and the next sweep will queue it again."
    ]
    assert mail.outbox == []
    assert SentEmail.objects.filter(kind="prompt", status="pending").count() == 2
    monkeypatch.undo()
    assert len(requeue(django_capture_on_commit_callbacks, 30)) == 2
    assert len(mail.outbox) == 2


def test_a_member_settled_before_the_email_goes_out_is_not_emailed(
    cycle, admin_user, member, dpo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        services.cycle_prompt(cycle=cycle, by=admin_user, now=NOW)
    services.obligation_excuse(obligation=cycle.obligations.get(user=member), by=dpo, reason="Leave")
    requeue(django_capture_on_commit_callbacks, 30)
    assert [m.to for m in mail.outbox] == [[admin_user.email]]
    email = SentEmail.objects.get(kind="prompt", user=member)
    assert (email.status, email.error) == ("cancelled", "already settled")


def test_it_queues_the_emails_only_after_the_commit(cycle, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.cycle_prompt(cycle=cycle, by=admin_user, now=NOW)
    assert len(callbacks) == 1 and mail.outbox == []


@pytest.mark.parametrize("who", ["admin_user", "deputy", "dpo"])
def test_the_admin_deputy_and_dpo_may_prompt(request, cycle, who, django_capture_on_commit_callbacks):
    if who == "deputy":
        deputy = UserFactory(username="deputy")
        MembershipFactory(group=cycle.group, user=deputy)
        ChatGroup.objects.filter(pk=cycle.group_id).update(deputy=deputy)
        cycle.refresh_from_db()
        user = deputy
    else:
        user = request.getfixturevalue(who)
    assert prompt(cycle, user, django_capture_on_commit_callbacks).first


@pytest.mark.parametrize("who", ["member", "outsider", "auditor"])
def test_nobody_else_may_prompt(request, cycle, who, django_capture_on_commit_callbacks):
    with pytest.raises(PermissionDenied):
        prompt(cycle, request.getfixturevalue(who), django_capture_on_commit_callbacks)
    cycle.refresh_from_db()
    assert cycle.prompted_at is None


def test_it_refuses_to_prompt_under_a_hold(cycle, admin_user, dpo, django_capture_on_commit_callbacks):
    HoldFactory(group=cycle.group, placed_by=dpo)
    with pytest.raises(ValidationError, match="on hold"):
        prompt(cycle, admin_user, django_capture_on_commit_callbacks)
    assert mail.outbox == []


def test_a_late_prompt_resolves_the_missed_prompt_flag(cycle, admin_user, django_capture_on_commit_callbacks):
    services.flags_raise(now=PERIOD_END + dt.timedelta(hours=25))
    with django_capture_on_commit_callbacks(execute=True):
        services.cycle_prompt(cycle=cycle, by=admin_user, now=PERIOD_END + dt.timedelta(hours=26))
    flag = Flag.objects.get(kind=Flag.Kind.PROMPT_MISSED)
    assert flag.resolved_at == PERIOD_END + dt.timedelta(hours=26)


def test_the_message_to_paste_names_the_group_dates_deadline_and_portal(cycle):
    text = selectors.cycle_prompt_text(cycle=cycle)
    assert "Urgent Ops" in text and "Fri 6 Nov to Fri 13 Nov" in text
    assert "Sun 15 Nov, 17:00" in text and "http://testserver/" in text


@pytest.mark.parametrize("n", [3, 30])
def test_prompting_and_sending_each_email_take_a_constant_number_of_queries(
    django_assert_num_queries, admin_user, at, n, django_capture_on_commit_callbacks
):
    group = ChatGroupFactory(admin=admin_user)
    for _ in range(n):
        MembershipFactory(group=group, joined_at=utc(2026, 10, 1))
    [cycle] = services.cycle_close_due(now=at(PERIOD_END + dt.timedelta(minutes=1))).cycles
    with django_assert_num_queries(12), django_capture_on_commit_callbacks(execute=False):
        services.cycle_prompt(cycle=cycle, by=admin_user, now=NOW)
    ids = list(SentEmail.objects.filter(kind="prompt").values_list("pk", flat=True))
    assert len(ids) == n + 1
    for pk in ids:  # the worker sends each in its own task
        with django_assert_num_queries(8):
            outbox.sentemail_send(sent_email_id=pk, now=NOW)
    assert len(mail.outbox) == n + 1


# --- Excusing -------------------------------------------------------------------------------


def test_the_admin_excuses_a_member_with_a_reason(obligation, admin_user):
    excused = services.obligation_excuse(obligation=obligation, by=admin_user, reason="Annual leave", now=NOW)
    assert (excused.status, excused.excused_by, excused.excuse_reason) == ("excused", admin_user, "Annual leave")
    assert excused.history.latest().history_change_reason == "Excused: Annual leave"


def test_excusing_resolves_the_overdue_flag(obligation, admin_user, member):
    services.flags_raise(now=obligation.due_at + dt.timedelta(minutes=1))
    services.obligation_excuse(
        obligation=obligation, by=admin_user, reason="Sick", now=obligation.due_at + dt.timedelta(hours=1)
    )
    flag = Flag.objects.get(user=member, kind=Flag.Kind.MEMBER_OVERDUE)
    assert flag.resolved_at == obligation.due_at + dt.timedelta(hours=1)
    # The history says who resolved it, and why: a change ("~") of the flag raised before.
    record = flag.history.first()
    assert (record.history_user, record.history_change_reason, record.history_type) == (admin_user, "Excused", "~")
    assert record.resolved_at == flag.resolved_at


def test_nobody_excuses_themselves(cycle, admin_user):
    with pytest.raises(ValidationError, match="cannot excuse yourself"):
        services.obligation_excuse(obligation=cycle.obligations.get(user=admin_user), by=admin_user, reason="Leave")


@pytest.mark.parametrize("reason", ["  ", "\u200b\u200b"])
def test_it_refuses_an_excuse_without_a_reason(obligation, admin_user, reason):
    with pytest.raises(ValidationError):
        services.obligation_excuse(obligation=obligation, by=admin_user, reason=reason)
    obligation.refresh_from_db()
    assert obligation.status == Obligation.Status.PENDING


def test_it_refuses_to_excuse_an_attestation_already_made(obligation, admin_user, member):
    services.obligation_attest(
        obligations=[obligation],
        user=member,
        cleared_on=dt.date(2026, 11, 13),
        confirmed_cleared=True,
        confirmed_saved=True,
        now=NOW,
    )
    with pytest.raises(ValidationError, match="already done"):
        services.obligation_excuse(obligation=obligation, by=admin_user, reason="Leave")


@pytest.mark.parametrize("who", ["outsider", "auditor"])
def test_only_those_who_run_the_group_excuse(request, obligation, who):
    with pytest.raises(PermissionDenied):
        services.obligation_excuse(obligation=obligation, by=request.getfixturevalue(who), reason="Leave")


def test_a_member_cannot_excuse_another(cycle, member, admin_user):
    with pytest.raises(PermissionDenied):
        services.obligation_excuse(obligation=cycle.obligations.get(user=admin_user), by=member, reason="Leave")


def test_two_weeks_prompts_of_one_group_have_subjects_that_tell_them_apart(
    cycle, admin_user, member, at, django_capture_on_commit_callbacks
):
    first_week = PERIOD_END + dt.timedelta(days=7)
    [second] = services.cycle_close_due(now=at(first_week + dt.timedelta(minutes=5))).cycles
    with django_capture_on_commit_callbacks(execute=True):
        for week in (cycle, second):
            services.cycle_prompt(cycle=week, by=admin_user, now=first_week + dt.timedelta(minutes=10))
    subjects = [m.subject for m in mail.outbox if m.to == [member.email]]
    assert subjects == [
        "Late: clear the Urgent Ops chat for 6–13 Nov and confirm today",
        "Clear the Urgent Ops chat for 13–20 Nov and confirm by Sun 22 Nov, 17:00",
    ]
