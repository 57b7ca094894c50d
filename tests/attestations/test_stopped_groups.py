"""Suspended and retired groups (R13): what was owed stays owed, the running period ends when
the group stops, nothing new starts, and retiring asks for one final clear-down."""

import datetime as dt

import pytest

from attestations import services
from attestations.models import Cycle, Flag, Obligation
from attestations.notifications import sweep as notifications
from groups import services as group_services
from groups.models import Membership
from tests.attestations.conftest import PERIOD_END, london, utc
from tests.factories import ChatGroupFactory, HoldFactory, MembershipFactory

pytestmark = pytest.mark.django_db

WEEK = dt.timedelta(days=7)
# Wednesday 18 November 2026, 10:00 (GMT): mid-week, five days after PERIOD_END.
MID_WEEK = utc(2026, 11, 18, 10)


def owing(cycle) -> set[str]:
    return set(cycle.obligations.values_list("user__username", flat=True))


@pytest.fixture
def closed(group, at):
    """`group` has closed its period of 6-13 November."""
    at(PERIOD_END + dt.timedelta(minutes=5))
    [cycle] = services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=5)).cycles
    return cycle


def stop(group, dpo, at, action: str, when: dt.datetime = MID_WEEK):
    at(when)
    return group_services.chatgroup_transition(group=group, action=action, by=dpo, reason="Team moved to Teams")


@pytest.mark.parametrize("action", ["suspend", "retire"])
def test_it_ends_the_running_period_when_the_group_stops(closed, dpo, member, admin_user, at, action):
    group = stop(closed.group, dpo, at, action)
    assert group.status_changed_at == MID_WEEK
    [final] = services.cycle_close_due(now=at(MID_WEEK + dt.timedelta(minutes=15))).cycles
    assert (final.period_start, final.period_end) == (PERIOD_END, MID_WEEK)
    assert final.due_at == MID_WEEK + dt.timedelta(hours=48)
    assert final.prompt_due_at == MID_WEEK + dt.timedelta(hours=24)
    assert owing(final) == {member.username, admin_user.username}
    # What was owed before stays owed.
    assert set(closed.obligations.values_list("status", flat=True)) == {Obligation.Status.PENDING}


@pytest.mark.parametrize("action", ["suspend", "retire"])
def test_it_starts_nothing_more_once_the_group_has_stopped(closed, dpo, at, action):
    stop(closed.group, dpo, at, action)
    services.cycle_close_due(now=at(MID_WEEK + dt.timedelta(minutes=15)))
    for weeks in range(1, 5):
        assert services.cycle_close_due(now=at(PERIOD_END + weeks * WEEK + dt.timedelta(minutes=1))).cycles == []
    assert Cycle.objects.filter(group=closed.group).count() == 2


def test_retiring_ends_every_membership_but_the_final_clear_down_is_still_owed(closed, dpo, member, at):
    group = stop(closed.group, dpo, at, "retire")
    memberships = Membership.objects.filter(group=group)
    assert set(memberships.values_list("left_at", flat=True)) == {MID_WEEK}
    assert set(memberships.values_list("removed_by", flat=True)) == {dpo.pk}
    for membership in memberships:  # each a change ("~") by the DPO in the history, not an addition
        record = membership.history.first()
        assert (record.history_change_reason, record.history_user, record.history_type) == ("Group retired", dpo, "~")
    [final] = services.cycle_close_due(now=at(MID_WEEK + dt.timedelta(minutes=15))).cycles
    assert member.username in owing(final)


def test_it_asks_nothing_final_of_someone_who_left_before_the_group_stopped(closed, dpo, member, at):
    Membership.objects.filter(user=member).update(left_at=MID_WEEK - dt.timedelta(hours=1))
    stop(closed.group, dpo, at, "retire")
    [final] = services.cycle_close_due(now=at(MID_WEEK + dt.timedelta(minutes=15))).cycles
    assert member.username not in owing(final)


