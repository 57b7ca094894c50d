"""Checks of what people type and upload: text that shows something (R1), and logos that are
real PNG or JPEG images, judged by their bytes, not their name."""

from __future__ import annotations

import io
import re
import unicodedata
import warnings

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

# Many phone cameras save their JPEGs as MPO (a JPEG followed by a second image, for depth or
# a preview); Pillow reports those as "MPO". The first frame is an ordinary JPEG.
ALLOWED_FORMATS = {"PNG", "JPEG", "MPO"}

# Letters that draw nothing, used to make names look empty (WhatsApp's "invisible name" trick).
_BLANK_LETTERS = frozenset("\u115f\u1160\u2800\u3164\uffa0")
# Formatting (zero-width spaces and joiners, byte-order and direction marks), controls and
# separators: none of them shows on screen.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})
# Bidirectional controls (embeddings, overrides, isolates, direction marks): a right-to-left
# override makes "exe.txt" read "txt.exe" in a page or an email, so these go wherever they are.
_BIDI_CONTROLS = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C],
)


def _invisible(char: str) -> bool:
    return char.isspace() or char in _BLANK_LETTERS or unicodedata.category(char) in _INVISIBLE_CATEGORIES


def clean_text(value: str | None, *, one_line: bool = False) -> str:
    """Text without the invisible characters at its ends; "" when nothing visible is left.

    Inside the text they stay: a zero-width joiner holds an emoji together. Bidirectional
    controls are removed everywhere. `one_line` also turns each run of whitespace into one
    space (names).
    """
    value = (value or "").translate(_BIDI_CONTROLS)
    start, end = 0, len(value)
    while start < end and _invisible(value[start]):
        start += 1
    while end > start and _invisible(value[end - 1]):
        end -= 1
    value = value[start:end]
    return " ".join(value.split()) if one_line else value


def _kilobytes(size: int, *, round_up: bool) -> str:
    # The upload's size is rounded up and the limit down, so one byte over never reads as
    # "1024 KB; the limit is 1024 KB".
    if size < 1024 and not round_up:
        return f"{size:,} bytes"
    kilobytes = -(-size // 1024) if round_up else size // 1024
    return f"{kilobytes:,} KB"


def logo_clean(upload) -> ContentFile:
    """Check an uploaded logo and return it re-encoded as a fresh PNG.

    Re-encoding keeps only the pixels, so metadata or anything appended to the file
    (a polyglot) is dropped before it is stored. The camera's orientation tag is applied
    first, so a photo taken sideways is stored the right way up.
    """
    max_bytes = settings.LOGO_MAX_BYTES
    max_pixels = settings.LOGO_MAX_PIXELS
    if upload.size > max_bytes:
        raise ValidationError(
            f"The logo is {_kilobytes(upload.size, round_up=True)}; "
            f"the limit is {_kilobytes(max_bytes, round_up=False)}.",
            code="logo_too_big",
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
                image.load()  # the first frame of an MPO
                upright = ImageOps.exif_transpose(image)
                mode = "RGBA" if upright.mode in ("RGBA", "LA", "P") else "RGB"
                out = io.BytesIO()
                upright.convert(mode).save(out, format="PNG", optimize=True)
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
    if out.tell() > max_bytes:
        # Re-encoding a photograph as PNG can make it bigger than the upload was; what is
        # stored (a row when FILE_STORAGE=database) keeps to the same limit.
        raise ValidationError(
            f"The logo is {_kilobytes(out.tell(), round_up=True)} once converted to PNG; the limit is "
            f"{_kilobytes(max_bytes, round_up=False)}. Use a simpler or smaller image.",
            code="logo_too_big",
        )
    return ContentFile(out.getvalue(), name="logo.png")


# What a policy PDF may not carry: scripts, actions that open programs or pages, and files
# hidden inside it. A policy is text to read, and staff open it on work phones.
# A name ends at a delimiter, so a font such as /AAAAAB+Arial is not the /AA (actions) key.
_PDF_ACTIVE = re.compile(rb"/(?:JavaScript|JS|Launch|EmbeddedFile|OpenAction|AA)(?![A-Za-z0-9+#_.-])")


def pdf_clean(upload) -> ContentFile:
    """Check an uploaded policy PDF: a real PDF (by its bytes, not its name), no larger than
    POLICY_PDF_MAX_BYTES, with no active content. Returns its bytes under a fresh name."""
    max_bytes = settings.POLICY_PDF_MAX_BYTES
    if upload.size > max_bytes:
        raise ValidationError(
            f"The PDF is {_kilobytes(upload.size, round_up=True)}; "
            f"the limit is {_kilobytes(max_bytes, round_up=False)}.",
            code="pdf_too_big",
        )
    upload.seek(0)
    data = upload.read()
    # A PDF starts with its header (within the first kilobyte) and ends with %%EOF.
    if b"%PDF-" not in data[:1024] or b"%%EOF" not in data[-1024:] or b" obj" not in data:
        raise ValidationError("The file must be a PDF document.", code="pdf_not_pdf")
    if _PDF_ACTIVE.search(data):
        raise ValidationError(
            "The PDF contains scripts, actions or attached files. Save it again as a plain PDF (for "
            "example with Print to PDF) and upload that.",
            code="pdf_active",
        )
    return ContentFile(data, name="policy.pdf")
