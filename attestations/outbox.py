"""The outbox: one `SentEmail` row per email, built when it is sent, sent, retried.

Every email of the portal is a row first, written in the transaction that decides it, and
sent by a task queued only after the commit, one task per row (per batch of rows when
there are many). If the broker is down the
row stays pending and a later sweep queues it again (`emails_requeue`), each row at most
once per EMAIL_REQUEUE_MINUTES (`queued_at`). An email that could not be sent for a reason
that may pass (the mail server down through every attempt, a recipient with no address
yet) gives back its claims and is made again by a later sweep, until it is sent or no
longer needed. Delivery is at least once: a worker killed after the mail server took a
message but before the row was committed sends it again, as the same message (its
`Message-ID` is derived from the row), which mail clients show once.

This module knows how to keep, send and retry a row, not what any email says: the modules
that write emails register a builder per kind (`BUILDERS`) when the app is ready, and the
task is queued by its name. So the clear-down services that email (the admin's prompt, a
hold's notices) use the outbox without importing the sweep, the templates or the tasks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import smtplib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from celery import current_app
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from opcc_portal.lib.history import bulk_history, save_with_history

from .models import Flag, Obligation, SentEmail

logger = logging.getLogger(__name__)

Kind = SentEmail.Kind
# At most one row per key is pending or sent (a constraint).
LIVE = (SentEmail.Status.PENDING, SentEmail.Status.SENT)

# The Celery task that sends one row (`attestations.notifications.tasks.send_email`), by name,
# and the one that sends a batch of rows (`send_emails`), each retried by the first.
SEND_TASK = "attestations.tasks.send_email"
SEND_BATCH_TASK = "attestations.tasks.send_emails"

# Why an email was not sent when its recipient has no address: a reason that may pass.
NO_ADDRESS = "no email address"
# Why an email was not sent to a closed account (someone who left, R14): for good.
ACCOUNT_DISABLED = "the account is disabled"

# A builder makes the message of a recorded email, or says why it is no longer to be sent:
# `(message, "")` or `(None, why_not)`.
Built = tuple[EmailMultiAlternatives | None, str]
Builder = Callable[..., Built]
BUILDERS: dict[str, Builder] = {}


def register(kinds: Iterable[str], builder: Builder) -> None:
    """Say which function builds the emails of `kinds`: `builder(email, *, to, now)`."""
    for kind in kinds:
        BUILDERS[kind] = builder


# --- Recording ------------------------------------------------------------------------------


def _queue(ids: Sequence[int]) -> None:
    """Queue the send tasks of these emails, all through one broker connection. Never raises: a
    broker outage leaves the rows pending and a later sweep queues them again (`emails_requeue`).

    A few emails are one task each, so that the workers send them side by side. From
    EMAIL_QUEUE_BATCH on (a force-wide deadline: a digest to every admin), they go in tasks of
    that many ids each (SEND_BATCH_TASK): publishing a message is most of the cost of queuing,
    and one per email made the sweep after a force-wide boundary spend seconds on it."""
    try:
        with current_app.producer_or_acquire() as producer:
            if len(ids) < settings.EMAIL_QUEUE_BATCH:
                send = current_app.tasks[SEND_TASK]
                for pk in ids:
                    send.apply_async((pk,), producer=producer)
                return
            send_batch = current_app.tasks[SEND_BATCH_TASK]
            size = settings.EMAIL_QUEUE_BATCH
            for start in range(0, len(ids), size):
                send_batch.apply_async((list(ids[start : start + size]),), producer=producer)
    except Exception:
        logger.exception(
            "Could not queue %d email(s); each stays pending and the next sweep will queue it again.", len(ids)
        )


def queue_on_commit(ids: list[int], *, queue: bool) -> None:
    """Queue the emails' tasks once the current transaction has committed."""
    if ids and queue:
        transaction.on_commit(lambda: _queue(ids))


