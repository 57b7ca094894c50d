"""Emails about clear-downs: one function per email, three templates each, and the
builders the outbox calls to make a recorded email when it is sent.

Templates live in `templates/emails/<name>-subject.txt`, `-body.txt` and `-body.html`.
Links are absolute, from SITE_URL. No email ever carries message content (R10).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.urls import reverse

from groups.models import GroupReview

from .. import ledger, outbox, periods
from ..links import obligation_link_url
from ..models import Flag, Hold, Obligation, SentEmail
from ..outbox import Built
from .summary import compliance_summary

# Why a group is reviewed, in one sentence, at the foot of every email about its review.
REVIEW_REASON = (
    "The office's WhatsApp policy allows a work group only for a defined business purpose, so each group, "
    "its members and its settings are reviewed regularly and signed off by the Data Protection Officer."
)

# The legal reason, in one sentence, at the foot of every email about clear-downs.
LEGAL_REASON = (
    "The office's WhatsApp policy asks every member of a work group to clear its chat every seven days, "
    "so that we keep no information longer than necessary, as the Data Protection Act 2018 and the UK GDPR require."
)


def url(name: str, *args) -> str:
    """An absolute link to a page of the portal, from SITE_URL (never from a request)."""
    return f"{settings.SITE_URL}{reverse(name, args=args)}"


def _render(name: str, context: dict) -> tuple[str, str, str]:
    context = {
        **context,
        "SITE_URL": settings.SITE_URL,
        "ORGANISATION_NAME": settings.ORGANISATION_NAME,
        "legal_reason": LEGAL_REASON,
    }
    subject = " ".join(render_to_string(f"emails/{name}-subject.txt", context).split())
    text = render_to_string(f"emails/{name}-body.txt", context)
    html = render_to_string(f"emails/{name}-body.html", context)
    return subject, text, html


def message(name: str, context: dict, to: str) -> EmailMultiAlternatives:
    """The email `name` (its three templates) to one address."""
    subject, text, html = _render(name, context)
    email = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    email.attach_alternative(html, "text/html")
    return email


def member_email(*, kind: str, obligation: Obligation, to: str, now: dt.datetime) -> EmailMultiAlternatives:
    """An email to a member who owes a clear-down, with their signed link to confirm: the
    admin's weekly prompt (`prompt`, R5) or the reminder before the deadline (`reminder`).
    The kind names the templates. A prompt sent after the deadline says it is late."""
    cycle = obligation.cycle
    context = {
        "late": now >= obligation.due_at,
        "user": obligation.user,
        "group": cycle.group,
        "cycle": cycle,
        # In the subject: two weeks' emails of one group must not look like duplicates.
        "period": periods.period_short(cycle.period_start, cycle.period_end),
        "link": obligation_link_url(obligation),
        "home_url": url("home"),
        "howto_url": url("attestations:howto"),
        "link_days": settings.ATTEST_LINK_MAX_AGE_DAYS,
        "link_sign_in": settings.ATTEST_LINK_SIGN_IN_REQUIRED,
    }
    return message(kind, context, to)


def admin_digest_email(*, email: SentEmail, flags: Sequence[Flag], to: str) -> EmailMultiAlternatives:
    """The group admin's (or deputy's) digest of a cycle's new flags: who is overdue, a missed prompt.
    A digest about an overdue review (no cycle) is the review's own email."""
    if email.cycle_id is None and flags[0].hold_id:
        return timer_off_email(email=email, hold=flags[0].hold, to=to)
    if email.cycle_id is None:
        return review_overdue_email(email=email, review=flags[0].review, to=to)
    cycle = email.cycle
    context = {
        "user": email.user,
        "group": cycle.group,
        "cycle": cycle,
        "overdue": [f for f in flags if f.kind == Flag.Kind.MEMBER_OVERDUE],
        "prompt_missed": [f for f in flags if f.kind == Flag.Kind.PROMPT_MISSED],
        "group_url": url("groups:detail", cycle.group_id),
        "escalate_hours": settings.ESCALATE_AFTER_HOURS,
    }
    return message("admin-digest", context, to)


def review_overdue_email(*, email: SentEmail, review, to: str) -> EmailMultiAlternatives:
    """The admin's (or deputy's) email about their group's review, not answered by its due date (R16)."""
    context = {
        "user": email.user,
        "group": review.group,
        "review": review,
        "review_url": url("attestations:review_answer", review.group_id),
        "escalate_hours": settings.ESCALATE_AFTER_HOURS,
        "why": REVIEW_REASON,
    }
    return message("review-overdue", context, to)


def timer_off_email(*, email: SentEmail, hold: Hold, to: str) -> EmailMultiAlternatives:
    """The admin's (or deputy's) email: their disappearing-messages group is on hold, so the
    timer must be turned off now and confirmed in the portal (R17)."""
    context = {
        "user": email.user,
        "group": hold.group,
        "hold": hold,
        "group_url": url("groups:detail", hold.group_id),
        "howto_url": url("attestations:howto"),
        "escalate_hours": settings.ESCALATE_AFTER_HOURS,
    }
    return message("timer-off", context, to)


def review_returned_email(*, email: SentEmail, review, to: str) -> EmailMultiAlternatives:
    """The admin's (or deputy's) email: the DPO sent the group's review back, with the reason."""
    context = {
        "user": email.user,
        "group": review.group,
        "review": review,
        "review_url": url("attestations:review_answer", review.group_id),
        "why": REVIEW_REASON,
    }
    return message("review-returned", context, to)


