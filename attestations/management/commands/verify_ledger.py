"""Walk the ledger of attestations and report the first broken link.

    python manage.py verify_ledger

Exits 0 when the chain is intact and 1 when it is not, so a scheduled job can alert.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from attestations.ledger import ledger_verify


class Command(BaseCommand):
    help = "Recompute the hash chain of attestations and report the first broken link."

    def handle(self, *args, **options):
        verdict = ledger_verify()
        if verdict.ok:
            self.stdout.write(self.style.SUCCESS(str(verdict)))
            return
        self.stderr.write(self.style.ERROR(str(verdict)))
        self.stderr.write(f"{verdict.checked} entries before it are intact; last good hash {verdict.head}.")
        raise SystemExit(1)