def test_a_final_period_under_a_hold_asks_nobody(closed, dpo, at):
    HoldFactory(group=closed.group, placed_by=dpo)
    stop(closed.group, dpo, at, "suspend")
    [final] = services.cycle_close_due(now=at(MID_WEEK + dt.timedelta(minutes=15))).cycles
    assert final.hold_id is not None and not final.obligations.exists()


def test_a_proposal_retired_before_approval_is_asked_nothing(dpo, admin_user, at):
    proposal = ChatGroupFactory(admin=admin_user, status="proposed")
    stop(proposal, dpo, at, "retire")
    assert services.cycle_close_due(now=at(MID_WEEK + WEEK)).cycles == []


def test_a_group_stopped_before_its_first_period_owes_from_its_approval(dpo, admin_user, at):
    group = ChatGroupFactory(admin=admin_user, status="proposed")
    at(utc(2026, 11, 16, 9))
    group_services.chatgroup_transition(group=group, action="approve", by=dpo, reason="Needed")
    stop(group, dpo, at, "suspend")
    [final] = services.cycle_close_due(now=at(MID_WEEK + dt.timedelta(minutes=15))).cycles
    assert (final.period_start, final.period_end) == (utc(2026, 11, 16, 9), MID_WEEK)
    assert owing(final) == {admin_user.username}


def test_a_group_stopped_long_before_the_closer_saw_it_gets_the_full_grace(closed, dpo, at):
    """A group suspended before this rule, or while the closer was down: no deadline already past."""
    stop(closed.group, dpo, at, "suspend")
    later = at(MID_WEEK + dt.timedelta(hours=48))
    [final] = services.cycle_close_due(now=later).cycles
    assert final.period_end == MID_WEEK and final.due_at == later + dt.timedelta(hours=48)


def test_a_reinstated_group_gets_no_period_that_ended_while_it_was_suspended(closed, dpo, at):
    stop(closed.group, dpo, at, "suspend")
    services.cycle_close_due(now=at(MID_WEEK + dt.timedelta(minutes=15)))
    # Reinstated on Thursday 10 December, 20 days and two usual period ends later.
    reinstated = utc(2026, 12, 10, 12)
    stop(closed.group, dpo, at, "reinstate", when=reinstated)
    assert services.cycle_close_due(now=at(reinstated + dt.timedelta(minutes=15))).cycles == []
    [following] = services.cycle_close_due(now=at(utc(2026, 12, 11, 17, 1))).cycles
    # Contiguous: from where the final period ended to the first usual end after reinstating.
    assert (following.period_start, following.period_end) == (MID_WEEK, utc(2026, 12, 11, 17))
    assert following.due_at == utc(2026, 12, 13, 17)


def test_a_reinstatement_less_than_a_day_before_the_usual_end_joins_the_next_week(closed, dpo, at):
    stop(closed.group, dpo, at, "suspend")
    services.cycle_close_due(now=at(MID_WEEK + dt.timedelta(minutes=15)))
    stop(closed.group, dpo, at, "reinstate", when=utc(2026, 12, 11, 9))  # Friday morning
    assert services.cycle_close_due(now=at(utc(2026, 12, 11, 17, 1))).cycles == []
    [following] = services.cycle_close_due(now=at(utc(2026, 12, 18, 17, 1))).cycles
    assert (following.period_start, following.period_end) == (MID_WEEK, utc(2026, 12, 18, 17))


def test_suspended_and_reinstated_between_two_runs_of_the_closer_leaves_no_gap(closed, dpo, at):
    stop(closed.group, dpo, at, "suspend")
    stop(closed.group, dpo, at, "reinstate", when=MID_WEEK + dt.timedelta(minutes=5))
    assert services.cycle_close_due(now=at(MID_WEEK + dt.timedelta(minutes=15))).cycles == []
    [following] = services.cycle_close_due(now=at(utc(2026, 11, 20, 17, 1))).cycles
    assert (following.period_start, following.period_end) == (PERIOD_END, utc(2026, 11, 20, 17))


