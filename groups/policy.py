"""Writes for the policy's versions and their acknowledgement (R15). Each service is one
transaction; `ValidationError` for a rule, `PermissionDenied` for a role.

The DPO drafts a version, may change the draft, and publishes it; a published version is
never changed or deleted (a database trigger refuses it too). Everyone who must follow the
current version acknowledges it once: one row per person per version (a unique constraint).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from opcc_portal.lib.history import bulk_history, save_with_history
from opcc_portal.lib.locking import Lock, lock
from opcc_portal.lib.text import display_name

from . import permissions
from .models import ChatGroup, Membership
from .policy_models import PendingMembership, PolicyAcknowledgement, PolicyVersion
from .policy_selectors import ack_due_at, obliged_people, policy_current, since_of
from .validators import clean_text, pdf_clean

PUBLISHED = "Version {number} is published: it can no longer be changed. Draft a new version instead."


@dataclass
class PolicyDraft:
    """What the DPO writes into a version."""

    title: str
    number: str
    effective_on: dt.date
    changes: str
    text: str = ""
    pdf: object = None
    remove_pdf: bool = False


def _check_dpo(by: AbstractBaseUser) -> None:
    if not permissions.is_dpo(by):
        raise PermissionDenied


def _fill(version: PolicyVersion, draft: PolicyDraft) -> None:
    errors = {}
    version.title = clean_text(draft.title, one_line=True)
    version.number = clean_text(draft.number, one_line=True)
    version.changes = clean_text(draft.changes)
    version.text = clean_text(draft.text)
    version.effective_on = draft.effective_on
    if not version.title:
        errors["title"] = "Give the version a title."
    if not version.number:
        errors["number"] = "Give the version a number, for example 2.0."
    elif PolicyVersion.objects.filter(number__iexact=version.number).exclude(pk=version.pk).exists():
        errors["number"] = f"There is already a version {version.number}."
    if not version.changes:
        errors["changes"] = "Summarise what changed, for the people who will be asked to read it."
    if draft.pdf:
        try:
            cleaned = pdf_clean(draft.pdf)
        except ValidationError as exc:
            errors["pdf"] = exc.messages
        else:
            version.pdf.save(cleaned.name, cleaned, save=False)
    elif draft.remove_pdf:
        version.pdf = ""
    if not errors and not version.text and not version.pdf:
        errors["text"] = "Give the policy's text, or upload it as a PDF (or both)."
    if errors:
        raise ValidationError(errors)


def _save(version: PolicyVersion, *, by: AbstractBaseUser, reason: str) -> None:
    try:
        with transaction.atomic():
            save_with_history(version, by=by, reason=reason)
    except IntegrityError as exc:
        # Two drafts with the same number at once: the unique constraint decides.
        raise ValidationError({"number": f"There is already a version {version.number}."}) from exc


@transaction.atomic
def policy_version_draft(*, draft: PolicyDraft, by: AbstractBaseUser) -> PolicyVersion:
    """The DPO writes a new version; nobody is asked to read it until it is published."""
    _check_dpo(by)
    version = PolicyVersion(created_by=by, created_at=timezone.now())
    _fill(version, draft)
    _save(version, by=by, reason="Drafted")
    return version


@transaction.atomic
def policy_version_update(*, version: PolicyVersion, draft: PolicyDraft, by: AbstractBaseUser) -> PolicyVersion:
    """Change a draft. A published version is refused: what people read stays as it was."""
    _check_dpo(by)
    version = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_published:
        raise ValidationError(PUBLISHED.format(number=version.number))
    old_pdf = version.pdf.name
    _fill(version, draft)
    _save(version, by=by, reason="Draft changed")
    if old_pdf and old_pdf != version.pdf.name:
        storage = version.pdf.storage
        transaction.on_commit(lambda: storage.delete(old_pdf))
    return version


@transaction.atomic
def policy_version_publish(*, version: PolicyVersion, by: AbstractBaseUser, now: dt.datetime | None = None):
    """Publish a draft: from its effective date it is the current version, and everyone
    who must follow it is asked to acknowledge it (by `policy_acks_ensure`, now if the
    date has come, else by the sweep on the day)."""
    _check_dpo(by)
    now = now or timezone.now()
    version = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_published:
        raise ValidationError(PUBLISHED.format(number=version.number))
    version.published_at = now
    version.published_by = by
    save_with_history(version, by=by, reason="Published")
    policy_acks_ensure(now=now)
    return version


@transaction.atomic
def policy_version_delete_draft(*, version: PolicyVersion, by: AbstractBaseUser) -> None:
    """Throw away a draft nobody was asked to read. A published version stays for ever."""
    _check_dpo(by)
    version = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_published:
        raise ValidationError(PUBLISHED.format(number=version.number))
    pdf = version.pdf.name
    version._change_reason = "Draft deleted"
    version._history_user = by
    version.delete()
    if pdf:
        storage = version.pdf.storage
        transaction.on_commit(lambda: storage.delete(pdf))


@transaction.atomic
def policy_acks_ensure(*, now: dt.datetime | None = None) -> list[PolicyAcknowledgement]:
    """Ask everyone who must follow the current version and has not been asked yet: one
    row each, with their deadline. Run on publishing, on joining and by the sweep (a version
    whose effective date comes later, a person added since). Four queries however many."""
    now = now or timezone.now()
    version = policy_current(now=now)
    if version is None:
        return []
    lock(Lock.POLICY_ACKS)
    asked = PolicyAcknowledgement.objects.filter(version=version).values("user_id")
    people = obliged_people().exclude(pk__in=asked)
    rows = [
        PolicyAcknowledgement(
            version=version, user=person, created_at=now, due_at=ack_due_at(version, since_of(person))
        )
        for person in people
    ]
    if not rows:
        return []
    created = PolicyAcknowledgement.objects.bulk_create(rows)
    bulk_history(
        PolicyAcknowledgement, created, by=None, reason=f"Asked to acknowledge version {version.number}", update=False
    )
    return created


@dataclass
class Acknowledged:
    ack: PolicyAcknowledgement
    already: bool
    joined: list[ChatGroup] = field(default_factory=list)


@transaction.atomic
def policy_acknowledge(
    *, version: PolicyVersion, user: AbstractBaseUser, now: dt.datetime | None = None
) -> Acknowledged:
    """The person's own acknowledgement of the current version: "I have read and will
    follow version N". A second tap changes nothing and says so. Any groups they were
    waiting to join (POLICY_ACK_BEFORE_JOINING) they join now."""
    now = now or timezone.now()
    if not user.is_active:
        raise PermissionDenied
    current = policy_current(now=now)
    if current is None or current.pk != version.pk:
        raise ValidationError(
            f"Version {version.number} is not the current policy. Read the current version and acknowledge that."
        )
    lock(Lock.POLICY_ACKS)
    ack = PolicyAcknowledgement.objects.select_for_update().filter(version=version, user=user).first()
    if ack is not None and ack.acknowledged_at is not None:
        return Acknowledged(ack=ack, already=True)
    if ack is None:
        person = obliged_people().filter(pk=user.pk).first()
        ack = PolicyAcknowledgement(
            version=version,
            user=user,
            created_at=now,
            due_at=ack_due_at(version, since_of(person) if person else now),
        )
    ack.acknowledged_at = now
    save_with_history(ack, by=user, reason=f"Acknowledged version {version.number}")
    return Acknowledged(ack=ack, already=False, joined=_pending_join(user=user, now=now))


# --- Joining only after acknowledging (POLICY_ACK_BEFORE_JOINING) ---------------------------


def needing_ack_to_join(*, user_ids: list[int], now: dt.datetime) -> set[int]:
    """With POLICY_ACK_BEFORE_JOINING, who of `user_ids` has not acknowledged the current
    version: they are added as pending and join when they acknowledge it. Two queries."""
    if not settings.POLICY_ACK_BEFORE_JOINING or not user_ids:
        return set()
    version = policy_current(now=now)
    if version is None:
        return set()
    done = PolicyAcknowledgement.objects.filter(version=version, user_id__in=user_ids, acknowledged_at__isnull=False)
    return set(user_ids) - set(done.values_list("user_id", flat=True))


def pending_membership_add(*, group: ChatGroup, user: AbstractBaseUser, by: AbstractBaseUser, now: dt.datetime):
    """Record an add that waits for the person's acknowledgement (called by the register's
    add, which has checked the group, the role and the account). Asks them at once."""
    if PendingMembership.objects.filter(group=group, user=user, resolved_at__isnull=True).exists():
        raise ValidationError(
            {
                "user": f"{display_name(user)} is already waiting to join {group.name}: "
                "they join once they acknowledge the policy."
            }
        )
    pending = PendingMembership(group=group, user=user, added_by=by, added_at=now)
    try:
        with transaction.atomic():
            save_with_history(pending, by=by, reason="Added, pending acknowledgement of the policy")
    except IntegrityError as exc:
        raise ValidationError({"user": f"{display_name(user)} is already waiting to join {group.name}."}) from exc
    policy_acks_ensure(now=now)
    return pending


def _pending_join(*, user: AbstractBaseUser, now: dt.datetime) -> list[ChatGroup]:
    """Turn the person's pending adds into memberships starting now: their clear-downs count
    from this moment (R7), as if the admin had added them now."""
    pending = list(
        PendingMembership.objects.select_for_update()
        .filter(user=user, resolved_at__isnull=True)
        .select_related("group", "added_by")
    )
    joined = []
    for row in pending:
        row.resolved_at = now
        if row.group.status != ChatGroup.Status.RETIRED and not (
            Membership.objects.active().filter(group=row.group, user=user).exists()
        ):
            membership = Membership(group=row.group, user=user, joined_at=now, added_by=row.added_by)
            save_with_history(membership, by=user, reason="Joined on acknowledging the policy")
            row.membership = membership
            joined.append(row.group)
        save_with_history(row, by=user, reason="Acknowledged the policy")
    return joined


@transaction.atomic
def pending_membership_withdraw(*, pending: PendingMembership, by: AbstractBaseUser) -> PendingMembership:
    """The admin (deputy, DPO) withdraws an add still waiting for the acknowledgement."""
    pending = PendingMembership.objects.select_for_update().select_related("group").get(pk=pending.pk)
    if not permissions.can_manage(by, pending.group):
        raise PermissionDenied
    if pending.resolved_at is not None:
        raise ValidationError("This add is no longer pending.")
    pending.resolved_at = timezone.now()
    save_with_history(pending, by=by, reason="Add withdrawn before the policy was acknowledged")
    return pending
