"""Import the staff list from a CSV file, as the DPO's import page does (R14).

    python manage.py import_staff staff.csv --dry-run   # what would change, and every bad row
    python manage.py import_staff staff.csv             # import: all rows or none

Exits with status 1 (nothing imported) if any row is wrong.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from groups import staff_import


class Command(BaseCommand):
    help = "Import the staff list (name, email, staff_number, active) from a CSV file; --dry-run previews it."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="Show what would change; change nothing.")

    def handle(self, *args, file: Path, dry_run: bool, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        try:
            if dry_run:
                plan = staff_import.import_plan(data)
            else:
                plan = staff_import.import_apply(data=data, by=None, source=f"{file.name}, by command")
        except staff_import.ImportRefused as refused:
            plan = refused.plan
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        for change in plan.to_change:
            fields = f" ({', '.join(change.fields)})" if change.fields else ""
            self.stdout.write(f"line {change.line}: {change.kind_label}{fields}: {change.details.email}")
        summary = ", ".join(f"{n} {label.lower()}" for _, label, n in plan.counts)
        if plan.errors:
            for error in plan.errors:
                self.stderr.write(f"line {error.line}: {error.message}")
            raise CommandError(f"{len(plan.errors)} row(s) are wrong: nothing was imported. ({summary})")
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(self.style.SUCCESS(f"{verb}: {summary}."))