def outbox_add(
    rows: list[SentEmail],
    *,
    flags_of: dict[str, Iterable[int]] | None = None,
    acks_of: dict[str, Iterable[int]] | None = None,
    queue: bool = True,
) -> list[int]:
    """Record emails (with history), the flags or policy acknowledgements each reports, and
    queue them after the commit. Call it inside the transaction that decides them. Three
    queries or four."""
    if not rows:
        return []
    for row in rows:
        row.queued_at = row.created_at if queue else None
    created = SentEmail.objects.bulk_create(rows)
    bulk_history(SentEmail, created, by=None, reason="Queued", update=False)
    if flags_of:
        through = SentEmail.flags.through
        links = [
            through(sentemail_id=email.pk, flag_id=flag_id)
            for email, key in ((e, e.key) for e in created)
            for flag_id in flags_of.get(key, ())
        ]
        through.objects.bulk_create(links)
    if acks_of:
        through = SentEmail.policy_acks.through
        through.objects.bulk_create(
            through(sentemail_id=email.pk, policyacknowledgement_id=ack_id)
            for email in created
            for ack_id in acks_of.get(email.key, ())
        )
    ids = [email.pk for email in created]
    queue_on_commit(ids, queue=queue)
    return ids


# What an email to a member about one obligation is made from.
MEMBER_EMAIL_FIELDS = ("pk", "user_id", "user__email", "cycle_id", "cycle__group_id")


def member_emails_add(kind: str, claim: str, rows: list[tuple], *, now: dt.datetime, queue: bool) -> list[int]:
    """Claim each obligation (`<claim> IS NULL`) and record one email of `kind` to its member.

    `rows` are `MEMBER_EMAIL_FIELDS`; the key is one per obligation.
    """
    if not rows:
        return []
    Obligation.objects.filter(pk__in=[r[0] for r in rows], **{f"{claim}__isnull": True}).update(**{claim: now})
    return outbox_add(
        [
            SentEmail(
                key=f"{kind}:o{pk}",
                kind=kind,
                user_id=user_id,
                to_address=address,
                obligation_id=pk,
                cycle_id=cycle_id,
                group_id=group_id,
                created_at=now,
            )
            for pk, user_id, address, cycle_id, group_id in rows
        ],
        queue=queue,
    )


