"""The 15-minute sweep (R8): reminders, admin digests, escalation, settling, holds, records."""

import datetime as dt

import pytest
from django.core import mail

from attestations import selectors, services
from attestations.models import Cycle, Flag, Obligation, SentEmail
from attestations.notifications import sweep as notifications
from tests.factories import ChatGroupFactory, MembershipFactory, UserFactory
from tests.notifications.conftest import DUE, MINUTES_15, PERIOD_END, PROMPT_DUE

pytestmark = pytest.mark.django_db

Kind = SentEmail.Kind


def sent(kind):
    return list(SentEmail.objects.filter(kind=kind, status="sent").order_by("pk"))


def test_it_closes_the_cycle_and_sends_nothing_before_anything_is_due(group, sweep_at):
    result = sweep_at(PERIOD_END + MINUTES_15)
    assert result.cycles == 1 and result.emails == [] and mail.outbox == []


def test_it_reminds_each_member_once_the_lead_time_before_the_deadline(group, admin_user, member, sweep_at):
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(DUE - dt.timedelta(hours=24, minutes=15))
    assert sent(Kind.REMINDER) == []
    sweep_at(DUE - dt.timedelta(hours=23, minutes=45))
    sweep_at(DUE - dt.timedelta(hours=23, minutes=30))  # the next run: nothing again
    reminders = [m for m in mail.outbox if m.subject.startswith("Reminder")]
    assert sorted(m.to[0] for m in reminders) == sorted([admin_user.email, member.email])
    message = next(m for m in reminders if m.to == [member.email])
    assert message.subject == "Reminder: clear the Urgent Ops chat and confirm by Sun 15 Nov, 17:00"
    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert "http://testserver/clear-downs/link/" in body and "Data Protection Act 2018" in body
    assert Obligation.objects.filter(reminder_sent_at__isnull=True).count() == 0
    assert len(sent(Kind.REMINDER)) == 2


def test_a_member_who_attested_or_was_excused_gets_no_reminder_and_the_log_has_no_row_for_them(
    group, member, dpo, sweep_at
):
    excused = MembershipFactory(group=group).user
    sweep_at(PERIOD_END + MINUTES_15)
    obligation = Obligation.objects.get(user=member)
    services.obligation_attest(
        obligations=[obligation],
        user=member,
        cleared_on=PERIOD_END.date(),
        confirmed_cleared=True,
        confirmed_saved=True,
        now=PERIOD_END + dt.timedelta(hours=1),
    )
    services.obligation_excuse(obligation=Obligation.objects.get(user=excused), by=dpo, reason="On leave")
    sweep_at(DUE - dt.timedelta(hours=23))
    assert [e.user for e in sent(Kind.REMINDER)] == [group.admin]
    # The DPO's email log: one reminder, to the one still owing; no "Not sent: already settled"
    # row for those who had settled before the reminder was made.
    log = SentEmail.objects.filter(kind=Kind.REMINDER).values_list("user", "status", "error")
    assert list(log) == [(group.admin_id, "sent", "")]


def test_the_admin_and_deputy_get_one_digest_per_batch_of_flags(group, admin_user, member, sweep_at):
    deputy = UserFactory(username="deputy")
    MembershipFactory(group=group, user=deputy)
    group.deputy = deputy
    group.save()
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(PROMPT_DUE + MINUTES_15)  # the prompt was not issued
    first = sent(Kind.ADMIN_DIGEST)
    assert sorted(e.to_address for e in first) == sorted([admin_user.email, deputy.email])
    assert {f.kind for e in first for f in e.flags.all()} == {Flag.Kind.PROMPT_MISSED}
    mail.outbox.clear()
    sweep_at(DUE + MINUTES_15)  # the deadline passed: three members overdue, a later digest
    sweep_at(DUE + 2 * MINUTES_15)  # nothing new: no second email
    second = [m for m in mail.outbox if "overdue" in m.subject]
    assert sorted(m.to[0] for m in second) == sorted([admin_user.email, deputy.email])
    message = second[0]
    assert message.subject == "Urgent Ops: 3 clear-downs overdue (13 Nov)"
    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert "Morgan Lee" in body and f"http://testserver/groups/{group.pk}/" in body
        assert "The weekly prompt was not issued" not in body  # reported in the first digest
    assert Flag.objects.filter(notified_at__isnull=True).count() == 0
    assert len(sent(Kind.ADMIN_DIGEST)) == 4


def test_a_late_attestation_resolves_its_flag_and_a_flag_raised_in_a_race_is_settled(group, member, sweep_at):
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(DUE + MINUTES_15)
    obligation = Obligation.objects.get(user=member)
    # An attestation that committed while the flags were being raised: its flag stays open
    # until the sweep settles it.
    Obligation.objects.filter(pk=obligation.pk).update(
        status="late",
        attested_at=DUE + dt.timedelta(minutes=20),
        cleared_on=DUE.date(),
        confirmed_cleared=True,
        confirmed_saved=True,
        channel="web",
    )
    result = sweep_at(DUE + 2 * MINUTES_15)
    assert result.flags_resolved == 1
    assert Flag.objects.get(user=member).resolved_at == DUE + 2 * MINUTES_15


