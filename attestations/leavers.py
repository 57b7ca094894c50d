"""A leaver's clear-downs (R14): what closes when the register closes an account.

`groups.staff.user_deactivate` ends the person's memberships and then sends
`user_deactivated` in its own transaction; `obligations_close_for_leaver` answers it here,
so the whole deactivation commits together or not at all (the register cannot import
the clear-downs, see `groups.staff`). It also records, through the outbox, an email to
every DPO about each group whose admin has left, with the link to hand the group to a new
admin; the email's words and builder are the notifications' (`notifications/leavers.py`),
built when sent, so a group handed over in the meantime is not reported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.dispatch import receiver

from groups import selectors as group_selectors
from groups.models import ChatGroup
from groups.staff import user_deactivated
from opcc_portal.lib.history import bulk_history

from . import outbox, services
from .models import Flag, Obligation, SentEmail

Status = Obligation.Status

LEFT_REASON = "Left the organisation"


def admin_left_key(*, group_id: int, leaver_id: int, dpo_id: int, now: dt.datetime) -> str:
    """The DPO's email about one group whose admin left: `:u<leaver>` names who left."""
    return f"admin-left:g{group_id}:u{leaver_id}:d{dpo_id}:t{now.timestamp():.0f}"


@dataclass
class LeaverResult:
    obligations: int = 0
    flags: int = 0
    emails: list[int] = field(default_factory=list)


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
    bulk_history(Obligation, open_, by=by, reason=f"{LEFT_REASON}: {reason}", update=True)
    result.obligations = len(open_)
    result.flags = services.flags_resolve(Flag.objects.filter(user=user), by=by, now=now, reason=LEFT_REASON)
    dpos = [dpo for dpo in group_selectors.dpos_active() if dpo.email] if groups_without_admin else []
    rows = [
        SentEmail(
            key=admin_left_key(group_id=group.pk, leaver_id=user.pk, dpo_id=dpo.pk, now=now),
            kind=SentEmail.Kind.ADMIN_LEFT,
            user=dpo,
            to_address=dpo.email,
            group=group,
            created_at=now,
        )
        for group in groups_without_admin
        for dpo in dpos
    ]
    result.emails = outbox.outbox_add(rows, queue=queue)
    return result


@receiver(user_deactivated, dispatch_uid="attestations.leavers")
def _on_user_deactivated(sender, *, user, by, reason, now, groups_without_admin, **kwargs) -> None:
    obligations_close_for_leaver(user=user, by=by, reason=reason, now=now, groups_without_admin=groups_without_admin)