def test_the_final_period_and_its_deadline_are_on_the_uk_clock_across_a_clock_change(dpo, admin_user, at):
    """Retired on Saturday 24 October 2026 at 18:00 BST: the deadline is Monday 18:00 GMT,
    48 hours on the wall clock (49 elapsed, across the autumn change)."""
    group = ChatGroupFactory(admin=admin_user, approved_at=utc(2026, 9, 1))
    at(london(2026, 10, 23, 17, 5))
    [weekly] = services.cycle_close_due(now=london(2026, 10, 23, 17, 5)).cycles
    stop(group, dpo, at, "retire", when=london(2026, 10, 24, 18))
    [final] = services.cycle_close_due(now=at(london(2026, 10, 24, 18, 15))).cycles
    assert final.period_start == weekly.period_end == london(2026, 10, 23, 17)
    assert final.due_at == london(2026, 10, 26, 18)
    assert final.due_at - final.period_end == dt.timedelta(hours=49)


@pytest.mark.parametrize("action", ["suspend", "retire"])
def test_the_sweep_chases_a_stopped_group_like_any_other(closed, dpo, member, admin_user, at, action):
    """Flags, the admin's digest, the DPO's escalation and reminders, for the week before and
    the final period alike."""
    stop(closed.group, dpo, at, action)
    notifications.sweep(now=at(MID_WEEK + dt.timedelta(minutes=15)), queue=False)
    final = Cycle.objects.get(group=closed.group, period_end=MID_WEEK)
    flags = set(Flag.objects.values_list("kind", "cycle_id", "user__username"))
    assert (Flag.Kind.MEMBER_OVERDUE, closed.pk, member.username) in flags
    assert (Flag.Kind.PROMPT_MISSED, closed.pk, admin_user.username) in flags
    reminder_time = at(final.due_at - dt.timedelta(hours=12))
    notifications.sweep(now=reminder_time, queue=False)
    assert Obligation.objects.filter(cycle=final, reminder_sent_at=reminder_time).count() == 2
    after = at(final.due_at + dt.timedelta(hours=80))
    notifications.sweep(now=after, queue=False)
    assert Flag.objects.filter(cycle=final, kind=Flag.Kind.MEMBER_OVERDUE, resolved_at__isnull=True).count() == 2
    assert not Flag.objects.filter(resolved_at__isnull=False).exists()
    assert not Flag.objects.filter(notified_at__isnull=True).exists()
    assert not Flag.objects.filter(cycle=closed, escalated_at__isnull=True).exists()
    assert Flag.objects.filter(cycle=final, kind=Flag.Kind.PROMPT_MISSED, escalated_at__isnull=False).exists()


def test_a_member_may_still_attest_the_final_clear_down_after_leaving(closed, dpo, member, at):
    stop(closed.group, dpo, at, "retire")
    [final] = services.cycle_close_due(now=at(MID_WEEK + dt.timedelta(minutes=15))).cycles
    result = services.obligation_attest(
        obligations=[final.obligations.get(user=member)],
        user=member,
        cleared_on=MID_WEEK.date(),
        confirmed_cleared=True,
        confirmed_saved=True,
    )
    assert [o.status for o in result.recorded] == [Obligation.Status.ATTESTED]


def test_the_admin_may_still_prompt_the_final_clear_down_of_a_retired_group(closed, dpo, admin_user, at):
    stop(closed.group, dpo, at, "retire")
    [final] = services.cycle_close_due(now=at(MID_WEEK + dt.timedelta(minutes=15))).cycles
    result = services.cycle_prompt(cycle=final, by=admin_user)
    assert result.first and result.outstanding == 2


def test_a_member_who_joins_after_reinstatement_owes_only_the_next_period(closed, dpo, at):
    stop(closed.group, dpo, at, "suspend")
    services.cycle_close_due(now=at(MID_WEEK + dt.timedelta(minutes=15)))
    stop(closed.group, dpo, at, "reinstate", when=utc(2026, 12, 10, 12))
    newcomer = MembershipFactory(group=closed.group, joined_at=utc(2026, 12, 10, 13)).user
    [following] = services.cycle_close_due(now=at(utc(2026, 12, 11, 17, 1))).cycles
    assert newcomer.username in owing(following)
    assert not Obligation.objects.filter(user=newcomer).exclude(cycle=following).exists()
