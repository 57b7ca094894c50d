"""Logos kept in the database (FILE_STORAGE=database): every web host serves the same logo,
a replaced one is deleted, a rolled-back change leaves nothing behind."""

import io
import random

import pytest
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import transaction
from django.templatetags.static import static
from PIL import Image

from groups import services
from groups.models import DEFAULT_LOGO, ChatGroup, StoredFile
from groups.storage import DatabaseStorage
from groups.validators import logo_clean
from tests.conftest import small_png

pytestmark = pytest.mark.django_db

DATABASE = {"BACKEND": "groups.storage.DatabaseStorage"}


@pytest.fixture
def in_database(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "default": DATABASE}
    return tmp_path


def png(colour: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("logo.png", small_png(colour), content_type="image/png")


def test_a_logo_is_one_row_and_no_file_on_disk(in_database, member, client):
    group = services.chatgroup_propose(name="Ops", purpose="x", by=member, logo=png("navy"))
    stored = StoredFile.objects.get()
    assert stored.name == group.logo.name and stored.size == len(bytes(stored.content))
    assert not any(in_database.rglob("*"))

    client.force_login(member)
    response = client.get(group.logo_url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    served = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert served.getpixel((5, 5))[:3] == (0, 0, 128)


def test_a_replaced_logo_is_deleted_once_the_change_commits(
    in_database, admin_user, group, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        group = services.chatgroup_update(
            group=group, by=admin_user, name=group.name, purpose=group.purpose,
            cycle_weekday=group.cycle_weekday, cycle_time=group.cycle_time, logo=png("red"),
        )  # fmt: skip
    first = group.logo.name
    with django_capture_on_commit_callbacks(execute=True):
        group = services.chatgroup_update(
            group=group, by=admin_user, name=group.name, purpose=group.purpose,
            cycle_weekday=group.cycle_weekday, cycle_time=group.cycle_time, logo=png("green"),
        )  # fmt: skip
    assert list(StoredFile.objects.values_list("name", flat=True)) == [group.logo.name]
    assert group.logo.name != first
    with django_capture_on_commit_callbacks(execute=True):
        services.chatgroup_update(
            group=group, by=admin_user, name=group.name, purpose=group.purpose,
            cycle_weekday=group.cycle_weekday, cycle_time=group.cycle_time, remove_logo=True,
        )  # fmt: skip
    assert not StoredFile.objects.exists()


def test_a_change_that_rolls_back_leaves_no_logo_behind(in_database, member):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.chatgroup_propose(name="Ops", purpose="x", by=member, logo=png("navy"))
        assert StoredFile.objects.count() == 1
        raise RuntimeError("a later step failed")
    assert not StoredFile.objects.exists() and not ChatGroup.objects.exists()


def test_a_missing_row_shows_the_office_logo(in_database, member, client):
    group = services.chatgroup_propose(name="Ops", purpose="x", by=member, logo=png("navy"))
    StoredFile.objects.all().delete()
    client.force_login(member)
    response = client.get(group.logo_url)
    assert response.status_code == 302 and response["Location"] == static(DEFAULT_LOGO)


def test_the_storage_answers_like_a_folder():
    storage = DatabaseStorage()
    name = storage.save("logos/a.png", ContentFile(b"abc"))
    assert name == "logos/a.png" and storage.exists(name) and storage.size(name) == 3
    assert storage.open(name).read() == b"abc"
    # A second file asked for under the same name gets a name of its own, as on disk.
    other = storage.save("logos/a.png", ContentFile(b"defg"))
    assert other != name and storage.open(other).read() == b"defg"
    assert storage.listdir("logos") == ([], sorted([name.split("/")[1], other.split("/")[1]]))
    storage.delete(name)
    assert not storage.exists(name)
    with pytest.raises(FileNotFoundError):
        storage.open(name)
    with pytest.raises(FileNotFoundError):
        storage.size(name)


def test_the_storage_refuses_a_file_over_1_mb():
    with pytest.raises(SuspiciousFileOperation):
        DatabaseStorage().save("logos/big.png", ContentFile(b"x" * (1024 * 1024 + 1)))
    assert not StoredFile.objects.exists()


def test_a_logo_that_grows_past_the_limit_as_png_is_refused(settings):
    # Noise compresses far better as JPEG than as PNG: a 600 KB upload can become several MB.
    rng = random.Random(7)
    image = Image.frombytes("RGB", (900, 900), bytes(rng.getrandbits(8) for _ in range(900 * 900 * 3)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    assert out.tell() < settings.LOGO_MAX_BYTES
    with pytest.raises(ValidationError) as refused:
        logo_clean(SimpleUploadedFile("noise.jpg", out.getvalue(), content_type="image/jpeg"))
    assert refused.value.code == "logo_too_big" and "once converted to PNG" in refused.value.messages[0]


def test_logos_on_disk_are_copied_into_the_database_once(settings, tmp_path, member, client):
    settings.MEDIA_ROOT = tmp_path
    kept = services.chatgroup_propose(name="Ops", purpose="x", by=member, logo=png("navy"))
    lost = services.chatgroup_propose(name="Comms", purpose="x", by=member, logo=png("red"))
    (tmp_path / lost.logo.name).unlink()
    with pytest.raises(CommandError, match=f"group {lost.pk}"):
        call_command("logos_to_database", stdout=io.StringIO())
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("logos_to_database", stdout=out)  # again: nothing copied twice
    assert "0 logo(s) copied, 1 already in the database, 1 missing." in out.getvalue()
    assert list(StoredFile.objects.values_list("name", flat=True)) == [kept.logo.name]

    settings.STORAGES = {**settings.STORAGES, "default": DATABASE}
    (tmp_path / kept.logo.name).unlink()  # served from the database now, not the folder
    client.force_login(member)
    response = client.get(ChatGroup.objects.get(pk=kept.pk).logo_url)
    assert response.status_code == 200
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).getpixel((5, 5))[:3] == (0, 0, 128)


def test_a_name_already_taken_is_refused_before_the_logo_is_stored(settings, tmp_path, member, admin_user):
    """Local storage writes the file at once and a rollback does not take it back: the name
    is checked (whatever its case) before anything is written."""
    settings.MEDIA_ROOT = tmp_path
    services.chatgroup_propose(name="Urgent Ops", purpose="x", by=admin_user)
    with pytest.raises(ValidationError, match="already on the register"):
        services.chatgroup_propose(name="URGENT OPS", purpose="x", by=member, logo=png("navy"))
    assert not any(path.is_file() for path in tmp_path.rglob("*"))
