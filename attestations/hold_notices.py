"""Holds that reach people (R9): the notice, its acknowledgement and the release.

Placing a hold tells every current member of the group at once, in the hold's own
transaction: one `HoldNotice` and one `SentEmail` per member, sent after the commit by the
outbox like every other email (retried, queued again by the sweep if its task is lost).
Lifting tells the same people that clear-downs resume. The sweep's hold step
(`attestations.notifications.holds`) tells anyone who joined since, reminds once and
escalates once those who have not acknowledged, and asks the DPO to review a hold that has
stood long.

Every write here takes the hold notices' lock first (before the close lock and any row
lock), so placing, lifting, acknowledging and the sweep's steps never interleave or
deadlock. Every claim is a conditional UPDATE (`... WHERE reminded_at IS NULL`) under that
lock, and each email's key is unique while pending or sent, so two sweeps at once, or a
sweep racing a lift, never email anyone twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.urls import reverse
from django.utils import timezone

from groups.models import ChatGroup, Membership
from opcc_portal.lib.history import bulk_history, save_with_history
from opcc_portal.lib.locking import Lock, lock

from . import outbox, periods, selectors, services
from .models import Hold, HoldNotice, SentEmail

logger = logging.getLogger(__name__)

Kind = SentEmail.Kind


def email_key(kind: str, notice_id: int) -> str:
    """The outbox key of a member's notice, reminder or release: one of each per notice."""
    return f"{kind.replace('_', '-')}:n{notice_id}"


def key_expression(kind: str):
    return Concat(Value(email_key(kind, 0)[:-1]), Cast(OuterRef("pk"), CharField()))


# --- Placing and lifting ----------------------------------------------------------------


@transaction.atomic
def hold_place(
    *,
    group: ChatGroup,
    by: AbstractBaseUser,
    reference: str,
    reason: str,
    now: dt.datetime | None = None,
    queue: bool = True,
) -> Hold:
    """Place the hold (`services.hold_place`) and tell every current member, in one transaction."""
    now = now or timezone.now()
    lock(Lock.HOLD_NOTICES)
    hold = services.hold_place(group=group, by=by, reference=reference, reason=reason, now=now)
    notices_make(group_id=hold.group_id, by=by, reason=f"Hold notice: {hold.reference}", now=now, queue=queue)
    return hold


@transaction.atomic
def hold_lift(
    *, hold: Hold, by: AbstractBaseUser, reason: str, now: dt.datetime | None = None, queue: bool = True
) -> Hold:
    """Lift the hold (`services.hold_lift`) and tell everyone who had its notice that it ended."""
    now = now or timezone.now()
    lock(Lock.HOLD_NOTICES)
    hold = services.hold_lift(hold=hold, by=by, reason=reason, now=now)
    claimed = notices_claim(
        HoldNotice.objects.filter(hold=hold), "released_at", by=by, now=now, why="Told", skip_locked=False
    )
    rows = [notice_email(Kind.HOLD_RELEASE, n, hold.group_id, now) for n in claimed]
    outbox.outbox_add(rows, queue=queue)
    return hold


def notice_email(kind: str, notice: HoldNotice, group_id: int, now: dt.datetime) -> SentEmail:
    return SentEmail(
        key=email_key(kind, notice.pk),
        kind=kind,
        user_id=notice.user_id,
        to_address=notice.user.email,
        group_id=group_id,
        created_at=now,
    )


def notices_make(
    *, group_id: int | None, by: AbstractBaseUser | None, reason: str, now: dt.datetime, queue: bool
) -> list[int]:
    """A notice and its email for each current member of a held group who has none yet.

    One SELECT of who is missing, then bulk inserts: the same few queries for one group at
    placing or for every held group in the sweep. Disabled accounts are left out (they
    cannot sign in); a member without an address gets a notice whose email is recorded as
    not sent, so the DPO sees who could not be told.
    """
    active_hold = Hold.objects.standing().filter(group=OuterRef("group")).values("pk")[:1]
    members = Membership.objects.active().filter(user__is_active=True)
    if group_id is not None:
        members = members.filter(group_id=group_id)
    else:
        # The members of held groups first (a semi-join on the few standing holds), so the
        # newest hold is looked up for them alone, not for every membership of the force.
        members = members.filter(group_id__in=Hold.objects.standing().values("group_id"))
    rows = list(
        members.annotate(hold_id=Subquery(active_hold))
        .filter(hold_id__isnull=False)
        .filter(~Exists(HoldNotice.objects.filter(hold_id=OuterRef("hold_id"), user_id=OuterRef("user_id"))))
        .values_list("hold_id", "user_id", "user__email", "group_id")
        .order_by("hold_id", "user_id")
    )
    if not rows:
        return []
    notices = HoldNotice.objects.bulk_create(
        [HoldNotice(hold_id=hold_id, user_id=user_id, notified_at=now) for hold_id, user_id, _, _ in rows]
    )
    bulk_history(HoldNotice, notices, by=by, reason=reason, update=False)
    emails = [
        SentEmail(
            key=email_key(Kind.HOLD_NOTICE, notice.pk),
            kind=Kind.HOLD_NOTICE,
            user_id=user_id,
            to_address=address,
            group_id=group,
            created_at=now,
        )
        for notice, (_, user_id, address, group) in zip(notices, rows, strict=True)
    ]
    return outbox.outbox_add(emails, queue=queue)


