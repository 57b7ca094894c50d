from django.core.management.base import BaseCommand

from attestations import services
from attestations.models import Flag

from ._now import add_now_argument, parse_now


class Command(BaseCommand):
    help = "Flag clear-downs still due after their deadline and prompts not issued in time. Safe to re-run."

    def add_arguments(self, parser):
        add_now_argument(parser)

    def handle(self, *args, **options):
        result = services.flags_raise(now=parse_now(options["now"]))
        self.stdout.write(
            f"{result.count(Flag.Kind.MEMBER_OVERDUE)} overdue flag(s) and "
            f"{result.count(Flag.Kind.PROMPT_MISSED)} missed-prompt flag(s) raised."
        )
