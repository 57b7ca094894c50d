"""The dashboard's per-cycle counts (`CycleCount`) follow every write, by any path (triggers)."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from attestations import services
from attestations.dashboard import counts
from attestations.models import Cycle, CycleCount, Flag, Obligation
from tests.attestations.conftest import DUE, PERIOD_END
from tests.conftest import run_at_once, service_missing
from tests.factories import ChatGroupFactory, CycleFactory, MembershipFactory, UserFactory, obligation_in_state

pytestmark = pytest.mark.django_db

EMPTY = {"n_pending": 0, "n_attested": 0, "n_late": 0, "n_excused": 0, "n_held": 0}


def counted(cycle, **expected) -> bool:
    """The stored counts of `cycle` are `expected` (others 0), and every cycle's agree with a recount."""
    stored = CycleCount.objects.filter(cycle_id=cycle.pk).values(*EMPTY).get()
    assert stored == {**EMPTY, **expected}
    assert counts.cycle_counts_check() == []
    return True


def attest(obligation, when):
    return services.obligation_attest(
        obligations=[obligation], user=obligation.user, cleared_on=when.date(),
        confirmed_cleared=True, confirmed_saved=True, now=when,
    )  # fmt: skip


def test_every_trigger_is_there_after_all_the_migrations():
    assert counts.cycle_counts_triggers_missing() == []


def test_closing_attesting_late_excusing_and_holding_move_the_counts(cycle, member, admin_user, dpo, at):
    assert counted(cycle, n_pending=2)
    attest(cycle.obligations.get(user=member), PERIOD_END + dt.timedelta(hours=1))
    assert counted(cycle, n_pending=1, n_attested=1)
    services.obligation_excuse(obligation=cycle.obligations.get(user=admin_user), by=dpo, reason="Leave")
    assert counted(cycle, n_attested=1, n_excused=1)

    later = CycleFactory(group=cycle.group, period_end=PERIOD_END + dt.timedelta(days=7))
    late = obligation_in_state(cycle=later, user=member, state="pending")
    obligation_in_state(cycle=later, user=admin_user, state="pending")
    assert counted(later, n_pending=2)
    attest(late, at(later.due_at + dt.timedelta(hours=1)))
    assert counted(later, n_pending=1, n_late=1)
    services.hold_place(group=cycle.group, by=dpo, reference="FOI-1", reason="A request")
    assert counted(later, n_late=1, n_held=1)
    assert counted(cycle, n_attested=1, n_excused=1)  # nothing pending there to hold


def test_bulk_writes_moves_and_deletes_are_counted_too(cycle, member, admin_user):
    other = CycleFactory(group=cycle.group, period_end=PERIOD_END + dt.timedelta(days=7))
    people = [UserFactory() for _ in range(3)]
    Obligation.objects.bulk_create(Obligation(cycle=other, user=p, due_at=other.due_at) for p in people)
    assert counted(other, n_pending=3)
    Obligation.objects.filter(cycle=other).update(status=Obligation.Status.HELD)
    assert counted(other, n_held=3)
    Obligation.objects.filter(cycle=other, user=people[0]).update(cycle=cycle, status=Obligation.Status.PENDING)
    assert counted(other, n_held=2) and counted(cycle, n_pending=3)
    Obligation.objects.filter(cycle=other).update(reminder_sent_at=DUE)  # not a count: nothing moves
    assert counted(other, n_held=2)
    Obligation.objects.filter(cycle=other).delete()
    assert counted(other)
    other.delete()
    assert not CycleCount.objects.filter(cycle_id=other.pk).exists()
    assert counts.cycle_counts_check() == []


def test_a_cycle_whose_deadline_is_moved_carries_its_counts_to_the_new_week(cycle):
    Cycle.objects.filter(pk=cycle.pk).update(due_at=DUE + dt.timedelta(days=7))
    assert CycleCount.objects.get(cycle_id=cycle.pk).due_at == DUE + dt.timedelta(days=7)
    assert counts.cycle_counts_check() == []


def test_counts_changed_behind_the_portal_are_found_and_rebuilt(cycle):
    other = CycleFactory(group=ChatGroupFactory(), period_end=PERIOD_END)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE attestations_cyclecount SET n_attested = 5 WHERE cycle_id = %s", [cycle.pk])
        cursor.execute("DELETE FROM attestations_cyclecount WHERE cycle_id = %s", [other.pk])
    assert counts.cycle_counts_check() == sorted([cycle.pk, other.pk])
    assert counts.cycle_counts_rebuild() == Cycle.objects.count()
    assert counts.cycle_counts_check() == []
    assert counted(cycle, n_pending=2)


def test_a_count_never_goes_below_zero(cycle):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE attestations_cyclecount SET n_pending = n_pending - 3 WHERE cycle_id = %s", [cycle.pk])


@pytest.mark.django_db(transaction=True)
def test_members_attesting_the_same_groups_at_once_neither_deadlock_nor_miscount(at):
    if connection.vendor != "postgresql":
        service_missing("needs PostgreSQL for concurrent transactions (set DATABASE_URL)")
    groups = [ChatGroupFactory(), ChatGroupFactory()]
    people = [UserFactory() for _ in range(12)]
    for group in groups:
        for person in people:
            MembershipFactory(group=group, user=person)
    cycles = services.cycle_close_due(now=at(PERIOD_END + dt.timedelta(minutes=5))).cycles
    when = at(PERIOD_END + dt.timedelta(hours=1))

    def attest_both(person, reverse):
        mine = list(Obligation.objects.filter(user=person).order_by("-pk" if reverse else "pk"))
        return lambda: services.obligation_attest(
            obligations=mine, user=person, cleared_on=when.date(),
            confirmed_cleared=True, confirmed_saved=True, now=when,
        )  # fmt: skip

    outcomes = run_at_once(*(attest_both(p, i % 2) for i, p in enumerate(people)))
    assert outcomes == ["ok"] * len(people)
    for cycle in cycles:
        n = 1 + len(people) if cycle.group.admin_id not in {p.pk for p in people} else len(people)
        assert counted(cycle, n_attested=len(people), n_pending=n - len(people))


def test_the_command_reports_wrong_counts_and_rebuilds_them(cycle, capsys):
    call_command("cycle_counts")
    assert "agree" in capsys.readouterr().out
    with connection.cursor() as cursor:
        cursor.execute("UPDATE attestations_cyclecount SET n_pending = 9 WHERE cycle_id = %s", [cycle.pk])
    with pytest.raises(SystemExit) as exit_:
        call_command("cycle_counts")
    assert exit_.value.code == 1 and f"1 cycles' counts disagree: {cycle.pk}" in capsys.readouterr().err
    call_command("cycle_counts", "--rebuild")
    assert counted(cycle, n_pending=2)


def test_flags_carry_their_cycles_group_and_a_wrong_copy_is_found(cycle, member, capsys):
    services.flags_raise(now=DUE + dt.timedelta(minutes=15))
    assert {f.group_id for f in Flag.objects.all()} == {cycle.group_id}
    assert counts.flag_groups_check() == []
    flag = Flag.objects.first()
    Flag.objects.filter(pk=flag.pk).update(group=ChatGroupFactory())
    assert counts.flag_groups_check() == [flag.pk]
    with pytest.raises(SystemExit):
        call_command("cycle_counts")
    assert "1 flags name a group other than their cycle's" in capsys.readouterr().err
