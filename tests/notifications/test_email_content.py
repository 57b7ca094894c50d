"""What the emails say: plain subjects, the right figures and weeks, nothing stale or misleading."""

import datetime as dt

import pytest
from django.core import mail

from attestations import outbox, services
from attestations.models import Cycle, Flag, Obligation, SentEmail
from attestations.notifications import sweep as notifications
from groups import services as group_services
from tests.notifications.conftest import DUE, MINUTES_15, PERIOD_END, PROMPT_DUE

pytestmark = pytest.mark.django_db

WEEK = dt.timedelta(days=7)


def _messages(start: str):
    return [m for m in mail.outbox if m.subject.startswith(start)]


def test_subjects_are_plain_text_not_html_escaped(group, member, sweep_at):
    group.name = "Commissioner's Office & Partners"
    group.save()
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(DUE - dt.timedelta(hours=23))  # reminders
    sweep_at(DUE + MINUTES_15)  # digest
    subjects = {m.subject for m in mail.outbox}
    assert "Reminder: clear the Commissioner's Office & Partners chat and confirm by Sun 15 Nov, 17:00" in subjects
    assert any(s.startswith("Commissioner's Office & Partners: ") for s in subjects)
    assert not any("&#x27;" in s or "&amp;" in s for s in subjects)
    assert SentEmail.objects.filter(subject__contains="Commissioner's Office & Partners").count() == len(mail.outbox)
    html = mail.outbox[0].alternatives[0][0]
    assert "Commissioner&#x27;s Office &amp; Partners" in html  # the HTML part stays escaped


def test_the_digest_gives_the_configured_escalation_time_and_no_promise_when_no_one_is_listed(
    group, settings, sweep_at
):
    settings.ESCALATE_AFTER_HOURS = 96
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(PROMPT_DUE + MINUTES_15)  # a digest of the missed prompt only
    [prompt_digest] = [m for m in mail.outbox if "prompt not issued" in m.subject]
    assert prompt_digest.subject == "Urgent Ops: weekly prompt not issued (13 Nov)"
    for body in (prompt_digest.body, prompt_digest.alternatives[0][0]):
        assert "after 96 hours goes to the Data Protection Officer" in body
        assert "about these people" not in body
    mail.outbox.clear()
    sweep_at(DUE + MINUTES_15)  # members overdue: they are listed, and not emailed about again
    [overdue_digest] = [m for m in mail.outbox if "overdue" in m.subject]
    assert "You will not be emailed again about these people for this period." in overdue_digest.body


def test_the_escalation_names_each_week_of_a_group_apart(group, admin_user, member, dpo, settings, sweep_at):
    settings.ESCALATE_AFTER_HOURS = 200  # so that two weeks' flags are escalated in one email
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(DUE + MINUTES_15)  # week 1: prompt missed, all overdue
    sweep_at(PERIOD_END + WEEK + MINUTES_15)
    sweep_at(DUE + WEEK + MINUTES_15)  # week 2: the same again
    assert not _messages("Escalation")
    sweep_at(DUE + WEEK + MINUTES_15 + dt.timedelta(hours=200))
    [escalation] = _messages("Escalation")
    body = escalation.body
    week1, week2 = body.split("Urgent Ops, period Fri 13 Nov to Fri 20 Nov 2026")
    assert "Urgent Ops, period Fri 6 Nov to Fri 13 Nov 2026" in week1
    owed = Obligation.objects.filter(cycle__period_end=PERIOD_END).count()
    assert week1.count("- Overdue: ") == week2.count("- Overdue: ") == owed
    assert "Prompt not issued by the admin" in week1 and "Prompt not issued by the admin" in week2
    assert "period Fri 13 Nov to Fri 20 Nov 2026" in escalation.alternatives[0][0]
    # The admin's own overdue clear-down is not a missed prompt: one repeat, listed once.
    assert escalation.subject.endswith(", 1 repeated missed prompt")
    assert body.count(f"- {admin_user.get_full_name()}, admin of") == 1


def test_a_group_nobody_can_be_told_about_keeps_its_flags_for_the_dpo(group, admin_user, dpo, sweep_at):
    admin_user.is_active = False
    admin_user.save()
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(DUE + MINUTES_15)
    assert not SentEmail.objects.filter(kind="admin_digest").exists()
    assert Flag.objects.filter(resolved_at__isnull=True, notified_at__isnull=False).count() == 0
    sweep_at(DUE + MINUTES_15 + dt.timedelta(hours=72))
    [escalation] = _messages("Escalation")
    assert "except where it says the admin could not be emailed" in escalation.body
    assert "; the admin could not be emailed" in escalation.body
    assert "; the admin could not be emailed" in escalation.alternatives[0][0]


def test_a_reminder_that_could_not_go_before_the_deadline_is_not_sent_after_it(group, member, sweep_at, at):
    sweep_at(PERIOD_END + MINUTES_15)
    at(DUE - dt.timedelta(hours=23))
    ids = notifications.reminders_queue(now=DUE - dt.timedelta(hours=23), queue=False)  # the worker was down
    assert len(ids) == Obligation.objects.count()
    at(DUE + MINUTES_15)
    for pk in ids:
        assert outbox.sentemail_send(sent_email_id=pk, now=DUE + MINUTES_15).status == "cancelled"
    assert mail.outbox == []
    assert set(SentEmail.objects.filter(pk__in=ids).values_list("error", flat=True)) == {
        "the deadline passed before it could be sent"
    }