def test_it_escalates_to_every_dpo_once_and_highlights_a_second_missed_prompt(group, admin_user, dpo, sweep_at):
    other_dpo = UserFactory(username="dpo2", roles=["DPO"])
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(PROMPT_DUE + MINUTES_15)
    week = dt.timedelta(days=7)
    sweep_at(PERIOD_END + week + MINUTES_15)
    sweep_at(PROMPT_DUE + week + MINUTES_15)  # a second missed prompt in a row
    mail.outbox.clear()
    sweep_at(PROMPT_DUE + week + MINUTES_15 + dt.timedelta(hours=72))
    sweep_at(PROMPT_DUE + week + 2 * MINUTES_15 + dt.timedelta(hours=72))
    escalations = [m for m in mail.outbox if m.subject.startswith("Escalation")]
    assert sorted(m.to[0] for m in escalations) == sorted([dpo.email, other_dpo.email])
    message = escalations[0]
    assert "1 repeated missed prompt" in message.subject
    assert "twice in a row" in message.body and "twice in a row" in message.alternatives[0][0]
    assert not Flag.objects.filter(kind="prompt_missed", escalated_at__isnull=True).exists()


def test_nothing_is_flagged_or_sent_for_a_group_on_hold(group, dpo, sweep_at):
    sweep_at(PERIOD_END + MINUTES_15)
    services.hold_place(
        group=group,
        by=dpo,
        reference="FOI-2026-0042",
        reason="A request covers it.",
        now=PERIOD_END + dt.timedelta(minutes=30),
    )
    for hours in (24, 48, 72, 120):
        sweep_at(PERIOD_END + dt.timedelta(hours=hours, minutes=15))
    assert Flag.objects.filter(resolved_at__isnull=True).count() == 0
    assert mail.outbox == [] and not SentEmail.objects.filter(status="sent").exists()


def test_the_weekly_summary_goes_to_each_dpo_once_a_week(
    group, member, dpo, sweep_at, at, django_capture_on_commit_callbacks
):
    other = ChatGroupFactory(name="Quiet Group")
    MembershipFactory(group=other)
    sweep_at(PERIOD_END + MINUTES_15)
    services.obligation_attest(
        obligations=[Obligation.objects.get(user=member)],
        user=member,
        cleared_on=PERIOD_END.date(),
        confirmed_cleared=True,
        confirmed_saved=True,
        now=PERIOD_END + dt.timedelta(hours=2),
    )
    monday = at(PERIOD_END + dt.timedelta(days=2, hours=16))
    with django_capture_on_commit_callbacks(execute=True):
        notifications.dpo_summaries_queue(now=monday)
        notifications.dpo_summaries_queue(now=monday + dt.timedelta(hours=1))
    [message] = [m for m in mail.outbox if m.subject.startswith("Weekly")]
    assert message.to == [dpo.email]
    assert "25% confirmed" in message.subject  # one of two in Urgent Ops, none of two in Quiet Group
    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert "Urgent Ops: 50% (1 of 2)" in body and "Quiet Group: 0% (0 of 2)" in body


def test_every_email_is_listed_on_the_group_page_selector(group, sweep_at):
    sweep_at(PERIOD_END + MINUTES_15)
    sweep_at(PROMPT_DUE + MINUTES_15)
    emails = list(selectors.group_sent_emails(group=group))
    assert {e.kind for e in emails} == {Kind.REMINDER, Kind.ADMIN_DIGEST}
    assert all(e.status == "sent" and e.sent_at == PROMPT_DUE + MINUTES_15 and e.subject for e in emails)


def _world(groups: int, members: int) -> None:
    """Groups of `members` people each, made in bulk (the sweep is what is measured)."""
    from django.contrib.auth import get_user_model

    from groups.models import Membership

    User = get_user_model()
    for g in range(groups):
        group = ChatGroupFactory()
        people = User.objects.bulk_create(
            User(username=f"g{g}m{i}", email=f"g{g}m{i}@example.org") for i in range(members)
        )
        Membership.objects.bulk_create(
            Membership(group=group, user=person, joined_at=group.created_at) for person in people
        )


# Queries of the four sweeps of a week (close; prompt missed and reminders; deadline; escalation).
# SQLite splits a bulk insert into batches of 999 parameters, so its sizes stay under one batch.
SIZES = {"postgresql": (10, 1000), "sqlite": (4, 12)}


