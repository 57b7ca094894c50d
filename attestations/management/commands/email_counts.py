"""Check the emails page's counts by kind and status against the emails, or rebuild them.

    python manage.py email_counts            # exit 1 if any count disagrees
    python manage.py email_counts --rebuild  # recompute them all (after restoring a backup, say)

The counts are kept by database triggers; this finds and repairs anything that bypassed
them (a restore of some tables only, triggers dropped by hand).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from attestations.dashboard import email_counts


class Command(BaseCommand):
    help = "Check the counts of emails by kind and status behind the emails page, or rebuild them with --rebuild."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="Recompute every count.")

    def handle(self, *args, rebuild: bool, **options):
        missing = email_counts.email_counts_triggers_missing()
        if missing:
            self.stderr.write(self.style.WARNING(f"Triggers missing: {', '.join(missing)}; installing them."))
            email_counts.email_counts_triggers_install()
        if rebuild:
            n = email_counts.email_counts_rebuild()
            self.stdout.write(self.style.SUCCESS(f"Rebuilt the counts of {n:,} kinds and statuses."))
            return
        wrong = email_counts.email_counts_check()
        if not wrong:
            self.stdout.write(self.style.SUCCESS("Every count agrees with the emails."))
            return
        shown = ", ".join(f"{kind} {status}" for kind, status in wrong)
        self.stderr.write(self.style.ERROR(f"{len(wrong):,} counts disagree with the emails: {shown}"))
        self.stderr.write("Run `manage.py email_counts --rebuild` to recompute them.")
        raise SystemExit(1)
