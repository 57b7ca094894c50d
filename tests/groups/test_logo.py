"""Logos: only PNG or JPEG (real GIF, BMP, WebP, TIFF and ICO files are refused), phone photos (MPO,
EXIF orientation), the size message at the limit, a lost file."""

import io
import logging

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.templatetags.static import static
from django.urls import reverse
from PIL import Image

from groups.models import DEFAULT_LOGO
from groups.validators import logo_clean
from tests.factories import ChatGroupFactory


def decoded(content_file) -> Image.Image:
    image = Image.open(io.BytesIO(content_file.read()))
    image.load()
    return image


def upload(data: bytes, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def test_it_accepts_a_phone_cameras_mpo_jpeg_and_keeps_its_first_frame():
    first, second = Image.new("RGB", (48, 32), (200, 0, 0)), Image.new("RGB", (48, 32), (0, 0, 200))
    out = io.BytesIO()
    first.save(out, format="MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"
    stored = decoded(logo_clean(upload(out.getvalue())))
    assert stored.format == "PNG" and stored.size == (48, 32)
    red, green, blue = stored.getpixel((24, 16))[:3]
    assert red > 150 and blue < 60  # the first frame, not the second


def image_bytes(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (0, 90, 160)).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "WEBP", "TIFF", "ICO"])
def test_it_refuses_a_real_image_that_is_not_png_or_jpeg(fmt):
    data = image_bytes(fmt)
    # A well-formed image of that format, so only the format rule can refuse it.
    assert Image.open(io.BytesIO(data)).format == fmt
    with pytest.raises(ValidationError) as refused:
        logo_clean(upload(data, name=f"logo.{fmt.lower()}"))
    assert refused.value.code == "logo_not_image"
    assert refused.value.messages == ["The logo must be a PNG or JPEG image."]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_the_same_image_as_png_or_jpeg_is_accepted(fmt):
    stored = decoded(logo_clean(upload(image_bytes(fmt), name=f"logo.{fmt.lower()}")))
    assert stored.format == "PNG" and stored.size == (32, 32)


def test_it_turns_a_photo_taken_sideways_the_right_way_up():
    # A camera held on its side stores the pixels landscape and says "rotate 90° clockwise"
    # (EXIF Orientation 6); the stored logo must be portrait, the top-left marker at the top right.
    image = Image.new("RGB", (60, 30), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=95)
    stored = decoded(logo_clean(upload(out.getvalue())))
    assert stored.size == (30, 60)
    assert sum(stored.getpixel((25, 4))[:3]) < 150  # the dark corner, now top right
    assert sum(stored.getpixel((4, 4))[:3]) > 600
    assert not stored.getexif()


@pytest.mark.parametrize(
    ("limit", "size", "message"),
    [
        (1024 * 1024, 1024 * 1024 + 1, "The logo is 1,025 KB; the limit is 1,024 KB."),
        (1024 * 1024, 3 * 1024 * 1024, "The logo is 3,072 KB; the limit is 1,024 KB."),
        (1000, 1001, "The logo is 1 KB; the limit is 1,000 bytes."),
    ],
)
def test_the_size_message_shows_two_different_sizes_even_one_byte_over(settings, limit, size, message):
    settings.LOGO_MAX_BYTES = limit
    with pytest.raises(ValidationError) as exc:
        logo_clean(upload(b"\xff" * size))
    assert exc.value.messages == [message]


@pytest.mark.django_db
def test_a_logo_whose_file_has_gone_shows_the_office_logo(client, member, settings, tmp_path, caplog):
    settings.MEDIA_ROOT = tmp_path
    group = ChatGroupFactory(logo="logos/0123456789abcdef0123456789abcdef.png")
    client.force_login(member)
    with caplog.at_level(logging.WARNING, logger="groups.views"):
        response = client.get(group.logo_url)
    assert response.status_code == 302 and response["Location"] == static(DEFAULT_LOGO)
    assert "is missing" in caplog.text and str(group.pk) in caplog.text
    assert client.get(reverse("groups:detail", args=[group.pk])).status_code == 200
