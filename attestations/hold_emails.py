"""The emails of a hold (issue 20): notice, reminder, escalation, review and release.

Each is built when it is sent, from its `SentEmail` row, and registered with the outbox
(`emails.BUILDERS`): unlike every other email about a group, these go out *because* the
group is on hold. A notice or reminder whose hold was lifted before it could be sent,
or a reminder to someone who acknowledged in the meantime, is not sent, and says why.
"""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from . import emails
from .hold_notices import next_clear_down
from .links import hold_notice_link_url
from .models import Hold, HoldNotice, SentEmail

Kind = SentEmail.Kind
Built = tuple[EmailMultiAlternatives | None, str]

HOLD_INSTRUCTION = "Do not clear, delete, or leave this chat; do not turn on disappearing messages."


def _url(name: str, *args) -> str:
    return f"{settings.SITE_URL}{reverse(name, args=args)}"


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


emails.BUILDERS.update(
    {
        Kind.HOLD_NOTICE: member_email,
        Kind.HOLD_REMINDER: member_email,
        Kind.HOLD_RELEASE: member_email,
        Kind.HOLD_ESCALATION: escalation_email,
        Kind.HOLD_REVIEW: review_email,
    }
)
