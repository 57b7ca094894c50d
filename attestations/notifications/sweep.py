"""The sweep (R8): what is due now, every 15 minutes, each step its own transaction.

Reminders, admin digests, DPO escalations, weekly summaries and prompt emails that could
not be sent before. Each step is keyword-only, with `now` injectable. Work is claimed
before any email is made: a conditional UPDATE (`... WHERE notified_at IS NULL`) under a
lock, and a `SentEmail` row per email whose key is unique while pending or sent. So two
sweeps at the same time, a retried task or a sweep after a day of downtime never email
twice: each flag is in one admin digest and one escalation, each obligation gets one
reminder. The rows are kept, sent and retried by the outbox (`attestations.outbox`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from groups import selectors as group_selectors
from opcc_portal.lib.history import bulk_history
from opcc_portal.lib.locking import Lock, lock

from .. import outbox, periods, services
from ..models import Flag, Hold, Obligation, SentEmail
from ..outbox import LIVE, MEMBER_EMAIL_FIELDS

logger = logging.getLogger(__name__)

Status = Obligation.Status
Kind = SentEmail.Kind


def dpo_recipients():
    """The active DPOs, who receive escalations and reviews."""
    return group_selectors.dpos_active()


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
    result.flags_resolved = services.flags_resolve_settled(now=now)
    result.emails += prompt_emails_queue_again(now=now, queue=queue)  # before a reminder of the same week
    result.emails += reminders_queue(now=now, queue=queue)
    result.emails += admin_digests_queue(now=now, queue=queue)
    result.emails += escalations_queue(now=now, queue=queue)
    result.emails += dpo_summaries_queue(now=now, queue=queue, again_only=True)
    result.emails += outbox.emails_requeue(now=now, queue=queue)
    return result


# --- The admin's prompt ---------------------------------------------------------------


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
        .filter(~Hold.objects.standing_on())
        .exclude(user__email="")
        .values_list(*MEMBER_EMAIL_FIELDS)
    )
    return outbox.member_emails_add(Kind.PROMPT, "prompt_emailed_at", rows, now=now, queue=queue)


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
        .filter(~Hold.objects.standing_on())
        .exclude(user__email="")
        .values_list(*MEMBER_EMAIL_FIELDS)
    )
    return outbox.member_emails_add(Kind.REMINDER, "reminder_sent_at", rows, now=now, queue=queue)


# --- Admin digests ----------------------------------------------------------------------

# Who gets a cycle's digest, and what the sweep reads of each of them.
_DIGEST_TO = ("admin", "deputy")
_TO = ("id", "is_active", "email")


def _digest_about(flag: Flag) -> str:
    """What a flag's digest is about, in its key: its cycle, review or hold."""
    if flag.cycle_id:
        return f"c{flag.cycle_id}"
    if flag.review_id:
        return f"r{flag.review_id}"
    return f"h{flag.hold_id}"


