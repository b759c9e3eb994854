"""A case's pictures as DICOM instances for an archive (docs/interop.md "DICOMweb").

Pure functions: bytes and plain values in, a pydicom ``Dataset`` out; no database, no blob
store, no network. Pillow reads a JPEG's header here (no pixels are decoded), so callers run
these in a worker thread like any other image work.

* One study per case, one series per picture. Every UID is derived from Toothline's ids
  (``2.25.`` name-based UUID UIDs, :func:`study_uid`), so a resend carries the same study, series
  and instance UIDs and the archive stores nothing twice.
* A photo becomes a VL Photographic Image (modality XC) and a radiograph that arrived as a
  JPEG or PNG a Secondary Capture image (modality IO); both carry the display picture intake
  derived (upright, sRGB, long side <= 2048 px, JPEG), encapsulated as it is (JPEG Baseline).
* A DICOM radiograph goes as intake stored it (identifying tags removed, pixels untouched),
  moved into the case's study; with ``restore_identity`` the patient tags come back from the
  case's patient.
* The patient: Toothline's patient id always (an archive groups by it); name and birth date
  only where the archive is the practice's own (:func:`patient_tags`).
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from dataclasses import dataclass
from typing import Final

import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.errors import InvalidDicomError
from pydicom.sequence import Sequence
from pydicom.uid import UID, JPEGBaseline8Bit

VL_PHOTOGRAPHIC: Final = "1.2.840.10008.5.1.4.1.1.77.1.4"
SECONDARY_CAPTURE: Final = "1.2.840.10008.5.1.4.1.1.7"
PATIENT_ID_ISSUER: Final = "Toothline"
MANUFACTURER: Final = "Toothline"
UTF8: Final = "ISO_IR 192"


class NotWrappable(ValueError):
    """The bytes are not the picture they should be (a display that is not a JPEG, a stored
    radiograph that is not DICOM)."""


_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://toothline.example/dicom")


def _uid(*parts: str) -> str:
    """``2.25.`` and a name-based UUID as one integer (PS3.5 B.2): the same parts give the
    same UID on every machine, and no UID root needs registering. (pydicom's
    ``generate_uid(prefix=None)`` ignores its entropy sources: random every call.)"""
    return f"2.25.{uuid.uuid5(_NAMESPACE, '/'.join(parts)).int}"


def study_uid(case_id: uuid.UUID) -> str:
    """The case's StudyInstanceUID: the same on every send."""
    return _uid("study", str(case_id))


def series_uid(attachment_id: uuid.UUID) -> str:
    return _uid("series", str(attachment_id))


def instance_uid(attachment_id: uuid.UUID) -> str:
    return _uid("instance", str(attachment_id))


@dataclass(frozen=True, slots=True)
class PatientTags:
    """What the instances say about the patient (``None``: the tag is left empty)."""

    patient_id: str
    name: str | None = None
    """``Family^Given``."""
    birth_date: dt.date | None = None
    sex: str | None = None
    """M | F | O, where known."""


def patient_tags(
    patient_id: uuid.UUID, family: str, given: str, birth_date: dt.date | None,
    *, restore_identity: bool, sex: str | None = None,
) -> PatientTags:
    """The patient as an archive sees them: the id always; name, birth date and sex only when
    the archive is the practice's own."""
    if not restore_identity:
        return PatientTags(patient_id=str(patient_id))
    return PatientTags(patient_id=str(patient_id), name=f"{family.strip()}^{given.strip()}",
                       birth_date=birth_date, sex=sex)


@dataclass(frozen=True, slots=True)
class StudyTags:
    case_id: uuid.UUID
    study_date: dt.date | None
    description: str
    """The case kind's label (``Post-operative check``): no PHI."""


@dataclass(frozen=True, slots=True)
class ImageTags:
    attachment_id: uuid.UUID
    number: int
    """1-based position in the case (series and instance number)."""
    view: str
    """The view's label (``Upper occlusal``)."""
    teeth: str = ""
    captured_at: dt.datetime | None = None
    """The device's wall-clock time (no zone)."""


def _date(value: dt.date | None) -> str:
    return value.strftime("%Y%m%d") if value else ""


def _time(value: dt.datetime | None) -> str:
    return value.strftime("%H%M%S") if value else ""


def _set_patient(ds: Dataset, patient: PatientTags) -> None:
    ds.PatientName = patient.name or ""
    ds.PatientID = patient.patient_id
    ds.IssuerOfPatientID = PATIENT_ID_ISSUER
    ds.PatientBirthDate = _date(patient.birth_date)
    ds.PatientSex = patient.sex or ""


