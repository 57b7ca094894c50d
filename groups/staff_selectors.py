"""Reads of the staff list (R14): a fixed number of queries however many people."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group as Role
from django.db.models import Prefetch, Q, QuerySet
from django.db.models.functions import Lower

from . import permissions
from .models import ChatGroup, Membership, RoleChange

User = get_user_model()
STATUSES = {"active": "Active", "closed": "Closed"}


def staff_list(*, search: str = "", status: str = "") -> QuerySet:
    """Every account (but IT's superusers), with its profile; roles and current groups come
    with the page (`staff_page_details`), so a page of 50 is four queries."""
    people = User.objects.filter(is_superuser=False).select_related("staff_profile")
    for term in search.split()[:5]:
        people = people.filter(
            Q(username__icontains=term)
            | Q(first_name__icontains=term)
            | Q(last_name__icontains=term)
            | Q(email__icontains=term)
            | Q(staff_profile__staff_number__iexact=term)
        )
    if status == "active":
        people = people.filter(is_active=True)
    elif status == "closed":
        people = people.filter(is_active=False)
    return people.order_by(Lower("last_name"), Lower("first_name"), "username", "pk")


def with_roles_and_groups(people: QuerySet) -> QuerySet:
    """Each person's roles (`portal_roles`) and current memberships (`current_memberships`)."""
    return people.prefetch_related(
        Prefetch(
            "groups",
            queryset=Role.objects.filter(name__in=[permissions.DPO_ROLE, permissions.AUDITOR_ROLE]).order_by("name"),
            to_attr="portal_roles",
        ),
        Prefetch(
            "memberships",
            queryset=Membership.objects.active().select_related("group").order_by(Lower("group__name")),
            to_attr="current_memberships",
        ),
    )


def groups_without_admin() -> QuerySet[ChatGroup]:
    """Groups (not retired) whose admin has left the organisation: the DPO names a new one."""
    return (
        ChatGroup.objects.filter(admin__is_active=False)
        .exclude(status=ChatGroup.Status.RETIRED)
        .select_related("admin", "deputy")
        .order_by(Lower("name"))
    )


def role_holders() -> dict[str, list]:
    """The active holders of each portal role, by role name. Two queries."""
    return {
        role: list(
            User.objects.filter(groups__name=role, is_active=True).order_by(
                Lower("last_name"), Lower("first_name"), "username"
            )
        )
        for role in (permissions.DPO_ROLE, permissions.AUDITOR_ROLE)
    }


def role_changes(*, user=None, limit: int = 50) -> QuerySet[RoleChange]:
    changes = RoleChange.objects.select_related("user", "by")
    if user is not None:
        changes = changes.filter(user=user)
    return changes.order_by("-at", "-pk")[:limit]


def account_history(*, user) -> list:
    """The account's closings and reopenings, newest first (the profile's history)."""
    profile = getattr(user, "staff_profile", None)
    if profile is None:
        return []
    return list(profile.history.select_related("history_user").order_by("-history_date", "-history_id")[:50])


def find_person(text: str):
    """The account whose user name or email is `text` (case-insensitive), or None."""
    text = " ".join(text.split())
    if not text:
        return None
    return User.objects.filter(Q(username__iexact=text) | Q(email__iexact=text)).order_by("pk").first()
