"""Joiners, movers and leavers (R14), and the DPO and Auditor roles. Writes, one transaction each.

Every way an account is closed comes through `user_deactivate`: the SCIM endpoint, the CSV
import and its command, the portal's staff page and the Django admin. It ends the person's
memberships, clears them as deputy and names the groups they ran as admin, then sends
`user_deactivated` inside the same transaction.

Why a signal: the register (`groups`) knows nothing of clear-downs, yet a leaver's open
clear-downs and flags must close in the same transaction as their memberships. So the
register announces the leaver through this one documented hook, and the clear-downs'
core (`attestations.leavers`, connected in `AttestationsConfig.ready`) answers it by
calling its own service. The receiver is a thin caller, not business logic, and it runs
synchronously: if it fails, the whole deactivation rolls back and nothing is half done.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.models import Group as Role
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone

from opcc_portal.lib.history import bulk_history, save_with_history
from opcc_portal.lib.locking import Lock, lock
from opcc_portal.lib.text import display_name

from . import permissions
from .models import ChatGroup, Membership, RoleChange, StaffProfile
from .validators import clean_text

User = get_user_model()

# Sent by `user_deactivate` after the register's own work, inside its transaction, with
# `user`, `by` (None for the directory or a command), `reason`, `now` and
# `groups_without_admin` (the groups, not retired, whose admin has just left).
user_deactivated = Signal()

ROLES = {"dpo": permissions.DPO_ROLE, "auditor": permissions.AUDITOR_ROLE}
LAST_DPO = (
    "{name} is the portal's only DPO. Give the DPO role to someone else first: "
    "without a DPO nobody can approve groups or deal with holds."
)


def _reason(reason: str) -> str:
    reason = clean_text(reason)
    if not reason:
        raise ValidationError({"reason": "Give a reason: it is kept in the account's history."})
    if len(reason) > 1000:
        raise ValidationError({"reason": "The reason is too long (1000 characters at most)."})
    return reason


def _check_not_last_dpo(user: AbstractBaseUser) -> None:
    """Under Lock.ROLES: refuse if `user` is the last active holder of the DPO role."""
    holders = User.objects.filter(groups__name=permissions.DPO_ROLE, is_active=True)
    if holders.filter(pk=user.pk).exists() and not holders.exclude(pk=user.pk).exists():
        raise ValidationError(LAST_DPO.format(name=display_name(user)))


def profile_for(user: AbstractBaseUser) -> StaffProfile:
    """The person's profile, locked, made if they have none yet."""
    StaffProfile.objects.get_or_create(user=user)
    return StaffProfile.objects.select_for_update().get(user=user)


# --- Leavers -------------------------------------------------------------------------------


@dataclass
class Deactivation:
    user: AbstractBaseUser
    memberships_ended: int = 0
    deputy_of: list[ChatGroup] = field(default_factory=list)
    groups_without_admin: list[ChatGroup] = field(default_factory=list)


