"""Copy the groups' logos from the local folder (MEDIA_ROOT) into the database, before
switching FILE_STORAGE from `local` to `database` (README, "Deploying on several hosts").

    python manage.py logos_to_database

Each logo keeps its name, so the groups need no change. Safe to run twice: a logo already in
the database is left alone. A logo whose file has gone is listed and skipped (the group shows
the office's default until a new one is uploaded); the command then exits 1.
"""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage
from django.core.management.base import BaseCommand, CommandError

from groups.models import ChatGroup
from groups.storage import DatabaseStorage


class Command(BaseCommand):
    help = "Copy the groups' logos from MEDIA_ROOT into the database (for FILE_STORAGE=database)."

    def handle(self, *args, **options):
        folder, database = FileSystemStorage(), DatabaseStorage()
        copied = present = 0
        missing = []
        for pk, name in ChatGroup.objects.exclude(logo="").order_by("pk").values_list("pk", "logo"):
            if database.exists(name):
                present += 1
            elif not folder.exists(name):
                missing.append(f"group {pk}: {name}")
            else:
                with folder.open(name) as file:
                    database.save(name, file)
                copied += 1
        self.stdout.write(f"{copied} logo(s) copied, {present} already in the database, {len(missing)} missing.")
        if missing:
            raise CommandError("Files not found in MEDIA_ROOT: " + "; ".join(missing))
