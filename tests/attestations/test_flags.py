"""Flags: raised for overdue members and missed prompts, once, set-based, never under a hold (R8, R9)."""

import datetime as dt

import pytest
from django.core.management import call_command

from attestations import services
from attestations.models import Flag, Obligation
from groups import services as group_services
from groups import staff
from groups.models import GroupReview
from tests.attestations.conftest import BASE, DUE, PERIOD_END, lock_queries, utc
from tests.factories import ChatGroupFactory, HoldFactory, MembershipFactory

pytestmark = pytest.mark.django_db

PROMPT_DUE = PERIOD_END + dt.timedelta(hours=24)
AFTER_DEADLINE = DUE + dt.timedelta(minutes=1)


def kinds() -> set[tuple[str, str]]:
    return set(Flag.objects.values_list("kind", "user__username"))


def test_it_flags_nothing_before_the_prompt_is_due(cycle):
    assert services.flags_raise(now=PROMPT_DUE).raised == []


def test_it_flags_the_admin_when_the_prompt_is_missed(cycle, admin_user):
    result = services.flags_raise(now=PROMPT_DUE + dt.timedelta(seconds=1))
    assert [(f.kind, f.user) for f in result.raised] == [(Flag.Kind.PROMPT_MISSED, admin_user)]
    assert result.raised[0].raised_at == PROMPT_DUE + dt.timedelta(seconds=1)


def test_it_does_not_flag_a_prompt_issued_in_time(cycle, admin_user):
    services.cycle_prompt(cycle=cycle, by=admin_user, now=PERIOD_END + dt.timedelta(hours=1))
    assert services.flags_raise(now=PROMPT_DUE + dt.timedelta(hours=1)).raised == []


def test_it_flags_members_still_due_after_the_deadline(cycle, member, admin_user):
    services.cycle_prompt(cycle=cycle, by=admin_user, now=PERIOD_END + dt.timedelta(hours=1))
    assert services.flags_raise(now=DUE).raised == []  # at the deadline itself: not yet
    services.flags_raise(now=AFTER_DEADLINE)
    assert kinds() == {(Flag.Kind.MEMBER_OVERDUE, member.username), (Flag.Kind.MEMBER_OVERDUE, admin_user.username)}


def test_it_does_not_flag_members_who_attested_or_were_excused(cycle, member, admin_user, dpo):
    services.obligation_attest(
        obligations=[cycle.obligations.get(user=member)],
        user=member,
        cleared_on=dt.date(2026, 11, 14),
        confirmed_cleared=True,
        confirmed_saved=True,
        now=utc(2026, 11, 14, 9),
    )
    services.obligation_excuse(obligation=cycle.obligations.get(user=admin_user), by=dpo, reason="Sick leave")
    services.flags_raise(now=AFTER_DEADLINE)
    assert kinds() == {(Flag.Kind.PROMPT_MISSED, admin_user.username)}


def test_it_raises_each_flag_once_however_often_it_runs(cycle):
    first = services.flags_raise(now=AFTER_DEADLINE)
    assert len(first.raised) == 3
    history = Flag.history.count()
    assert services.flags_raise(now=AFTER_DEADLINE + dt.timedelta(hours=1)).raised == []
    assert services.flags_raise(now=AFTER_DEADLINE + dt.timedelta(days=3)).raised == []
    assert Flag.objects.count() == 3 and Flag.history.count() == history


def test_it_does_not_raise_a_flag_again_once_resolved(cycle, member):
    services.flags_raise(now=AFTER_DEADLINE)
    services.obligation_attest(
        obligations=[cycle.obligations.get(user=member)],
        user=member,
        cleared_on=dt.date(2026, 11, 15),
        confirmed_cleared=True,
        confirmed_saved=True,
        now=AFTER_DEADLINE + dt.timedelta(hours=1),
    )
    services.flags_raise(now=AFTER_DEADLINE + dt.timedelta(hours=2))
    flag = Flag.objects.get(user=member, kind=Flag.Kind.MEMBER_OVERDUE)
    assert flag.resolved_at == AFTER_DEADLINE + dt.timedelta(hours=1)
    assert Flag.objects.filter(user=member).count() == 1


def test_it_flags_nothing_for_a_group_under_hold(cycle, dpo):
    HoldFactory(group=cycle.group, placed_by=dpo)
    assert services.flags_raise(now=AFTER_DEADLINE).raised == []


def test_it_flags_nothing_for_a_held_cycle_after_the_hold_is_lifted(cycle, dpo):
    hold = services.hold_place(group=cycle.group, by=dpo, reference="FOI-1", reason="Request", now=utc(2026, 11, 14))
    services.hold_lift(hold=hold, by=dpo, reason="Closed", now=utc(2026, 11, 14, 12))
    assert services.flags_raise(now=AFTER_DEADLINE).raised == []


