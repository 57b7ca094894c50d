from django.core.management.base import BaseCommand

from attestations import services

from ._now import add_now_argument, parse_now


class Command(BaseCommand):
    help = "Close the weekly cycle of every approved group whose period has ended. Safe to re-run."

    def add_arguments(self, parser):
        add_now_argument(parser)

    def handle(self, *args, **options):
        result = services.cycle_close_due(now=parse_now(options["now"]))
        self.stdout.write(
            f"{len(result.cycles)} cycle(s) closed ({result.held} on hold), {result.obligations} obligation(s) created."
        )
