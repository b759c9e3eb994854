"""The physical size of a DICOM's pixels, read from the stored (cleaned) file's header.

Intra-oral sensors usually write Imager Pixel Spacing (0018,1164: at the detector); some
write Pixel Spacing (0028,0030: in the patient). Pixel Spacing wins when both are there, as
DICOM PS3.3 asks a viewer measuring anatomy to prefer it. Both are "row spacing \\ column
spacing" in mm. Only the header is parsed (``stop_before_pixels``): microseconds.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import pydicom
from pydicom.errors import InvalidDicomError

SOURCES = (("PixelSpacing", "DICOM Pixel Spacing"),
           ("ImagerPixelSpacing", "DICOM Imager Pixel Spacing"))


@dataclass(frozen=True, slots=True)
class Spacing:
    row_mm: float
    column_mm: float
    source: str


def dicom_pixel_spacing(data: bytes) -> Spacing | None:
    """The spacing of a stored DICOM file's pixels, or None (absent, zero, unreadable)."""
    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return None
    for keyword, source in SOURCES:
        try:
            value = ds.get(keyword)
            if value is None or len(value) != 2:
                continue
            row, column = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            continue
        if all(math.isfinite(v) and 0 < v < 10 for v in (row, column)):
            return Spacing(row, column, source)
    return None
