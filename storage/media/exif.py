"""Reading EXIF blocks safely, naming what they give away, and writing an orientation-only one."""

from __future__ import annotations

import logging
import struct
from typing import Final

from PIL import Image

log = logging.getLogger(__name__)

ORIENTATION: Final = 0x0112
EXIF_IFD: Final = 0x8769
GPS_IFD: Final = 0x8825

_MAKE_MODEL: Final = (0x010F, 0x0110)  # Make, Model (IFD0)
_LENS_MAKE_MODEL: Final = (0xA433, 0xA434)  # LensMake, LensModel (Exif IFD)
_SERIALS_IFD0: Final = (0xC62F,)  # CameraSerialNumber (DNG)
_SERIALS_EXIF: Final = (0xA431, 0xA435, 0xA420)  # Body/Lens serial, ImageUniqueID
_OWNER_IFD0: Final = (0x013B, 0x8298)  # Artist, Copyright
_OWNER_EXIF: Final = (0xA430,)  # CameraOwnerName
_MAKER_NOTE: Final = 0x927C

LABEL_GPS: Final = "GPS position"
LABEL_MAKE_MODEL: Final = "camera make/model"
LABEL_SERIAL: Final = "camera serial"
LABEL_OWNER: Final = "owner or artist name"
LABEL_MAKER_NOTE: Final = "camera maker notes"
LABEL_EXIF_OTHER: Final = "other EXIF metadata"


def load_exif(data: bytes) -> Image.Exif | None:
    """An EXIF block (with or without the ``Exif\\0\\0`` prefix) parsed, or None if unreadable."""
    exif = Image.Exif()
    try:
        exif.load(data)
        # Sub-IFDs are parsed lazily; touch them now so a broken one fails here.
        exif.get_ifd(EXIF_IFD)
        exif.get_ifd(GPS_IFD)
    except Exception as exc:  # Pillow's TIFF reader raises many types on hostile input
        log.info("unreadable EXIF block ignored: %r", exc)
        return None
    return exif


def read_image_exif(im: Image.Image) -> Image.Exif | None:
    """``im.getexif()`` that survives broken metadata (None if it does not)."""
    try:
        exif = im.getexif()
        exif.get_ifd(EXIF_IFD)
        exif.get_ifd(GPS_IFD)
    except Exception as exc:
        log.info("unreadable EXIF ignored: %r", exc)
        return None
    return exif


def orientation_of(exif: Image.Exif | None) -> int:
    """EXIF orientation 1..8 (1 when absent or nonsense)."""
    if exif is None:
        return 1
    value = exif.get(ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def privacy_labels(exif: Image.Exif | None) -> list[str]:
    """Human labels of what an EXIF block carries that is not kept."""
    if exif is None:
        return []
    sub = _ifd(exif, EXIF_IFD)
    if not (set(exif) - {ORIENTATION, EXIF_IFD, GPS_IFD} or sub or _ifd(exif, GPS_IFD)):
        return []  # nothing but an orientation
    labels: list[str] = []
    if _ifd(exif, GPS_IFD):
        labels.append(LABEL_GPS)
    if any(t in exif for t in _MAKE_MODEL) or any(t in sub for t in _LENS_MAKE_MODEL):
        labels.append(LABEL_MAKE_MODEL)
    if any(t in exif for t in _SERIALS_IFD0) or any(t in sub for t in _SERIALS_EXIF):
        labels.append(LABEL_SERIAL)
    if any(t in exif for t in _OWNER_IFD0) or any(t in sub for t in _OWNER_EXIF):
        labels.append(LABEL_OWNER)
    if _MAKER_NOTE in sub:
        labels.append(LABEL_MAKER_NOTE)
    labels.append(LABEL_EXIF_OTHER)
    return labels


def orientation_only_tiff(orientation: int) -> bytes:
    """A big-endian TIFF structure with one IFD holding only Orientation (for EXIF blocks)."""
    return (
        b"MM\x00\x2a\x00\x00\x00\x08"  # header, IFD0 at offset 8
        + struct.pack(">H", 1)  # one entry
        + struct.pack(">HHIHH", ORIENTATION, 3, 1, orientation, 0)  # SHORT, count 1, value
        + b"\x00\x00\x00\x00"  # no next IFD
    )


def dedupe(labels: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(labels))


def _ifd(exif: Image.Exif, tag: int) -> dict[int, object]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:
        return {}
