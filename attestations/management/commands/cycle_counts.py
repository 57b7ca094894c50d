"""Check the dashboard's per-cycle counts against the obligations, or rebuild them.

    python manage.py cycle_counts            # exit 1 if any cycle's counts disagree
    python manage.py cycle_counts --rebuild  # recompute them all (after restoring a backup, say)

The counts are kept by database triggers; this finds and repairs anything that bypassed
them (a restore of some tables only, triggers dropped by hand).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from attestations.dashboard import counts


class Command(BaseCommand):
    help = "Check the per-cycle counts behind the dashboard, or rebuild them with --rebuild."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="Recompute every cycle's counts.")

    def handle(self, *args, rebuild: bool, **options):
        missing = counts.cycle_counts_triggers_missing()
        if missing:
            self.stderr.write(self.style.WARNING(f"Triggers missing: {', '.join(missing)}; installing them."))
            counts.cycle_counts_triggers_install()
        if rebuild:
            n = counts.cycle_counts_rebuild()
            self.stdout.write(self.style.SUCCESS(f"Rebuilt the counts of {n:,} cycles."))
            return
        misfiled = counts.flag_groups_check()
        if misfiled:
            self.stderr.write(self.style.ERROR(f"{len(misfiled):,} flags name a group other than their cycle's."))
            raise SystemExit(1)
        wrong = counts.cycle_counts_check()
        if not wrong:
            self.stdout.write(self.style.SUCCESS("Every cycle's counts agree with its obligations."))
            return
        shown = ", ".join(str(pk) for pk in wrong[:20]) + (" ..." if len(wrong) > 20 else "")
        self.stderr.write(self.style.ERROR(f"{len(wrong):,} cycles' counts disagree: {shown}"))
        self.stderr.write("Run `manage.py cycle_counts --rebuild` to recompute them.")
        raise SystemExit(1)
