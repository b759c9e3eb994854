"""DICOM intra-oral X-rays: identifying tags removed from the stored file, and a display image.

The stored file keeps its pixel data and the technical tags a viewer needs. Removed: the
patient's identity, people's and institutions' names, device identifiers, free text, every
person-name (PN) element, private tags, and the 128-byte preamble's content. As a last check
the written file (all but its uncompressed pixel samples) is searched for the patient's name and
ID; if they are still there the file is refused rather than stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np
import numpy.typing as npt
import pydicom
from PIL import Image
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut, get_decoder, pixel_array

from storage.media.capture_time import dicom_capture_time
from storage.media.derive import DISPLAY_MAX_SIDE
from storage.media.errors import damaged, decoding, unsupported
from storage.media.exif import dedupe
from storage.media.limits import MediaLimits
from storage.media.results import Cleaned
from storage.media.window import (
    array_rows,
    block_reduce,
    fit,
    percentile_window,
    reduce_factor,
    to_uint8,
)

log = logging.getLogger(__name__)

LABEL_PATIENT: Final = "DICOM patient tags"
LABEL_PEOPLE: Final = "DICOM staff and institution names"
LABEL_DEVICE: Final = "DICOM device identifiers"
LABEL_TEXT: Final = "DICOM free-text descriptions"
LABEL_PRIVATE: Final = "DICOM private tags"
LABEL_PREAMBLE: Final = "DICOM preamble data"

_PATIENT_TAGS: Final = (
    "PatientName", "PatientID", "IssuerOfPatientID", "TypeOfPatientID",
    "IssuerOfPatientIDQualifiersSequence", "OtherPatientIDs", "OtherPatientIDsSequence",
    "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName", "PatientBirthDate",
    "PatientBirthTime", "PatientSex", "PatientAge", "PatientSize", "PatientWeight",
    "PatientAddress", "PatientTelephoneNumbers", "PatientTelecomInformation", "MilitaryRank",
    "BranchOfService", "EthnicGroup", "Occupation", "PatientReligiousPreference",
    "PatientComments", "AdditionalPatientHistory", "MedicalRecordLocator", "CountryOfResidence",
    "RegionOfResidence", "ResponsiblePerson", "ResponsiblePersonRole", "ResponsibleOrganization",
    "PatientInsurancePlanCodeSequence", "PatientPrimaryLanguageCodeSequence", "MedicalAlerts",
    "Allergies", "SmokingStatus", "PregnancyStatus", "LastMenstrualDate", "PatientState",
    "AdmissionID", "PatientInstitutionResidence", "CurrentPatientLocation",
    "ReferencedPatientSequence", "AccessionNumber", "StudyID", "RequestedProcedureID",
    "PerformedProcedureStepID", "ScheduledProcedureStepID", "RequestAttributesSequence",
)  # fmt: skip
_PEOPLE_TAGS: Final = (
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
    "InstitutionCodeSequence", "ReferringPhysicianName", "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers", "ReferringPhysicianIdentificationSequence",
    "ConsultingPhysicianName", "PhysiciansOfRecord", "PhysiciansOfRecordIdentificationSequence",
    "PerformingPhysicianName", "PerformingPhysicianIdentificationSequence",
    "NameOfPhysiciansReadingStudy", "PhysiciansReadingStudyIdentificationSequence",
    "OperatorsName", "OperatorIdentificationSequence", "RequestingPhysician", "RequestingService",
    "ScheduledPerformingPhysicianName", "ContentCreatorName", "VerifyingObserverName",
)  # fmt: skip
_DEVICE_TAGS: Final = (
    "StationName", "DeviceSerialNumber", "DeviceUID", "PlateID", "DetectorID",
    "GantryID", "SourceApplicationEntityTitle",
)  # fmt: skip
_TEXT_TAGS: Final = (
    "StudyDescription", "SeriesDescription", "ImageComments", "PerformedProcedureStepDescription",
    "RequestedProcedureDescription", "ProtocolName", "DerivationDescription",
    "AdmittingDiagnosesDescription", "ReasonForTheRequestedProcedure",
)  # fmt: skip
REMOVED_KEYWORDS: Final[dict[str, str]] = {
    **dict.fromkeys(_PATIENT_TAGS, LABEL_PATIENT),
    **dict.fromkeys(_PEOPLE_TAGS, LABEL_PEOPLE),
    **dict.fromkeys(_DEVICE_TAGS, LABEL_DEVICE),
    **dict.fromkeys(_TEXT_TAGS, LABEL_TEXT),
}
_MIN_NEEDLE: Final = 6  # shorter strings would match pixel data by chance
_CHUNK: Final = 1 << 20
_PIXEL_DATA: Final = 0x7FE00010
_UNDEFINED_LENGTH: Final = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class DicomImage:
    """Facts about a DICOM image needed after cleaning."""

    dataset: Dataset  # cleaned, pixel data deferred to the file
    width: int
    height: int
    bits_stored: int


def clean_dicom(src: Path, dst: Path, limits: MediaLimits) -> tuple[Cleaned, DicomImage]:
    """Write ``src`` to ``dst`` without identifying data; check the frame size first."""
    with decoding("DICOM header"):
        ds = pydicom.dcmread(src, defer_size="1 MB")
        width, height = int(ds.Columns), int(ds.Rows)
        bits_stored = int(ds.get("BitsStored") or ds.BitsAllocated)
        transfer_syntax = ds.file_meta.TransferSyntaxUID
        has_pixels = "PixelData" in ds
    if not has_pixels:
        raise damaged("DICOM without pixel data", "This DICOM file holds no image.")
    limits.check_pixels(width, height)
    if not _decodable(transfer_syntax):
        raise unsupported(
            f"DICOM transfer syntax {transfer_syntax}",
            "This DICOM file uses an image compression we can't read. Please export it "
            "uncompressed (or as a JPEG or PNG) and upload it again.",
        )
    # pydicom converts values lazily: malformed elements fail here, not in dcmread.
    with decoding("DICOM elements"):
        captured_at = dicom_capture_time(ds)
        needles = _identity_needles(ds)
        removed = _scrub(ds)
        if any(ds.preamble or b""):
            removed.append(LABEL_PREAMBLE)
        ds.preamble = b"\x00" * 128
        ds.save_as(dst, enforce_file_format=True)
    if _contains_any(dst, needles):
        raise unsupported(
            "patient identity still present after cleaning",
            "We couldn't remove the patient's details from this DICOM file. Please export it "
            "anonymised (or as a JPEG or PNG) and upload it again.",
        )
    image = DicomImage(ds, width, height, bits_stored)
    _check_displayable(dst, image)
    cleaned = Cleaned(removed=dedupe(removed), captured_at=captured_at)
    return cleaned, image


def read_cleaned(path: Path) -> DicomImage:
    """The facts about a DICOM file ``clean_dicom`` wrote (pixel data left in the file)."""
    with decoding("DICOM header"):
        ds = pydicom.dcmread(path, defer_size="1 MB")
        width, height = int(ds.Columns), int(ds.Rows)
        bits_stored = int(ds.get("BitsStored") or ds.BitsAllocated)
    return DicomImage(ds, width, height, bits_stored)


def _check_displayable(path: Path, image: DicomImage) -> None:
    """Prove, as cheaply as possible, that ``display_picture`` will work on ``path``.

    Uncompressed pixel data: its length must hold every frame (Rows x Columns x samples x
    frames x BitsAllocated / 8); nothing is decoded. Compressed (a decodable transfer syntax):
    the first frame is decoded. The photometric interpretation and the modality/VOI LUT tags
    are tried on a tiny array, so a malformed LUT is refused now, not when the views are made.
    """
    ds = image.dataset
    with decoding("DICOM pixel description"):
        samples = int(ds.get("SamplesPerPixel") or 1)
        frames = int(ds.get("NumberOfFrames") or 1)
        bits_allocated = int(ds.BitsAllocated)
        signed = int(ds.get("PixelRepresentation") or 0) == 1
        encapsulated = bool(ds.file_meta.TransferSyntaxUID.is_encapsulated)
    if samples not in (1, 3) or frames < 1 or bits_allocated not in (1, 8, 16, 32):
        raise unsupported(f"DICOM pixel layout {samples} samples, {bits_allocated} bits")
    if encapsulated:
        with decoding("DICOM pixel data"):
            pixel_array(path, index=0)
    else:
        with decoding("DICOM pixel data length"):
            length = len(ds.PixelData)
        count = image.width * image.height * samples * frames
        expected = (count + 7) // 8 if bits_allocated == 1 else count * (bits_allocated // 8)
        if length < expected:
            raise damaged(
                f"DICOM pixel data holds {length} bytes, {expected} expected",
                "This DICOM file is incomplete (the file was cut off), so it can't be opened. "
                "Please upload it again.",
            )
    if samples == 3:
        return
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise unsupported(f"DICOM photometric interpretation {photometric}")
    dtype = {8: np.int8, 16: np.int16, 32: np.int32}.get(bits_allocated, np.int8)
    if not signed:
        dtype = {np.int8: np.uint8, np.int16: np.uint16, np.int32: np.uint32}[dtype]
    with decoding("DICOM LUT"):  # malformed LUT or window tags
        _windowed(np.zeros((2, 2), dtype=dtype), ds)


def display_picture(path: Path, image: DicomImage) -> Image.Image:
    """The first frame, windowed (VOI LUT or the real contrast range), as 8-bit L or RGB."""
    ds = image.dataset
    with decoding("DICOM pixel data"):
        arr = pixel_array(path, index=0)
    if arr.ndim == 3 and arr.shape[-1] == 3:
        return fit(Image.fromarray(_to_rgb8(arr, image.bits_stored), "RGB"), DISPLAY_MAX_SIDE)
    if arr.ndim != 2:
        raise unsupported(f"DICOM frame shape {arr.shape}")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise unsupported(f"DICOM photometric interpretation {photometric}")
    with decoding("DICOM LUT"):  # malformed LUT or window tags
        gray = _windowed(arr, ds)
    if photometric == "MONOCHROME1":
        np.subtract(255, gray, out=gray)
    return Image.fromarray(gray)


def _windowed(arr: npt.NDArray[Any], ds: Dataset) -> npt.NDArray[np.uint8]:
    height, width = arr.shape
    factor = reduce_factor(width, height, DISPLAY_MAX_SIDE, at_most=True)
    small = block_reduce(array_rows(arr), width, height, factor, arr.dtype, np.rint)
    values = apply_modality_lut(small, ds)
    if _has_voi(ds):
        values = apply_voi_lut(values, ds, index=0)
        lo, hi = _voi_output_range(ds)
    else:
        every = max(1, values.size // 500_000)
        lo, hi = percentile_window(np.asarray(values.ravel()[::every], dtype=np.float32))
    return to_uint8(np.asarray(values, dtype=np.float32), lo, hi)


def _has_voi(ds: Dataset) -> bool:
    return bool(ds.get("VOILUTSequence")) or ("WindowCenter" in ds and "WindowWidth" in ds)


def _voi_output_range(ds: Dataset) -> tuple[float, float]:
    """The value range apply_voi_lut maps into (as pydicom computes it)."""
    if ds.get("VOILUTSequence"):
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        return 0.0, float(2**bits - 1)
    bits = int(ds.BitsStored)
    if ds.get("ModalityLUTSequence"):
        lo, hi = 0.0, float(2 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1)
    elif int(ds.get("PixelRepresentation", 0)) == 0:
        lo, hi = 0.0, float(2**bits - 1)
    else:
        lo, hi = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        lo, hi = lo * float(slope) + float(intercept), hi * float(slope) + float(intercept)
    return (lo, hi) if hi > lo else (hi, lo)


def _to_rgb8(arr: npt.NDArray[Any], bits_stored: int) -> npt.NDArray[np.uint8]:
    if arr.dtype == np.uint8:
        return arr
    shift = max(0, bits_stored - 8)
    return np.asarray(np.right_shift(arr, shift).clip(0, 255), dtype=np.uint8)


def _decodable(transfer_syntax: Any) -> bool:
    try:
        return bool(get_decoder(transfer_syntax).is_available)
    except Exception:
        return False


def _scrub(ds: Dataset) -> list[str]:
    removed: list[str] = []

    def visit(dataset: Dataset, elem: DataElement) -> None:
        label = REMOVED_KEYWORDS.get(elem.keyword)
        if label is None and elem.VR == "PN":
            label = LABEL_PEOPLE
        if label is not None:
            del dataset[elem.tag]
            removed.append(label)

    ds.walk(visit)
    for keyword in _DEVICE_TAGS:  # file meta: source application title
        if keyword in ds.file_meta:
            delattr(ds.file_meta, keyword)
    private_before = _count_private(ds)
    ds.remove_private_tags()
    if private_before:
        removed.append(LABEL_PRIVATE)
    return removed


def _count_private(ds: Dataset) -> int:
    count = 0

    def visit(_dataset: Dataset, elem: DataElement) -> None:
        nonlocal count
        count += elem.tag.is_private

    ds.walk(visit)
    return count


def _identity_needles(ds: Dataset) -> list[bytes]:
    """The patient's name parts and IDs as they could appear in the file's bytes."""
    texts: list[str] = []
    name = ds.get("PatientName")
    if name is not None:
        texts += [name.family_name, name.given_name, name.middle_name, str(name)]
    for keyword in ("PatientID", "OtherPatientIDs"):
        value = ds.get(keyword)
        if isinstance(value, str):
            texts.append(value)
        elif value:
            texts += [str(v) for v in value]
    needles = {
        text.strip().encode(encoding, "ignore")
        for text in texts
        for encoding in ("utf-8", "latin-1")
    }
    return sorted(n for n in needles if len(n) >= _MIN_NEEDLE)


def _contains_any(path: Path, needles: list[bytes]) -> bool:
    """Whether any needle is in the file outside its pixel data's value.

    Uncompressed pixel data is image samples copied unchanged, not text: searching megabytes
    of it costs more than the rest of the cleaning and could only find a name by chance. So
    the bytes before and after that value are searched; encapsulated (compressed) pixel data
    has no known length and the whole file is searched.
    """
    if not needles:
        return False
    size = path.stat().st_size
    skip_from, skip_to = size, size
    with decoding("DICOM written"):
        written = pydicom.dcmread(path, defer_size=1024)
        pixels = written.get_item(_PIXEL_DATA, keep_deferred=True)
    if isinstance(pixels, RawDataElement) and pixels.length != _UNDEFINED_LENGTH:
        skip_from, skip_to = pixels.value_tell, pixels.value_tell + pixels.length
    with path.open("rb") as f:
        if _find_any(f, needles, skip_from):
            return True
        f.seek(skip_to)
        return _find_any(f, needles, size - skip_to)


def _find_any(f: BinaryIO, needles: list[bytes], length: int) -> bool:
    """Whether any needle is in the next ``length`` bytes of ``f``."""
    overlap = max(len(n) for n in needles) - 1
    tail = b""
    while length > 0 and (chunk := f.read(min(_CHUNK, length))):
        length -= len(chunk)
        window = tail + chunk
        if any(n in window for n in needles):
            return True
        tail = window[-overlap:] if overlap else b""
    return False
