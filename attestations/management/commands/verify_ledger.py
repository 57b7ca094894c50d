"""Walk the ledger of attestations and report the first broken link.

    python manage.py verify_ledger
    python manage.py verify_ledger --expect HASH   # also: does the chain still reach this anchor?

Runs of entries disposed of under the retention schedule are stepped over on their
checkpoints, and the report says so. `--expect` takes a head hash copied out of the portal
earlier (the DPO's weekly summary, an FOI pack): the chain must pass through it, so a
ledger rewritten since then fails even if it is consistent with itself. Exits 0 when the
chain is intact (and reaches the anchor) and 1 when it is not, so a scheduled job can alert.
"""

from __future__ import annotations

import re

from django.core.management.base import BaseCommand, CommandError

from attestations.ledger import ledger_verify


class Command(BaseCommand):
    help = "Recompute the hash chain of attestations and report the first broken link."

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect", default="", metavar="HASH", help="A head hash taken earlier: the chain must reach it."
        )

    def handle(self, *args, expect="", **options):
        expect = expect.strip().lower()
        if expect and not re.fullmatch(r"[0-9a-f]{64}", expect):
            raise CommandError("--expect takes a ledger hash: 64 hexadecimal characters, as the summary prints it.")
        verdict = ledger_verify(expect=expect)
        if verdict.ok:
            self.stdout.write(self.style.SUCCESS(str(verdict)))
            return
        self.stderr.write(self.style.ERROR(str(verdict)))
        if verdict.sequence is not None:
            self.stderr.write(f"{verdict.checked} entries before it are intact; last good hash {verdict.head}.")
        raise SystemExit(1)
