"""Emails about the policy's acknowledgement (R15), and their step of the sweep.

Each acknowledgement row (`groups.PolicyAcknowledgement`) is the claim of its emails, as an
obligation is of a clear-down's: one reminder (`reminder_sent_at`) REMINDER_LEAD_HOURS
before the deadline, and, once the deadline has passed, one line in one digest to each
admin and deputy of the person's groups (`overdue_notified_at`). Claimed by a conditional
UPDATE under the notify lock, so two sweeps at once, or one after downtime, email once.
Built when sent: someone who acknowledged in the meantime is left out, or the email is not
sent at all.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from groups import policy
from groups.models import ChatGroup, Membership, PendingMembership, PolicyAcknowledgement
from groups.policy_selectors import policy_current
from opcc_portal.lib.history import bulk_history
from opcc_portal.lib.locking import Lock, lock

from .. import outbox
from ..models import SentEmail
from ..outbox import Built
from . import emails

Kind = SentEmail.Kind


def _still_owed(now: dt.datetime):
    """Acknowledgements of the current version still to be made by someone who must make
    them: an active account, in an approved group or waiting to join one."""
    version = policy_current(now=now)
    if version is None:
        return PolicyAcknowledgement.objects.none()
    member = Membership.objects.active().filter(user=OuterRef("user_id"), group__status=ChatGroup.Status.APPROVED)
    waiting = PendingMembership.objects.filter(user=OuterRef("user_id"), resolved_at__isnull=True)
    return PolicyAcknowledgement.objects.filter(
        version=version, acknowledged_at__isnull=True, user__is_active=True
    ).filter(Exists(member) | Exists(waiting))


def sweep(*, now: dt.datetime, queue: bool = True) -> list[int]:
    """The policy's step of the 15-minute sweep: ask whoever must acknowledge the current
    version and was not asked yet, then the reminders and the overdue digests due."""
    policy.policy_acks_ensure(now=now)
    return reminders_queue(now=now, queue=queue) + overdue_digests_queue(now=now, queue=queue)


@transaction.atomic
def reminders_queue(*, now: dt.datetime, queue: bool = True) -> list[int]:
    """One reminder to each person still to acknowledge, REMINDER_LEAD_HOURS before their
    deadline. A reminder whose moment passed while the portal was down is not sent late."""
    lead = dt.timedelta(hours=settings.REMINDER_LEAD_HOURS)
    rows = list(
        _still_owed(now)
        .select_for_update(of=("self",), skip_locked=True)
        .filter(reminder_sent_at__isnull=True, due_at__gt=now, due_at__lte=now + lead)
        .exclude(user__email="")
        .values_list("pk", "user_id", "user__email")
    )
    if not rows:
        return []
    PolicyAcknowledgement.objects.filter(pk__in=[r[0] for r in rows], reminder_sent_at__isnull=True).update(
        reminder_sent_at=now
    )
    emails_ = [
        SentEmail(
            key=f"policy-reminder:a{pk}:u{user_id}",
            kind=Kind.POLICY_REMINDER,
            user_id=user_id,
            to_address=address,
            created_at=now,
        )
        for pk, user_id, address in rows
    ]
    return outbox.outbox_add(
        emails_, acks_of={e.key: [pk] for e, (pk, _, _) in zip(emails_, rows, strict=True)}, queue=queue
    )


@transaction.atomic
def overdue_digests_queue(*, now: dt.datetime, queue: bool = True) -> list[int]:
    """Each acknowledgement past its deadline, once, in one digest to each admin and deputy
    of the person's approved groups: one email per admin per sweep, however many groups and
    people it covers. Only what someone can be told about is claimed (an admin with an
    address); the dashboard shows the rest."""
    lock(Lock.NOTIFY)
    acks = list(
        _still_owed(now)
        .select_for_update(of=("self",))
        .filter(overdue_notified_at__isnull=True, due_at__lte=now)
        .order_by("pk")
        .values_list("pk", "user_id", "version_id")
    )
    if not acks:
        return []
    ack_of_user = {user_id: pk for pk, user_id, _ in acks}
    memberships = (
        Membership.objects.active()
        .filter(group__status=ChatGroup.Status.APPROVED, user_id__in=ack_of_user)
        .select_related("group__admin", "group__deputy")
    )
    by_person: dict[int, tuple] = {}
    for membership in memberships:
        group = membership.group
        for person in (group.admin, group.deputy):
            if person is None or not person.is_active or not person.email or person.pk == membership.user_id:
                continue
            entry = by_person.setdefault(person.pk, (person, set()))
            entry[1].add(ack_of_user[membership.user_id])
    if not by_person:
        return []
    claimed = sorted(set().union(*(ids for _, ids in by_person.values())))
    PolicyAcknowledgement.objects.filter(pk__in=claimed, overdue_notified_at__isnull=True).update(
        overdue_notified_at=now
    )
    changed = list(PolicyAcknowledgement.objects.filter(pk__in=claimed))
    bulk_history(PolicyAcknowledgement, changed, by=None, reason="Overdue: reported to the group admin", update=True)
    rows, acks_of = [], {}
    for person, ids in by_person.values():
        key = f"policy-overdue:a{claimed[0]}:u{person.pk}"
        acks_of[key] = sorted(ids)
        rows.append(SentEmail(key=key, kind=Kind.POLICY_OVERDUE, user=person, to_address=person.email, created_at=now))
    return outbox.outbox_add(rows, acks_of=acks_of, queue=queue)


# --- The emails -----------------------------------------------------------------------------


def reminder_email(email: SentEmail, *, to: str, now: dt.datetime) -> Built:
    """To a member: acknowledge the current version by your deadline."""
    ack = email.policy_acks.select_related("version", "user").first()
    if ack is None or ack.acknowledged_at is not None:
        return None, "already acknowledged"
    current = policy_current(now=now)
    if current is None or current.pk != ack.version_id:
        return None, "a newer version replaced it before it could be sent"
    if now >= ack.due_at:
        return None, "the deadline passed before it could be sent"
    context = {
        "user": ack.user,
        "version": ack.version,
        "due_at": ack.due_at,
        "policy_url": emails.url("policy:detail", ack.version_id),
        "home_url": emails.url("home"),
    }
    return emails.message("policy-reminder", context, to), ""


def overdue_email(email: SentEmail, *, to: str, now: dt.datetime) -> Built:
    """To a group admin or deputy: the people of their groups past their deadline."""
    acks = list(
        email.policy_acks.filter(acknowledged_at__isnull=True)
        .select_related("user", "version")
        .order_by("user__first_name", "user__last_name", "user__username")
    )
    if not acks:
        return None, "everyone acknowledged before it could be sent"
    groups: dict[int, list[str]] = {}
    for user_id, name in (
        Membership.objects.active()
        .filter(user_id__in=[a.user_id for a in acks], group__status=ChatGroup.Status.APPROVED)
        .filter(Q(group__admin=email.user_id) | Q(group__deputy=email.user_id))
        .order_by("group__name")
        .values_list("user_id", "group__name")
    ):
        groups.setdefault(user_id, []).append(name)
    context = {
        "user": email.user,
        "version": acks[0].version,
        "people": [(ack, groups.get(ack.user_id, [])) for ack in acks],
        "dashboard_url": emails.url("dashboard:policy"),
        "policy_url": emails.url("policy:detail", acks[0].version_id),
    }
    return emails.message("policy-overdue", context, to), ""


outbox.register((Kind.POLICY_REMINDER,), reminder_email)
outbox.register((Kind.POLICY_OVERDUE,), overdue_email)
