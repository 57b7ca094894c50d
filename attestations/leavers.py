"""A leaver's clear-downs (R14): what closes when the register closes an account.

`groups.staff.user_deactivate` ends the person's memberships and then sends
`user_deactivated` in its own transaction; `obligations_close_for_leaver` answers it here,
so the whole deactivation commits together or not at all (the register cannot import
the clear-downs, see `groups.staff`). It also writes to every DPO about each group whose
admin has left, with the link to hand the group to a new admin; the email is built when
sent (`handover_email`), so a group handed over in the meantime is not reported.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.dispatch import receiver
from django.urls import reverse

from groups.models import ChatGroup
from groups.staff import user_deactivated

from . import emails, notifications, services
from .models import Flag, Obligation, SentEmail

Status = Obligation.Status
Kind = SentEmail.Kind

LEFT_REASON = "Left the organisation"


@dataclass
class LeaverResult:
    obligations: int = 0
    flags: int = 0
    emails: list[int] | None = None


@transaction.atomic
def obligations_close_for_leaver(
    *,
    user: AbstractBaseUser,
    by: AbstractBaseUser | None,
    reason: str,
    now: dt.datetime,
    groups_without_admin: Sequence[ChatGroup] = (),
    queue: bool = True,
) -> LeaverResult:
    """Close what a person who left can no longer do, and tell the DPO who must step in.

    Their open clear-downs become "left the organisation" (not overdue, not done: the
    dashboard and exports count them apart); their open flags are resolved with that
    reason; each DPO gets one email per group that lost its admin.
    """
    result = LeaverResult()
    open_ = list(Obligation.objects.select_for_update(of=("self",)).filter(user=user, status=Status.PENDING))
    for obligation in open_:
        obligation.status = Status.LEFT
    Obligation.objects.bulk_update(open_, ["status"])
    services._history(Obligation, open_, by=by, reason=f"{LEFT_REASON}: {reason}", update=True)
    result.obligations = len(open_)
    result.flags = services._flags_resolve(Flag.objects.filter(user=user), by=by, now=now, reason=LEFT_REASON)
    dpos = [dpo for dpo in notifications.dpo_recipients() if dpo.email] if groups_without_admin else []
    rows = [
        SentEmail(
            key=f"admin-left:g{group.pk}:u{user.pk}:d{dpo.pk}:t{now.timestamp():.0f}",
            kind=Kind.ADMIN_LEFT,
            user=dpo,
            to_address=dpo.email,
            group=group,
            created_at=now,
        )
        for group in groups_without_admin
        for dpo in dpos
    ]
    result.emails = notifications.outbox_add(rows, queue=queue)
    return result


@receiver(user_deactivated, dispatch_uid="attestations.leavers")
def _on_user_deactivated(sender, *, user, by, reason, now, groups_without_admin, **kwargs) -> None:
    obligations_close_for_leaver(user=user, by=by, reason=reason, now=now, groups_without_admin=groups_without_admin)


# --- The DPO's email --------------------------------------------------------------------------


def _url(name: str, *args) -> str:
    return f"{settings.SITE_URL}{reverse(name, args=args)}"


def handover_email(email: SentEmail, *, to: str, now: dt.datetime) -> tuple[EmailMultiAlternatives | None, str]:
    """To a DPO: a group's admin left the organisation; name a new admin."""
    group = ChatGroup.objects.select_related("admin", "deputy").get(pk=email.group_id)
    match = re.search(r":u(\d+)", email.key)
    if group.admin.is_active or not match or group.admin_id != int(match.group(1)):
        return None, "a new admin was named before it could be sent"
    if group.status == ChatGroup.Status.RETIRED:
        return None, "the group was retired before it could be sent"
    context = {
        "user": email.user,
        "group": group,
        "leaver": group.admin,
        "deputy": group.deputy,
        "handover_url": _url("groups:roles", group.pk),
        "group_url": _url("groups:detail", group.pk),
    }
    return emails.message("admin-left", context, to), ""


emails.BUILDERS[Kind.ADMIN_LEFT] = handover_email
