"""Who may do what with clear-downs. Small getters that check the role and the object.

Outsiders are told nothing about a proposal (404, as for the register); someone who can
see a group but may not run it gets 403.

Each check is about the object and the person's relation to it, never a blanket "auditors
may not POST" (R12): a person's duties as a member, or as the admin of a group, do not
depend on their other roles. An auditor or the DPO in a group attests their own
clear-downs; an auditor who runs a group prompts and excuses in it. What auditors may not
change (other people's records, other groups, holds, the register) is refused here and in
the services because they have no relation to it, not because they are auditors.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from groups import permissions as group_permissions
from groups.models import ChatGroup

from .models import Cycle, Hold, Obligation
from .services import can_hold, can_prompt

__all__ = ["can_hold", "can_prompt", "can_see_people"]


def can_see_people(user: AbstractBaseUser, group: ChatGroup) -> bool:
    """Who has attested and who is outstanding: the group's admin and deputy, DPO, auditors."""
    return group_permissions.can_manage(user, group) or group_permissions.can_read_history(user, group)


def _check_sees(user: AbstractBaseUser, group: ChatGroup) -> None:
    if not group_permissions.can_see_group(user, group):
        raise Http404("No such group.")


def get_cycle_for_prompt(user: AbstractBaseUser, pk: int) -> Cycle:
    cycle = get_object_or_404(Cycle.objects.select_related("group"), pk=pk)
    _check_sees(user, cycle.group)
    if not can_prompt(user, cycle.group):
        raise PermissionDenied
    return cycle


def get_obligation_for_excuse(user: AbstractBaseUser, pk: int) -> Obligation:
    obligation = get_object_or_404(Obligation.objects.select_related("cycle__group", "user"), pk=pk)
    _check_sees(user, obligation.cycle.group)
    if not can_prompt(user, obligation.cycle.group):
        raise PermissionDenied
    return obligation


def get_group_for_hold(user: AbstractBaseUser, pk: int) -> ChatGroup:
    if not can_hold(user):
        raise PermissionDenied
    return group_permissions.get_group_for_user(user, pk)


def get_hold_for_lift(user: AbstractBaseUser, pk: int) -> Hold:
    if not can_hold(user):
        raise PermissionDenied
    return get_object_or_404(Hold.objects.select_related("group", "placed_by"), pk=pk)


def get_hold_for_record(user: AbstractBaseUser, pk: int) -> Hold:
    """A hold's record (who was told, who acknowledged): the DPO, auditors, and the group's
    admin and deputy. Others who can see the group get 403; the rest 404."""
    hold = get_object_or_404(Hold.objects.select_related("group"), pk=pk)
    _check_sees(user, hold.group)
    if not (can_hold(user) or can_see_people(user, hold.group)):
        raise PermissionDenied
    return hold


def get_hold_for_chat(user: AbstractBaseUser, pk: int) -> Hold:
    """Posting a hold's message in the chat: the group's admin or deputy, or the DPO."""
    hold = get_object_or_404(Hold.objects.select_related("group"), pk=pk)
    _check_sees(user, hold.group)
    if not can_prompt(user, hold.group):
        raise PermissionDenied
    return hold
