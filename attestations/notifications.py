"""The schedule's writes (R8): the sweep, reminders, digests, escalations, the weekly summary,
and the sending of every email recorded in `SentEmail`.

Each service is one transaction, keyword-only, with `now` injectable. Work is claimed before
any email is made: a conditional UPDATE (`... WHERE notified_at IS NULL`) under a lock, and
a `SentEmail` row per email whose key is unique while pending or sent. So two sweeps at the
same time, a retried task or a sweep after a day of downtime never email twice: each flag
is in one admin digest and one escalation, each obligation gets one reminder.

Emails are queued to the worker only after the commit, one task per `SentEmail` row. If
the broker is down the rows stay pending and a later sweep queues them again, each row at
most once per EMAIL_REQUEUE_MINUTES (`queued_at`). An email that could not be sent for a
reason that may pass (the mail server down through every attempt, a recipient with no
address yet) gives back its claims and is made again by a later sweep, until it is sent or
no longer needed. Delivery is at least once: a worker killed after the mail server took a
message but before the row was committed sends it again, as the same message (its
`Message-ID` is derived from the row), which mail clients show once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from groups.permissions import DPO_ROLE
from groups.services import _serialise

from . import emails, periods, services
from .models import Flag, Hold, Obligation, SentEmail

logger = logging.getLogger(__name__)

Status = Obligation.Status
Kind = SentEmail.Kind
_LIVE = (SentEmail.Status.PENDING, SentEmail.Status.SENT)  # at most one row per key (a constraint)

_NOTIFY_LOCK = 7_103
_SETTLE_LOCK = 7_102  # the same lock as `services.flags_raise`: settling and raising never interleave


def _group_held(path: str = "cycle__group") -> Exists:
    return Exists(Hold.objects.filter(group=OuterRef(path), lifted_at__isnull=True))


def _queue(ids: Sequence[int]) -> None:
    """Queue one send task per email, all through one broker connection. Never raises: a
    broker outage leaves the rows pending and a later sweep queues them again (`emails_requeue`)."""
    from .tasks import send_email

    try:
        with send_email.app.producer_or_acquire() as producer:
            for pk in ids:
                send_email.apply_async((pk,), producer=producer)
    except Exception:
        logger.exception(
            "Could not queue %d email(s); each stays pending and the next sweep will queue it again.", len(ids)
        )


def _queue_on_commit(ids: list[int], queue: bool) -> None:
    if ids and queue:
        transaction.on_commit(lambda: _queue(ids))


def _create_emails(
    rows: list[SentEmail], flags_of: dict[str, Iterable[int]] | None = None, *, queue: bool
) -> list[int]:
    """Insert the rows (with history) and the flags each reports, and queue them after the
    commit. Three queries or four."""
    if not rows:
        return []
    for row in rows:
        row.queued_at = row.created_at if queue else None
    created = SentEmail.objects.bulk_create(rows)
    services._history(SentEmail, created, by=None, reason="Queued", update=False)
    if flags_of:
        through = SentEmail.flags.through
        links = [
            through(sentemail_id=email.pk, flag_id=flag_id)
            for email, key in ((e, e.key) for e in created)
            for flag_id in flags_of.get(key, ())
        ]
        through.objects.bulk_create(links)
    ids = [email.pk for email in created]
    _queue_on_commit(ids, queue)
    return ids


def outbox_add(rows: list[SentEmail], *, queue: bool = True) -> list[int]:
    """Record emails and queue them after the commit: the outbox for the modules that make
    emails of their own (`hold_notices`). Call it inside the transaction that decides them."""
    return _create_emails(rows, queue=queue)


def dpo_recipients():
    """The active DPOs, who receive escalations and reviews."""
    return _dpos()


# --- The sweep --------------------------------------------------------------------------


@dataclass
class SweepResult:
    cycles: int = 0
    flags_raised: int = 0
    flags_resolved: int = 0
    emails: list[int] = field(default_factory=list)


def sweep(*, now: dt.datetime | None = None, queue: bool = True) -> SweepResult:
    """Everything the 15-minute beat does, in order, each step its own transaction.

    Close due cycles, raise flags, resolve flags that are settled, then make the emails:
    prompt emails that could not be sent before, reminders, admin digests, DPO escalations,
    weekly summaries that could not be sent before, and re-queue emails whose task was lost.
    Running it twice, or twice at once, does nothing more than running it once.
    """
    now = now or timezone.now()
    result = SweepResult()
    result.cycles = len(services.cycle_close_due(now=now).cycles)
    result.flags_raised = len(services.flags_raise(now=now).raised)
    result.flags_resolved = flags_resolve_settled(now=now)
    result.emails += prompt_emails_queue_again(now=now, queue=queue)  # before a reminder of the same week
    result.emails += reminders_queue(now=now, queue=queue)
    result.emails += admin_digests_queue(now=now, queue=queue)
    result.emails += escalations_queue(now=now, queue=queue)
    result.emails += dpo_summaries_queue(now=now, queue=queue, again_only=True)
    result.emails += emails_requeue(now=now, queue=queue)
    return result


@transaction.atomic
def flags_resolve_settled(*, now: dt.datetime | None = None) -> int:
    """Resolve open flags whose cause has gone, whatever path it went by.

    The services that settle an obligation resolve its flag themselves; this catches the
    rest: an attestation committed while the flag was being raised, a prompt issued in
    the same minute, a hold placed on a group. A group suspended or retired keeps its
    flags: what its members owe is still owed (R13).
    """
    now = now or timezone.now()
    _serialise(_SETTLE_LOCK)
    open_flags = Flag.objects.filter(resolved_at__isnull=True)
    settled_obligation = Obligation.objects.filter(cycle=OuterRef("cycle"), user=OuterRef("user")).exclude(
        status=Status.PENDING
    )
    resolved = services._flags_resolve(
        open_flags.filter(kind=Flag.Kind.MEMBER_OVERDUE).filter(Exists(settled_obligation)),
        by=None,
        now=now,
        reason="Settled: attested, excused or held",
    )
    resolved += services._flags_resolve(
        open_flags.filter(kind=Flag.Kind.PROMPT_MISSED, cycle__prompted_at__isnull=False),
        by=None,
        now=now,
        reason="Prompt issued late",
    )
    resolved += services._flags_resolve(
        open_flags.filter(Q(cycle__hold__isnull=False) | _group_held()),
        by=None,
        now=now,
        reason="Hold placed",
    )
    return resolved


# --- The admin's prompt ---------------------------------------------------------------

# What an email to a member is made from: (obligation, user, address, cycle, group).
_MEMBER_EMAIL_FIELDS = ("pk", "user_id", "user__email", "cycle_id", "cycle__group_id")


def prompt_emails_queue(*, cycle, now: dt.datetime, queue: bool = True) -> list[int]:
    """The prompt email to each member who still owes a clear-down for the cycle (R5).

    Called inside the prompt's own transaction (the cycle row locked), so the prompt and
    its emails are recorded together or not at all. Claimed by `prompt_emailed_at IS NULL`;
    sent like every other email, so a lost task or a dead worker is caught by the sweep. A
    member with no email address is not claimed: the sweep emails them once they have one
    (`prompt_emails_queue_again`), and the dashboard names them meanwhile.
    """
    pending = cycle.obligations.filter(status=Status.PENDING, prompt_emailed_at__isnull=True).exclude(user__email="")
    rows = list(pending.values_list(*_MEMBER_EMAIL_FIELDS))
    return _emails_to_members(Kind.PROMPT, "prompt_emailed_at", rows, now=now, queue=queue)


@transaction.atomic
def prompt_emails_queue_again(*, now: dt.datetime | None = None, queue: bool = True) -> list[int]:
    """The prompt email again, to each member of a prompted week who still owes and whose
    prompt email was given back: it failed for a reason that may pass, or they had no
    address when the prompt was issued. Not under a hold, as for reminders; a suspended or
    retired group's week is still owed (R13), so its prompt is made again too. Claimed as the
    prompt's own emails are (`prompt_emailed_at IS NULL`, rows locked with SKIP LOCKED)."""
    now = now or timezone.now()
    rows = list(
        Obligation.objects.select_for_update(of=("self",), skip_locked=True)
        .filter(status=Status.PENDING, prompt_emailed_at__isnull=True, cycle__prompted_at__isnull=False)
        .filter(cycle__hold__isnull=True)
        .filter(~_group_held())
        .exclude(user__email="")
        .values_list(*_MEMBER_EMAIL_FIELDS)
    )
    return _emails_to_members(Kind.PROMPT, "prompt_emailed_at", rows, now=now, queue=queue)