@pytest.mark.parametrize("action", ["suspend", "retire"])
def test_it_still_flags_a_group_suspended_or_retired_after_its_period_ended(cycle, dpo, at, action):
    """R13: the chat still holds what was said, so what was owed is chased like any other."""
    at(PERIOD_END + dt.timedelta(hours=2))
    group_services.chatgroup_transition(group=cycle.group, action=action, by=dpo, reason="Team moved to Teams")
    raised = services.flags_raise(now=AFTER_DEADLINE).raised
    assert {(f.kind, f.cycle_id) for f in raised} == {
        (Flag.Kind.MEMBER_OVERDUE, cycle.pk),
        (Flag.Kind.PROMPT_MISSED, cycle.pk),
    }
    assert len(raised) == 3
    assert services.flags_resolve_settled(now=AFTER_DEADLINE) == 0


def test_it_flags_nothing_for_a_suspended_group_under_hold(cycle, dpo, at):
    at(PERIOD_END + dt.timedelta(hours=2))
    group_services.chatgroup_transition(group=cycle.group, action="suspend", by=dpo, reason="Paused")
    HoldFactory(group=cycle.group, placed_by=dpo)
    assert services.flags_raise(now=AFTER_DEADLINE).raised == []


def test_the_flags_command_reports_what_it_raised(cycle, capsys):
    call_command("raise_flags", "--now", AFTER_DEADLINE.isoformat())
    assert "2 overdue flag(s) and 1 missed-prompt flag(s) raised." in capsys.readouterr().out


@pytest.mark.parametrize("n", [3, 30])
def test_it_raises_in_a_constant_number_of_queries(django_assert_num_queries, at, n):
    group = ChatGroupFactory()
    for _ in range(n):
        MembershipFactory(group=group, joined_at=utc(2026, 10, 1))
    services.cycle_close_due(now=at(PERIOD_END + dt.timedelta(minutes=1)))
    # Six, and one SELECT each for overdue reviews (R16) and hold timers not turned off (R17).
    with django_assert_num_queries(8 + lock_queries()):
        result = services.flags_raise(now=AFTER_DEADLINE)
    assert len(result.raised) == n + 2
    assert Obligation.objects.count() == n + 1


def test_an_overdue_review_is_flagged_on_the_deputy_once_the_admin_has_left_and_on_nobody_after(
    group, admin_user, member
):
    group.deputy = member
    group.save()
    admin_user.is_active = False  # left the organisation (R14)
    admin_user.save()
    GroupReview.objects.create(group=group, due_at=BASE - dt.timedelta(days=1), created_at=BASE - dt.timedelta(days=90))
    [flag] = services.flags_raise(now=BASE).raised
    assert (flag.kind, flag.user) == (Flag.Kind.REVIEW_OVERDUE, member)
    Flag.objects.all().delete()
    member.is_active = False
    member.save()
    assert services.flags_raise(now=BASE).raised == []  # the DPO was told of the group instead


def test_a_hold_waiting_for_its_timer_is_flagged_whatever_other_holds_are_flagged(admin_user, dpo):
    first, second = (ChatGroupFactory(name=name, admin=admin_user) for name in ("One", "Two"))
    HoldFactory(group=first, placed_by=dpo, timer_off_required=True)
    [flag] = services.flags_raise(now=BASE).raised
    assert (flag.kind, flag.group) == (Flag.Kind.TIMER_NOT_OFF, first)
    HoldFactory(group=second, placed_by=dpo, timer_off_required=True)
    [flag] = services.flags_raise(now=BASE + dt.timedelta(minutes=15)).raised  # the first one's is still open
    assert (flag.kind, flag.group) == (Flag.Kind.TIMER_NOT_OFF, second)


def test_a_hold_still_waiting_for_its_timer_is_flagged_again_on_the_deputy_once_the_admin_leaves(
    group, admin_user, member, dpo
):
    """Closing the admin's account resolves their flags (R14); the duty to turn the timer off
    stays, so the next run flags the deputy."""
    group.deputy = member
    group.save()
    HoldFactory(group=group, placed_by=dpo, timer_off_required=True)
    [flag] = services.flags_raise(now=BASE).raised
    assert flag.user == admin_user
    staff.user_deactivate(user=admin_user, by=dpo, reason="Left", now=BASE + dt.timedelta(minutes=5))
    assert Flag.objects.get().resolved_at is not None
    [again] = services.flags_raise(now=BASE + dt.timedelta(minutes=15)).raised
    assert (again.kind, again.user) == (Flag.Kind.TIMER_NOT_OFF, member)