@transaction.atomic
def user_deactivate(
    *, user: AbstractBaseUser, by: AbstractBaseUser | None, reason: str, now: dt.datetime | None = None
) -> Deactivation:
    """Close an account because the person left (R14), in one transaction.

    The account can no longer sign in (its sessions stop working at their next request);
    every active membership ends now; they stop being deputy anywhere; the groups they ran
    as admin keep them as admin until the DPO names a new one (the DPO is emailed, and until
    then the deputy or the DPO receives what the admin would). Then `user_deactivated`
    closes their open clear-downs and flags. `by` is None for the directory or a command.
    """
    reason = _reason(reason)
    now = now or timezone.now()
    lock(Lock.ROLES)
    user = User.objects.select_for_update().get(pk=user.pk)
    if by is not None and by.pk == user.pk:
        raise ValidationError("You cannot close your own account. Ask another DPO, or IT.")
    if not user.is_active:
        raise ValidationError(f"{display_name(user)}'s account is already closed.")
    _check_not_last_dpo(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    profile = profile_for(user)
    profile.deactivated_at, profile.deactivated_by, profile.deactivation_reason = now, by, reason
    save_with_history(profile, by=by, reason=f"Account closed: {reason}")

    result = Deactivation(user=user)
    memberships = list(Membership.objects.active().filter(user=user).select_for_update().order_by("pk"))
    for membership in memberships:
        membership.left_at = max(now, membership.joined_at)
        membership.removed_by = by
    Membership.objects.bulk_update(memberships, ["left_at", "removed_by"])
    bulk_history(Membership, memberships, by=by, reason="Left the organisation", update=True)
    result.memberships_ended = len(memberships)
    for group in ChatGroup.objects.select_for_update().filter(deputy=user).order_by("pk"):
        group.deputy = None
        save_with_history(group, by=by, reason="Deputy left the organisation")
        result.deputy_of.append(group)
    result.groups_without_admin = list(
        ChatGroup.objects.filter(admin=user).exclude(status=ChatGroup.Status.RETIRED).order_by("pk")
    )
    user_deactivated.send(
        sender=Deactivation,
        user=user,
        by=by,
        reason=reason,
        now=now,
        groups_without_admin=result.groups_without_admin,
    )
    return result


@transaction.atomic
def user_reactivate(*, user: AbstractBaseUser, by: AbstractBaseUser | None, reason: str) -> AbstractBaseUser:
    """Open a closed account again (a rehire). Their memberships are not given back: the
    group's admin adds them to the groups they work in now."""
    reason = _reason(reason)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active:
        raise ValidationError(f"{display_name(user)}'s account is already open.")
    user.is_active = True
    user.save(update_fields=["is_active"])
    profile = profile_for(user)
    profile.deactivated_at, profile.deactivated_by, profile.deactivation_reason = None, None, ""
    save_with_history(profile, by=by, reason=f"Account opened again: {reason}")
    return user


# --- Roles ---------------------------------------------------------------------------------


def _role(role: str) -> Role:
    if role not in ROLES:
        raise ValidationError({"role": "Choose the DPO or the Auditor role."})
    return Role.objects.get(name=ROLES[role])


def _role_change_begin(*, user, role: str, by, reason: str) -> tuple[AbstractBaseUser, Role, str]:
    """What giving and removing a role check first, under Lock.ROLES: the person, locked."""
    if not permissions.is_dpo(by):
        raise PermissionDenied
    group = _role(role)
    reason = _reason(reason)
    lock(Lock.ROLES)
    user = User.objects.select_for_update().get(pk=user.pk)
    return user, group, reason


def _role_change_record(*, user, group: Role, action: str, by, reason: str) -> RoleChange:
    return RoleChange.objects.create(user=user, role=group.name, action=action, by=by, at=timezone.now(), reason=reason)


@transaction.atomic
def role_grant(*, user: AbstractBaseUser, role: str, by: AbstractBaseUser, reason: str) -> RoleChange:
    """Give someone the DPO or Auditor role. The DPO only, with a reason."""
    user, group, reason = _role_change_begin(user=user, role=role, by=by, reason=reason)
    if not user.is_active:
        raise ValidationError({"user": f"{display_name(user)}'s account is closed: it cannot be given a role."})
    if user.groups.filter(pk=group.pk).exists():
        raise ValidationError({"user": f"{display_name(user)} already has the {group.name} role."})
    user.groups.add(group)
    return _role_change_record(user=user, group=group, action=RoleChange.Action.GRANTED, by=by, reason=reason)


@transaction.atomic
def role_remove(*, user: AbstractBaseUser, role: str, by: AbstractBaseUser, reason: str) -> RoleChange:
    """Take the DPO or Auditor role from someone. The DPO only, with a reason; the last DPO
    keeps it (two DPOs removing each other at once are decided one after the other)."""
    user, group, reason = _role_change_begin(user=user, role=role, by=by, reason=reason)
    if not user.groups.filter(pk=group.pk).exists():
        raise ValidationError({"user": f"{display_name(user)} does not have the {group.name} role."})
    if group.name == permissions.DPO_ROLE:
        _check_not_last_dpo(user)
    user.groups.remove(group)
    return _role_change_record(user=user, group=group, action=RoleChange.Action.REMOVED, by=by, reason=reason)


def roles_apply_from_provider(*, user: AbstractBaseUser, wanted: dict[str, bool], reason: str) -> tuple[list, list]:
    """Give and remove the roles the identity provider decides at sign-in (`wanted`: role
    name -> held), inside the sign-in's transaction, with a role change recorded for each
    (by nobody: the provider). The last active DPO keeps the role even if the provider's
    claim drops it, as on the roles page: the portal must always have a DPO. Returns the
    role names given and removed."""
    lock(Lock.ROLES)
    held = set(user.groups.filter(name__in=wanted).values_list("name", flat=True))
    granted = sorted(role for role, on in wanted.items() if on and role not in held)
    removed = []
    for role in sorted(role for role, on in wanted.items() if not on and role in held):
        if role == permissions.DPO_ROLE:
            try:
                _check_not_last_dpo(user)
            except ValidationError:
                continue
        removed.append(role)
    for names, action, change in (
        (granted, RoleChange.Action.GRANTED, user.groups.add),
        (removed, RoleChange.Action.REMOVED, user.groups.remove),
    ):
        roles = list(Role.objects.filter(name__in=names))
        if roles:
            change(*roles)
            for group in roles:
                _role_change_record(user=user, group=group, action=action, by=None, reason=reason)
    return granted, removed


# --- Joiners and movers -----------------------------------------------------------------------


@dataclass
class StaffDetails:
    """One person as the directory or the staff list describes them."""

    username: str
    email: str
    first_name: str = ""
    last_name: str = ""
    staff_number: str | None = None
    external_id: str | None = None


def staff_details_clean(details: StaffDetails) -> StaffDetails:
    """Tidy and check one person's details; ValidationError names the field at fault."""
    username = clean_text(details.username, one_line=True)
    if not username:
        raise ValidationError({"username": "Give a user name (the directory's sign-in name)."})
    if len(username) > 150:
        raise ValidationError({"username": "The user name is too long (150 characters at most)."})
    email = clean_text(details.email, one_line=True).lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": f"“{email}” is not an email address."}) from None
    first, last = clean_text(details.first_name, one_line=True), clean_text(details.last_name, one_line=True)
    if len(first) > 150 or len(last) > 150:
        raise ValidationError({"name": "The name is too long (150 characters at most for each part)."})
    number = clean_text(details.staff_number or "", one_line=True) or None
    if number and len(number) > 50:
        raise ValidationError({"staff_number": "The staff number is too long (50 characters at most)."})
    external = clean_text(details.external_id or "", one_line=True) or None
    if external and len(external) > 255:
        raise ValidationError({"external_id": "The directory id is too long (255 characters at most)."})
    return StaffDetails(username, email, first, last, number, external)


@transaction.atomic
def staff_save(
    *, details: StaffDetails, user: AbstractBaseUser | None = None, by: AbstractBaseUser | None, reason: str
) -> AbstractBaseUser:
    """Create a staff account (`user` None) or update one from the directory or staff list.

    A new account has no password: the person signs in through the office's sign-in, or
    sets a password with "Forgotten your password?". Opening or closing an account is not
    done here (`user_deactivate`, `user_reactivate`).
    """
    details = staff_details_clean(details)
    clash = User.objects.filter(username__iexact=details.username)
    if user is not None:
        clash = clash.exclude(pk=user.pk)
    if clash.exists():
        raise ValidationError({"username": f"Another account already has the user name “{details.username}”."})
    for name, value in (("staff_number", details.staff_number), ("external_id", details.external_id)):
        taken = StaffProfile.objects.filter(**{name: value}) if value else StaffProfile.objects.none()
        if user is not None:
            taken = taken.exclude(user=user)
        if taken.exists():
            label = "staff number" if name == "staff_number" else "directory id"
            raise ValidationError({name: f"Another account already has the {label} “{value}”."})
    if user is None:
        user = User(username=details.username)
        user.set_unusable_password()
    else:
        user = User.objects.select_for_update().get(pk=user.pk)
    user.username, user.email = details.username, details.email
    user.first_name, user.last_name = details.first_name, details.last_name
    try:
        with transaction.atomic():
            user.save()
            profile = profile_for(user)
            profile.staff_number, profile.external_id = details.staff_number, details.external_id
            save_with_history(profile, by=by, reason=reason)
    except IntegrityError as exc:
        # Two imports or directory calls at once: the unique constraints decide.
        raise ValidationError("Another change to the same person was saved at the same moment. Try again.") from exc
    return user