def _emails_to_members(kind: str, claim: str, rows: list[tuple], *, now: dt.datetime, queue: bool) -> list[int]:
    """Claim each obligation (`<claim> IS NULL`) and make one email of `kind` to its member.

    `rows` are `_MEMBER_EMAIL_FIELDS`; the key is one per obligation.
    """
    if not rows:
        return []
    Obligation.objects.filter(pk__in=[r[0] for r in rows], **{f"{claim}__isnull": True}).update(**{claim: now})
    return _create_emails(
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


# --- Member reminders -----------------------------------------------------------------


@transaction.atomic
def reminders_queue(*, now: dt.datetime | None = None, queue: bool = True) -> list[int]:
    """One reminder to each member still owing, REMINDER_LEAD_HOURS before their deadline.

    Claimed by `reminder_sent_at IS NULL` on rows locked with SKIP LOCKED; a reminder
    whose moment passed while the portal was down is not sent late (the digest follows).
    Only those who still owe, and who have an address: a member without one is reminded
    if they get one before the deadline, and the dashboard names them meanwhile.
    """
    now = now or timezone.now()
    lead = dt.timedelta(hours=settings.REMINDER_LEAD_HOURS)
    rows = list(
        Obligation.objects.select_for_update(of=("self",), skip_locked=True)
        .filter(status=Status.PENDING, reminder_sent_at__isnull=True, due_at__gt=now, due_at__lte=now + lead)
        .filter(cycle__hold__isnull=True)
        .filter(~_group_held())
        .exclude(user__email="")
        .values_list(*_MEMBER_EMAIL_FIELDS)
    )
    return _emails_to_members(Kind.REMINDER, "reminder_sent_at", rows, now=now, queue=queue)


# --- Admin digests ----------------------------------------------------------------------


@transaction.atomic
def admin_digests_queue(*, now: dt.datetime | None = None, queue: bool = True) -> list[int]:
    """One digest per cycle to the group's admin and deputy, of the flags not yet reported.

    A flag is claimed by `notified_at IS NULL`, so it is in exactly one digest: a flag
    raised later in the same cycle goes in a later digest. After downtime, every flag
    waiting is in one digest per admin per cycle, not one per missed run.
    """
    now = now or timezone.now()
    _serialise(_NOTIFY_LOCK)
    flags = list(
        Flag.objects.select_for_update(of=("self",))
        .filter(resolved_at__isnull=True, notified_at__isnull=True)
        .filter(cycle__hold__isnull=True)
        .filter(~_group_held())
        .select_related("cycle__group__admin", "cycle__group__deputy")
        .order_by("pk")
    )
    # Only flags someone can be told about are claimed: a group whose admin and deputy are
    # disabled or have no address keeps its flags unreported, and the DPO's escalation says so.
    recipients = {
        flag.cycle_id: [p for p in (flag.cycle.group.admin, flag.cycle.group.deputy) if p and p.is_active and p.email]
        for flag in flags
    }
    flags = [flag for flag in flags if recipients[flag.cycle_id]]
    if not flags:
        return []
    Flag.objects.filter(pk__in=[f.pk for f in flags], notified_at__isnull=True).update(notified_at=now)
    for flag in flags:
        flag.notified_at = now
    services._history(Flag, flags, by=None, reason="Reported to the group admin", update=True)

    by_cycle: dict[int, list[Flag]] = {}
    for flag in flags:
        by_cycle.setdefault(flag.cycle_id, []).append(flag)
    rows, flags_of = [], {}
    for cycle_id, batch in by_cycle.items():
        group = batch[0].cycle.group
        first = batch[0].pk
        for person in recipients[cycle_id]:
            key = f"admin-digest:c{cycle_id}:f{first}:u{person.pk}"
            flags_of[key] = [f.pk for f in batch]
            rows.append(
                SentEmail(
                    key=key,
                    kind=Kind.ADMIN_DIGEST,
                    user=person,
                    to_address=person.email,
                    cycle_id=cycle_id,
                    group=group,
                    created_at=now,
                )
            )
    return _create_emails(rows, flags_of, queue=queue)


# --- Escalation to the DPO --------------------------------------------------------------


def _dpos():
    return get_user_model().objects.filter(groups__name=DPO_ROLE, is_active=True).order_by("pk").distinct()


@transaction.atomic
def escalations_queue(*, now: dt.datetime | None = None, queue: bool = True) -> list[int]:
    """Flags still open ESCALATE_AFTER_HOURS after they were raised, in one digest to every DPO.

    Claimed by `escalated_at IS NULL`; each flag is escalated once. Only DPOs with an
    address are written to; when no DPO has one, the flags wait unclaimed (the dashboard
    says who cannot be emailed) and are escalated once someone can receive them.
    """
    now = now or timezone.now()
    _serialise(_NOTIFY_LOCK)
    dpos = [dpo for dpo in _dpos() if dpo.email]
    if not dpos:
        logger.warning("Flags are due for escalation but no active DPO has an email address.")
        return []
    cutoff = now - dt.timedelta(hours=settings.ESCALATE_AFTER_HOURS)
    ids = list(
        Flag.objects.select_for_update(of=("self",))
        .filter(resolved_at__isnull=True, escalated_at__isnull=True, raised_at__lte=cutoff)
        .filter(cycle__hold__isnull=True)
        .filter(~_group_held())
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return []
    flags = list(Flag.objects.filter(pk__in=ids))
    Flag.objects.filter(pk__in=ids, escalated_at__isnull=True).update(escalated_at=now)
    for flag in flags:
        flag.escalated_at = now
    services._history(Flag, flags, by=None, reason="Escalated to the DPO", update=True)
    rows, flags_of = [], {}
    for dpo in dpos:
        key = f"dpo-escalation:f{ids[0]}:u{dpo.pk}"
        flags_of[key] = ids
        rows.append(SentEmail(key=key, kind=Kind.DPO_ESCALATION, user=dpo, to_address=dpo.email, created_at=now))
    return _create_emails(rows, flags_of, queue=queue)


# --- Weekly summary to the DPO ----------------------------------------------------------


@transaction.atomic
def dpo_summaries_queue(*, now: dt.datetime | None = None, queue: bool = True, again_only: bool = False) -> list[int]:
    """The weekly summary, once per DPO per ISO week, however often it is run.

    With `again_only` (the sweep), only this week's summaries that were not sent for a
    reason that may pass (`retry_later`: the mail server down through every attempt, no
    address) are made again, to DPOs who have an address now. A summary refused for good
    (a 5xx reply) is not made again.
    """
    now = now or timezone.now()
    year, week, _ = now.astimezone(periods.LONDON).isocalendar()
    prefix = f"dpo-summary:{year}-W{week:02d}:u"
    if again_only:
        again = SentEmail.objects.filter(kind=Kind.DPO_SUMMARY, key__startswith=prefix, retry_later=True)
        live = SentEmail.objects.filter(key=OuterRef("key"), status__in=_LIVE)
        waiting = set(again.filter(~Exists(live)).values_list("user_id", flat=True))
        if not waiting:  # the usual case: one query, no lock
            return []
    _serialise(_NOTIFY_LOCK)
    dpos = list(_dpos())
    if again_only:
        dpos = [dpo for dpo in dpos if dpo.pk in waiting and dpo.email]
    keys = {dpo.pk: f"{prefix}{dpo.pk}" for dpo in dpos}
    done = set(SentEmail.objects.filter(key__in=keys.values(), status__in=_LIVE).values_list("key", flat=True))
    rows = [
        SentEmail(key=key, kind=Kind.DPO_SUMMARY, user=dpo, to_address=dpo.email, created_at=now)
        for dpo in dpos
        if (key := keys[dpo.pk]) not in done
    ]
    return _create_emails(rows, queue=queue)


@dataclass
class GroupCompliance:
    group_id: int
    name: str
    owed: int
    done: int
    owed_before: int
    done_before: int

    @property
    def percent(self) -> int | None:
        return round(100 * self.done / self.owed) if self.owed else None

    @property
    def percent_before(self) -> int | None:
        return round(100 * self.done_before / self.owed_before) if self.owed_before else None


@dataclass
class Summary:
    week_start: dt.datetime
    week_end: dt.datetime
    groups: list[GroupCompliance]
    holds: list[Hold]
    threshold: int

    def _percent(self, done: int, owed: int) -> int | None:
        return round(100 * done / owed) if owed else None

    @property
    def percent(self) -> int | None:
        return self._percent(sum(g.done for g in self.groups), sum(g.owed for g in self.groups))

    @property
    def percent_before(self) -> int | None:
        return self._percent(sum(g.done_before for g in self.groups), sum(g.owed_before for g in self.groups))

    @property
    def below(self) -> list[GroupCompliance]:
        return [g for g in self.groups if g.percent is not None and g.percent < self.threshold]


def compliance_summary(*, now: dt.datetime) -> Summary:
    """Compliance of the deadlines in the seven days before `now`, and the seven before that.

    Owed means due (not excused, held or left); done means attested, on time or late. Two queries.
    """
    week = dt.timedelta(days=7)
    this_week = Q(due_at__gte=now - week, due_at__lt=now)
    last_week = Q(due_at__gte=now - 2 * week, due_at__lt=now - week)
    done = Q(status__in=Obligation.DONE)
    rows = (
        Obligation.objects.filter(due_at__gte=now - 2 * week, due_at__lt=now)
        .exclude(status__in=[Status.EXCUSED, Status.HELD, Status.LEFT])
        .values("cycle__group_id", "cycle__group__name")
        .annotate(
            owed=Count("pk", filter=this_week),
            done=Count("pk", filter=this_week & done),
            owed_before=Count("pk", filter=last_week),
            done_before=Count("pk", filter=last_week & done),
        )
        .order_by("cycle__group__name")
    )
    groups = [
        GroupCompliance(
            group_id=r["cycle__group_id"],
            name=r["cycle__group__name"],
            owed=r["owed"],
            done=r["done"],
            owed_before=r["owed_before"],
            done_before=r["done_before"],
        )
        for r in rows
    ]
    holds = list(Hold.objects.filter(lifted_at__isnull=True).select_related("group").order_by("placed_at"))
    return Summary(
        week_start=now - week, week_end=now, groups=groups, holds=holds, threshold=settings.SUMMARY_THRESHOLD_PERCENT
    )


# --- Sending ----------------------------------------------------------------------------


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
    _queue_on_commit(ids, queue)
    return ids


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
            message, why_not = emails.build(email, now=now)
        except DatabaseError:
            raise
        except Exception as exc:  # a bug in a template or in the portal: recorded, not retried
            email.attempts += 1
            email.attempted_at = now
            logger.exception("Email %s (%s) could not be built.", email.pk, email.kind)
            return _send_failed(email, exc, transient=False)
        if message is None:
            email.status, email.error = SentEmail.Status.CANCELLED, why_not
            if why_not == emails.NO_ADDRESS:  # it may pass: the work waits for an address
                email.retry_later = True
                _release_claims(email)
            services._save(email, by=None, reason=f"Not sent: {why_not}")
            return SendOutcome(status=email.status)
        message.extra_headers["Message-ID"] = emails.message_id(email)
        email.subject, email.to_address = message.subject[:255], message.to[0]
        email.attempts += 1
        email.attempted_at = now
        try:
            message.send()
        except Exception as exc:
            return _send_failed(email, exc, transient=emails.mail_error_is_transient(exc))
        email.status, email.sent_at, email.error = SentEmail.Status.SENT, now, ""
        services._save(email, by=None, reason="Sent")
        return SendOutcome(status=email.status)


def _send_failed(email: SentEmail, exc: Exception, *, transient: bool) -> SendOutcome:
    email.error = f"{type(exc).__name__}: {exc}"[:2000]
    if not transient:
        email.status = SentEmail.Status.FAILED
        services._save(email, by=None, reason="Refused: not tried again")
        logger.error("Email %s (%s) refused, not tried again: %s", email.pk, email.kind, exc)
        return SendOutcome(status=email.status)
    if email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
        email.status = SentEmail.Status.FAILED
        email.retry_later = True
        _release_claims(email)
        services._save(email, by=None, reason=f"Failed after {email.attempts} attempts")
    else:
        services._save(email, by=None, reason=f"Attempt {email.attempts} failed")
    logger.warning("Email %s (%s) attempt %d failed: %s", email.pk, email.kind, email.attempts, exc)
    return SendOutcome(status=email.status, error=exc)


def _release_claims(email: SentEmail) -> None:
    """Give back what this email claimed, unless another recipient of the same batch got it.

    A weekly summary claims nothing: `retry_later` is what the sweep looks for."""
    member_claims = {Kind.PROMPT: "prompt_emailed_at", Kind.REMINDER: "reminder_sent_at"}
    if email.kind in member_claims and email.obligation_id:
        Obligation.objects.filter(pk=email.obligation_id).update(**{member_claims[email.kind]: None})
        return
    if email.kind not in (Kind.ADMIN_DIGEST, Kind.DPO_ESCALATION):
        return
    batch = email.key.rsplit(":", 1)[0] + ":"
    delivered = SentEmail.objects.filter(key__startswith=batch, status__in=_LIVE).exclude(pk=email.pk).exists()
    if delivered:
        return
    flags = Flag.objects.filter(emails=email)
    if email.kind == Kind.ADMIN_DIGEST:
        flags.update(notified_at=None)
    else:
        flags.update(escalated_at=None)