@transaction.atomic
def emails_requeue(*, now: dt.datetime | None = None, queue: bool = True) -> list[int]:
    """Queue again the emails still pending whose task was lost (broker down, worker killed).

    Only those neither queued nor tried for EMAIL_REQUEUE_MINUTES, longer than the longest
    retry backoff, so an email waiting for its retry is not queued twice (and if it were,
    the send locks the row and skips it once sent). Each is queued at most once per
    interval: sweeps that a worker runs back to back after an outage queue it once, not
    once each. `queued_at` is the claim, taken by a conditional UPDATE on locked rows.
    """
    now = now or timezone.now()
    stale = now - dt.timedelta(minutes=settings.EMAIL_REQUEUE_MINUTES)
    ids = list(
        SentEmail.objects.select_for_update(skip_locked=True)
        .filter(status=SentEmail.Status.PENDING)
        .filter(Q(queued_at__lt=stale) | Q(queued_at__isnull=True, created_at__lt=stale))
        .filter(Q(attempted_at__isnull=True) | Q(attempted_at__lt=stale))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if ids and queue:
        SentEmail.objects.filter(pk__in=ids).update(queued_at=now)
    queue_on_commit(ids, queue=queue)
    return ids


# --- Sending --------------------------------------------------------------------------------


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


def build(email: SentEmail, *, now: dt.datetime) -> Built:
    """The message for a recorded email, or None and why it is no longer to be sent.

    Built when it is sent, by the builder registered for its kind, so that what changed in
    the meantime (a flag resolved, a hold placed) is taken into account.
    """
    if email.user_id and not email.user.is_active:
        # Whoever queued it, a closed account (someone who left, R14) gets no email.
        return None, ACCOUNT_DISABLED
    to = email.to_address or (email.user.email if email.user_id else "")
    if not to:
        return None, NO_ADDRESS
    builder = BUILDERS.get(email.kind)
    if builder is None:
        return None, f"cannot rebuild a {email.kind} email"
    return builder(email, to=to, now=now)


@dataclass
class SendOutcome:
    status: str | None  # None: nothing to do (already sent, given up, or another worker has it)
    error: Exception | None = None

    @property
    def retry(self) -> bool:
        return self.status == SentEmail.Status.PENDING and self.error is not None


def sentemail_send(*, sent_email_id: int, now: dt.datetime | None = None) -> SendOutcome:
    """Send one recorded email, and record the result.

    The row is locked (SKIP LOCKED) for the send, as pretix does: a second task for the
    same email skips it, and one arriving later finds it sent. A transient error (the
    network, a 4xx reply) leaves it pending for a retry, up to EMAIL_MAX_ATTEMPTS; then it
    is failed, with its error, and its claims are given back so a later sweep makes it
    again (the same flags reported, the same member prompted or reminded, the same weekly
    summary), until it is sent or no longer needed. An email whose recipient has no address
    is not sent and gives back its claims the same way. A permanent error (a 5xx
    reply such as an unknown address, or an error of the portal's own) fails it at once
    and keeps its claims: a new email would be refused the same way, and open flags still
    reach the DPO by escalation. Nothing is marked sent unless the mail server accepted it.

    Each message carries a `Message-ID` derived from its row: if the worker dies after the
    mail server accepted it but before the row is committed, the resend is the same message.
    """
    now = now or timezone.now()
    with transaction.atomic():
        email = (
            SentEmail.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("user")  # whether the recipient's account is still open (R14)
            .filter(pk=sent_email_id, status=SentEmail.Status.PENDING)
            .first()
        )
        if email is None:
            return SendOutcome(status=None)
        try:
            message, why_not = build(email, now=now)
        except DatabaseError:
            raise
        except Exception as exc:  # a bug in a template or in the portal: recorded, not retried
            email.attempts += 1
            email.attempted_at = now
            logger.exception("Email %s (%s) could not be built.", email.pk, email.kind, extra={"email_id": email.pk})
            return _send_failed(email, exc, transient=False)
        if message is None:
            email.status, email.error = SentEmail.Status.CANCELLED, why_not
            if why_not == NO_ADDRESS:  # it may pass: the work waits for an address
                email.retry_later = True
                _release_claims(email)
            save_with_history(email, by=None, reason=f"Not sent: {why_not}")
            return SendOutcome(status=email.status)
        message.extra_headers["Message-ID"] = message_id(email)
        email.subject, email.to_address = message.subject[:255], message.to[0]
        email.attempts += 1
        email.attempted_at = now
        try:
            message.send()
        except Exception as exc:
            return _send_failed(email, exc, transient=mail_error_is_transient(exc))
        email.status, email.sent_at, email.error = SentEmail.Status.SENT, now, ""
        save_with_history(email, by=None, reason="Sent")
        return SendOutcome(status=email.status)


def _send_failed(email: SentEmail, exc: Exception, *, transient: bool) -> SendOutcome:
    email.error = f"{type(exc).__name__}: {exc}"[:2000]
    if not transient:
        email.status = SentEmail.Status.FAILED
        save_with_history(email, by=None, reason="Refused: not tried again")
        logger.error(
            "Email %s (%s) refused, not tried again: %s", email.pk, email.kind, exc, extra={"email_id": email.pk}
        )
        return SendOutcome(status=email.status)
    if email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
        email.status = SentEmail.Status.FAILED
        email.retry_later = True
        _release_claims(email)
        save_with_history(email, by=None, reason=f"Failed after {email.attempts} attempts")
    else:
        save_with_history(email, by=None, reason=f"Attempt {email.attempts} failed")
    logger.warning(
        "Email %s (%s) attempt %d failed: %s",
        email.pk,
        email.kind,
        email.attempts,
        exc,
        extra={"email_id": email.pk},
    )
    return SendOutcome(status=email.status, error=exc)


def _release_claims(email: SentEmail) -> None:
    """Give back what this email claimed, unless another recipient of the same batch got it.

    A weekly summary claims nothing: `retry_later` is what the sweep looks for."""
    member_claims = {Kind.PROMPT: "prompt_emailed_at", Kind.REMINDER: "reminder_sent_at"}
    if email.kind in member_claims and email.obligation_id:
        Obligation.objects.filter(pk=email.obligation_id).update(**{member_claims[email.kind]: None})
        return
    if email.kind not in (Kind.ADMIN_DIGEST, Kind.DPO_ESCALATION, Kind.POLICY_REMINDER, Kind.POLICY_OVERDUE):
        return
    batch = email.key.rsplit(":", 1)[0] + ":"
    delivered = SentEmail.objects.filter(key__startswith=batch, status__in=LIVE).exclude(pk=email.pk).exists()
    if delivered:
        return
    policy_claims = {Kind.POLICY_REMINDER: "reminder_sent_at", Kind.POLICY_OVERDUE: "overdue_notified_at"}
    if email.kind in policy_claims:
        email.policy_acks.update(**{policy_claims[email.kind]: None})
        return
    flags = Flag.objects.filter(emails=email)
    if email.kind == Kind.ADMIN_DIGEST:
        flags.update(notified_at=None)
    else:
        flags.update(escalated_at=None)
