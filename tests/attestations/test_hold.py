"""Holds: the DPO stops clear-downs of a group while its information must be kept (R9)."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from attestations import services
from attestations.models import Cycle, Flag, Hold, Obligation
from tests.attestations.conftest import DUE, PERIOD_END, lock_queries, utc
from tests.factories import ChatGroupFactory, HoldFactory, MembershipFactory

pytestmark = pytest.mark.django_db

NOW = utc(2026, 11, 14, 9)


def place(group, by, **kwargs):
    return services.hold_place(
        group=group, by=by, **{"reference": "FOI-2026-0042", "reason": "FOI request about rota", "now": NOW, **kwargs}
    )


def test_it_moves_the_open_obligations_to_held(cycle, dpo, member):
    hold = place(cycle.group, dpo)
    assert hold.placed_by == dpo and hold.is_active
    assert set(cycle.obligations.values_list("status", flat=True)) == {Obligation.Status.HELD}
    cycle.refresh_from_db()
    assert cycle.hold == hold


def test_it_leaves_attestations_already_made_alone(cycle, dpo, member):
    mine = cycle.obligations.get(user=member)
    services.obligation_attest(
        obligations=[mine],
        user=member,
        cleared_on=dt.date(2026, 11, 13),
        confirmed_cleared=True,
        confirmed_saved=True,
        now=utc(2026, 11, 13, 18),
    )
    place(cycle.group, dpo)
    mine.refresh_from_db()
    assert mine.status == Obligation.Status.ATTESTED


def test_it_leaves_other_groups_alone(cycle, dpo, member):
    other = ChatGroupFactory()
    MembershipFactory(group=other, user=member, joined_at=utc(2026, 10, 1))
    services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=10))
    place(cycle.group, dpo)
    assert Obligation.objects.get(cycle__group=other, user=member).status == Obligation.Status.PENDING


def test_it_keeps_history_of_the_hold_and_of_each_moved_obligation(cycle, dpo, member):
    hold = place(cycle.group, dpo)
    assert hold.history.get().history_user == dpo
    record = Obligation.history.filter(cycle_id=cycle.pk, user_id=member.pk).latest()
    assert record.status == "held" and record.history_user == dpo
    assert record.history_change_reason == "Hold placed: FOI-2026-0042"


def test_it_resolves_open_flags_of_the_group(cycle, dpo):
    services.flags_raise(now=DUE + dt.timedelta(minutes=1))
    assert Flag.objects.filter(resolved_at__isnull=True).count() == 3
    place(cycle.group, dpo, now=DUE + dt.timedelta(hours=1))
    assert not Flag.objects.filter(resolved_at__isnull=True).exists()


def test_it_refuses_a_second_active_hold(group, dpo):
    place(group, dpo)
    with pytest.raises(ValidationError, match="already on hold"):
        place(group, dpo, reference="FOI-2")
    assert Hold.objects.count() == 1


def test_the_database_allows_one_active_hold_per_group(group, dpo):
    HoldFactory(group=group, placed_by=dpo)
    with pytest.raises(IntegrityError), transaction.atomic():
        HoldFactory(group=group, placed_by=dpo)


@pytest.mark.parametrize("who", ["member", "admin_user", "auditor", "outsider"])
def test_only_the_dpo_places_a_hold(request, group, who):
    with pytest.raises(PermissionDenied):
        place(group, request.getfixturevalue(who))
    assert not Hold.objects.exists()


@pytest.mark.parametrize(
    "reference, reason, field",
    [
        ("", "Reason", "reference"),
        ("   ", "Reason", "reference"),
        ("\u200b\ufeff", "Reason", "reference"),  # invisible characters only
        ("FOI-1", " ", "reason"),
        ("FOI-1", "\u200b \u200b", "reason"),
    ],
)
def test_it_refuses_a_hold_without_reference_or_reason(group, dpo, reference, reason, field):
    with pytest.raises(ValidationError) as exc:
        place(group, dpo, reference=reference, reason=reason)
    assert field in exc.value.error_dict
    assert not Hold.objects.exists()


def test_it_lifts_a_hold_with_a_reason(group, dpo):
    hold = place(group, dpo)
    lifted = services.hold_lift(hold=hold, by=dpo, reason="Request answered", now=NOW + dt.timedelta(days=2))
    assert (lifted.lifted_by, lifted.lifted_at, lifted.lift_reason) == (
        dpo,
        NOW + dt.timedelta(days=2),
        "Request answered",
    )
    assert lifted.history.latest().history_user == dpo


def test_it_refuses_to_lift_twice_or_without_a_reason(group, dpo):
    hold = place(group, dpo)
    with pytest.raises(ValidationError):
        services.hold_lift(hold=hold, by=dpo, reason=" ")
    services.hold_lift(hold=hold, by=dpo, reason="Done", now=NOW)
    with pytest.raises(ValidationError, match="already lifted"):
        services.hold_lift(hold=hold, by=dpo, reason="Again", now=NOW)


def test_only_the_dpo_lifts_a_hold(group, dpo, admin_user):
    hold = place(group, dpo)
    with pytest.raises(PermissionDenied):
        services.hold_lift(hold=hold, by=admin_user, reason="Please", now=NOW)


def test_a_group_can_be_held_again_after_a_lift(group, dpo):
    services.hold_lift(hold=place(group, dpo), by=dpo, reason="Done", now=NOW)
    assert place(group, dpo, reference="FOI-2").is_active


def test_the_held_cycle_stays_held_after_the_lift_and_the_next_one_asks_again(cycle, dpo, at):
    hold = place(cycle.group, dpo)
    services.hold_lift(hold=hold, by=dpo, reason="Done", now=NOW + dt.timedelta(hours=1))
    [later] = services.cycle_close_due(now=at(PERIOD_END + dt.timedelta(days=7, minutes=1))).cycles
    assert set(cycle.obligations.values_list("status", flat=True)) == {"held"}
    assert not later.is_held and set(later.obligations.values_list("status", flat=True)) == {"pending"}


@pytest.mark.parametrize("n", [3, 30])
def test_it_places_a_hold_in_a_constant_number_of_queries(django_assert_num_queries, dpo, at, n):
    group = ChatGroupFactory()
    for _ in range(n):
        MembershipFactory(group=group, joined_at=utc(2026, 10, 1))
    services.cycle_close_due(now=at(PERIOD_END + dt.timedelta(minutes=1)))
    services.flags_raise(now=DUE + dt.timedelta(minutes=1))
    with django_assert_num_queries(19 + lock_queries()):  # the closer's lock, on PostgreSQL
        place(group, dpo, now=DUE + dt.timedelta(hours=1))
    assert Obligation.objects.filter(status="held").count() == n + 1
    assert Cycle.objects.get().hold_id is not None
