"""Writes to the register. Each service is one transaction and checks its own rules.

Services raise `ValidationError` for a rule of the policy (shown to the user beside the
form) and `PermissionDenied` for a role that may not act. History rows (R11) record the
acting user and the reason through django-simple-history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from opcc_portal.lib.history import bulk_history, save_with_history
from opcc_portal.lib.locking import Lock, lock
from opcc_portal.lib.text import display_name

from . import permissions, policy
from .models import ChatGroup, GroupReview, Membership
from .validators import clean_text, logo_clean

Status = ChatGroup.Status

# Which status each DPO action moves a group from, and to.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "approve": (frozenset({Status.PROPOSED}), Status.APPROVED),
    "suspend": (frozenset({Status.APPROVED}), Status.SUSPENDED),
    "reinstate": (frozenset({Status.SUSPENDED}), Status.APPROVED),
    "retire": (frozenset({Status.PROPOSED, Status.APPROVED, Status.SUSPENDED}), Status.RETIRED),
}


NAME_TAKEN = "A group with this name is already on the register."


def _clean_name(name: str) -> str:
    name = clean_text(name, one_line=True)
    if not name:
        raise ValidationError({"name": "Give the group a name."})
    if len(name) > ChatGroup._meta.get_field("name").max_length:
        raise ValidationError({"name": "The name is too long (100 characters at most)."})
    return name


def _clean_purpose(purpose: str) -> str:
    purpose = clean_text(purpose)
    if not purpose:
        raise ValidationError({"purpose": "Say what business purpose the group serves."})
    if len(purpose) > ChatGroup._meta.get_field("purpose").max_length:
        raise ValidationError({"purpose": "The purpose is too long (2000 characters at most)."})
    return purpose


def _check_name_free(name: str, *, exclude_pk: int | None = None) -> None:
    clash = ChatGroup.objects.filter(name__iexact=name)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"name": NAME_TAKEN})


@transaction.atomic
def chatgroup_propose(
    *,
    name: str,
    purpose: str,
    by: AbstractBaseUser,
    logo=None,
    cycle_weekday: int = ChatGroup.Weekday.FRIDAY,
    cycle_time=None,
) -> ChatGroup:
    """Any member of staff but an auditor may propose a work group; they become its admin and first member."""
    if not permissions.can_propose(by):
        raise PermissionDenied
    name = _clean_name(name)
    purpose = _clean_purpose(purpose)
    _check_name_free(name)
    group = ChatGroup(
        name=name,
        purpose=purpose,
        admin=by,
        proposed_by=by,
        status=Status.PROPOSED,
        cycle_weekday=cycle_weekday,
    )
    if cycle_time is not None:
        group.cycle_time = cycle_time
    if logo:
        cleaned = logo_clean(logo)
        group.logo.save(cleaned.name, cleaned, save=False)
    try:
        with transaction.atomic():
            save_with_history(group, by=by, reason="Proposed")
    except IntegrityError as exc:
        # Two proposals with the same name at once: the database constraint decides.
        raise ValidationError({"name": NAME_TAKEN}) from exc
    membership = Membership(group=group, user=by, joined_at=timezone.now(), added_by=by)
    save_with_history(membership, by=by, reason="Proposer joins as admin")
    return group


@transaction.atomic
def chatgroup_update(
    *,
    group: ChatGroup,
    by: AbstractBaseUser,
    name: str,
    purpose: str,
    cycle_weekday: int,
    cycle_time,
    logo=None,
    remove_logo: bool = False,
) -> ChatGroup:
    """Change a group's details. Admin, deputy or DPO.

    Once the DPO has approved a group, its name and purpose are the DPO's to change: the
    admin and deputy may still change its logo and clear-down day and time.
    """
    group = ChatGroup.objects.select_for_update().get(pk=group.pk)
    if not permissions.can_manage(by, group):
        raise PermissionDenied
    if group.status == Status.RETIRED:
        raise ValidationError("A retired group can no longer be changed.")
    name = _clean_name(name)
    purpose = _clean_purpose(purpose)
    if not permissions.can_change_description(by, group):
        locked = {
            field: f"Only the DPO can change the {field} of an approved group. Ask the DPO."
            for field, new, old in (("name", name, group.name), ("purpose", purpose, group.purpose))
            if new != old
        }
        if locked:
            raise ValidationError(locked)
    group.name = name
    group.purpose = purpose
    _check_name_free(group.name, exclude_pk=group.pk)
    group.cycle_weekday = cycle_weekday
    group.cycle_time = cycle_time
    old_logo = group.logo.name
    if logo:
        cleaned = logo_clean(logo)
        group.logo.save(cleaned.name, cleaned, save=False)
    elif remove_logo:
        group.logo = ""
    try:
        with transaction.atomic():
            save_with_history(group, by=by, reason="Details changed")
    except IntegrityError as exc:
        # Two renames to the same name at once: the database constraint decides.
        raise ValidationError({"name": NAME_TAKEN}) from exc
    if old_logo and old_logo != group.logo.name:
        # Only once the change is committed: a rolled-back change still shows the old logo.
        storage = group.logo.storage
        transaction.on_commit(lambda: storage.delete(old_logo))
    return group


@transaction.atomic
def chatgroup_transition(*, group: ChatGroup, action: str, by: AbstractBaseUser, reason: str) -> ChatGroup:
    """Approve, suspend, reinstate or retire a group (R2, R3). DPO only, with a reason."""
    if not permissions.is_dpo(by):
        raise PermissionDenied
    if action not in TRANSITIONS:
        raise ValidationError(f"Unknown action “{action}”.")
    reason = clean_text(reason)
    if not reason:
        raise ValidationError({"reason": "Give a reason: it is kept in the group's history."})
    sources, target = TRANSITIONS[action]
    now = timezone.now()
    if target == Status.APPROVED:
        lock(Lock.APPROVED_GROUPS_CAP)
    group = ChatGroup.objects.select_for_update().get(pk=group.pk)
    if group.status not in sources:
        raise ValidationError(f"A {group.get_status_display().lower()} group cannot be {PAST_TENSE[action]}.")
    if target == Status.APPROVED:
        approved = ChatGroup.objects.approved().count()
        cap = settings.MAX_APPROVED_GROUPS
        if approved >= cap:
            raise ValidationError(
                f"The register already has {approved} approved groups, the limit set by policy "
                f"({cap}). Retire or suspend a group before approving another."
            )
        if action == "approve":
            group.approved_by = by
            group.approved_at = now
    group.status = target
    group.status_reason = reason
    group.status_changed_at = now
    save_with_history(group, by=by, reason=f"{action.capitalize()}: {reason}")
    # An approved group is reviewed periodically (R16); a reinstated one keeps its open review.
    open_review = GroupReview.objects.filter(group=group).exclude(status=GroupReview.Status.SIGNED_OFF)
    if target == Status.APPROVED and not open_review.exists():
        review_schedule(group=group, after=now, by=by)
    if target == Status.RETIRED:
        _memberships_end(group=group, by=by, now=now)
    return group


def review_interval(group: ChatGroup) -> int:
    """Months between the group's reviews: the DPO's choice for it, or GROUP_REVIEW_MONTHS."""
    return group.review_months or settings.GROUP_REVIEW_MONTHS


def review_due_after(group: ChatGroup, start) -> dt.datetime:
    """The review after `start`, counted in months on the UK wall clock (stored in UTC)."""
    return timezone.localtime(start) + relativedelta(months=review_interval(group))


def review_schedule(*, group: ChatGroup, after, by: AbstractBaseUser | None) -> GroupReview:
    """Open the group's next review, due one interval after `after` (R16). Call it inside the
    transaction that approves the group or signs its last review off."""
    review = GroupReview(group=group, due_at=review_due_after(group, after), created_at=timezone.now())
    save_with_history(review, by=by, reason="Review scheduled")
    return review


def _memberships_end(*, group: ChatGroup, by: AbstractBaseUser, now) -> None:
    """Everyone leaves a retired group at the moment it is retired (R13).

    They still owe the final clear-down of the days up to that moment: the closer asks
    those who were members until the retirement, so leaving with it does not excuse them.
    """
    memberships = list(Membership.objects.active().filter(group=group).select_for_update())
    for membership in memberships:
        membership.left_at = max(now, membership.joined_at)
        membership.removed_by = by
    Membership.objects.bulk_update(memberships, ["left_at", "removed_by"])
    if memberships:
        bulk_history(Membership, memberships, by=by, reason="Group retired", update=True)


PAST_TENSE = {"approve": "approved", "suspend": "suspended", "reinstate": "reinstated", "retire": "retired"}


def allowed_actions(group: ChatGroup) -> list[str]:
    return [action for action, (sources, _) in TRANSITIONS.items() if group.status in sources]


def _check_can_manage(group: ChatGroup, by: AbstractBaseUser) -> ChatGroup:
    locked = ChatGroup.objects.select_for_update().get(pk=group.pk)
    if not permissions.can_manage(by, locked):
        raise PermissionDenied
    if locked.status == Status.RETIRED:
        raise ValidationError("A retired group's membership can no longer be changed.")
    return locked


def _check_can_assign_roles(group: ChatGroup, by: AbstractBaseUser) -> ChatGroup:
    locked = _check_can_manage(group, by)
    if not permissions.can_assign_roles(by, locked):
        raise PermissionDenied
    return locked


def _check_account_active(user: AbstractBaseUser, role: str) -> None:
    if not user.is_active:
        raise ValidationError(
            {"user": f"{display_name(user)}'s account is disabled, so they cannot be the {role}. Choose someone else."}
        )


@transaction.atomic
def membership_add(*, group: ChatGroup, user: AbstractBaseUser, by: AbstractBaseUser):
    """Add a member of staff to a group. Admin, deputy or DPO.

    With POLICY_ACK_BEFORE_JOINING, someone who has not acknowledged the current policy is
    recorded as pending (a `PendingMembership`) and joins when they acknowledge it (R15).
    """
    group = _check_can_manage(group, by)
    if not user.is_active:
        raise ValidationError({"user": "This account is disabled and cannot join a group."})
    if Membership.objects.active().filter(group=group, user=user).exists():
        raise ValidationError({"user": f"{display_name(user)} is already a member of {group.name}."})
    now = timezone.now()
    if policy.needing_ack_to_join(user_ids=[user.pk], now=now):
        return policy.pending_membership_add(group=group, user=user, by=by, now=now)
    membership = Membership(group=group, user=user, joined_at=now, added_by=by)
    try:
        with transaction.atomic():
            save_with_history(membership, by=by, reason="Added")
    except IntegrityError as exc:
        # The conditional unique constraint caught a concurrent add of the same person.
        raise ValidationError({"user": f"{display_name(user)} is already a member of {group.name}."}) from exc
    return membership


@dataclass
class MembersAdded:
    added: list[AbstractBaseUser] = field(default_factory=list)
    already: list[AbstractBaseUser] = field(default_factory=list)
    disabled: list[AbstractBaseUser] = field(default_factory=list)
    # Waiting to join until they acknowledge the current policy (POLICY_ACK_BEFORE_JOINING).
    pending: list[AbstractBaseUser] = field(default_factory=list)


@transaction.atomic
def memberships_add_many(*, group: ChatGroup, users: Iterable[AbstractBaseUser], by: AbstractBaseUser) -> MembersAdded:
    """Add several people to a group at once (issue 15). Admin, deputy or DPO.

    Current members and disabled accounts are reported and left out; the rest join at the
    same moment, each with a history row, in one transaction and a constant number of
    queries however many they are.
    """
    group = _check_can_manage(group, by)
    people = list({user.pk: user for user in users}.values())
    current = set(
        Membership.objects.active()
        .filter(group=group, user_id__in=[user.pk for user in people])
        .values_list("user_id", flat=True)
    )
    result = MembersAdded()
    for user in people:
        if user.pk in current:
            result.already.append(user)
        elif not user.is_active:
            result.disabled.append(user)
        else:
            result.added.append(user)
    now = timezone.now()
    waiting = policy.needing_ack_to_join(user_ids=[user.pk for user in result.added], now=now)
    for user in [user for user in result.added if user.pk in waiting]:
        result.added.remove(user)
        try:
            policy.pending_membership_add(group=group, user=user, by=by, now=now)
        except ValidationError:
            result.already.append(user)
        else:
            result.pending.append(user)
    if not result.added:
        return result
    rows = [Membership(group=group, user=user, joined_at=now, added_by=by) for user in result.added]
    try:
        with transaction.atomic():
            created = Membership.objects.bulk_create(rows)
    except IntegrityError as exc:
        # The one-active-membership constraint caught someone added at the same moment.
        raise ValidationError("Someone else changed this group's members at the same moment. Try again.") from exc
    Membership.history.bulk_history_create(created, default_user=by, default_change_reason="Added")
    return result


@transaction.atomic
def membership_remove(*, membership: Membership, by: AbstractBaseUser) -> Membership:
    """End a membership. The row stays, with `left_at`, so past cycles still count (R7)."""
    group = _check_can_manage(membership.group, by)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.left_at is not None:
        raise ValidationError(f"{display_name(membership.user)} has already left {group.name}.")
    if membership.user_id == group.admin_id:
        raise ValidationError(
            f"{display_name(membership.user)} is the group's admin. Hand the admin role to another "
            "member before removing them."
        )
    if membership.user_id == group.deputy_id:
        group.deputy = None
        save_with_history(group, by=by, reason="Deputy left the group")
    membership.left_at = timezone.now()
    membership.removed_by = by
    save_with_history(membership, by=by, reason="Removed")
    return membership


@transaction.atomic
def chatgroup_set_admin(*, group: ChatGroup, user: AbstractBaseUser, by: AbstractBaseUser) -> ChatGroup:
    """Hand the admin role to a current member. The admin or the DPO; the admin is always a member."""
    group = _check_can_assign_roles(group, by)
    if user.pk == group.admin_id:
        raise ValidationError({"user": f"{display_name(user)} is already the admin."})
    _check_account_active(user, "admin")
    if not Membership.objects.active().filter(group=group, user=user).exists():
        raise ValidationError({"user": "Only a current member can become the admin. Add them first."})
    if group.deputy_id == user.pk:
        group.deputy = None
    group.admin = user
    save_with_history(group, by=by, reason="Admin handed over")
    return group


@transaction.atomic
def chatgroup_set_deputy(*, group: ChatGroup, user: AbstractBaseUser | None, by: AbstractBaseUser) -> ChatGroup:
    """Name (or clear) a deputy admin, who must be a current member other than the admin.

    The admin or the DPO.
    """
    group = _check_can_assign_roles(group, by)
    if user is not None:
        if user.pk == group.admin_id:
            raise ValidationError({"user": "The admin cannot also be the deputy."})
        _check_account_active(user, "deputy")
        if not Membership.objects.active().filter(group=group, user=user).exists():
            raise ValidationError({"user": "Only a current member can become the deputy. Add them first."})
    group.deputy = user
    save_with_history(group, by=by, reason="Deputy changed" if user else "Deputy cleared")
    return group