def dpo_escalation_email(*, email: SentEmail, flags: Sequence[Flag], to: str) -> EmailMultiAlternatives:
    """Every DPO: flags still open ESCALATE_AFTER_HOURS after they were raised, by group and
    week; overdue reviews in a list of their own."""
    reviews = [f for f in flags if f.kind == Flag.Kind.REVIEW_OVERDUE]
    timers = [f for f in flags if f.kind == Flag.Kind.TIMER_NOT_OFF]
    flags_of_cycles = [f for f in flags if f.cycle_id is not None]
    by_cycle: dict[int, dict] = {}
    for flag in flags_of_cycles:
        cycle = flag.cycle
        entry = by_cycle.setdefault(
            cycle.pk,
            {
                "group": cycle.group,
                "cycle": cycle,
                "url": url("groups:detail", cycle.group_id),
                "overdue": [],
                "prompt_missed": [],
            },
        )
        entry["overdue" if flag.kind == Flag.Kind.MEMBER_OVERDUE else "prompt_missed"].append(flag)
    context = {
        "user": email.user,
        "groups": sorted(by_cycle.values(), key=lambda e: (e["group"].name, e["cycle"].period_end)),
        "reviews": [(f, url("attestations:review_decide", f.review_id)) for f in reviews],
        "timers": [(f, url("groups:detail", f.group_id)) for f in timers],
        "count": len(flags),
        "repeats": [f for f in flags if f.kind == Flag.Kind.PROMPT_MISSED and getattr(f, "missed_before", False)],
        "untold": any(f.notified_at is None for f in flags),
        "hours": settings.ESCALATE_AFTER_HOURS,
    }
    return message("dpo-escalation", context, to)


def dpo_summary_email(*, email: SentEmail, to: str) -> EmailMultiAlternatives:
    """The DPO's weekly summary: compliance this week and last, groups below the threshold, holds,
    and the ledger's head hash and count when the summary was made: a copy outside the portal."""
    summary = compliance_summary(now=email.created_at)
    context = {
        "user": email.user,
        "summary": summary,
        "anchor": ledger.ledger_anchor(at=email.created_at),
        "dashboard_url": f"{settings.SITE_URL}/dashboard/",
    }
    return message("dpo-summary", context, to)


def _open_flags(email: SentEmail):
    # A prompt missed by the same admin in the cycle just before (periods are contiguous,
    # so the previous cycle ends where this one starts).
    missed_before = Flag.objects.filter(
        kind=Flag.Kind.PROMPT_MISSED,
        user=OuterRef("user"),
        cycle__group=OuterRef("cycle__group"),
        cycle__period_end=OuterRef("cycle__period_start"),
    )
    return list(
        email.flags.filter(resolved_at__isnull=True)
        .select_related("user", "cycle__group", "review__group", "hold__group")
        .annotate(missed_before=Exists(missed_before))
        .order_by("group__name", "kind", "user__first_name", "user__last_name", "user__username")
    )


def _held(email: SentEmail) -> bool:
    return bool(email.group_id) and (
        bool(email.cycle_id and email.cycle.hold_id) or Hold.objects.standing().filter(group_id=email.group_id).exists()
    )


def build_member_email(email: SentEmail, *, to: str, now: dt.datetime) -> Built:
    """A prompt or a reminder, unless the group went on hold, the member settled, or (a
    reminder) the deadline passed before it could be sent."""
    if _held(email):
        return None, ON_HOLD
    obligation = Obligation.objects.select_related("user", "cycle__group").get(pk=email.obligation_id)
    if obligation.status != Obligation.Status.PENDING:
        return None, "already settled"
    if email.kind == SentEmail.Kind.REMINDER and now >= obligation.due_at:
        return None, "the deadline passed before it could be sent"
    return member_email(kind=email.kind, obligation=obligation, to=to, now=now), ""


def build_flags_email(email: SentEmail, *, to: str, now: dt.datetime) -> Built:
    """An admin's digest or a DPO's escalation, of the flags still open when it is sent;
    nothing about a group on hold (R9)."""
    # A review is not stopped by a hold (it deletes nothing), so its digest goes out.
    if email.cycle_id is not None and _held(email):
        return None, ON_HOLD
    flags = _open_flags(email)
    if email.kind == SentEmail.Kind.DPO_ESCALATION:
        held = set(Hold.objects.standing().values_list("group_id", flat=True))
        flags = [f for f in flags if f.cycle_id is None or (f.cycle.group_id not in held and not f.cycle.hold_id)]
    if not flags:
        return None, "every flag was resolved before sending"
    if email.kind == SentEmail.Kind.ADMIN_DIGEST:
        return admin_digest_email(email=email, flags=flags, to=to), ""
    return dpo_escalation_email(email=email, flags=flags, to=to), ""


def build_review_returned_email(email: SentEmail, *, to: str, now: dt.datetime) -> Built:
    """The DPO's reason for sending a review back, unless the admin answered again first."""
    match = re.search(r"review-returned:r(\d+):n(\d+):", email.key)
    review = GroupReview.objects.select_related("group").filter(pk=int(match.group(1))).first() if match else None
    if review is None or review.status != GroupReview.Status.DUE or review.submission != int(match.group(2)):
        return None, "the review was answered again before it could be sent"
    return review_returned_email(email=email, review=review, to=to), ""


def build_summary_email(email: SentEmail, *, to: str, now: dt.datetime) -> Built:
    return dpo_summary_email(email=email, to=to), ""


# Why an email about a group is not sent: nothing is sent about a group on hold (R9).
ON_HOLD = "the group is on hold"

outbox.register((SentEmail.Kind.PROMPT, SentEmail.Kind.REMINDER), build_member_email)
outbox.register((SentEmail.Kind.ADMIN_DIGEST, SentEmail.Kind.DPO_ESCALATION), build_flags_email)
outbox.register((SentEmail.Kind.DPO_SUMMARY,), build_summary_email)
outbox.register((SentEmail.Kind.REVIEW_RETURNED,), build_review_returned_email)
