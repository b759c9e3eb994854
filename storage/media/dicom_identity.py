"""The patient identity a DICOM file's own tags claim (read before cleaning removes them).

Pure: reads one file's header, touches nothing else. The values are PHI: the caller keeps them
in the database only (never in blob keys or logs). An absent or empty tag is ``None``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError


@dataclass(frozen=True, slots=True)
class DicomIdentity:
    """PatientName (as ``Family^Given``), PatientBirthDate, PatientSex, PatientID."""

    name: str | None = None
    birth_date: dt.date | None = None
    sex: str | None = None
    """M | F | O as the tag holds it (upper-cased), or None."""
    patient_id: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.name or self.birth_date or self.sex or self.patient_id)


def _text(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _date(value: object) -> dt.date | None:
    text = (_text(value) or "").replace("-", "").replace(".", "")
    if len(text) != 8 or not text.isdigit():
        return None  # a malformed or partial date is unknown, not a mismatch
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def read_dicom_identity(path: Path) -> DicomIdentity:
    """The four patient tags of ``path`` (all ``None`` when the file has none or is unreadable:
    the cleaning step decides whether the file is accepted at all)."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=[
            "PatientName", "PatientBirthDate", "PatientSex", "PatientID",
        ])
        name = _text(ds.get("PatientName"))
        if name is not None:
            name = name.strip("^ ") or None
        sex = _text(ds.get("PatientSex"))
        return DicomIdentity(
            name=name,
            birth_date=_date(ds.get("PatientBirthDate")),
            sex=sex.upper() if sex else None,
            patient_id=_text(ds.get("PatientID")),
        )
    except (InvalidDicomError, OSError, ValueError, TypeError, AttributeError, KeyError):
        return DicomIdentity()
