"""A records document that starts like a PDF must be one: parsed with pypdf, or refused.

The desk keeps the paper and later hands it out inside the patient's package; a file that
only wears the ``%PDF-`` header (random bytes, a truncated upload, a PDF locked with a
password nobody here knows) would be stored as "application/pdf" and fail whoever opens it.
"""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader

from reviewer.errors import Unprocessable

MAX_PAGES = 2000

log = logging.getLogger("toothline.records")


def check_pdf(data: bytes) -> int:
    """The number of pages of ``data``; :class:`Unprocessable` (``invalid_pdf``) when pypdf
    cannot read it, it is encrypted, or it has no pages."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise Unprocessable(
                "This PDF is locked with a password: upload it without the password.",
                code="invalid_pdf",
            )
        pages = len(reader.pages)
        if pages == 0 or pages > MAX_PAGES:
            raise _invalid()
        for page in reader.pages:
            _ = page.mediabox
    except Unprocessable:
        raise
    except Exception as exc:  # hostile input: pypdf may raise anything while parsing
        log.info("records document refused: not a readable PDF (%s)", type(exc).__name__)
        raise _invalid() from exc
    return pages


def _invalid() -> Unprocessable:
    return Unprocessable(
        "This file says it is a PDF but cannot be read as one. Scan or export it again.",
        code="invalid_pdf",
    )
