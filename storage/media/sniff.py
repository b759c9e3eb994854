"""What a file really is, decided from its first bytes (never its name or declared type)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from storage.media.errors import ACCEPTED_KINDS, damaged, unsupported

MediaType = Literal["jpeg", "png", "heif", "webp", "tiff", "dicom"]

HEAD_BYTES: Final = 512  # enough for every signature below (DICOM's sits at 128)


@dataclass(frozen=True, slots=True)
class FormatInfo:
    content_type: str
    extension: str  # with the dot, as Path.suffix has it
    pillow_format: str | None  # the only Pillow decoder allowed to open it


FORMATS: Final[dict[MediaType, FormatInfo]] = {
    "jpeg": FormatInfo("image/jpeg", ".jpg", "JPEG"),
    "png": FormatInfo("image/png", ".png", "PNG"),
    "heif": FormatInfo("image/heic", ".heic", "HEIF"),
    "webp": FormatInfo("image/webp", ".webp", "WEBP"),
    "tiff": FormatInfo("image/tiff", ".tif", "TIFF"),
    "dicom": FormatInfo("application/dicom", ".dcm", None),
}

# ISO-BMFF brands of HEIF still images with HEVC pictures (AVIF and videos are not accepted).
_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_HEIF_GENERIC_BRANDS: Final = frozenset({b"mif1", b"msf1"})

# Signatures of things people upload by mistake (or on purpose), named in the refusal.
_KNOWN_OTHERS: Final[tuple[tuple[bytes, str], ...]] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive or office document"),
    (b"MZ", "a program (EXE)"),
    (b"\x7fELF", "a program"),
    (b"GIF87a", "a GIF animation"),
    (b"GIF89a", "a GIF animation"),
    (b"BM", "a BMP bitmap"),
    (b"8BPS", "a Photoshop document"),
    (b"\xd0\xcf\x11\xe0", "an office document"),
    (b"Rar!", "a RAR archive"),
    (b"\x1f\x8b", "a compressed archive"),
    (b"{\\rtf", "a text document"),
)


def sniff(head: bytes) -> MediaType:
    """The accepted media type the bytes start with, or MediaRefused.

    ``head`` is the start of the file (``HEAD_BYTES`` are enough). Empty input is
    ``damaged``; anything else that is not an accepted image is ``unsupported_type``.
    """
    if not head:
        raise damaged("empty file", "This file is empty. Please choose the picture again.")
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head[4:8] == b"ftyp" and _is_heif(head):
        return "heif"
    raise unsupported(f"signature {head[:16]!r}", _refusal_message(head))


def _is_heif(head: bytes) -> bool:
    box_size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    if major in _HEIF_BRANDS:
        return True
    if major not in _HEIF_GENERIC_BRANDS:
        return False
    end = min(box_size, len(head))
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    return bool(compatible & _HEIF_BRANDS) and b"avif" not in compatible


def _refusal_message(head: bytes) -> str:
    what = _describe(head)
    if what is None:
        return f"This kind of file can't be accepted. Please upload {ACCEPTED_KINDS}."
    return (
        f"This file is {what}, not a photo or X-ray we can accept. Please upload {ACCEPTED_KINDS}."
    )


def _describe(head: bytes) -> str | None:
    for signature, what in _KNOWN_OTHERS:
        if head.startswith(signature):
            return what
    if head[4:8] == b"ftyp":
        return "an AVIF image or a video" if b"avif" in head[8:64] else "a video"
    if head[:4] == b"II+\x00" or head[:4] == b"MM\x00+":
        return "a BigTIFF image"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml")) and b"<svg" in text:
        return "an SVG drawing"
    if text.startswith(b"<"):
        return "a web page or XML document"
    return None
