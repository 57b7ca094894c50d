"""Who may do what. Roles are auth groups with permissions; group admin is per group."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import ChatGroup, Membership

DPO_ROLE = "DPO"
AUDITOR_ROLE = "Auditor"


def is_dpo(user: AbstractBaseUser) -> bool:
    return user.is_authenticated and user.has_perm("groups.approve_chatgroup")


def is_auditor(user: AbstractBaseUser) -> bool:
    return user.is_authenticated and user.has_perm("groups.view_register_history") and not is_dpo(user)


def can_propose(user: AbstractBaseUser) -> bool:
    """Any member of staff may propose a group, except an auditor: a proposal adds to the
    register, which auditors read and do not change. (Running a group they are named admin
    of is a member's duty, and allowed: R12.)"""
    return user.is_authenticated and not is_auditor(user)


def can_manage_any(user: AbstractBaseUser) -> bool:
    return user.is_authenticated and user.has_perm("groups.manage_any_chatgroup")


def can_manage(user: AbstractBaseUser, group: ChatGroup) -> bool:
    """Admin, deputy or DPO may change a group's membership and details."""
    if not user.is_authenticated:
        return False
    return user.pk in (group.admin_id, group.deputy_id) or can_manage_any(user)


def can_assign_roles(user: AbstractBaseUser, group: ChatGroup) -> bool:
    """Only the admin or the DPO hands over the admin role and names the deputy.

    Never the deputy: a deputy who could name the admin could make themselves admin and
    then remove the admin from the group.
    """
    return user.is_authenticated and (user.pk == group.admin_id or can_manage_any(user))


def can_change_description(user: AbstractBaseUser, group: ChatGroup) -> bool:
    """A proposal's admin may reword its name and purpose; once the DPO has approved them, only the DPO.

    Otherwise an approved work group could quietly become something else.
    """
    if group.status == ChatGroup.Status.PROPOSED:
        return can_manage(user, group)
    return is_dpo(user)


def is_current_member(user: AbstractBaseUser, group: ChatGroup) -> bool:
    return user.is_authenticated and Membership.objects.active().filter(group=group, user_id=user.pk).exists()


def can_read_history(user: AbstractBaseUser, group: ChatGroup) -> bool:
    return user.is_authenticated and (
        user.has_perm("groups.view_register_history") or user.pk in (group.admin_id, group.deputy_id)
    )


def can_see_group(user: AbstractBaseUser, group: ChatGroup) -> bool:
    """Approved, suspended and retired groups are on the register for all staff to read.

    A proposal is visible only to its admin, its deputy, its members, the DPO and auditors
    until it is approved.
    """
    if group.status != ChatGroup.Status.PROPOSED:
        return True
    return can_read_history(user, group) or is_current_member(user, group)


def get_group_for_user(user: AbstractBaseUser, pk: int) -> ChatGroup:
    group = get_object_or_404(ChatGroup.objects.select_related("admin", "deputy"), pk=pk)
    if not can_see_group(user, group):
        # Outsiders are not told that an unapproved proposal exists.
        raise Http404("No such group.")
    return group


def get_group_for_manage(user: AbstractBaseUser, pk: int) -> ChatGroup:
    group = get_group_for_user(user, pk)
    if not can_manage(user, group):
        raise PermissionDenied
    return group


def get_group_for_roles(user: AbstractBaseUser, pk: int) -> ChatGroup:
    group = get_group_for_manage(user, pk)
    if not can_assign_roles(user, group):
        raise PermissionDenied
    return group


def get_group_for_history(user: AbstractBaseUser, pk: int) -> ChatGroup:
    # A proposal's history is as hidden as its page: a 403 would tell an outsider it exists.
    group = get_group_for_user(user, pk)
    if not can_read_history(user, group):
        raise PermissionDenied
    return group


def can_manage_staff(user: AbstractBaseUser) -> bool:
    """The staff list, accounts, roles and the staff import are the DPO's (R14)."""
    return is_dpo(user)
