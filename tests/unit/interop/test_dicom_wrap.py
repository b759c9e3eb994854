"""Wrapping a case's pictures as DICOM (reviewer/interop/dicom_wrap.py): valid Part 10 files
of the right SOP class, UIDs stable across sends, the patient's identity only where the
archive is the practice's own."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from pathlib import Path

import pydicom
import pytest
from PIL import Image
from pydicom.uid import JPEGBaseline8Bit

from reviewer.interop import dicom_wrap
from reviewer.interop.dicom_wrap import (
    SECONDARY_CAPTURE,
    VL_PHOTOGRAPHIC,
    ImageTags,
    NotWrappable,
    StudyTags,
    patient_tags,
    study_uid,
    wrap_picture,
    wrap_radiograph,
)
from tests.support.dicoms import write_dicom

CASE = uuid.UUID("01930000-0000-7000-8000-000000000001")
PATIENT = uuid.UUID("01930000-0000-7000-8000-0000000000aa")
PHOTO = uuid.UUID("01930000-0000-7000-8000-0000000000b1")
XRAY = uuid.UUID("01930000-0000-7000-8000-0000000000b2")
STUDY = StudyTags(case_id=CASE, study_date=dt.date(2026, 11, 20),
                  description="Post-operative check")
OWN = patient_tags(PATIENT, "Nguyễn", "Zoë", dt.date(2017, 3, 2), restore_identity=True)
FOREIGN = patient_tags(PATIENT, "Nguyễn", "Zoë", dt.date(2017, 3, 2), restore_identity=False)


def _jpeg(mode: str = "RGB", size: tuple[int, int] = (64, 48), **save: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "teal" if mode == "RGB" else 128).save(out, "JPEG", **save)
    return out.getvalue()


def _reread(ds: pydicom.Dataset) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(dicom_wrap.to_bytes(ds)))


def _image(attachment: uuid.UUID, number: int, view: str = "Upper occlusal") -> ImageTags:
    return ImageTags(attachment_id=attachment, number=number, view=view, teeth="3",
                     captured_at=dt.datetime(2026, 11, 20, 8, 0, 5))


def test_photo_is_a_vl_photographic_image_with_the_patient_study_and_view() -> None:
    ds = _reread(wrap_picture(_jpeg(), OWN, STUDY, _image(PHOTO, 1)))
    assert ds.SOPClassUID == VL_PHOTOGRAPHIC == ds.file_meta.MediaStorageSOPClassUID
    assert ds.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
    assert ds.Modality == "XC"
    assert str(ds.PatientName) == "Nguyễn^Zoë" and ds.PatientID == str(PATIENT)
    assert ds.PatientBirthDate == "20170302"
    assert ds.StudyInstanceUID == study_uid(CASE) and ds.StudyDate == "20261120"
    assert ds.SeriesDescription == "Upper occlusal" and ds.ImageComments == "Teeth: 3"
    assert ds.StudyDescription == "Post-operative check"
    assert ds.AcquisitionDateTime == "20261120080005" and ds.ContentDate == "20261120"
    assert (ds.Rows, ds.Columns, ds.SamplesPerPixel) == (48, 64, 3)
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    pixels = ds.pixel_array  # the encapsulated JPEG decodes
    assert pixels.shape == (48, 64, 3)


def test_uids_are_stable_per_case_and_picture_and_distinct() -> None:
    first = wrap_picture(_jpeg(), OWN, STUDY, _image(PHOTO, 1))
    again = wrap_picture(_jpeg(), OWN, STUDY, _image(PHOTO, 1))
    other = wrap_picture(_jpeg(), OWN, STUDY, _image(XRAY, 2))
    assert first.StudyInstanceUID == again.StudyInstanceUID == other.StudyInstanceUID
    assert first.SOPInstanceUID == again.SOPInstanceUID != other.SOPInstanceUID
    assert first.SeriesInstanceUID == again.SeriesInstanceUID != other.SeriesInstanceUID
    assert study_uid(CASE) != study_uid(uuid.uuid4())
    for uid in (first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPInstanceUID):
        assert uid.is_valid and uid.startswith("2.25.") and len(uid) <= 64


def test_foreign_archive_gets_the_patient_id_only() -> None:
    ds = _reread(wrap_picture(_jpeg(), FOREIGN, STUDY, _image(PHOTO, 1)))
    assert ds.PatientID == str(PATIENT)
    assert str(ds.PatientName) == "" and ds.PatientBirthDate == ""
    assert b"Nguy" not in dicom_wrap.to_bytes(ds)


def test_a_radiograph_that_was_a_picture_is_a_secondary_capture() -> None:
    ds = _reread(wrap_picture(_jpeg("L"), OWN, STUDY, _image(XRAY, 2, "Bitewing"),
                              radiograph=True))
    assert ds.SOPClassUID == SECONDARY_CAPTURE and ds.Modality == "IO"
    assert ds.PhotometricInterpretation == "MONOCHROME2" and ds.SamplesPerPixel == 1
    assert ds.pixel_array.shape == (48, 64)


def test_not_a_baseline_jpeg_is_refused() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG")
    with pytest.raises(NotWrappable):
        wrap_picture(out.getvalue(), OWN, STUDY, _image(PHOTO, 1))
    with pytest.raises(NotWrappable):
        wrap_picture(_jpeg(progressive=True), OWN, STUDY, _image(PHOTO, 1))


def _stored_radiograph(tmp_path: Path) -> bytes:
    """A radiograph as intake stores it: no patient tags (cleaning removed them)."""
    return write_dicom(tmp_path / "x.dcm", name=None, birth_date=None).read_bytes()


def test_dicom_radiograph_joins_the_case_study_with_identity_restored(tmp_path: Path) -> None:
    stored = _stored_radiograph(tmp_path)
    original = pydicom.dcmread(io.BytesIO(stored))
    ds = _reread(wrap_radiograph(stored, OWN, STUDY, _image(XRAY, 3, "Periapical")))
    assert ds.StudyInstanceUID == study_uid(CASE) != original.StudyInstanceUID
    assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
    assert ds.SOPInstanceUID == dicom_wrap.instance_uid(XRAY)
    assert ds.SOPClassUID == original.SOPClassUID and ds.Modality == "IO"
    assert str(ds.PatientName) == "Nguyễn^Zoë" and ds.PatientBirthDate == "20170302"
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert ds.PixelData == original.PixelData  # pixels as received


def test_dicom_radiograph_stays_de_identified_for_a_foreign_archive(tmp_path: Path) -> None:
    ds = _reread(wrap_radiograph(_stored_radiograph(tmp_path), FOREIGN, STUDY,
                                 _image(XRAY, 3)))
    assert ds.PatientID == str(PATIENT)
    assert str(ds.PatientName) == "" and ds.PatientBirthDate == ""


def test_not_dicom_is_refused() -> None:
    with pytest.raises(NotWrappable):
        wrap_radiograph(b"not a dicom file at all", OWN, STUDY, _image(XRAY, 3))
