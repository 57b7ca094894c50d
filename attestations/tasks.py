"""Celery tasks: thin callers of services, given ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from . import emails, services


@shared_task
def close_due_cycles() -> int:
    """Beat: close every cycle whose period has ended. Returns the number of new cycles."""
    result = services.cycle_close_due()
    return len(result.cycles)


@shared_task
def raise_flags() -> int:
    """Raise overdue and missed-prompt flags. Returns the number of new flags."""
    return len(services.flags_raise().raised)


@shared_task(bind=True, max_retries=3, default_retry_delay=120)
def send_prompt_emails(self, cycle_id: int) -> int:
    """Email each member who still owes a clear-down for a cycle their signed link.

    Each obligation is claimed before its email is sent, so two runs of this task never
    email anyone twice; claims whose email failed are given back before a retry.
    """
    claimed = services.obligations_claim_for_prompt_email(cycle_id=cycle_id)
    if not claimed:
        return 0
    unsent, error = emails.send_prompt_emails(claimed)
    if error is not None:
        services.obligations_release_prompt_email(obligations=unsent)
        raise self.retry(exc=error)
    return len(claimed)