def _set_study_series(ds: Dataset, study: StudyTags, image: ImageTags, modality: str) -> None:
    ds.StudyInstanceUID = study_uid(study.case_id)
    ds.StudyDate = _date(study.study_date)
    ds.StudyTime = ""
    ds.StudyID = ""
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = study.description
    ds.Modality = modality
    ds.SeriesInstanceUID = series_uid(image.attachment_id)
    ds.SeriesNumber = image.number
    ds.SeriesDescription = image.view
    ds.InstanceNumber = image.number
    if image.teeth:
        ds.ImageComments = f"Teeth: {image.teeth}"


def _file_meta(sop_class: str, sop_instance: str, transfer_syntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance)
    meta.TransferSyntaxUID = UID(transfer_syntax)
    return meta


def _jpeg_geometry(jpeg: bytes) -> tuple[int, int, str]:
    """Width, height and Pillow mode from the header (no pixel decode)."""
    try:
        with Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as im:
            if im.mode not in ("RGB", "L"):
                raise NotWrappable(f"a display picture in mode {im.mode}")
            if im.info.get("progressive") or im.info.get("progression"):
                raise NotWrappable("a progressive JPEG is not JPEG Baseline")
            return im.width, im.height, im.mode
    except (OSError, SyntaxError) as exc:  # Pillow's "not a JPEG"
        raise NotWrappable("the display picture is not a JPEG") from exc


def wrap_picture(
    jpeg: bytes, patient: PatientTags, study: StudyTags, image: ImageTags, *,
    radiograph: bool = False,
) -> Dataset:
    """A display JPEG as a VL Photographic Image (a photo) or a Secondary Capture image of
    modality IO (a radiograph that did not arrive as DICOM), its JPEG encapsulated as is."""
    width, height, mode = _jpeg_geometry(jpeg)
    sop_class = SECONDARY_CAPTURE if radiograph else VL_PHOTOGRAPHIC
    sop_instance = instance_uid(image.attachment_id)
    ds = Dataset()
    ds.file_meta = _file_meta(sop_class, sop_instance, JPEGBaseline8Bit)
    ds.SpecificCharacterSet = UTF8
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    _set_patient(ds, patient)
    _set_study_series(ds, study, image, "IO" if radiograph else "XC")
    ds.Manufacturer = MANUFACTURER
    ds.ImageType = ["DERIVED", "SECONDARY"] if radiograph else ["ORIGINAL", "PRIMARY"]
    ds.ContentDate = _date(image.captured_at)
    ds.ContentTime = _time(image.captured_at)
    if image.captured_at is not None:
        ds.AcquisitionDateTime = image.captured_at.strftime("%Y%m%d%H%M%S")
    if radiograph:
        ds.ConversionType = "WSD"
    else:
        ds.AcquisitionContextSequence = Sequence()
        ds.AnatomicRegionSequence = Sequence()
    ds.Rows, ds.Columns = height, width
    ds.SamplesPerPixel = 3 if mode == "RGB" else 1
    ds.PhotometricInterpretation = "YBR_FULL_422" if mode == "RGB" else "MONOCHROME2"
    if mode == "RGB":
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    ds.PixelData = encapsulate([jpeg])
    ds["PixelData"].VR = "OB"
    return ds


def wrap_radiograph(
    stored: bytes, patient: PatientTags, study: StudyTags, image: ImageTags,
) -> Dataset:
    """The DICOM intake stored, in the case's study with series and instance UIDs of its own;
    the patient tags set from ``patient`` (empty ones stay empty: nothing intake removed comes
    back unless the caller restored it)."""
    try:
        ds = pydicom.dcmread(io.BytesIO(stored))
    except (InvalidDicomError, ValueError, EOFError) as exc:
        raise NotWrappable("the stored radiograph is not DICOM") from exc
    sop_instance = instance_uid(image.attachment_id)
    ds.SOPInstanceUID = sop_instance
    ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_instance)
    if "MediaStorageSOPClassUID" not in ds.file_meta and "SOPClassUID" in ds:
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    if patient.name and str(ds.get("SpecificCharacterSet", "") or "") in ("", "ISO_IR 6"):
        ds.SpecificCharacterSet = UTF8  # a restored name may not be ASCII
    _set_patient(ds, patient)
    modality = str(ds.get("Modality", "") or "IO")
    _set_study_series(ds, study, image, modality)
    return ds


def to_bytes(ds: Dataset) -> bytes:
    """``ds`` as a DICOM file (Part 10), for tests and for archives that take files."""
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
