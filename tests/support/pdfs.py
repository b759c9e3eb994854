"""Small PDFs for tests: one that pypdf reads, and the hostile ones it must refuse."""

from __future__ import annotations

import io
import os

from pypdf import PdfWriter


def real_pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.encrypt("nobody-knows-this")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def hostile_pdfs() -> dict[str, bytes]:
    """Files that start with ``%PDF-`` and are not readable PDFs."""
    good = real_pdf()
    return {
        "truncated": good[: len(good) // 2],
        "random_bytes": b"%PDF-1.7\n" + os.urandom(4096),
        "header_only": b"%PDF-1.4\n%%EOF\n",
        "empty_trailer": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        "encrypted": encrypted_pdf(),
    }
