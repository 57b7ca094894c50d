"""Reads of the policy's versions and who has acknowledged them (R15), set-based."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet
from django.db.models.functions import Lower

from opcc_portal.lib.history import LONDON

from . import permissions
from .models import ChatGroup, Membership
from .policy_models import PendingMembership, PolicyAcknowledgement, PolicyVersion


def version_starts_at(version: PolicyVersion) -> dt.datetime:
    """When a published version starts to ask for acknowledgement: its publication, or the
    start of its effective day in the UK if that is later."""
    day_start = dt.datetime.combine(version.effective_on, dt.time(0, 0), tzinfo=LONDON)
    return max(version.published_at, day_start)


def ack_due_at(version: PolicyVersion, since: dt.datetime | None) -> dt.datetime:
    """The deadline: POLICY_ACK_DAYS after the version starts, or after the person joined
    their first group if that is later. Counted in UK days (the same wall-clock time)."""
    start = version_starts_at(version)
    if since is not None and since > start:
        start = since
    local = start.astimezone(LONDON)
    return (local.replace(tzinfo=None) + dt.timedelta(days=settings.POLICY_ACK_DAYS)).replace(tzinfo=LONDON)


def policy_current(*, now: dt.datetime) -> PolicyVersion | None:
    """The latest published version whose effective date has come."""
    today = now.astimezone(LONDON).date()
    return (
        PolicyVersion.objects.filter(published_at__isnull=False, published_at__lte=now, effective_on__lte=today)
        .select_related("published_by")
        .order_by("-effective_on", "-published_at", "-pk")
        .first()
    )


def policy_versions(*, user: AbstractBaseUser) -> QuerySet[PolicyVersion]:
    """Every published version for all staff; drafts too for the DPO and auditors."""
    versions = PolicyVersion.objects.select_related("published_by", "created_by").annotate(
        acknowledged=Count("acknowledgements", filter=Q(acknowledgements__acknowledged_at__isnull=False))
    )
    if not (permissions.is_dpo(user) or permissions.is_auditor(user)):
        versions = versions.filter(published_at__isnull=False)
    # Drafts first (the DPO's work in hand), then the newest in effect.
    return versions.order_by(F("published_at").desc(nulls_first=True), "-effective_on", "-pk")


def _counting_memberships():
    """The memberships that oblige their member: active, in an approved group."""
    return Membership.objects.active().filter(group__status=ChatGroup.Status.APPROVED)


def obliged_people() -> QuerySet:
    """Active accounts that must acknowledge the current version: members of an approved
    group, and people waiting to join a group until they acknowledge. Each is annotated
    with `since`, the moment they first became one of these (for their deadline)."""
    joined = _counting_memberships().filter(user=OuterRef("pk"))
    waiting = PendingMembership.objects.filter(user=OuterRef("pk"), resolved_at__isnull=True)
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Exists(joined) | Exists(waiting))
        .annotate(
            first_joined=Min(
                "memberships__joined_at",
                filter=Q(memberships__left_at__isnull=True, memberships__group__status=ChatGroup.Status.APPROVED),
            ),
            first_waiting=Min("pending_memberships__added_at", filter=Q(pending_memberships__resolved_at__isnull=True)),
        )
    )


def since_of(person) -> dt.datetime | None:
    """The earlier of `first_joined` and `first_waiting` (annotations of `obliged_people`)."""
    moments = [m for m in (person.first_joined, person.first_waiting) if m is not None]
    return min(moments) if moments else None


def is_obliged(user: AbstractBaseUser) -> bool:
    return obliged_people().filter(pk=user.pk).exists()


@dataclass
class AckDue:
    version: PolicyVersion
    due_at: dt.datetime
    overdue: bool


def policy_ack_due(*, user: AbstractBaseUser, now: dt.datetime) -> AckDue | None:
    """The current version, if this person still has to acknowledge it (the home page).
    Three queries at most, whoever asks."""
    if not user.is_authenticated:
        return None
    version = policy_current(now=now)
    if version is None:
        return None
    ack = PolicyAcknowledgement.objects.filter(version=version, user=user).first()
    if ack is not None and ack.acknowledged_at is not None:
        return None
    # Only while they are in an approved group (or waiting to join one): someone who has
    # left every group is no longer asked, even if they were before.
    person = obliged_people().filter(pk=user.pk).first()
    if person is None:
        return None
    due_at = ack.due_at if ack is not None else ack_due_at(version, since_of(person))
    return AckDue(version=version, due_at=due_at, overdue=due_at <= now)


def policy_ack_of(*, user: AbstractBaseUser, version: PolicyVersion) -> PolicyAcknowledgement | None:
    return PolicyAcknowledgement.objects.filter(version=version, user=user, acknowledged_at__isnull=False).first()


# --- The dashboard: acknowledgement by group and by person ------------------------------


@dataclass
class GroupAcks:
    group: ChatGroup
    members: int
    acknowledged: int
    overdue: int

    @property
    def outstanding(self) -> int:
        return self.members - self.acknowledged


def _acked(version: PolicyVersion):
    return PolicyAcknowledgement.objects.filter(
        version=version, user=OuterRef("user_id"), acknowledged_at__isnull=False
    )


def _overdue(version: PolicyVersion, now: dt.datetime):
    return PolicyAcknowledgement.objects.filter(
        version=version, user=OuterRef("user_id"), acknowledged_at__isnull=True, due_at__lte=now
    )


def policy_acks_by_group(*, version: PolicyVersion, now: dt.datetime) -> list[GroupAcks]:
    """Each approved group: its current members, how many have acknowledged `version`, how
    many are past their deadline. Two queries however many groups and members."""
    rows = (
        _counting_memberships()
        .filter(user__is_active=True)
        .annotate(done=Exists(_acked(version)), late=Exists(_overdue(version, now)))
        .values("group_id")
        .annotate(
            members=Count("pk"),
            acknowledged=Count("pk", filter=Q(done=True)),
            overdue=Count("pk", filter=Q(late=True)),
        )
    )
    counts = {row["group_id"]: row for row in rows}
    groups = ChatGroup.objects.approved().order_by(Lower("name"), "pk")
    return [
        GroupAcks(
            group=group,
            members=counts.get(group.pk, {}).get("members", 0),
            acknowledged=counts.get(group.pk, {}).get("acknowledged", 0),
            overdue=counts.get(group.pk, {}).get("overdue", 0),
        )
        for group in groups
    ]


@dataclass
class PersonAck:
    user: AbstractBaseUser
    groups: list[str]
    acknowledged_at: dt.datetime | None
    due_at: dt.datetime
    overdue: bool

    @property
    def status(self) -> str:
        if self.acknowledged_at:
            return "acknowledged"
        return "overdue" if self.overdue else "pending"


def policy_acks_by_person(
    *, version: PolicyVersion, now: dt.datetime, groups: QuerySet[ChatGroup] | None = None, status: str = ""
) -> list[PersonAck]:
    """Everyone who must acknowledge `version` (only the members of `groups`, and those
    waiting to join them, if given), with their groups and when they acknowledged or by when
    they must. Three queries however many people."""
    people = obliged_people().order_by(Lower("first_name"), Lower("last_name"), "username")
    if groups is not None:
        people = people.filter(
            Q(pk__in=Membership.objects.active().filter(group__in=groups).values("user_id"))
            | Q(pk__in=PendingMembership.objects.filter(group__in=groups, resolved_at__isnull=True).values("user_id"))
        )
    people = list(people)
    ids = [p.pk for p in people]
    acks = {a.user_id: a for a in PolicyAcknowledgement.objects.filter(version=version, user_id__in=ids)}
    names: dict[int, list[str]] = {}
    for user_id, name in (
        _counting_memberships()
        .filter(user_id__in=ids)
        .order_by(Lower("group__name"))
        .values_list("user_id", "group__name")
    ):
        names.setdefault(user_id, []).append(name)
    rows = []
    for person in people:
        ack = acks.get(person.pk)
        due_at = ack.due_at if ack else ack_due_at(version, since_of(person))
        done_at = ack.acknowledged_at if ack else None
        rows.append(
            PersonAck(
                user=person,
                groups=names.get(person.pk, []),
                acknowledged_at=done_at,
                due_at=due_at,
                overdue=done_at is None and due_at <= now,
            )
        )
    if status:
        rows = [row for row in rows if row.status == status]
    return rows