@transaction.atomic
def admin_digests_queue(*, now: dt.datetime | None = None, queue: bool = True) -> list[int]:
    """One digest per cycle to the group's admin and deputy, of the flags not yet reported.

    A flag is claimed by `notified_at IS NULL`, so it is in exactly one digest: a flag
    raised later in the same cycle goes in a later digest. After downtime, every flag
    waiting is in one digest per admin per cycle, not one per missed run.
    """
    now = now or timezone.now()
    lock(Lock.NOTIFY)
    # The flags' own columns (for their history rows) and the admin's and deputy's id, address
    # and whether their account is open: no user or group is loaded as a whole.
    flags = list(
        Flag.objects.select_for_update(of=("self",))
        .filter(resolved_at__isnull=True, notified_at__isnull=True)
        .filter(cycle__hold__isnull=True)
        .filter(~Hold.objects.standing_on())
        .annotate(**{f"{role}_{column}": F(f"group__{role}__{column}") for role in _DIGEST_TO for column in _TO})
        .order_by("pk")
    )
    # Only flags someone can be told about are claimed: a group whose admin and deputy are
    # disabled or have no address keeps its flags unreported, and the DPO's escalation says so.
    recipients = {
        flag.pk: [
            (pk, email)
            for role in _DIGEST_TO
            if (pk := getattr(flag, f"{role}_id"))
            and getattr(flag, f"{role}_is_active")
            and (email := getattr(flag, f"{role}_email"))
        ]
        for flag in flags
    }
    flags = [flag for flag in flags if recipients[flag.pk]]
    if not flags:
        return []
    Flag.objects.filter(pk__in=[f.pk for f in flags], notified_at__isnull=True).update(notified_at=now)
    for flag in flags:
        flag.notified_at = now
    bulk_history(Flag, flags, by=None, reason="Reported to the group admin", update=True)

    # One digest per cycle; an overdue review and a hold's timer (which have no cycle) are
    # each a digest of their own, to their own group's admin.
    batches: dict[str, list[Flag]] = {}
    for flag in flags:
        batches.setdefault(_digest_about(flag), []).append(flag)
    rows, flags_of = [], {}
    for about, batch in batches.items():
        first = batch[0]
        for person_id, address in recipients[first.pk]:
            key = f"admin-digest:{about}:f{first.pk}:u{person_id}"
            flags_of[key] = [f.pk for f in batch]
            rows.append(
                SentEmail(
                    key=key,
                    kind=Kind.ADMIN_DIGEST,
                    user_id=person_id,
                    to_address=address,
                    cycle_id=first.cycle_id,
                    group_id=first.group_id,
                    created_at=now,
                )
            )
    return outbox.outbox_add(rows, flags_of=flags_of, queue=queue)


# --- Escalation to the DPO --------------------------------------------------------------


@transaction.atomic
def escalations_queue(*, now: dt.datetime | None = None, queue: bool = True) -> list[int]:
    """Flags still open ESCALATE_AFTER_HOURS after they were raised, in one digest to every DPO.

    Claimed by `escalated_at IS NULL`; each flag is escalated once. Only DPOs with an
    address are written to; when no DPO has one, the flags wait unclaimed (the dashboard
    says who cannot be emailed) and are escalated once someone can receive them.
    """
    now = now or timezone.now()
    lock(Lock.NOTIFY)
    dpos = [dpo for dpo in dpo_recipients() if dpo.email]
    if not dpos:
        logger.warning("Flags are due for escalation but no active DPO has an email address.")
        return []
    cutoff = now - dt.timedelta(hours=settings.ESCALATE_AFTER_HOURS)
    ids = list(
        Flag.objects.select_for_update(of=("self",))
        .filter(resolved_at__isnull=True, escalated_at__isnull=True, raised_at__lte=cutoff)
        .filter(cycle__hold__isnull=True)
        .filter(~Hold.objects.standing_on())
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return []
    flags = list(Flag.objects.filter(pk__in=ids))
    Flag.objects.filter(pk__in=ids, escalated_at__isnull=True).update(escalated_at=now)
    for flag in flags:
        flag.escalated_at = now
    bulk_history(Flag, flags, by=None, reason="Escalated to the DPO", update=True)
    rows, flags_of = [], {}
    for dpo in dpos:
        key = f"dpo-escalation:f{ids[0]}:u{dpo.pk}"
        flags_of[key] = ids
        rows.append(SentEmail(key=key, kind=Kind.DPO_ESCALATION, user=dpo, to_address=dpo.email, created_at=now))
    return outbox.outbox_add(rows, flags_of=flags_of, queue=queue)


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
        live = SentEmail.objects.filter(key=OuterRef("key"), status__in=LIVE)
        waiting = set(again.filter(~Exists(live)).values_list("user_id", flat=True))
        if not waiting:  # the usual case: one query, no lock
            return []
    lock(Lock.NOTIFY)
    dpos = list(dpo_recipients())
    if again_only:
        dpos = [dpo for dpo in dpos if dpo.pk in waiting and dpo.email]
    keys = {dpo.pk: f"{prefix}{dpo.pk}" for dpo in dpos}
    done = set(SentEmail.objects.filter(key__in=keys.values(), status__in=LIVE).values_list("key", flat=True))
    rows = [
        SentEmail(key=key, kind=Kind.DPO_SUMMARY, user=dpo, to_address=dpo.email, created_at=now)
        for dpo in dpos
        if (key := keys[dpo.pk]) not in done
    ]
    return outbox.outbox_add(rows, queue=queue)
