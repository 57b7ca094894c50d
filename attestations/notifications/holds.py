"""Holds that reach people, the sweep's side (R9): the hold step of every sweep, and the
emails of a hold (notice, reminder, escalation, review and release).

The step tells anyone who joined a held group since the last sweep, reminds once and
escalates once those who have not acknowledged, and asks the DPO to review a hold that
has stood long; placing and lifting are the clear-down core's (`hold_notices`). Each
email is built when it is sent, from its `SentEmail` row, by a builder registered with
the outbox: unlike every other email about a group, these go out *because* the group is
on hold. A notice or reminder whose hold was lifted before it could be sent, or a
reminder to someone who acknowledged in the meantime, is not sent, and says why.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Q, QuerySet
from django.utils import timezone

from opcc_portal.lib.history import bulk_history
from opcc_portal.lib.locking import Lock, lock

from .. import hold_notices, outbox
from ..hold_notices import next_clear_down
from ..links import hold_notice_link_url
from ..models import Hold, HoldNotice, SentEmail
from ..outbox import Built
from . import emails
from .emails import url as _url
from .sweep import dpo_recipients

logger = logging.getLogger(__name__)

Kind = SentEmail.Kind

HOLD_INSTRUCTION = "Do not clear, delete, or leave this chat; do not turn on disappearing messages."


def _id_in_key(key: str, letter: str) -> int | None:
    match = re.search(rf":{letter}(\d+)", key)
    return int(match.group(1)) if match else None


def _notice(email: SentEmail) -> HoldNotice | None:
    pk = _id_in_key(email.key, "n")
    return HoldNotice.objects.select_related("user", "hold__group").filter(pk=pk).first() if pk else None


def member_email(email: SentEmail, *, to: str, now: dt.datetime) -> Built:
    """The notice, its reminder or the release, to one member."""
    notice = _notice(email)
    if notice is None:
        return None, "the hold notice no longer exists"
    hold = notice.hold
    if email.kind in (Kind.HOLD_NOTICE, Kind.HOLD_REMINDER) and hold.lifted_at is not None:
        return None, "the hold was lifted before it could be sent"
    if email.kind == Kind.HOLD_REMINDER and notice.acknowledged_at is not None:
        return None, "already acknowledged"
    context = {
        "user": notice.user,
        "notice": notice,
        "hold": hold,
        "group": hold.group,
        "instruction": HOLD_INSTRUCTION,
        "home_url": _url("home"),
        "group_url": _url("groups:detail", hold.group_id),
    }
    if email.kind == Kind.HOLD_RELEASE:
        context["next"] = next_clear_down(group=hold.group, now=now)
        context["howto_url"] = _url("attestations:howto")
    else:
        context["link"] = hold_notice_link_url(notice)
        context["link_days"] = settings.HOLD_ACK_LINK_MAX_AGE_DAYS
    name = {Kind.HOLD_NOTICE: "hold-notice", Kind.HOLD_REMINDER: "hold-reminder", Kind.HOLD_RELEASE: "hold-release"}
    return emails.message(name[email.kind], context, to), ""


def escalation_email(email: SentEmail, *, to: str, now: dt.datetime) -> Built:
    """Every DPO: the members who have not acknowledged a hold HOLD_ACK_ESCALATE_HOURS after
    its notice, by hold. The batch is the notices this sweep escalated (one claim time)."""
    notices = list(
        HoldNotice.objects.filter(escalated_at=email.created_at, acknowledged_at__isnull=True)
        .filter(hold__lifted_at__isnull=True)
        .select_related("user", "hold__group")
        .order_by("hold__group__name", "hold_id", "user__last_name", "user__first_name", "user__username")
    )
    if not notices:
        return None, "everyone acknowledged, or the hold was lifted, before sending"
    by_hold: dict[int, dict] = {}
    for notice in notices:
        entry = by_hold.setdefault(
            notice.hold_id, {"hold": notice.hold, "url": _url("attestations:hold_detail", notice.hold_id), "people": []}
        )
        entry["people"].append(notice)
    context = {
        "user": email.user,
        "holds": list(by_hold.values()),
        "count": len(notices),
        "hours": settings.HOLD_ACK_ESCALATE_HOURS,
    }
    return emails.message("hold-escalation", context, to), ""


def review_email(email: SentEmail, *, to: str, now: dt.datetime) -> Built:
    """Every DPO: a hold has stood HOLD_REVIEW_DAYS; is it still needed?"""
    hold = Hold.objects.select_related("group", "placed_by").filter(pk=_id_in_key(email.key, "h")).first()
    if hold is None or hold.lifted_at is not None:
        return None, "the hold was lifted before it could be sent"
    context = {
        "user": email.user,
        "hold": hold,
        "group": hold.group,
        "days": (now - hold.placed_at).days,
        "review_days": settings.HOLD_REVIEW_DAYS,
        "hold_url": _url("attestations:hold_detail", hold.pk),
        "lift_url": _url("attestations:hold_lift", hold.pk),
    }
    return emails.message("hold-review", context, to), ""


outbox.register((Kind.HOLD_NOTICE, Kind.HOLD_REMINDER, Kind.HOLD_RELEASE), member_email)
outbox.register((Kind.HOLD_ESCALATION,), escalation_email)
outbox.register((Kind.HOLD_REVIEW,), review_email)


# --- The sweep's hold step ---------------------------------------------------------------------


def sweep(*, now: dt.datetime | None = None, queue: bool = True) -> list[int]:
    """The beat's hold step, each part its own transaction: notices to members who joined
    a held group, reminders, escalations and reviews. Returns the emails queued."""
    now = now or timezone.now()
    ids = notices_queue(now=now, queue=queue)
    ids += notices_again(now=now, queue=queue)
    ids += reminders_queue(now=now, queue=queue)
    ids += escalations_queue(now=now, queue=queue)
    ids += reviews_queue(now=now, queue=queue)
    return ids


@transaction.atomic
def notices_queue(*, now: dt.datetime, queue: bool = True) -> list[int]:
    """The notice to everyone who joined a group while it is on hold (within one sweep)."""
    lock(Lock.HOLD_NOTICES)
    return hold_notices.notices_make(
        group_id=None, by=None, reason="Joined while on hold: notice sent", now=now, queue=queue
    )


@transaction.atomic
def notices_again(*, now: dt.datetime, queue: bool = True) -> list[int]:
    """The notice email again to each member who has not acknowledged a standing hold and
    whose last notice email failed for a reason that may pass (the mail server down past
    every retry, or no address then): the rule of every email, made again until it is sent
    or no longer needed. A refusal that will not pass is not made again; the reminder and
    the DPO's escalation follow it as usual."""
    lock(Lock.HOLD_NOTICES)
    key = hold_notices.key_expression(Kind.HOLD_NOTICE)
    live = SentEmail.objects.filter(key=key, status__in=[SentEmail.Status.PENDING, SentEmail.Status.SENT])
    may_pass = SentEmail.objects.filter(key=key, retry_later=True)
    rows = list(
        HoldNotice.objects.filter(acknowledged_at__isnull=True, hold__lifted_at__isnull=True, user__is_active=True)
        .exclude(user__email="")
        .filter(~Exists(live), Exists(may_pass))
        .values_list("pk", "user_id", "user__email", "hold__group_id")
    )
    return outbox.outbox_add(
        [
            SentEmail(
                key=hold_notices.email_key(Kind.HOLD_NOTICE, pk),
                kind=Kind.HOLD_NOTICE,
                user_id=user_id,
                to_address=address,
                group_id=group_id,
                created_at=now,
            )
            for pk, user_id, address, group_id in rows
        ],
        queue=queue,
    )