def notices_claim(
    notices: QuerySet,
    claim: str,
    *,
    by: AbstractBaseUser | None,
    now: dt.datetime,
    why: str,
    skip_locked: bool = True,
) -> list:
    """Lock the notices, set `claim` on those where it is still empty, with history.

    The sweep skips rows another transaction holds (a member acknowledging: the next sweep
    takes them if still due); the lift waits for them, so nobody misses the release. The
    UPDATE's condition repeats the claim, so a row is never claimed twice. Four queries.
    """
    ids = list(
        notices.select_for_update(of=("self",), skip_locked=skip_locked)
        .filter(**{f"{claim}__isnull": True})
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return []
    HoldNotice.objects.filter(pk__in=ids, **{f"{claim}__isnull": True}).update(**{claim: now})
    claimed = list(HoldNotice.objects.filter(pk__in=ids).select_related("user", "hold"))
    bulk_history(HoldNotice, claimed, by=by, reason=f"{why}: {claim.replace('_at', '')}", update=True)
    return claimed


# --- Acknowledging and posting in the chat ----------------------------------------------


@dataclass
class AckResult:
    notice: HoldNotice
    first: bool


@transaction.atomic
def hold_notice_acknowledge(
    *, hold: Hold, user: AbstractBaseUser, channel: str, now: dt.datetime | None = None
) -> AckResult:
    """Record that a member has read the hold and will not clear the chat.

    Once: a second acknowledgement changes nothing and the result says when the first was.
    A member who joined since the last sweep has no notice yet; theirs is made here.
    """
    now = now or timezone.now()
    if channel not in HoldNotice.Channel.values:
        raise ValidationError(f"Unknown channel “{channel}”.")
    hold = Hold.objects.select_related("group").get(pk=hold.pk)
    notice = HoldNotice.objects.select_for_update(of=("self",)).filter(hold=hold, user=user).first()
    if notice is None:
        # Only a notice made here needs the lock: the sweep may be making the same one.
        lock(Lock.HOLD_NOTICES)
        notice = HoldNotice.objects.select_for_update(of=("self",)).filter(hold=hold, user=user).first()
    if notice is not None and notice.acknowledged_at is not None:
        return AckResult(notice=notice, first=False)
    if hold.lifted_at is not None:
        raise ValidationError(
            f"The hold {hold.reference} ended on {hold.lifted_at.astimezone(periods.LONDON):%-d %B %Y}: "
            "there is nothing to acknowledge."
        )
    if notice is None:
        if not Membership.objects.active().filter(group=hold.group, user=user).exists():
            raise PermissionDenied("Only a member of the group acknowledges its hold.")
        notice = HoldNotice(hold=hold, user=user, notified_at=now)
    notice.acknowledged_at = now
    notice.channel = channel
    save_with_history(notice, by=user, reason=f"Acknowledged ({notice.get_channel_display().lower()})")
    return AckResult(notice=notice, first=True)


def can_post_in_chat(user: AbstractBaseUser, group: ChatGroup) -> bool:
    """Who posts the hold message in the chat: the group's admin or deputy, or the DPO."""
    return services.can_prompt(user, group)


@transaction.atomic
def hold_chat_posted(*, hold: Hold, by: AbstractBaseUser, now: dt.datetime | None = None) -> bool:
    """Record that the hold message was posted in the WhatsApp group. False if it already was."""
    now = now or timezone.now()
    hold = Hold.objects.select_for_update(of=("self",)).select_related("group").get(pk=hold.pk)
    if not can_post_in_chat(by, hold.group):
        raise PermissionDenied
    if hold.chat_posted_at is not None:
        return False
    if hold.lifted_at is not None:
        raise ValidationError("This hold has ended: post the message that says so instead.")
    hold.chat_posted_at, hold.chat_posted_by = now, by
    save_with_history(hold, by=by, reason="Hold message posted in the chat")
    return True


# --- Reads: the hold's page, the member's home, the chat messages ---------------------------


@dataclass
class HoldRecord:
    hold: Hold
    notices: list[HoldNotice]
    not_told: list[Membership]

    @property
    def acknowledged(self) -> list[HoldNotice]:
        return [n for n in self.notices if n.acknowledged_at]

    @property
    def waiting(self) -> list[HoldNotice]:
        return [n for n in self.notices if not n.acknowledged_at]


def hold_record(*, hold: Hold) -> HoldRecord:
    """Who was told, whether their notice email went, who acknowledged and when; and any
    current member not yet told (joined since the last sweep). Three queries."""
    hold = Hold.objects.select_related("group", "placed_by", "lifted_by", "chat_posted_by").get(pk=hold.pk)
    latest = SentEmail.objects.filter(key=key_expression(Kind.HOLD_NOTICE)).order_by("-pk")
    notices = list(
        hold.notices.select_related("user")
        .annotate(email_status=Subquery(latest.values("status")[:1]))
        .order_by("user__last_name", "user__first_name", "user__username")
    )
    told = [n.user_id for n in notices]
    not_told = []
    if hold.lifted_at is None:
        not_told = list(
            Membership.objects.active()
            .filter(group_id=hold.group_id, user__is_active=True)
            .exclude(user_id__in=told)
            .select_related("user")
        )
    return HoldRecord(hold=hold, notices=notices, not_told=not_told)


def member_holds(*, user: AbstractBaseUser) -> list[Hold]:
    """The holds standing on the person's groups, each with `acknowledged_at` (theirs, or None)."""
    mine = HoldNotice.objects.filter(hold=OuterRef("pk"), user=user).values("acknowledged_at")[:1]
    return list(selectors.member_active_holds(user=user).annotate(acknowledged_at=Subquery(mine)).order_by("placed_at"))


def next_clear_down(*, group: ChatGroup, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """(period end, deadline) of the group's next clear-down, or None if it takes no part."""
    if group.status != ChatGroup.Status.APPROVED:
        return None
    end = periods.next_period_end(weekday=group.cycle_weekday, at=group.cycle_time, now=now)
    return end, periods.add_local_hours(end, settings.CLEAR_DOWN_GRACE_HOURS)


def _local(moment: dt.datetime, fmt: str = "%a %-d %b %Y, %H:%M") -> str:
    return moment.astimezone(periods.LONDON).strftime(fmt)


def hold_chat_text(*, hold: Hold) -> str:
    """The message the admin pastes into the WhatsApp group when a hold is placed."""
    if hold.timer_off_required:  # R17: the timer would delete what the hold keeps
        keep = (
            "Do not clear, delete, or leave this chat. Disappearing messages are being turned OFF: do not "
            "turn them on again, and keep starred messages and media you saved.\n"
        )
    else:
        keep = "Do not clear, delete, or leave this chat; do not turn on disappearing messages.\n"
    return (
        f"HOLD on this chat from {_local(hold.placed_at, '%-d %B %Y')} (reference {hold.reference}).\n"
        + keep
        + "The information in it may be needed for a request or case: deleting it now could be an "
        "offence (Freedom of Information Act 2000, section 77).\n"
        f"Everyone: please acknowledge the hold in the clear-down portal: {settings.SITE_URL}"
        f"{reverse('home')}\n"
        "You will be told here and by email when the hold ends."
    )


def release_chat_text(*, hold: Hold, now: dt.datetime) -> str:
    """The message the admin pastes into the WhatsApp group when the hold is lifted."""
    text = f"The hold {hold.reference} on this chat has ended ({_local(hold.lifted_at, '%-d %B %Y')}).\n"
    nxt = next_clear_down(group=hold.group, now=now)
    if nxt:
        end, due = nxt
        text += (
            f"Weekly clear-downs resume: the next is for the week ending {_local(end)}. After then, "
            f"clear this chat (Clear Chat) and confirm in the portal by {_local(due)}: {settings.SITE_URL}"
            f"{reverse('home')}"
        )
    else:
        text += "No clear-down is asked while the group is not approved; keep the chat as it is for now."
    return text


# A lifted hold's release message is offered on the group page for this long.
RELEASE_MESSAGE_DAYS = 14


def group_hold_chat(*, group: ChatGroup, user: AbstractBaseUser, now: dt.datetime) -> dict | None:
    """What the group page offers its admin, deputy or the DPO to paste into the chat:
    the hold message while a hold stands, the release message for a while after."""
    if not can_post_in_chat(user, group):
        return None
    hold = (
        Hold.objects.filter(group=group)
        .filter(Q(lifted_at__isnull=True) | Q(lifted_at__gte=now - dt.timedelta(days=RELEASE_MESSAGE_DAYS)))
        .select_related("group", "chat_posted_by")
        .annotate(placed_or_lifted=Coalesce("lifted_at", "placed_at"))
        .order_by("-placed_or_lifted")
        .first()
    )
    if hold is None:
        return None
    if hold.lifted_at is None:
        return {"hold": hold, "text": hold_chat_text(hold=hold), "released": False}
    return {"hold": hold, "text": release_chat_text(hold=hold, now=now), "released": True}
