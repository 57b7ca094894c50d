"""Closing cycles: when, for whom, under a hold, idempotently and in constant queries (R4, R7, R9)."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from attestations import services
from attestations.models import Cycle, Obligation
from attestations.notifications import tasks
from groups.models import ChatGroup
from tests.attestations.conftest import DUE, PERIOD_END, PERIOD_START, lock_queries, london, utc
from tests.factories import ChatGroupFactory, CycleFactory, HoldFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

JUST_AFTER = PERIOD_END + dt.timedelta(minutes=1)


def owing(cycle) -> set[str]:
    return set(cycle.obligations.values_list("user__username", flat=True))


def test_it_closes_a_cycle_with_one_obligation_per_member(group, member, admin_user, at):
    at(JUST_AFTER)
    result = services.cycle_close_due(now=JUST_AFTER)
    [cycle] = result.cycles
    assert (cycle.group, cycle.period_start, cycle.period_end) == (group, PERIOD_START, PERIOD_END)
    assert cycle.due_at == DUE
    assert cycle.prompt_due_at == PERIOD_END + dt.timedelta(hours=24)
    assert owing(cycle) == {member.username, admin_user.username}
    assert set(cycle.obligations.values_list("status", flat=True)) == {Obligation.Status.PENDING}
    assert set(cycle.obligations.values_list("due_at", flat=True)) == {DUE}
    assert result.obligations == 2


def test_it_closes_nothing_a_second_before_the_period_ends(group, at):
    now = at(PERIOD_END - dt.timedelta(seconds=1))
    result = services.cycle_close_due(now=now)
    # The period before (30 Oct to 6 Nov) is the last one that has ended.
    assert [c.period_end for c in result.cycles] == [PERIOD_START]


def test_it_creates_nothing_when_run_again(group, at):
    at(JUST_AFTER)
    services.cycle_close_due(now=JUST_AFTER)
    counts = (Cycle.objects.count(), Obligation.objects.count(), Cycle.history.count(), Obligation.history.count())
    again = services.cycle_close_due(now=JUST_AFTER + dt.timedelta(hours=3))
    assert again.cycles == [] and again.obligations == 0
    assert counts == (
        Cycle.objects.count(),
        Obligation.objects.count(),
        Cycle.history.count(),
        Obligation.history.count(),
    )
    assert counts[:2] == (1, 2)


def test_it_closes_the_next_period_a_week_later(group, at):
    services.cycle_close_due(now=at(JUST_AFTER))
    later = services.cycle_close_due(now=at(JUST_AFTER + dt.timedelta(days=7)))
    [cycle] = later.cycles
    assert (cycle.period_start, cycle.period_end) == (PERIOD_END, PERIOD_END + dt.timedelta(days=7))


def test_it_records_history_of_the_new_rows(group, at):
    [cycle] = services.cycle_close_due(now=at(JUST_AFTER)).cycles
    assert cycle.history.get().history_change_reason == "Period ended"
    assert Obligation.history.filter(cycle_id=cycle.pk, history_type="+").count() == 2


@pytest.mark.parametrize(
    "joined, left, owes",
    [
        (PERIOD_END - dt.timedelta(seconds=1), None, True),  # joined in the last second: owes
        (PERIOD_END, None, False),  # joined at the very end: owes nothing
        (PERIOD_END + dt.timedelta(seconds=1), None, False),  # joined after the end
        (PERIOD_START - dt.timedelta(days=30), PERIOD_END + dt.timedelta(seconds=1), True),  # left after the end
        (PERIOD_START - dt.timedelta(days=30), PERIOD_END, False),  # left at the very end
        (PERIOD_START - dt.timedelta(days=30), PERIOD_END - dt.timedelta(seconds=1), False),  # left before the end
        (PERIOD_START + dt.timedelta(days=2), None, True),  # joined part-way through
    ],
)
def test_it_counts_membership_by_date(group, at, joined, left, owes):
    person = UserFactory(username="boundary")
    MembershipFactory(group=group, user=person, joined_at=joined, left_at=left)
    [cycle] = services.cycle_close_due(now=at(JUST_AFTER + dt.timedelta(hours=1))).cycles
    assert ("boundary" in owing(cycle)) is owes


def test_it_counts_a_person_with_two_memberships_owing_for_the_period_once(group, at):
    # Two rows that both owe for the period (both began before its end, neither had ended by
    # it): only one may be active, but a row closed after the end overlaps a new one (a
    # correction, an import). The person still owes one clear-down.
    person = UserFactory(username="twice")
    MembershipFactory(group=group, user=person, joined_at=utc(2026, 10, 1), left_at=PERIOD_END + dt.timedelta(days=1))
    MembershipFactory(group=group, user=person, joined_at=PERIOD_START + dt.timedelta(days=2))
    [cycle] = services.cycle_close_due(now=at(JUST_AFTER)).cycles
    assert cycle.obligations.filter(user=person).count() == 1
    assert owing(cycle) == {"twice", "member", "groupadmin"}


def test_it_asks_nothing_of_a_disabled_account(group, member, at):
    member.is_active = False
    member.save()
    [cycle] = services.cycle_close_due(now=at(JUST_AFTER)).cycles
    assert member.username not in owing(cycle)


@pytest.mark.parametrize("status", [ChatGroup.Status.SUSPENDED, ChatGroup.Status.RETIRED, ChatGroup.Status.PROPOSED])
def test_it_gives_no_cycle_to_a_group_that_is_not_approved(group, at, status):
    ChatGroup.objects.filter(pk=group.pk).update(status=status)
    assert services.cycle_close_due(now=at(JUST_AFTER)).cycles == []
    assert not Cycle.objects.exists()


def test_it_starts_a_group_approved_mid_week_with_the_next_full_period(admin_user, at):
    group = ChatGroupFactory(admin=admin_user, approved_at=utc(2026, 11, 11, 10))  # a Wednesday
    assert services.cycle_close_due(now=at(JUST_AFTER)).cycles == []
    [cycle] = services.cycle_close_due(now=at(JUST_AFTER + dt.timedelta(days=7))).cycles
    assert (cycle.group, cycle.period_start) == (group, PERIOD_END)


def test_it_starts_a_group_approved_exactly_at_a_period_start(admin_user, at):
    ChatGroupFactory(admin=admin_user, approved_at=PERIOD_START)
    [cycle] = services.cycle_close_due(now=at(JUST_AFTER)).cycles
    assert cycle.period_start == PERIOD_START


def test_it_closes_a_spring_cycle_at_the_local_hour_and_stores_utc(admin_user, at):
    group = ChatGroupFactory(admin=admin_user, approved_at=utc(2026, 1, 1))
    # Friday 3 April 2026 17:00 BST is 16:00 UTC; at 16:30 UTC the period has ended.
    [cycle] = services.cycle_close_due(now=at(utc(2026, 4, 3, 16, 30))).cycles
    assert cycle.group == group
    assert (cycle.period_start, cycle.period_end) == (london(2026, 3, 27, 17), london(2026, 4, 3, 17))
    assert cycle.period_end == utc(2026, 4, 3, 16)
    assert cycle.due_at == london(2026, 4, 5, 17) == utc(2026, 4, 5, 16)


def test_it_closes_an_autumn_cycle_at_the_local_hour_and_stores_utc(admin_user, at):
    ChatGroupFactory(admin=admin_user, approved_at=utc(2026, 1, 1))
    assert services.cycle_close_due(now=at(utc(2026, 10, 30, 16, 30))).cycles[0].period_end == utc(2026, 10, 23, 16)
    [cycle] = services.cycle_close_due(now=at(utc(2026, 10, 30, 17, 0))).cycles
    assert (cycle.period_start, cycle.period_end) == (utc(2026, 10, 23, 16), utc(2026, 10, 30, 17))
    assert cycle.due_at == london(2026, 11, 1, 17)


def test_it_gives_a_deadline_across_the_spring_change_on_the_wall_clock(admin_user, at):
    ChatGroupFactory(admin=admin_user, approved_at=utc(2026, 1, 1))
    [cycle] = services.cycle_close_due(now=at(utc(2026, 3, 27, 17, 5))).cycles
    # Friday 17:00 GMT + 48 hours' grace = Sunday 17:00 BST, only 47 hours later.
    assert cycle.due_at == london(2026, 3, 29, 17)
    assert cycle.due_at - cycle.period_end == dt.timedelta(hours=47)


def test_it_follows_each_groups_own_day_and_time(admin_user, at):
    monday = ChatGroupFactory(admin=admin_user, cycle_weekday=ChatGroup.Weekday.MONDAY, cycle_time=dt.time(9, 30))
    closed = services.cycle_close_due(now=at(utc(2026, 11, 16, 9, 30))).cycles
    [cycle] = [c for c in closed if c.group == monday]
    assert (cycle.period_start, cycle.period_end) == (utc(2026, 11, 9, 9, 30), utc(2026, 11, 16, 9, 30))


def test_it_never_overlaps_periods_after_the_schedule_changes(group, at):
    services.cycle_close_due(now=at(JUST_AFTER))
    # The admin moves the clear-down to Mondays at 09:00; the next period starts where the last ended.
    ChatGroup.objects.filter(pk=group.pk).update(cycle_weekday=ChatGroup.Weekday.MONDAY, cycle_time=dt.time(9))
    [cycle] = services.cycle_close_due(now=at(utc(2026, 11, 16, 9, 1))).cycles
    assert (cycle.period_start, cycle.period_end) == (PERIOD_END, utc(2026, 11, 16, 9))
    assert services.cycle_close_due(now=utc(2026, 11, 16, 12)).cycles == []


def test_it_starts_the_next_period_where_the_last_ended_after_a_later_time_on_the_same_day(group, at):
    services.cycle_close_due(now=at(JUST_AFTER))
    # The clear-down moves from Friday 17:00 to Friday 18:00: the hour between is not lost.
    ChatGroup.objects.filter(pk=group.pk).update(cycle_time=dt.time(18))
    [cycle] = services.cycle_close_due(now=at(PERIOD_END + dt.timedelta(days=7, hours=1, minutes=1))).cycles
    assert (cycle.period_start, cycle.period_end) == (PERIOD_END, PERIOD_END + dt.timedelta(days=7, hours=1))


def test_it_asks_no_clear_down_of_an_hour_when_the_time_moves_later(group, at):
    services.cycle_close_due(now=at(JUST_AFTER))
    ChatGroup.objects.filter(pk=group.pk).update(cycle_time=dt.time(18))
    # At 18:01 the hour 17:00 to 18:00 has ended on the new schedule: it joins next week's period.
    assert services.cycle_close_due(now=at(PERIOD_END + dt.timedelta(hours=1, minutes=1))).cycles == []
    [cycle] = services.cycle_close_due(now=at(PERIOD_END + dt.timedelta(days=7, hours=1, minutes=1))).cycles
    assert (cycle.period_start, cycle.period_end) == (PERIOD_END, PERIOD_END + dt.timedelta(days=7, hours=1))


def test_it_starts_the_next_period_where_the_last_ended_after_an_earlier_time(group, at):
    services.cycle_close_due(now=at(JUST_AFTER))
    ChatGroup.objects.filter(pk=group.pk).update(cycle_time=dt.time(9))
    [cycle] = services.cycle_close_due(now=at(utc(2026, 11, 20, 9, 1))).cycles
    assert (cycle.period_start, cycle.period_end) == (PERIOD_END, utc(2026, 11, 20, 9))


def test_the_periods_of_a_group_leave_no_gap_and_never_overlap(group, at):
    moments = [JUST_AFTER, utc(2026, 11, 20, 18, 1), utc(2026, 11, 23, 9, 1), utc(2026, 12, 1, 12)]
    schedules = [(ChatGroup.Weekday.FRIDAY, dt.time(18)), (ChatGroup.Weekday.MONDAY, dt.time(9)), (1, dt.time(8))]
    services.cycle_close_due(now=at(moments[0]))
    for now, (weekday, time) in zip(moments[1:], schedules, strict=True):
        ChatGroup.objects.filter(pk=group.pk).update(cycle_weekday=weekday, cycle_time=time)
        services.cycle_close_due(now=at(now))
    cycles = list(Cycle.objects.filter(group=group).order_by("period_start"))
    assert len(cycles) == 4
    assert all(earlier.period_end == later.period_start for earlier, later in zip(cycles, cycles[1:], strict=False))


def test_it_records_a_held_cycle_and_asks_nobody(group, dpo, at):
    HoldFactory(group=group, placed_by=dpo)
    result = services.cycle_close_due(now=at(JUST_AFTER))
    [cycle] = result.cycles
    assert cycle.is_held and cycle.hold.group == group
    assert result.held == 1 and result.obligations == 0
    assert not Obligation.objects.exists()


def test_it_asks_again_once_the_hold_is_lifted(group, dpo, at):
    HoldFactory(group=group, placed_by=dpo, lifted_at=utc(2026, 11, 12), lifted_by=dpo, placed_at=utc(2026, 11, 1))
    [cycle] = services.cycle_close_due(now=at(JUST_AFTER)).cycles
    assert not cycle.is_held and cycle.obligations.count() == 2


def test_it_covers_periods_missed_entirely_with_the_next_cycle_without_creating_them_late(group, at):
    services.cycle_close_due(now=at(JUST_AFTER))
    # Three weeks without a run: one cycle, ending at the latest end, covers them all.
    [cycle] = services.cycle_close_due(now=at(JUST_AFTER + dt.timedelta(days=21))).cycles
    assert cycle.period_end == PERIOD_END + dt.timedelta(days=21)
    assert cycle.period_start == PERIOD_END
    assert cycle.due_at == DUE + dt.timedelta(days=21)


@pytest.mark.parametrize("n", [3, 120])
def test_it_closes_in_a_constant_number_of_queries(django_assert_num_queries, at, n):
    # Two closing times, one group of n members. The obligations and their history rows
    # are each one INSERT … SELECT, however many (on SQLite too, which splits a bulk
    # INSERT of values into batches of 999 parameters).
    big = ChatGroupFactory()
    for _ in range(n):
        MembershipFactory(group=big)
    ChatGroupFactory(cycle_weekday=ChatGroup.Weekday.MONDAY)
    at(utc(2026, 11, 16, 17, 1))
    with django_assert_num_queries(7 + lock_queries()):
        result = services.cycle_close_due(now=utc(2026, 11, 16, 17, 1))
    assert len(result.cycles) == 2 and result.obligations == n + 2
    # Each obligation has its history row, as the services write it.
    made = Obligation.history.filter(history_type="+", history_change_reason="Period ended", history_user=None)
    assert made.count() == n + 2 and set(made.values_list("id", flat=True)) == set(
        Obligation.objects.values_list("pk", flat=True)
    )


def test_it_runs_again_in_a_constant_number_of_queries(django_assert_num_queries, at):
    for _ in range(5):
        MembershipFactory(group=ChatGroupFactory())
    services.cycle_close_due(now=at(JUST_AFTER))
    with django_assert_num_queries(3 + lock_queries()):
        assert services.cycle_close_due(now=JUST_AFTER).cycles == []


def test_the_database_refuses_a_second_cycle_for_the_same_period(group):
    CycleFactory(group=group, period_end=PERIOD_END)
    with pytest.raises(IntegrityError), transaction.atomic():
        CycleFactory(group=group, period_end=PERIOD_END)


def test_the_database_refuses_a_second_obligation_per_person(obligation):
    with pytest.raises(IntegrityError), transaction.atomic():
        Obligation.objects.create(cycle=obligation.cycle, user=obligation.user, due_at=obligation.due_at)


def test_the_database_refuses_a_deadline_before_the_period_ends(group):
    with pytest.raises(IntegrityError), transaction.atomic():
        CycleFactory(group=group, period_end=PERIOD_END, due_at=PERIOD_END - dt.timedelta(hours=1))


def test_the_close_command_accepts_a_moment_in_uk_time(group, at, capsys):
    at(utc(2026, 11, 20))
    call_command("close_cycles", "--now", "2026-11-13T17:01")
    assert "1 cycle(s) closed (0 on hold), 2 obligation(s) created." in capsys.readouterr().out
    assert Cycle.objects.get().period_end == PERIOD_END
    call_command("close_cycles", "--now", "2026-11-13T17:01")
    assert "0 cycle(s) closed" in capsys.readouterr().out


def test_the_close_command_refuses_a_bad_moment(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("close_cycles", "--now", "next friday")


def test_the_beat_task_closes_due_cycles(group, at):
    at(JUST_AFTER)
    tasks.sweep.delay().get()
    tasks.sweep.delay().get()
    assert Cycle.objects.filter(group=group).count() == 1
