"""WhatsApp's 7-day disappearing messages (R17): the DPO's approval, the admin's weekly word
that the timer is on, the members' shorter declaration, and the hold's "turn the timer off"
duty, open as a flag until the admin confirms it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from attestations import disappearing, hold_notices, services
from attestations.forms import declaration_text
from attestations.models import Flag, Hold, Obligation, SentEmail
from attestations.notifications import emails, sweep
from groups.models import ChatGroup, TimerConfirmation
from tests.attestations.conftest import BASE, PERIOD_END
from tests.factories import ChatGroupFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

Mode = ChatGroup.ClearMode


@pytest.fixture
def timer_group(group, dpo):
    return disappearing.clear_mode_set(group=group, by=dpo, mode=Mode.DISAPPEARING, timer_check="weekly")


def test_groups_default_to_manual_and_only_the_dpo_approves_the_timer(group, admin_user, dpo):
    assert group.clear_mode == Mode.MANUAL and not group.uses_timer
    with pytest.raises(PermissionDenied):
        disappearing.clear_mode_set(group=group, by=admin_user, mode=Mode.DISAPPEARING, timer_check="weekly")
    group = disappearing.clear_mode_set(group=group, by=dpo, mode=Mode.DISAPPEARING, timer_check="review")
    assert group.uses_timer and group.timer_check == "review"
    record = group.history.first()
    assert record.history_user == dpo and "Disappearing messages: 7 days" in record.history_change_reason


def test_a_group_on_hold_cannot_switch_to_the_timer(group, dpo):
    hold_notices.hold_place(group=group, by=dpo, reference="FOI-9", reason="Request", queue=False)
    with pytest.raises(ValidationError, match="Lift the hold first"):
        disappearing.clear_mode_set(group=group, by=dpo, mode=Mode.DISAPPEARING, timer_check="weekly")


def test_the_admin_confirms_the_timer_each_week(timer_group, admin_user, member, at):
    assert disappearing.confirmation_due(group=timer_group, last=None, now=BASE)
    with pytest.raises(PermissionDenied):
        disappearing.timer_confirm(group=timer_group, by=member)
    disappearing.timer_confirm(group=timer_group, by=admin_user)
    last = disappearing.last_confirmation(group=timer_group)
    assert last.confirmed_by == admin_user and last.confirmed_at == BASE
    assert not disappearing.confirmation_due(group=timer_group, last=last, now=BASE + dt.timedelta(days=6))
    assert disappearing.confirmation_due(group=timer_group, last=last, now=BASE + dt.timedelta(days=7))
    # Confirmed at each review instead: no weekly duty.
    timer_group.timer_check = "review"
    assert not disappearing.confirmation_due(group=timer_group, last=None, now=BASE)


def test_members_of_a_timer_group_make_the_shorter_declaration(timer_group, member, at):
    manual = ChatGroupFactory(name="Estates")
    MembershipFactory(group=manual, user=member, joined_at=BASE - dt.timedelta(days=30))
    at(PERIOD_END + dt.timedelta(minutes=5))
    services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=5))
    mine = list(Obligation.objects.filter(user=member).select_related("cycle__group").order_by("cycle__group__name"))
    estates, urgent = mine
    short = declaration_text([urgent])
    assert "starred messages" in short and "saved on my phone" in short and "cleared all" not in short
    assert declaration_text([estates]).endswith("then cleared all its messages.")
    both = declaration_text(mine)
    assert "then cleared all its messages." in both and "For Urgent Ops (disappearing messages):" in both


def test_a_hold_on_a_timer_group_raises_the_turn_it_off_duty_until_the_admin_confirms(
    timer_group, admin_user, member, dpo, at
):
    hold = hold_notices.hold_place(group=timer_group, by=dpo, reference="FOI-7", reason="Request", queue=False)
    assert hold.timer_off_required
    flag = Flag.objects.get(kind=Flag.Kind.TIMER_NOT_OFF)
    assert (flag.hold, flag.user, flag.group_id, flag.resolved_at) == (hold, admin_user, timer_group.pk, None)
    assert services.flags_raise(now=BASE + dt.timedelta(minutes=15)).raised == []  # once
    assert "Disappearing messages are being turned OFF" in hold_notices.hold_chat_text(hold=hold)
    with pytest.raises(ValidationError, match="on hold"):
        disappearing.timer_confirm(group=timer_group, by=admin_user)  # no "timer on" under a hold
    with pytest.raises(PermissionDenied):
        disappearing.hold_timer_off_confirm(hold=hold, by=member)
    done = at(BASE + dt.timedelta(hours=1))
    disappearing.hold_timer_off_confirm(hold=hold, by=admin_user)
    hold.refresh_from_db()
    assert hold.timer_off_at == done and hold.timer_off_by == admin_user
    flag.refresh_from_db()
    assert flag.resolved_at == done
    with pytest.raises(ValidationError, match="already"):
        disappearing.hold_timer_off_confirm(hold=hold, by=admin_user)
    # Confirmed off, the hold raises no new duty at the sweeps that follow.
    assert services.flags_raise(now=done + dt.timedelta(minutes=15)).raised == []
    assert list(Flag.objects.values_list("resolved_at", flat=True)) == [done]


def test_a_hold_on_a_manual_group_raises_no_timer_duty(group, dpo):
    hold = hold_notices.hold_place(group=group, by=dpo, reference="FOI-8", reason="Request", queue=False)
    assert not hold.timer_off_required and not Flag.objects.exists()


def test_lifting_the_hold_settles_an_unconfirmed_timer_flag(timer_group, dpo, at):
    hold = hold_notices.hold_place(group=timer_group, by=dpo, reference="FOI-7", reason="Request", queue=False)
    at(BASE + dt.timedelta(days=1))
    hold_notices.hold_lift(hold=hold, by=dpo, reason="Closed", queue=False)
    assert services.flags_resolve_settled(now=BASE + dt.timedelta(days=1)) == 1
    assert not Flag.objects.filter(resolved_at__isnull=True).exists()
    assert Hold.objects.get().timer_off_at is None


def test_the_confirmations_are_kept_in_history(timer_group, admin_user):
    disappearing.timer_confirm(group=timer_group, by=admin_user)
    assert TimerConfirmation.history.get().history_user == admin_user


def test_each_held_timer_group_s_admin_is_told_of_their_own_hold(timer_group, admin_user, dpo):
    """Two holds' "turn the timer off" flags in one sweep are two digests, each to the admin
    of its own group about its own hold: a timer flag has no cycle and no review, so neither
    can be what tells their digests apart."""
    other_admin = UserFactory(username="otheradmin", email="other.admin@example.org")
    other = disappearing.clear_mode_set(
        group=ChatGroupFactory(name="Night Shift", admin=other_admin),
        by=dpo,
        mode=Mode.DISAPPEARING,
        timer_check="weekly",
    )
    holds = {
        group.pk: hold_notices.hold_place(group=group, by=dpo, reference=ref, reason="Request", queue=False)
        for group, ref in ((timer_group, "FOI-7"), (other, "FOI-8"))
    }
    assert Flag.objects.filter(kind=Flag.Kind.TIMER_NOT_OFF).count() == 2
    sweep.admin_digests_queue(now=BASE + dt.timedelta(minutes=15), queue=False)
    digests = SentEmail.objects.filter(kind=SentEmail.Kind.ADMIN_DIGEST).order_by("user__username")
    assert [(e.user, e.group_id, [f.hold_id for f in e.flags.all()]) for e in digests] == [
        (admin_user, timer_group.pk, [holds[timer_group.pk].pk]),
        (other_admin, other.pk, [holds[other.pk].pk]),
    ]
    for email in digests:
        message, _ = emails.build_flags_email(email, to=email.to_address, now=BASE)
        assert holds[email.group_id].reference in message.body
