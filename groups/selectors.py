"""Reads of the register, set-based: a constant number of queries however many rows."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import Lag, Lower

from opcc_portal.lib.history import name_related, record_changes
from opcc_portal.lib.text import display_name

from . import permissions
from .models import ChatGroup, Membership


def register_list(*, user: AbstractBaseUser, search: str = "", status: str = "") -> QuerySet[ChatGroup]:
    groups = ChatGroup.objects.with_member_count().select_related("admin", "deputy")
    if not permissions.can_read_history(user, ChatGroup()):
        # Proposals are visible to their own admin, deputy and members, the DPO and auditors.
        mine = Membership.objects.active().filter(user_id=user.pk).values("group_id")
        groups = groups.filter(~Q(status=ChatGroup.Status.PROPOSED) | Q(admin=user) | Q(deputy=user) | Q(pk__in=mine))
    search = " ".join(search.split())
    if search:
        groups = groups.filter(Q(name__icontains=search) | Q(purpose__icontains=search))
    if status in ChatGroup.Status.values:
        groups = groups.filter(status=status)
    return groups.order_by(Lower("name"), "pk")


def group_members(*, group: ChatGroup, include_past: bool = True) -> QuerySet[Membership]:
    members = Membership.objects.filter(group=group).select_related("user", "added_by", "removed_by")
    if not include_past:
        members = members.active()
    return members.order_by("left_at", "user__first_name", "user__last_name", "user__username")


def staff_search(*, group: ChatGroup, search: str, limit: int = 20):
    """Active staff accounts matching a search that are not already in the group."""
    search = " ".join(search.split())
    if not search:
        return get_user_model().objects.none()
    people = get_user_model().objects.filter(is_active=True)
    for word in search.split():
        people = people.filter(
            Q(username__icontains=word)
            | Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
        )
    current = Membership.objects.active().filter(group=group).values("user_id")
    return people.exclude(pk__in=current).order_by("first_name", "last_name", "username")[:limit]


def dpos_active() -> QuerySet:
    """The active DPOs, in a stable order: who receives escalations, reviews and summaries."""
    return get_user_model().objects.filter(groups__name=permissions.DPO_ROLE, is_active=True).order_by("pk").distinct()


def user_runs_a_group(*, user: AbstractBaseUser) -> bool:
    """Whether a person is the admin or deputy of any group (one EXISTS on two indexed keys)."""
    return ChatGroup.objects.filter(Q(admin_id=user.pk) | Q(deputy_id=user.pk)).exists()


def status_timeline(*, group: ChatGroup, limit: int = 8) -> tuple[list[dict], bool]:
    """The group's last `limit` status changes, oldest first, and whether there were earlier ones.

    One query: the database compares each history row with the one before it (LAG) and
    returns only the rows where the status changed, however often other details changed.
    """
    order = [F("history_date").asc(), F("history_id").asc()]
    rows = list(
        group.history.annotate(previous=Window(Lag("status"), order_by=order))
        .filter(Q(previous__isnull=True) | ~Q(previous=F("status")))
        .order_by("-history_date", "-history_id")
        .values(
            "status",
            "previous",
            "status_reason",
            "history_date",
            "history_user__username",
            "history_user__first_name",
            "history_user__last_name",
        )[: limit + 1]
    )
    labels = dict(ChatGroup.Status.choices)
    steps = [
        {
            "from": labels.get(row["previous"], row["previous"]) if row["previous"] else "",
            "to": labels.get(row["status"], row["status"]),
            "status": row["status"],
            "when": row["history_date"],
            "who": _name_parts(row["history_user__first_name"], row["history_user__last_name"])
            or row["history_user__username"]
            or "",
            "reason": row["status_reason"] if row["previous"] else "",
        }
        for row in rows[:limit]
    ]
    return steps[::-1], len(rows) > limit


def _name_parts(first: str | None, last: str | None) -> str:
    return " ".join(part for part in (first, last) if part)


def group_history(*, group: ChatGroup) -> list[dict]:
    """Field-level changes to a group and its memberships, newest first, with who made them."""
    entries = []
    group_records = list(group.history.select_related("history_user").order_by("history_date", "history_id"))
    entries += _diff_records(group_records, kind="Group")
    membership_records = list(
        Membership.history.filter(group_id=group.pk)
        .select_related("history_user", "user")
        .order_by("id", "history_date", "history_id")
    )
    by_membership: dict[int, list] = {}
    for record in membership_records:
        by_membership.setdefault(record.id, []).append(record)
    for records in by_membership.values():
        entries += _diff_records(records, kind="Membership")
    _resolve_related(entries)
    entries.sort(key=lambda entry: (entry["when"], entry["order"]), reverse=True)
    return entries


def _resolve_related(entries: list[dict]) -> None:
    # Foreign keys in diffs are raw ids: look each related model up once, not per change.
    wanted: dict = {}
    for entry in entries:
        for change in entry["changes"]:
            if change["model"] is not None:
                wanted.setdefault(change["model"], set()).update(
                    v for v in (change["old"], change["new"]) if v not in (None, "")
                )
    names = {
        model: {obj.pk: _label(obj) for obj in model._default_manager.filter(pk__in=ids)}
        for model, ids in wanted.items()
    }
    for entry in entries:
        name_related(entry["changes"], names)


def _diff_records(records: list, *, kind: str) -> list[dict]:
    entries = []
    previous = None
    for record in records:
        changes = record_changes(record, previous) if previous is not None else []
        subject = display_name(record.user) if kind == "Membership" else record.name
        entries.append(
            {
                "when": record.history_date,
                "order": record.history_id,
                "kind": kind,
                "subject": subject,
                "action": {"+": "Created", "~": "Changed", "-": "Deleted"}[record.history_type],
                "reason": record.history_change_reason or "",
                "who": record.history_user,
                "changes": changes,
            }
        )
        previous = record
    return entries


def _label(obj) -> str:
    return display_name(obj) if hasattr(obj, "get_full_name") else str(obj)
