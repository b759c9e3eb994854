"""When a picture was taken, as the device's wall clock said it (naive; no zone is invented)."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Final

from PIL import Image
from pydicom.dataset import Dataset

from storage.media.exif import EXIF_IFD

_DATETIME_ORIGINAL: Final = 0x9003
_DATETIME_DIGITIZED: Final = 0x9004

_EXIF_RE: Final = re.compile(r"(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_DA_RE: Final = re.compile(r"(\d{4})(\d{2})(\d{2})")
_TM_RE: Final = re.compile(r"(\d{2})(\d{2})?(\d{2})?")
_DT_RE: Final = re.compile(r"(\d{8})(\d{2,6})?")

_MIN_YEAR: Final = 1900  # anything earlier is a camera with a reset clock


def parse_exif_datetime(value: object) -> datetime | None:
    """``'2026:11:20 08:15:02'`` → datetime; blank, zeroed or impossible values → None."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    match = _EXIF_RE.match(value.strip().strip("\x00"))
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        result = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    return result if result.year >= _MIN_YEAR else None


def exif_capture_time(exif: Image.Exif | None) -> datetime | None:
    """DateTimeOriginal, else DateTimeDigitized (sub-seconds and offsets are not used)."""
    if exif is None:
        return None
    try:
        sub = exif.get_ifd(EXIF_IFD)
    except Exception:
        return None
    for tag in (_DATETIME_ORIGINAL, _DATETIME_DIGITIZED):
        found = parse_exif_datetime(sub.get(tag))
        if found is not None:
            return found
    return None


def dicom_capture_time(ds: Dataset) -> datetime | None:
    """AcquisitionDateTime, else Acquisition/Content/Study date with its time (00:00 if none)."""
    acquired = _parse_dt(str(ds.get("AcquisitionDateTime", "") or ""))
    if acquired is not None:
        return acquired
    for prefix in ("Acquisition", "Content", "Study"):
        day = _parse_da(str(ds.get(f"{prefix}Date", "") or ""))
        if day is not None:
            clock = _parse_tm(str(ds.get(f"{prefix}Time", "") or "")) or time()
            return datetime.combine(day, clock)
    return None


def _parse_da(value: str) -> date | None:
    match = _DA_RE.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day_of_month = (int(part) for part in match.groups())
    try:
        day = date(year, month, day_of_month)
    except ValueError:
        return None
    return day if day.year >= _MIN_YEAR else None


def _parse_tm(value: str) -> time | None:
    match = _TM_RE.match(value.strip().replace(":", ""))
    if match is None:
        return None
    hour, minute, second = (int(part or 0) for part in match.groups())
    try:
        return time(hour, minute, min(second, 59))  # DICOM allows a leap second 60
    except ValueError:
        return None


def _parse_dt(value: str) -> datetime | None:
    match = _DT_RE.match(value.strip())
    if match is None:
        return None
    day = _parse_da(match.group(1))
    if day is None:
        return None
    clock = _parse_tm(match.group(2) or "") or time()
    return datetime.combine(day, clock)
