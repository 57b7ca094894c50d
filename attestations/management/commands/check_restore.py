"""Check a restored copy of the portal's database before anyone relies on it.

    DATABASE_URL=postgres://…/restored python manage.py check_restore

Reads only. Checks that every migration of this release has been applied (a dump from an
older release needs `migrate` first), that the triggers behind the dashboard's counts came
back and the counts agree with the obligations, and that the ledger of attestations is
intact and holds every attestation. Prints what the copy holds, to compare with the live
portal. Exits 0 when every check passes and 1 otherwise, so a scheduled restore test can
alert.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from attestations.dashboard import counts
from attestations.ledger import ledger_verify
from attestations.models import Cycle, Hold, LedgerEntry, Obligation, SentEmail
from groups.models import ChatGroup, Membership


class Command(BaseCommand):
    help = "Check a restored database: migrations at head, dashboard counts and the attestation ledger."

    def handle(self, *args, **options):
        # The other checks read tables a missing migration may not have made yet.
        failures = [self.migrations()]
        if not failures[0]:
            failures = [problem for problem in (self.counts(), self.ledger()) if problem]
            self.report_contents()
        self.finish([problem for problem in failures if problem])

    def finish(self, failures: list[str]) -> None:
        if failures:
            for problem in failures:
                self.stderr.write(self.style.ERROR(problem))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS("The restored copy passes every check."))

    def report_contents(self) -> None:
        self.stdout.write(
            "Contents: "
            + ", ".join(
                f"{model.objects.count():,} {label}"
                for model, label in (
                    (get_user_model(), "accounts"),
                    (ChatGroup, "groups"),
                    (Membership, "memberships"),
                    (Cycle, "weeks"),
                    (Obligation, "clear-downs owed"),
                    (LedgerEntry, "ledger entries"),
                    (Hold, "holds"),
                    (SentEmail, "emails"),
                )
            )
            + "."
        )

    def migrations(self) -> str:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5]) + (" …" if len(plan) > 5 else "")
            return f"{len(plan)} migration(s) not applied ({names}): run `manage.py migrate` on the copy first."
        self.stdout.write("Migrations: every one applied.")
        return ""

    def counts(self) -> str:
        missing = counts.cycle_counts_triggers_missing()
        if missing:
            return f"The count triggers did not come back: {', '.join(missing)} (restore the whole database)."
        wrong = counts.cycle_counts_check()
        if wrong:
            return f"{len(wrong):,} weeks' dashboard counts disagree with their obligations."
        self.stdout.write("Dashboard counts: triggers present, every week's counts agree.")
        return ""

    def ledger(self) -> str:
        verdict = ledger_verify()
        if not verdict.ok:
            return f"Ledger: {verdict}"
        self.stdout.write(f"Ledger: {verdict}")
        return ""
