"""What the builders make of a recorded email when it is sent: the flags a DPO's escalation
lists, in which order, which missed prompt is a repeat, and a reminder at its deadline."""

import datetime as dt

import pytest

from attestations.models import Flag, SentEmail
from attestations.notifications import emails
from groups.models import GroupReview
from tests.attestations.conftest import BASE, DUE, PERIOD_END, PERIOD_START
from tests.factories import ChatGroupFactory, CycleFactory, FlagFactory, ObligationFactory, UserFactory

pytestmark = pytest.mark.django_db

WEEK = dt.timedelta(days=7)


def escalation(dpo, flags) -> SentEmail:
    email = SentEmail.objects.create(
        key=f"dpo-escalation:f{flags[0].pk}:u{dpo.pk}",
        kind=SentEmail.Kind.DPO_ESCALATION,
        user=dpo,
        to_address=dpo.email,
        created_at=BASE,
    )
    email.flags.set(flags)
    return email


def cycle_of(group, end: dt.datetime):
    return CycleFactory(group=group, period_start=end - WEEK, period_end=end)


@pytest.mark.parametrize(
    ("before", "repeat"),
    [
        ("the same admin missed the group's week before", True),
        ("the same admin was overdue, not a missed prompt, the week before", False),
        ("another admin missed the group's week before", False),
        ("the same admin missed another group's week ending then", False),
    ],
)
def test_a_missed_prompt_is_a_repeat_only_if_the_same_admin_missed_the_groups_week_before(
    dpo, admin_user, before, repeat
):
    group = ChatGroupFactory(name="Urgent Ops", admin=admin_user)
    this_week = cycle_of(group, PERIOD_END + WEEK)
    last_week = cycle_of(group, PERIOD_END)
    kind, user, cycle = Flag.Kind.PROMPT_MISSED, admin_user, last_week
    if "overdue" in before:
        kind = Flag.Kind.MEMBER_OVERDUE
    elif "another admin" in before:
        user = UserFactory(username="former")
    elif "another group" in before:
        cycle = cycle_of(ChatGroupFactory(name="Other", admin=admin_user), PERIOD_END)
    FlagFactory(kind=kind, cycle=cycle, user=user, raised_at=PERIOD_END + dt.timedelta(days=1))
    flag = FlagFactory(kind=Flag.Kind.PROMPT_MISSED, cycle=this_week, user=admin_user, raised_at=BASE)

    message, why_not = emails.build_flags_email(escalation(dpo, [flag]), to=dpo.email, now=BASE)
    assert why_not == ""
    assert message.subject.endswith(", 1 repeated missed prompt") is repeat
    assert ("the second week in a row" in message.body) is repeat


def test_an_escalation_lists_the_overdue_reviews_by_group_name(dpo):
    """Not by the names of the admins who did not answer them."""
    flags = []
    for name, admin in (("Beta", ("Amy", "Able")), ("Alpha", ("Zoe", "Zed"))):
        user = UserFactory(first_name=admin[0], last_name=admin[1])
        group = ChatGroupFactory(name=name, admin=user)
        review = GroupReview.objects.create(group=group, due_at=PERIOD_START, created_at=PERIOD_START)
        flags.append(
            FlagFactory(
                kind=Flag.Kind.REVIEW_OVERDUE, cycle=None, review=review, group=group, user=user, raised_at=BASE
            )
        )
    message, _ = emails.build_flags_email(escalation(dpo, flags), to=dpo.email, now=BASE)
    assert message.body.index("- Alpha: due") < message.body.index("- Beta: due")


def reminder(obligation) -> SentEmail:
    return SentEmail.objects.create(
        key=f"reminder:o{obligation.pk}",
        kind=SentEmail.Kind.REMINDER,
        user=obligation.user,
        obligation=obligation,
        cycle=obligation.cycle,
        group=obligation.cycle.group,
        to_address=obligation.user.email,
        created_at=DUE - dt.timedelta(hours=24),
    )


def test_a_reminder_is_not_sent_at_or_after_the_deadline_it_reminds_of(group, member):
    cycle = CycleFactory(group=group, period_start=PERIOD_START, period_end=PERIOD_END, due_at=DUE)
    email = reminder(ObligationFactory(cycle=cycle, user=member))
    message, why_not = emails.build_member_email(email, to=member.email, now=DUE - dt.timedelta(seconds=1))
    assert message is not None and message.to == [member.email] and why_not == ""
    for now in (DUE, DUE + dt.timedelta(seconds=1)):
        assert emails.build_member_email(email, to=member.email, now=now) == (
            None,
            "the deadline passed before it could be sent",
        )
