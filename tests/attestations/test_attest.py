"""Attesting: one's own, complete, immutable, late when late, refused with a reason (R6)."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from attestations import services
from attestations.models import Flag, Obligation
from tests.attestations.conftest import DUE, PERIOD_END, utc
from tests.factories import (
    ChatGroupFactory,
    CycleFactory,
    FlagFactory,
    HoldFactory,
    MembershipFactory,
    ObligationFactory,
)

pytestmark = pytest.mark.django_db

Status = Obligation.Status
SATURDAY = dt.date(2026, 11, 14)
NOW = utc(2026, 11, 14, 10)


def attest(obligations, user, **kwargs):
    options = {
        "cleared_on": SATURDAY,
        "confirmed_cleared": True,
        "confirmed_saved": True,
        "channel": Obligation.Channel.WEB,
        "now": NOW,
    }
    return services.obligation_attest(obligations=obligations, user=user, **{**options, **kwargs})


def test_it_records_an_attestation_before_the_deadline(obligation, member):
    result = attest([obligation], member)
    obligation.refresh_from_db()
    assert result.recorded == [obligation] and result.already_done == []
    assert obligation.status == Status.ATTESTED
    assert (obligation.attested_at, obligation.cleared_on, obligation.channel) == (NOW, SATURDAY, "web")
    assert obligation.confirmed_cleared and obligation.confirmed_saved


def test_it_records_who_attested_in_history(obligation, member):
    attest([obligation], member)
    record = obligation.history.latest()
    assert record.history_user == member and record.status == Status.ATTESTED
    assert record.history_change_reason == "Attested (web form)"


def test_it_attests_several_groups_at_once(cycle, member, admin_user, at):
    other = ChatGroupFactory(name="Comms On-Call")
    MembershipFactory(group=other, user=member, joined_at=utc(2026, 10, 1))
    services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=10))
    mine = list(Obligation.objects.filter(user=member))
    assert len(mine) == 2
    result = attest(mine, member)
    assert len(result.recorded) == 2
    assert set(Obligation.objects.filter(user=member).values_list("status", flat=True)) == {Status.ATTESTED}
    assert Obligation.objects.get(user=admin_user).status == Status.PENDING


def test_it_marks_an_attestation_after_the_deadline_late(obligation, member):
    result = attest([obligation], member, now=DUE + dt.timedelta(seconds=1))
    obligation.refresh_from_db()
    assert obligation.status == Status.LATE and result.late == [obligation]


def test_it_accepts_an_attestation_at_the_deadline_itself_as_on_time(obligation, member):
    attest([obligation], member, now=DUE)
    obligation.refresh_from_db()
    assert obligation.status == Status.ATTESTED


def test_it_resolves_the_overdue_flag_when_a_late_attestation_arrives(obligation, member):
    late = DUE + dt.timedelta(hours=5)
    services.flags_raise(now=late - dt.timedelta(hours=1))
    flag = Flag.objects.get(user=member, kind=Flag.Kind.MEMBER_OVERDUE)
    attest([obligation], member, now=late)
    flag.refresh_from_db()
    assert flag.resolved_at == late
    assert flag.history.latest().history_user == member


def test_a_second_submit_changes_nothing_and_says_so(obligation, member):
    attest([obligation], member)
    before = obligation.history.count()
    again = attest([obligation], member, cleared_on=dt.date(2026, 11, 13), now=NOW + dt.timedelta(hours=1))
    obligation.refresh_from_db()
    assert again.recorded == [] and [o.pk for o in again.already_done] == [obligation.pk]
    assert (obligation.attested_at, obligation.cleared_on) == (NOW, SATURDAY)
    assert obligation.history.count() == before


def test_a_second_submit_with_a_new_group_records_only_the_new_one(cycle, member):
    other = ChatGroupFactory()
    MembershipFactory(group=other, user=member, joined_at=utc(2026, 10, 1))
    services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=10))
    first, second = Obligation.objects.filter(user=member).order_by("pk")
    attest([first], member)
    result = attest([first, second], member)
    assert [o.pk for o in result.recorded] == [second.pk]
    assert [o.pk for o in result.already_done] == [first.pk]


def test_it_refuses_another_persons_obligation_and_records_nothing(cycle, member, admin_user):
    theirs = cycle.obligations.get(user=admin_user)
    mine = cycle.obligations.get(user=member)
    with pytest.raises(PermissionDenied):
        attest([mine, theirs], member)
    assert set(cycle.obligations.values_list("status", flat=True)) == {Status.PENDING}


def test_it_refuses_an_obligation_that_does_not_exist(member, db):
    with pytest.raises(PermissionDenied):
        attest([123456], member)


def test_it_refuses_a_held_obligation(obligation, member):
    Obligation.objects.filter(pk=obligation.pk).update(status=Status.HELD)
    with pytest.raises(ValidationError, match="on hold: do NOT clear"):
        attest([obligation], member)
    obligation.refresh_from_db()
    assert obligation.status == Status.HELD and obligation.attested_at is None


def test_it_refuses_an_open_obligation_of_a_group_under_a_hold(obligation, member, dpo):
    # A cycle that closed just after a hold was placed (before the close took the hold's
    # lock into account) left its obligations pending: the group's hold still decides.
    HoldFactory(group=obligation.cycle.group, placed_by=dpo, reference="FOI-2026-0042")
    before = Obligation.history.count()
    with pytest.raises(ValidationError, match="Urgent Ops is on hold: do NOT clear this chat"):
        attest([obligation], member)
    obligation.refresh_from_db()
    assert obligation.status == Status.PENDING and obligation.attested_at is None
    assert Obligation.history.count() == before


def test_it_attests_again_once_the_hold_is_lifted(obligation, member, dpo):
    HoldFactory(
        group=obligation.cycle.group,
        placed_by=dpo,
        placed_at=utc(2026, 11, 13),
        lifted_at=utc(2026, 11, 14),
        lifted_by=dpo,
    )
    assert attest([obligation], member).recorded == [obligation]


def test_it_refuses_an_excused_obligation(obligation, member, admin_user):
    services.obligation_excuse(obligation=obligation, by=admin_user, reason="Annual leave", now=NOW)
    with pytest.raises(ValidationError, match="excused"):
        attest([obligation], member)
    obligation.refresh_from_db()
    assert obligation.status == Status.EXCUSED


def test_it_refuses_a_date_in_the_future(obligation, member):
    with pytest.raises(ValidationError, match="cannot be in the future"):
        attest([obligation], member, cleared_on=SATURDAY + dt.timedelta(days=1))
    obligation.refresh_from_db()
    assert obligation.status == Status.PENDING


def test_it_judges_today_in_uk_time(member):
    summer = CycleFactory(period_end=utc(2026, 6, 12, 16), due_at=utc(2026, 6, 14, 16))
    obligation = ObligationFactory(cycle=summer, user=member)
    # 23:30 UTC on 14 June is already 00:30 on the 15th in London.
    result = attest([obligation], member, cleared_on=dt.date(2026, 6, 15), now=utc(2026, 6, 14, 23, 30))
    assert result.recorded and result.late


def test_it_refuses_a_date_before_the_period_ended(obligation, member):
    with pytest.raises(ValidationError, match="ended on Friday 13 November 2026"):
        attest([obligation], member, cleared_on=dt.date(2026, 11, 12))
    obligation.refresh_from_db()
    assert obligation.status == Status.PENDING


def test_it_accepts_the_day_the_period_ended(obligation, member):
    assert attest([obligation], member, cleared_on=dt.date(2026, 11, 13)).recorded


@pytest.mark.parametrize("cleared, saved", [(False, True), (True, False), (False, False)])
def test_it_refuses_without_both_confirmations(obligation, member, cleared, saved):
    with pytest.raises(ValidationError, match="both confirmations"):
        attest([obligation], member, confirmed_cleared=cleared, confirmed_saved=saved)
    obligation.refresh_from_db()
    assert obligation.status == Status.PENDING


def test_it_refuses_an_empty_selection(member, db):
    with pytest.raises(ValidationError, match="Tick at least one"):
        attest([], member)


def test_it_refuses_an_unknown_channel(obligation, member):
    with pytest.raises(ValidationError, match="Unknown channel"):
        attest([obligation], member, channel="sms")


def test_it_records_nothing_when_one_of_several_is_refused(cycle, member, dpo):
    other = ChatGroupFactory()
    MembershipFactory(group=other, user=member, joined_at=utc(2026, 10, 1))
    services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=10))
    HoldFactory(group=other, placed_by=dpo)
    held = Obligation.objects.get(user=member, cycle__group=other)
    Obligation.objects.filter(pk=held.pk).update(status=Status.HELD)
    with pytest.raises(ValidationError):
        attest(list(Obligation.objects.filter(user=member)), member)
    assert not Obligation.objects.filter(user=member, status=Status.ATTESTED).exists()


def test_it_records_the_email_channel(obligation, member):
    attest([obligation], member, channel=Obligation.Channel.EMAIL)
    obligation.refresh_from_db()
    assert obligation.channel == "email"


def test_the_database_refuses_an_incomplete_attestation(obligation):
    with pytest.raises(IntegrityError), transaction.atomic():
        Obligation.objects.filter(pk=obligation.pk).update(status=Status.ATTESTED, attested_at=NOW)


def test_the_database_refuses_an_on_time_status_after_the_deadline(obligation):
    with pytest.raises(IntegrityError), transaction.atomic():
        Obligation.objects.filter(pk=obligation.pk).update(
            status=Status.ATTESTED,
            attested_at=DUE + dt.timedelta(hours=1),
            cleared_on=SATURDAY,
            confirmed_cleared=True,
            confirmed_saved=True,
            channel="web",
        )


def test_the_database_refuses_an_excuse_without_a_reason(obligation, admin_user):
    with pytest.raises(IntegrityError), transaction.atomic():
        Obligation.objects.filter(pk=obligation.pk).update(status=Status.EXCUSED, excused_by=admin_user, excused_at=NOW)


def test_the_database_refuses_a_second_flag_of_a_kind(obligation, member):
    FlagFactory(cycle=obligation.cycle, user=member)
    with pytest.raises(IntegrityError), transaction.atomic():
        FlagFactory(cycle=obligation.cycle, user=member)
