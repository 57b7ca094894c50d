"""Where uploaded files (the groups' logos) are kept, by setting (`FILE_STORAGE`).

`local` (the default, for `make run` and a single host) is Django's own folder storage under
`MEDIA_ROOT`. `database` keeps each file as one row of `StoredFile`, so that every web host
sees every logo with nothing shared but PostgreSQL. Logos are at most `LOGO_MAX_BYTES`
(1 MB by default), which a row holds comfortably; larger files are refused here as well as
by a database constraint.
"""

from __future__ import annotations

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.urls import reverse
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from .models import ChatGroup, StoredFile

MAX_BYTES = 1024 * 1024


@deconstructible
class DatabaseStorage(Storage):
    """A storage backend whose files are rows of `StoredFile` (name → bytes)."""

    def _open(self, name: str, mode: str = "rb") -> ContentFile:
        if "w" in mode or "a" in mode:
            raise ValueError("Files in the database are written with save(), not opened for writing.")
        content = StoredFile.objects.filter(name=name).values_list("content", flat=True).first()
        if content is None:
            # Callers treat a missing file as a missing file on disk (the logo view shows the
            # office's default), so raise what the folder storage raises.
            raise FileNotFoundError(f"No stored file named {name!r}")
        return ContentFile(bytes(content), name=name)

    def _save(self, name: str, content) -> str:
        if hasattr(content, "seek"):
            content.seek(0)
        data = content.read()
        if isinstance(data, str):
            data = data.encode()
        if len(data) > MAX_BYTES:
            raise SuspiciousFileOperation(
                f"{name} is {len(data)} bytes; files in the database are at most {MAX_BYTES}."
            )
        # Inside the caller's transaction when there is one: the logo and the group's change
        # commit or roll back together.
        StoredFile.objects.create(name=name, content=data, size=len(data), created_at=timezone.now())
        return name

    def delete(self, name: str) -> None:
        StoredFile.objects.filter(name=name).delete()

    def exists(self, name: str) -> bool:
        return StoredFile.objects.filter(name=name).exists()

    def size(self, name: str) -> int:
        size = StoredFile.objects.filter(name=name).values_list("size", flat=True).first()
        if size is None:
            raise FileNotFoundError(f"No stored file named {name!r}")
        return size

    def get_modified_time(self, name: str):
        created = StoredFile.objects.filter(name=name).values_list("created_at", flat=True).first()
        if created is None:
            raise FileNotFoundError(f"No stored file named {name!r}")
        return created

    get_created_time = get_modified_time

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = f"{path.rstrip('/')}/" if path else ""
        names = StoredFile.objects.filter(name__startswith=prefix).values_list("name", flat=True)
        directories, files = set(), []
        for name in names:
            rest = name[len(prefix) :]
            if "/" in rest:
                directories.add(rest.split("/", 1)[0])
            else:
                files.append(rest)
        return sorted(directories), sorted(files)

    def url(self, name: str) -> str:
        # Never served straight from storage: a logo is served by the register's logo view,
        # which checks who is asking. This link (the admin's "Currently:") goes there.
        group_pk = ChatGroup.objects.filter(logo=name).values_list("pk", flat=True).first()
        return reverse("groups:logo", args=[group_pk]) if group_pk else ""
