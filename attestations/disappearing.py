"""WhatsApp's 7-day disappearing messages (docs/rules.md: R17).

The DPO may approve a group's "disappearing messages: 7 days" mode. Its chat is then
cleared by the phone; members declare only what the timer does not remove (starred
messages, media saved to the phone), and the admin confirms that the timer is on and
locked to admins every week, or at each review, as the DPO sets. Under an FOI or legal hold
the timer would delete what must be kept: the admin is told to turn it off at once and to
confirm it, and until they do the DPO sees an open flag (`services.hold_place`,
`services.flags_raise`).
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from groups import permissions as group_permissions
from groups.models import ChatGroup, TimerConfirmation
from opcc_portal.lib.history import save_with_history

from .models import Flag, Hold
from .services import flags_resolve

Mode = ChatGroup.ClearMode
Check = ChatGroup.TimerCheck
WEEK = dt.timedelta(days=7)


def runs_chat(user: AbstractBaseUser, group: ChatGroup) -> bool:
    """The admin or deputy: the people who can change the WhatsApp group's settings."""
    return user.is_authenticated and user.pk in (group.admin_id, group.deputy_id)


def last_confirmation(*, group: ChatGroup) -> TimerConfirmation | None:
    return group.timer_confirmations.select_related("confirmed_by").first()


def confirmation_due(*, group: ChatGroup, last: TimerConfirmation | None, now: dt.datetime) -> bool:
    """Whether the admin owes the weekly word that the timer is on: a group confirming at
    each review does it in the review's settings question instead."""
    if not group.uses_timer or group.timer_check != Check.WEEKLY:
        return False
    return last is None or last.confirmed_at <= now - WEEK


@transaction.atomic
def clear_mode_set(*, group: ChatGroup, by: AbstractBaseUser, mode: str, timer_check: str) -> ChatGroup:
    """The DPO approves (or withdraws) disappearing messages for a group, and says how often
    its admin confirms the timer."""
    if not group_permissions.is_dpo(by):
        raise PermissionDenied
    if mode not in Mode.values or timer_check not in Check.values:
        raise ValidationError("Choose a mode and how often the timer is confirmed.")
    group = ChatGroup.objects.select_for_update().get(pk=group.pk)
    if group.status == ChatGroup.Status.RETIRED:
        raise ValidationError("A retired group can no longer be changed.")
    if mode == Mode.DISAPPEARING and Hold.objects.standing().filter(group=group).exists():
        raise ValidationError(
            {"mode": f"{group.name} is on hold: the timer would delete what the hold keeps. Lift the hold first."}
        )
    if (group.clear_mode, group.timer_check) == (mode, timer_check):
        return group
    group.clear_mode = mode
    group.timer_check = timer_check
    label = Mode(mode).label
    if mode == Mode.DISAPPEARING:
        label += f"; the admin confirms the timer {Check(timer_check).label.lower()}"
    save_with_history(group, by=by, reason=f"Clear-down mode: {label}")
    return group


@transaction.atomic
def timer_confirm(*, group: ChatGroup, by: AbstractBaseUser, now: dt.datetime | None = None) -> TimerConfirmation:
    """The admin's (or deputy's) word that the timer is on, at 7 days, and locked to admins."""
    now = now or timezone.now()
    group = ChatGroup.objects.select_for_update().get(pk=group.pk)
    if not runs_chat(by, group):
        raise PermissionDenied
    if not group.uses_timer:
        raise ValidationError("This group is not approved for disappearing messages.")
    if Hold.objects.standing().filter(group=group).exists():
        raise ValidationError("This group is on hold: its timer must be OFF until the hold is lifted.")
    confirmation = TimerConfirmation(group=group, confirmed_by=by, confirmed_at=now)
    save_with_history(confirmation, by=by, reason="Timer on, 7 days, only admins can change settings")
    return confirmation


@transaction.atomic
def hold_timer_off_confirm(*, hold: Hold, by: AbstractBaseUser, now: dt.datetime | None = None) -> Hold:
    """The admin (or deputy) confirms they turned the group's timer OFF for the hold, which
    settles the DPO's open flag."""
    now = now or timezone.now()
    hold = Hold.objects.select_for_update(of=("self",)).select_related("group").get(pk=hold.pk)
    if not runs_chat(by, hold.group):
        raise PermissionDenied
    if not hold.timer_off_required:
        raise ValidationError("This group's chat has no timer to turn off.")
    if hold.lifted_at is not None:
        raise ValidationError("This hold has been lifted.")
    if hold.timer_off_at is not None:
        raise ValidationError("The timer was already confirmed off.")
    hold.timer_off_at = now
    hold.timer_off_by = by
    save_with_history(hold, by=by, reason="Disappearing messages turned off for the hold")
    flags_resolve(
        Flag.objects.filter(hold=hold, kind=Flag.Kind.TIMER_NOT_OFF), by=by, now=now, reason="Timer confirmed off"
    )
    return hold
