"""Emails about clear-downs: one function per email, three templates each.

Templates live in `templates/emails/<name>-subject.txt`, `-body.txt` and `-body.html`.
Links are absolute, from SITE_URL. No email ever carries message content (R10).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import smtplib
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.urls import reverse

from . import periods
from .links import obligation_link_url
from .models import Flag, Hold, Obligation, SentEmail

logger = logging.getLogger(__name__)


def mail_error_is_transient(exc: BaseException) -> bool:
    """Whether a failed send is worth another try.

    The network (refused, unreachable, a name that does not resolve, TLS, a timeout) and a
    mail server saying "try later" (a 4xx reply) may be gone in a minute. A 5xx reply (an
    address that does not exist, a failed login, a message refused) will not change by
    trying again, nor will an error of the portal's own.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(not 500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return not 500 <= exc.smtp_code < 600
    return isinstance(exc, smtplib.SMTPException | OSError)


# The legal reason, in one sentence, at the foot of every email about clear-downs.
LEGAL_REASON = (
    "The office's WhatsApp policy asks every member of a work group to clear its chat every seven days, "
    "so that we keep no information longer than necessary, as the Data Protection Act 2018 and the UK GDPR require."
)


# Why an email was not sent when its recipient has no address: a reason that may pass.
NO_ADDRESS = "no email address"
ACCOUNT_DISABLED = "the account is disabled"


def message_id(email: SentEmail) -> str:
    """The `Message-ID` of a recorded email: the same every time that row is sent.

    Sending is at least once (a worker can die after the mail server took the message but
    before the row says so); a resend with the same id is the same message to mail clients.
    The hash of the key and creation time keeps ids apart between databases whose row ids
    start again (a test or demo portal on the same host).
    """
    digest = hashlib.sha256(f"{email.key}|{email.created_at.isoformat()}".encode()).hexdigest()[:16]
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<sentemail-{email.pk}.{digest}@{host}>"


def _url(name: str, *args) -> str:
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


def _message(name: str, context: dict, to: str) -> EmailMultiAlternatives:
    subject, text, html = _render(name, context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    return message


def message(name: str, context: dict, to: str) -> EmailMultiAlternatives:
    """The email `name` (its three templates) to one address, for the modules with emails of their own."""
    return _message(name, context, to)


# Builders of the kinds other modules own (`hold_emails`), registered when they are imported.
BUILDERS: dict[str, Callable[..., tuple[EmailMultiAlternatives | None, str]]] = {}


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
        "home_url": _url("home"),
        "howto_url": _url("attestations:howto"),
        "link_days": settings.ATTEST_LINK_MAX_AGE_DAYS,
    }
    return _message(kind, context, to)


def admin_digest_email(*, email: SentEmail, flags: Sequence[Flag], to: str) -> EmailMultiAlternatives:
    """The group admin's (or deputy's) digest of a cycle's new flags: who is overdue, a missed prompt."""
    cycle = email.cycle
    context = {
        "user": email.user,
        "group": cycle.group,
        "cycle": cycle,
        "overdue": [f for f in flags if f.kind == Flag.Kind.MEMBER_OVERDUE],
        "prompt_missed": [f for f in flags if f.kind == Flag.Kind.PROMPT_MISSED],
        "group_url": _url("groups:detail", cycle.group_id),
        "escalate_hours": settings.ESCALATE_AFTER_HOURS,
    }
    return _message("admin-digest", context, to)


def dpo_escalation_email(*, email: SentEmail, flags: Sequence[Flag], to: str) -> EmailMultiAlternatives:
    """Every DPO: flags still open ESCALATE_AFTER_HOURS after they were raised, by group and week."""
    by_cycle: dict[int, dict] = {}
    for flag in flags:
        cycle = flag.cycle
        entry = by_cycle.setdefault(
            cycle.pk,
            {
                "group": cycle.group,
                "cycle": cycle,
                "url": _url("groups:detail", cycle.group_id),
                "overdue": [],
                "prompt_missed": [],
            },
        )
        entry["overdue" if flag.kind == Flag.Kind.MEMBER_OVERDUE else "prompt_missed"].append(flag)
    context = {
        "user": email.user,
        "groups": sorted(by_cycle.values(), key=lambda e: (e["group"].name, e["cycle"].period_end)),
        "count": len(flags),
        "repeats": [f for f in flags if f.kind == Flag.Kind.PROMPT_MISSED and getattr(f, "missed_before", False)],
        "untold": any(f.notified_at is None for f in flags),
        "hours": settings.ESCALATE_AFTER_HOURS,
    }
    return _message("dpo-escalation", context, to)


def dpo_summary_email(*, email: SentEmail, to: str) -> EmailMultiAlternatives:
    """The DPO's weekly summary: compliance this week and last, groups below the threshold, holds."""
    from .notifications import compliance_summary

    summary = compliance_summary(now=email.created_at)
    context = {"user": email.user, "summary": summary, "dashboard_url": f"{settings.SITE_URL}/dashboard/"}
    return _message("dpo-summary", context, to)


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
        .select_related("user", "cycle__group")
        .annotate(missed_before=Exists(missed_before))
        .order_by("cycle__group__name", "kind", "user__first_name", "user__last_name", "user__username")
    )


def build(email: SentEmail, *, now: dt.datetime) -> tuple[EmailMultiAlternatives | None, str]:
    """The message for a recorded email, or None and why it is no longer to be sent.

    Built when it is sent, so that a flag resolved or a hold placed in the meantime is
    left out: nothing is sent about a group on hold (R9).
    """
    if email.user_id and not email.user.is_active:
        # Whoever queued it, a disabled account (someone who left, R14) gets no email.
        return None, ACCOUNT_DISABLED
    to = email.to_address or (email.user.email if email.user_id else "")
    if not to:
        return None, NO_ADDRESS
    if email.kind in BUILDERS:  # a hold's own emails, sent because the group is on hold
        return BUILDERS[email.kind](email, to=to, now=now)
    if email.group_id and (
        (email.cycle_id and email.cycle.hold_id)
        or Hold.objects.filter(group_id=email.group_id, lifted_at__isnull=True).exists()
    ):
        return None, "the group is on hold"
    kind = email.kind
    if kind in (SentEmail.Kind.PROMPT, SentEmail.Kind.REMINDER):
        obligation = Obligation.objects.select_related("user", "cycle__group").get(pk=email.obligation_id)
        if obligation.status != Obligation.Status.PENDING:
            return None, "already settled"
        if kind == SentEmail.Kind.REMINDER and now >= obligation.due_at:
            return None, "the deadline passed before it could be sent"
        return member_email(kind=kind, obligation=obligation, to=to, now=now), ""
    if kind in (SentEmail.Kind.ADMIN_DIGEST, SentEmail.Kind.DPO_ESCALATION):
        flags = _open_flags(email)
        if kind == SentEmail.Kind.DPO_ESCALATION:
            held = set(Hold.objects.filter(lifted_at__isnull=True).values_list("group_id", flat=True))
            flags = [f for f in flags if f.cycle.group_id not in held and not f.cycle.hold_id]
        if not flags:
            return None, "every flag was resolved before sending"
        if kind == SentEmail.Kind.ADMIN_DIGEST:
            return admin_digest_email(email=email, flags=flags, to=to), ""
        return dpo_escalation_email(email=email, flags=flags, to=to), ""
    if kind == SentEmail.Kind.DPO_SUMMARY:
        return dpo_summary_email(email=email, to=to), ""
    return None, f"cannot rebuild a {kind} email"
