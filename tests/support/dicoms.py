"""Synthesized DICOM intra-oral X-rays with chosen patient tags (issue 17: the right patient)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def write_dicom(
    path: Path, *, name: str | None = "Demo^Pat", birth_date: str | None = "19880412",
    sex: str | None = None, patient_id: str | None = None, study_date: str = "20261120",
    pixel_spacing: tuple[float, float] | None = None,
) -> Path:
    """A small 16-bit DICOM at ``path`` whose patient tags are the given ones (None: absent);
    ``pixel_spacing`` (row, column mm) writes Pixel Spacing (0028,0030)."""
    rows, cols = 192, 256
    gradient = np.linspace(400, 3600, cols, dtype=np.float64)[None, :].repeat(rows, 0)
    pixels = (gradient + np.arange(rows)[:, None] * 3).astype(np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.3"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    if name is not None:
        ds.PatientName = name
    if birth_date is not None:
        ds.PatientBirthDate = birth_date
    if sex is not None:
        ds.PatientSex = sex
    if patient_id is not None:
        ds.PatientID = patient_id
    ds.Modality = "IO"
    ds.StudyDate = study_date
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    if pixel_spacing is not None:
        ds.PixelSpacing = [str(v) for v in pixel_spacing]
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path
