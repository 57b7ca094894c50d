"""Dispose of the portal's own records past their retention period (R18), or say what would go.

    python manage.py retention --dry-run     # what would go now, kind by kind; removes nothing
    python manage.py retention               # dispose of it (what the daily beat job does)

Both write a disposal record per kind (marked dry run or not), shown on /audit/retention/.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from attestations.retention import retention_run

from ._now import add_now_argument, parse_now


class Command(BaseCommand):
    help = "Dispose of records past their retention period (or, with --dry-run, say what would go)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Say what would go; remove nothing.")
        parser.add_argument("--batch-size", type=int, help="Records per transaction (default RETENTION_BATCH_SIZE).")
        add_now_argument(parser)

    def handle(self, *args, dry_run=False, batch_size=None, now=None, **options):
        run = retention_run(now=parse_now(now), dry_run=dry_run, batch_size=batch_size)
        if run.skipped:
            self.stderr.write("Another disposal run is going: this one did nothing.")
            return
        verb = "Would dispose of" if dry_run else "Disposed of"
        for record in run.records:
            details = ", ".join(f"{n} {name}" for name, n in record.details.items()) or "nothing"
            span = ""
            if record.oldest:
                oldest, newest = timezone.localtime(record.oldest), timezone.localtime(record.newest)
                span = f", dated {oldest:%d %b %Y} to {newest:%d %b %Y}"
            self.stdout.write(
                f"{record.kind}: {verb.lower()} {record.count} ({details}){span}; "
                f"{record.held_back} past their time kept by a hold. Rule: {record.rule}."
            )
        if not run.records:
            self.stdout.write("No kind of record has a retention period: nothing is disposed of.")
        elif dry_run:
            self.stdout.write("Dry run: nothing was removed. The figures are recorded as a dry run.")
