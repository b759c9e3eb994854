"""Why an upload is refused: a stable code, the HTTP status it maps to, and a patient's message."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar, Literal

log = logging.getLogger(__name__)

RefusalCode = Literal["too_large", "unsupported_type", "damaged", "too_many_pixels"]

CODE_STATUS: dict[RefusalCode, int] = {
    "too_large": 413,
    "unsupported_type": 415,
    "damaged": 422,
    "too_many_pixels": 422,
}

ACCEPTED_KINDS = "a JPEG, PNG, HEIC, WebP or TIFF photo, or a DICOM X-ray"


class MediaRefused(Exception):
    """An uploaded file that will not be stored.

    ``message`` is written for the patient or hygienist who sent the file; ``detail`` is for
    the log only (it may name parsers and offsets) and is never shown.
    """

    CODE_STATUS: ClassVar[dict[RefusalCode, int]] = CODE_STATUS

    def __init__(self, code: RefusalCode, message: str, *, detail: str = "") -> None:
        super().__init__(f"{code}: {message}" + (f" ({detail})" if detail else ""))
        self.code: RefusalCode = code
        self.message = message
        self.detail = detail

    @property
    def status(self) -> int:
        """The HTTP status the portal answers with."""
        return CODE_STATUS[self.code]


def damaged(detail: str, message: str = "") -> MediaRefused:
    return MediaRefused(
        "damaged",
        message
        or "This file seems to be damaged or incomplete, so it can't be opened. "
        "Please take or export the picture again and upload the new file.",
        detail=detail,
    )


def unsupported(detail: str, message: str = "") -> MediaRefused:
    return MediaRefused(
        "unsupported_type",
        message or f"This kind of file can't be accepted. Please upload {ACCEPTED_KINDS}.",
        detail=detail,
    )


def too_many_pixels(
    max_pixels: int, width: int | None = None, height: int | None = None, *, detail: str = ""
) -> MediaRefused:
    size = f" ({width} x {height} pixels)" if width and height else ""
    return MediaRefused(
        "too_many_pixels",
        f"This picture is too large{size}; at most {max_pixels / 1_000_000:.0f} megapixels "
        "are accepted. Please send a smaller version of it.",
        detail=detail or f"{width}x{height} > {max_pixels} pixels",
    )


def too_large(size: int, max_bytes: int) -> MediaRefused:
    return MediaRefused(
        "too_large",
        f"This file is too large. Files of up to {max_bytes / (1024 * 1024):.0f} MB are accepted.",
        detail=f"{size} > {max_bytes} bytes",
    )


@contextmanager
def decoding(what: str) -> Iterator[None]:
    """Around third-party decoders fed untrusted bytes: any failure becomes ``damaged``.

    Pillow, pillow-heif and pydicom raise a wide variety of exception types on hostile
    input (and pydicom converts values lazily, long after reading), so the boundary is broad.
    """
    try:
        yield
    except MediaRefused:
        raise
    except Exception as exc:
        log.info("%s failed: %r", what, exc)
        raise damaged(f"{what}: {exc!r}") from exc