@pytest.mark.parametrize("size", ["small", "large"])
def test_the_sweep_takes_a_constant_number_of_queries(size, django_assert_num_queries, at, dpo):
    from django.db import connection

    n = SIZES[connection.vendor][0 if size == "small" else 1]
    _world(groups=3, members=n)
    moments = [PERIOD_END + MINUTES_15, PROMPT_DUE + MINUTES_15, DUE + MINUTES_15, PROMPT_DUE + dt.timedelta(hours=73)]
    for when, expected in zip(moments, QUERIES[connection.vendor], strict=True):
        at(when)
        with django_assert_num_queries(expected):
            notifications.sweep(now=when, queue=False)
    assert SentEmail.objects.filter(kind=Kind.REMINDER).count() == 3 * (n + 1)
    assert SentEmail.objects.filter(kind=Kind.DPO_ESCALATION).count() == 1


# Each sweep has four more since group reviews (R16) and hold timers (R17): one SELECT each
# to raise their flags and one each to settle them. The close makes the obligations and
# their history in two INSERT … SELECT statements (three queries before).
QUERIES = {"sqlite": [39, 45, 42, 41], "postgresql": [44, 50, 47, 46]}


def test_after_a_day_without_beat_one_run_catches_up_without_flooding(group, admin_user, member, sweep_at):
    """Beat down from before the period ended until a day after the deadline: the first run
    closes the cycle, raises every flag, and sends one digest per admin for the cycle; the
    reminders whose moment passed are not sent late, and the next run sends nothing."""
    deputy = UserFactory(username="deputy")
    MembershipFactory(group=group, user=deputy)
    group.deputy = deputy
    group.save()
    result = sweep_at(DUE + dt.timedelta(hours=24))
    assert result.cycles == 1 and result.flags_raised == Obligation.objects.count() + 1  # and the missed prompt
    digests = [m for m in mail.outbox if "overdue" in m.subject]
    assert sorted(m.to[0] for m in digests) == sorted([admin_user.email, deputy.email])
    assert "prompt not issued" in digests[0].subject  # both kinds in the one digest
    assert len(mail.outbox) == 2 and not SentEmail.objects.filter(kind=Kind.REMINDER).exists()
    sweep_at(DUE + dt.timedelta(hours=24, minutes=15))
    assert len(mail.outbox) == 2


def test_every_step_runs_at_the_instant_the_sweep_is_given_not_the_clock(group, member, admin_user, dpo):
    """`run_sweeps --now` runs the schedule for another moment: the clock (frozen on the
    Tuesday before) decides nothing, and with `queue=False` nothing is queued."""

    def run(when: dt.datetime) -> set[str]:
        """The kinds of the emails the sweep made at `when`; every email it returns."""
        nonlocal returned
        before = set(SentEmail.objects.values_list("pk", flat=True))
        returned = notifications.sweep(now=when, queue=False)
        made = SentEmail.objects.exclude(pk__in=before)
        assert set(made.values_list("created_at", flat=True)) <= {when}
        return set(made.values_list("kind", flat=True))

    returned = None
    assert run(PERIOD_END + MINUTES_15) == set() and returned.cycles == 1
    # Prompted in the portal, by a path that sent no emails: the sweep makes them.
    Cycle.objects.update(prompted_at=PERIOD_END + dt.timedelta(hours=1), prompted_by=admin_user)
    assert run(PERIOD_END + dt.timedelta(hours=2)) == {"prompt"}
    assert run(DUE - dt.timedelta(hours=23, minutes=45)) == {"reminder"}
    assert run(DUE + MINUTES_15) == {"admin_digest"} and returned.flags_raised == 2
    escalation = DUE + MINUTES_15 + dt.timedelta(hours=72)  # Wednesday 18 November, week 47
    SentEmail.objects.create(  # the week's summary to the DPO failed through every attempt
        key=f"dpo-summary:2026-W47:u{dpo.pk}",
        kind=SentEmail.Kind.DPO_SUMMARY,
        user=dpo,
        to_address=dpo.email,
        created_at=escalation - dt.timedelta(days=2),
        status=SentEmail.Status.FAILED,
        retry_later=True,
    )
    assert run(escalation) == {"dpo_escalation", "dpo_summary"}
    # The emails no task ever took (nothing was queued) are returned to be queued again.
    waiting = set(SentEmail.objects.filter(status="pending", created_at__lt=escalation).values_list("pk", flat=True))
    assert len(waiting) == 5 and waiting <= set(returned.emails)
    assert not SentEmail.objects.filter(queued_at__isnull=False).exists()

    Cycle.objects.update(prompted_at=PROMPT_DUE + MINUTES_15)  # later, in the minute of the flag
    Flag.objects.create(
        kind=Flag.Kind.PROMPT_MISSED, cycle=Cycle.objects.get(), group=group, user=admin_user, raised_at=PROMPT_DUE
    )
    run(escalation + MINUTES_15)
    flag = Flag.objects.get(kind="prompt_missed")
    assert (returned.flags_resolved, flag.resolved_at) == (1, escalation + MINUTES_15)
