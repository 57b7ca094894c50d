from django.core.management.base import BaseCommand

from attestations import notifications

from ._now import add_now_argument, parse_now


class Command(BaseCommand):
    help = (
        "Run the 15-minute sweep by hand: close due cycles, raise and resolve flags, queue reminders, "
        "digests and escalations. Safe to re-run."
    )

    def add_arguments(self, parser):
        add_now_argument(parser)

    def handle(self, *args, **options):
        result = notifications.sweep(now=parse_now(options["now"]))
        self.stdout.write(
            f"{result.cycles} cycle(s) closed, {result.flags_raised} flag(s) raised, "
            f"{result.flags_resolved} resolved, {len(result.emails)} email(s) queued."
        )
