"""What the builders make of a recorded email when it is sent: the flags a DPO's escalation
lists, in which order, which missed prompt is a repeat, and a reminder at its deadline."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from attestations.models import Flag, SentEmail
from attestations.notifications import emails
from groups.models import GroupReview
from tests.attestations.conftest import BASE, DUE, PERIOD_END, PERIOD_START
from tests.factories import ChatGroupFactory, CycleFactory, FlagFactory, HoldFactory, ObligationFactory, UserFactory

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


def overdue(cycle, **names):
    return FlagFactory(cycle=cycle, user=UserFactory(**names), raised_at=BASE)


def test_an_escalation_names_the_people_of_each_list_in_name_order(dpo):
    """First name, then last name, then the username (shown for someone with no name)."""
    cycle = cycle_of(ChatGroupFactory(name="Urgent Ops"), PERIOD_END)
    flags = [
        overdue(cycle, username="b-nameless", first_name="", last_name=""),
        overdue(cycle, username="a2", first_name="Ann", last_name="Zed"),
        overdue(cycle, username="b1", first_name="Bob", last_name="Able"),
        overdue(cycle, username="a3", first_name="Ann", last_name="Able"),
        overdue(cycle, username="a-nameless", first_name="", last_name=""),
    ]
    message, _ = emails.build_flags_email(escalation(dpo, flags), to=dpo.email, now=BASE)
    listed = [line.split(" (flagged")[0] for line in message.body.splitlines() if line.startswith("- Overdue: ")]
    assert listed == [f"- Overdue: {name}" for name in ("a-nameless", "b-nameless", "Ann Able", "Ann Zed", "Bob Able")]


def test_an_escalation_leaves_out_the_flags_of_a_group_now_on_hold_or_of_a_week_held(dpo):
    """Flags raised just before a hold was placed, and not yet settled by the sweep."""
    kept, now_held, week_held = (cycle_of(ChatGroupFactory(name=name), PERIOD_END) for name in "ABC")
    HoldFactory(group=now_held.group)
    week_held.hold = HoldFactory(
        group=week_held.group, lifted_at=BASE, lifted_by=dpo, lift_reason="Closed"
    )  # lifted since: the week stays held
    week_held.save()
    flags = [overdue(cycle, first_name="Member", last_name=cycle.group.name) for cycle in (kept, now_held, week_held)]
    message, why_not = emails.build_flags_email(escalation(dpo, flags), to=dpo.email, now=BASE)
    assert why_not == "" and "Member A" in message.body
    assert "Member B" not in message.body and "Member C" not in message.body
    assert message.subject.startswith("Escalation: 1 clear-down flag still open")


def test_a_digest_of_flags_all_resolved_meanwhile_is_not_sent(dpo, admin_user):
    cycle = cycle_of(ChatGroupFactory(name="Urgent Ops", admin=admin_user), PERIOD_END)
    flag = overdue(cycle, username="settled")
    digest = SentEmail.objects.create(
        key=f"admin-digest:c{cycle.pk}:f{flag.pk}:u{admin_user.pk}",
        kind=SentEmail.Kind.ADMIN_DIGEST,
        user=admin_user,
        cycle=cycle,
        group=cycle.group,
        to_address=admin_user.email,
        created_at=BASE,
    )
    digest.flags.set([flag])
    message, why_not = emails.build_flags_email(digest, to=admin_user.email, now=BASE)
    assert message.to == [admin_user.email] and why_not == ""
    Flag.objects.update(resolved_at=BASE)
    for email in (digest, escalation(dpo, [flag])):
        assert emails.build_flags_email(email, to=email.to_address, now=BASE) == (
            None,
            "every flag was resolved before sending",
        )


def test_an_escalation_is_built_in_the_same_number_of_queries_however_many_flags(dpo, django_assert_num_queries):
    """Each flag's person, week, group, review and hold are read with the flags."""

    def flags_of_every_kind(n: int) -> list[Flag]:
        made = []
        for i in range(n):
            admin = UserFactory(username=f"admin-{n}-{i}")
            group = ChatGroupFactory(name=f"Group {n}-{i}", admin=admin)
            cycle = cycle_of(group, PERIOD_END)
            review = GroupReview.objects.create(group=group, due_at=PERIOD_START, created_at=PERIOD_START)
            hold = HoldFactory(group=ChatGroupFactory(name=f"Held {n}-{i}", admin=admin), timer_off_required=True)
            made += [
                FlagFactory(kind=Flag.Kind.PROMPT_MISSED, cycle=cycle, user=admin, raised_at=BASE),
                overdue(cycle, username=f"member-{n}-{i}"),
                FlagFactory(kind=Flag.Kind.REVIEW_OVERDUE, cycle=None, review=review, group=group, user=admin),
                FlagFactory(kind=Flag.Kind.TIMER_NOT_OFF, cycle=None, hold=hold, group=hold.group, user=admin),
            ]
        return made

    counts = []
    for n in (1, 3):
        email = SentEmail.objects.get(pk=escalation(dpo, flags_of_every_kind(n)).pk)
        with CaptureQueriesContext(connection) as captured:
            emails.build_flags_email(email, to=dpo.email, now=BASE)
        counts.append(len(captured))
    assert counts[0] == counts[1]
