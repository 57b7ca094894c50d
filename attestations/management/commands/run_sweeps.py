from django.core.management.base import BaseCommand

from attestations.notifications import holds, sweep
from attestations.notifications import policy as policy_emails

from ._now import add_now_argument, parse_now


class Command(BaseCommand):
    help = (
        "Run the whole schedule once by hand: the 15-minute sweep (close due cycles, raise and resolve "
        "flags, queue reminders, digests and escalations; then hold notices, reminders, escalations and "
        "reviews; then the policy's acknowledgements, reminders and overdue digests) and the DPO's "
        "weekly summary (once a week per DPO). Safe to re-run."
    )

    def add_arguments(self, parser):
        add_now_argument(parser)

    def handle(self, *args, **options):
        now = parse_now(options["now"])
        result = sweep.sweep(now=now)
        hold_emails = holds.sweep(now=now)
        policy_mails = policy_emails.sweep(now=now)
        summaries = sweep.dpo_summaries_queue(now=now)
        self.stdout.write(
            f"{result.cycles} cycle(s) closed, {result.flags_raised} flag(s) raised, "
            f"{result.flags_resolved} resolved, {len(result.emails)} email(s) queued, "
            f"{len(hold_emails)} hold email(s) queued, {len(policy_mails)} policy email(s) queued, "
            f"{len(summaries)} weekly summary email(s) queued."
        )
