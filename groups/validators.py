"""Logo checks (R1): a real PNG or JPEG, judged by its bytes, not its name."""

from __future__ import annotations

import io
import warnings

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = {"PNG", "JPEG"}


def logo_clean(upload) -> ContentFile:
    """Check an uploaded logo and return it re-encoded as a fresh PNG.

    Re-encoding keeps only the pixels, so metadata or anything appended to the file
    (a polyglot) is dropped before it is stored.
    """
    max_bytes = settings.LOGO_MAX_BYTES
    max_pixels = settings.LOGO_MAX_PIXELS
    if upload.size > max_bytes:
        raise ValidationError(
            f"The logo is {upload.size // 1024} KB; the limit is {max_bytes // 1024} KB.", code="logo_too_big"
        )
    upload.seek(0)
    data = upload.read()
    not_an_image = ValidationError("The logo must be a PNG or JPEG image.", code="logo_not_image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ALLOWED_FORMATS:
                    raise not_an_image
                width, height = probe.size
                if width > max_pixels or height > max_pixels:
                    raise ValidationError(
                        f"The logo is {width}×{height} pixels; the limit is {max_pixels}×{max_pixels}.",
                        code="logo_too_large",
                    )
                probe.verify()
            # verify() leaves the image unusable: open it again to decode the pixels.
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                mode = "RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB"
                out = io.BytesIO()
                image.convert(mode).save(out, format="PNG", optimize=True)
    except ValidationError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise not_an_image from exc
    return ContentFile(out.getvalue(), name="logo.png")