def test_a_prompt_issued_after_the_deadline_says_the_clear_down_is_late(group, admin_user, member, sweep_at, at):
    sweep_at(PERIOD_END + MINUTES_15)
    cycle = Cycle.objects.get()
    late = DUE + dt.timedelta(hours=3)
    at(late)
    assert services.cycle_prompt(cycle=cycle, by=admin_user, now=late).first
    for pk in SentEmail.objects.filter(kind="prompt").values_list("pk", flat=True):
        outbox.sentemail_send(sent_email_id=pk, now=late)
    message = next(m for m in mail.outbox if m.to == [member.email])
    assert message.subject == "Late: clear the Urgent Ops chat for 6–13 Nov and confirm today"
    for body in (message.body, message.alternatives[0][0]):
        assert "so this clear-down is now late: please do it today" in body
        assert "Data Protection Act 2018" in body


def test_a_prompt_before_the_deadline_gives_the_deadline(group, admin_user, member, sweep_at, at):
    sweep_at(PERIOD_END + MINUTES_15)
    at(PERIOD_END + dt.timedelta(hours=1))
    services.cycle_prompt(cycle=Cycle.objects.get(), by=admin_user, now=PERIOD_END + dt.timedelta(hours=1))
    for pk in SentEmail.objects.filter(kind="prompt").values_list("pk", flat=True):
        outbox.sentemail_send(sent_email_id=pk, now=PERIOD_END + dt.timedelta(hours=1))
    message = next(m for m in mail.outbox if m.to == [member.email])
    assert message.subject == "Clear the Urgent Ops chat for 6–13 Nov and confirm by Sun 15 Nov, 17:00"
    assert "now late" not in message.body
    assert "Data Protection Act 2018" in message.body and "Data Protection Act 2018" in message.alternatives[0][0]


SUSPENDED = "Group suspended on 13 Nov 2026: clear it and do not post in it."
RETIRED = "Group retired on 14 Nov 2026: clear it one last time, then leave it."


def _both_parts(message) -> list[str]:
    # The HTML part escapes apostrophes and the like; the sentences checked here have none.
    return [message.body, message.alternatives[0][0]]


def test_the_reminder_digest_and_escalation_of_a_suspended_group_say_so(group, admin_user, member, dpo, sweep_at, at):
    """R13: a group suspended after its week ended is still chased, and every email says why."""
    sweep_at(PERIOD_END + MINUTES_15)
    at(PERIOD_END + dt.timedelta(hours=2))
    group_services.chatgroup_transition(group=group, action="suspend", by=dpo, reason="Team moved to Teams")
    sweep_at(DUE - dt.timedelta(hours=23))  # reminders, and the digest of the missed prompt
    [reminder] = [m for m in _messages("Reminder") if m.to == [member.email]]
    sweep_at(DUE + MINUTES_15)  # the members' digest
    [digest] = [m for m in mail.outbox if "overdue" in m.subject]
    sweep_at(DUE + MINUTES_15 + dt.timedelta(hours=72))
    [escalation] = _messages("Escalation")
    for message in (reminder, digest, escalation):
        for body in _both_parts(message):
            assert SUSPENDED in body, message.subject


def test_the_final_clear_down_of_a_retired_group_is_prompted_and_reminded_with_the_reason(
    group, admin_user, member, dpo, sweep_at, at
):
    sweep_at(PERIOD_END + MINUTES_15)
    retired_at = at(PERIOD_END + dt.timedelta(hours=20))
    group_services.chatgroup_transition(group=group, action="retire", by=dpo, reason="Project over")
    sweep_at(retired_at + MINUTES_15)
    final = Cycle.objects.get(period_end=retired_at)
    at(retired_at + dt.timedelta(hours=1))
    services.cycle_prompt(cycle=final, by=admin_user, now=retired_at + dt.timedelta(hours=1))
    for pk in SentEmail.objects.filter(kind="prompt", cycle=final).values_list("pk", flat=True):
        outbox.sentemail_send(sent_email_id=pk, now=retired_at + dt.timedelta(hours=1))
    [prompt] = [m for m in mail.outbox if m.to == [member.email] and "Clear the" in m.subject]
    sweep_at(final.due_at - dt.timedelta(hours=23))
    [reminder] = [m for m in _messages("Reminder") if m.to == [member.email] and "16 Nov, 13:00" in m.subject]
    for message in (prompt, reminder):
        for body in _both_parts(message):
            assert RETIRED in body, message.subject


def test_the_emails_of_a_group_taking_part_as_usual_say_nothing_of_suspension(group, member, dpo, sweep_at):
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(DUE - dt.timedelta(hours=23))
    sweep_at(DUE + MINUTES_15)
    assert mail.outbox
    assert not any("suspended" in body or "retired" in body for m in mail.outbox for body in _both_parts(m))