def _unacknowledged(claim: str, hours: int, now: dt.datetime) -> QuerySet:
    return HoldNotice.objects.filter(
        acknowledged_at__isnull=True,
        hold__lifted_at__isnull=True,
        user__is_active=True,
        notified_at__lte=now - dt.timedelta(hours=hours),
        **{f"{claim}__isnull": True},
    )


@transaction.atomic
def reminders_queue(*, now: dt.datetime, queue: bool = True) -> list[int]:
    """One reminder to each member who has not acknowledged HOLD_ACK_REMINDER_HOURS after the notice."""
    lock(Lock.HOLD_NOTICES)
    due = _unacknowledged("reminded_at", settings.HOLD_ACK_REMINDER_HOURS, now)
    claimed = hold_notices.notices_claim(due, "reminded_at", by=None, now=now, why="Not acknowledged")
    return outbox.outbox_add(
        [hold_notices.notice_email(Kind.HOLD_REMINDER, n, n.hold.group_id, now) for n in claimed], queue=queue
    )


@transaction.atomic
def escalations_queue(*, now: dt.datetime, queue: bool = True) -> list[int]:
    """Members still silent HOLD_ACK_ESCALATE_HOURS after the notice: one digest to every DPO.

    Each notice is escalated once. With no active DPO nothing is claimed, so the
    escalation goes out once someone has the role.
    """
    lock(Lock.HOLD_NOTICES)
    dpos = list(dpo_recipients())
    if not dpos:
        if _unacknowledged("escalated_at", settings.HOLD_ACK_ESCALATE_HOURS, now).exists():
            logger.warning("Hold notices are due for escalation but no active user has the DPO role.")
        return []
    due = _unacknowledged("escalated_at", settings.HOLD_ACK_ESCALATE_HOURS, now)
    claimed = hold_notices.notices_claim(due, "escalated_at", by=None, now=now, why="Not acknowledged")
    if not claimed:
        return []
    first = claimed[0].pk
    rows = [
        SentEmail(
            key=f"hold-escalation:n{first}:u{dpo.pk}",
            kind=Kind.HOLD_ESCALATION,
            user=dpo,
            to_address=dpo.email,
            created_at=now,
        )
        for dpo in dpos
    ]
    return outbox.outbox_add(rows, queue=queue)


