"""Celery tasks: thin callers of services, given ids or nothing, safe to run twice or at once.

The schedule is `CELERY_BEAT_SCHEDULE` in settings. Only transient mail errors are retried,
a bounded number of times with a doubling backoff. Each task keeps the name it had when it
lived in `attestations/tasks.py` (`name=`), so messages queued before an upgrade still run
and beat's schedule is unchanged.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .. import outbox, retention, services
from . import holds
from . import policy as policy_emails
from . import sweep as sweeps

logger = logging.getLogger(__name__)

# Each beat-scheduled task claims its slot first (`services.beat_tick_claim`): two beats
# started by mistake send every task twice, and only the first copy in a slot runs.
SUMMARY_SLOT_MINUTES = 60


@shared_task(name="attestations.tasks.sweep")
def sweep() -> int | None:
    """Beat, every 15 minutes: close cycles, raise and settle flags, queue the emails due,
    then the holds' step (notices to joiners, reminders, escalations, reviews), then the
    policy's (acknowledgements asked, reminded, overdue ones reported to the group admins).

    Returns the number of emails queued, or None when this slot's sweep has already run.
    """
    if not services.beat_tick_claim(task="sweep", every_minutes=settings.SWEEP_MINUTES):
        return None
    now = timezone.now()
    emails = sweeps.sweep(now=now).emails + holds.sweep(now=now) + policy_emails.sweep(now=now)
    # Recorded here, not by `run_sweeps`: the time of the last sweep tells monitoring that beat
    # is alive, and a sweep run by hand must not hide a beat that has stopped.
    services.heartbeat_record(name="sweep")
    return len(emails)


@shared_task(name="attestations.tasks.heartbeat")
def heartbeat() -> None:
    """Beat, every HEARTBEAT_MINUTES: record that a worker is taking tasks (`/healthz/status`)."""
    if services.beat_tick_claim(task="heartbeat", every_minutes=settings.HEARTBEAT_MINUTES):
        services.heartbeat_record(name="worker")


@shared_task(name="attestations.tasks.send_dpo_summaries")
def send_dpo_summaries() -> int | None:
    """Beat, weekly: queue each DPO's summary (once per DPO per week)."""
    if not services.beat_tick_claim(task="dpo-summary", every_minutes=SUMMARY_SLOT_MINUTES):
        return None
    return len(sweeps.dpo_summaries_queue())


@shared_task(name="attestations.tasks.retention")
def dispose_of_expired_records() -> int:
    """Beat, daily: dispose of the portal's own records past their retention period (R18);
    a dry run when RETENTION_DISPOSE is off. Returns how many records went (or would)."""
    run = retention.retention_run(dry_run=not settings.RETENTION_DISPOSE)
    return sum(record.count for record in run.records)


def _backoff(retries: int) -> int:
    return settings.EMAIL_RETRY_SECONDS * 2**retries


@shared_task(bind=True, max_retries=None, name=outbox.SEND_TASK)
def send_email(self, sent_email_id: int) -> str | None:
    """Send one recorded email. The bound on attempts is the service's (EMAIL_MAX_ATTEMPTS),
    counted on the row, so it holds however many times the task is queued."""
    outcome = outbox.sentemail_send(sent_email_id=sent_email_id)
    if outcome.retry:
        raise self.retry(exc=outcome.error, countdown=_backoff(self.request.retries))
    return outcome.status


@shared_task(name=outbox.SEND_BATCH_TASK)
def send_emails(sent_email_ids: list[int]) -> int:
    """Send a batch of recorded emails, one after another (the outbox queues a large number of
    emails this way). One that fails for a reason that may pass is handed to `send_email`,
    which retries it with the same backoff as any other. Returns how many were sent."""
    sent = 0
    for pk in sent_email_ids:
        outcome = outbox.sentemail_send(sent_email_id=pk)
        sent += outcome.status == "sent"
        if outcome.retry:
            try:
                send_email.apply_async((pk,), countdown=_backoff(0))
            except Exception:
                # The row stays pending: the sweep queues it again (`emails_requeue`).
                logger.exception("Could not queue the retry of email %s.", pk, extra={"email_id": pk})
    return sent