@transaction.atomic
def reviews_queue(*, now: dt.datetime, queue: bool = True) -> list[int]:
    """Ask every DPO to review each hold standing HOLD_REVIEW_DAYS since it was placed or last
    reviewed: once per period, claimed by `review_reminded_at`."""
    lock(Lock.HOLD_NOTICES)
    cutoff = now - dt.timedelta(days=settings.HOLD_REVIEW_DAYS)
    due = Hold.objects.standing().filter(
        Q(review_reminded_at__lte=cutoff) | Q(review_reminded_at__isnull=True, placed_at__lte=cutoff)
    )
    dpos = list(dpo_recipients())
    if not dpos:
        return []
    holds = list(due.select_for_update(of=("self",), skip_locked=True).order_by("pk"))
    if not holds:
        return []
    Hold.objects.filter(pk__in=[h.pk for h in holds]).filter(
        Q(review_reminded_at__lte=cutoff) | Q(review_reminded_at__isnull=True)
    ).update(review_reminded_at=now)
    for hold in holds:
        hold.review_reminded_at = now
    bulk_history(Hold, holds, by=None, reason="DPO asked to review the hold", update=True)
    rows = [
        SentEmail(
            key=f"hold-review:h{hold.pk}:{now:%Y%m%d%H%M}:u{dpo.pk}",
            kind=Kind.HOLD_REVIEW,
            user=dpo,
            to_address=dpo.email,
            group_id=hold.group_id,
            created_at=now,
        )
        for hold in holds
        for dpo in dpos
    ]
    return outbox.outbox_add(rows, queue=queue)
