"""What must not be kept: location, device identifiers, patient identity, smuggled data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from storage.media import MediaRefused, ProcessedMedia

from .conftest import (
    GOOD,
    Process,
    Processed,
    encode,
    fixture_names,
    jpeg_header_segments,
    open_bytes,
)

PHONE_PHOTOS = ["phone_postop_rotated_gps.jpg", "phone_postop_upright.jpg", "phone_postop.heic"]
DEVICE_STRINGS = (b"SyntheticPhone", b"Model X")
GPS_IFD, MAKE, MODEL = 0x8825, 0x010F, 0x0110


def phone_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = "SyntheticPhone"
    exif[MODEL] = "Model X"
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = "2026:11:20 08:15:02"
    exif.get_ifd(0x8769)[0xA431] = "SERIAL-12345"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "N", (45.0, 31.0, 12.5), "W", (122.0, 40.0, 1.25)
    return exif


def assert_no_location_or_device(media: ProcessedMedia) -> None:
    original = media.original_path.read_bytes()
    for data in (original, media.display_jpeg, media.thumbnail_jpeg):
        for needle in (*DEVICE_STRINGS, b"SERIAL-12345"):
            assert needle not in data
    stored = Image.open(media.original_path)
    exif = stored.getexif()
    assert MAKE not in exif and MODEL not in exif
    assert not exif.get_ifd(GPS_IFD)
    assert GPS_IFD not in exif


def assert_views_carry_no_metadata(media: ProcessedMedia) -> None:
    for view in (media.display_jpeg, media.thumbnail_jpeg):
        markers = {marker for marker, _ in jpeg_header_segments(view)}
        # Only JFIF, tables, frame and scan: no APP1 (EXIF/XMP), APP2 (ICC), APP13, comments.
        assert markers <= {0xE0, 0xDB, 0xC4, 0xC0, 0xDA, 0xDD}, sorted(hex(m) for m in markers)
        assert not open_bytes(view).getexif()


@pytest.mark.parametrize("name", PHONE_PHOTOS)
def test_phone_photos_lose_gps_and_device(name: str, processed: Processed) -> None:
    media = processed(name)
    assert_no_location_or_device(media)
    assert "GPS position" in media.removed
    assert "camera make/model" in media.removed


@pytest.mark.parametrize("name", fixture_names(GOOD))
def test_views_carry_no_metadata(name: str, processed: Processed) -> None:
    assert_views_carry_no_metadata(processed(name))


def test_cleaned_jpeg_keeps_only_orientation_in_its_exif(processed: Processed) -> None:
    media = processed("phone_postop_rotated_gps.jpg")
    stored = Image.open(media.original_path)
    assert dict(stored.getexif()) == {0x0112: 6}
    markers = [marker for marker, _ in jpeg_header_segments(media.original_path.read_bytes())]
    assert markers.count(0xE1) == 1


def test_dicom_patient_identity_reaches_no_output(processed: Processed) -> None:
    source = pydicom.dcmread(GOOD / "xray_intraoral.dcm")
    name, patient_id = str(source.PatientName), str(source.PatientID)
    needles = {
        name.encode("latin-1"),
        name.encode("utf-8"),
        source.PatientName.family_name.encode("ascii"),
        patient_id.encode("ascii"),
        source.PatientBirthDate.encode("ascii"),
    }

    media = processed("xray_intraoral.dcm")

    for data in (media.original_path.read_bytes(), media.display_jpeg, media.thumbnail_jpeg):
        for needle in needles:
            assert needle not in data
    cleaned = pydicom.dcmread(media.original_path)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate"):
        assert keyword not in cleaned
    assert cleaned.StudyDate == source.StudyDate  # technical and clinical tags stay
    assert np.array_equal(cleaned.pixel_array, source.pixel_array)
    assert "DICOM patient tags" in media.removed


def test_dicom_scrubs_people_private_tags_and_nested_names(
    write: Callable[[str, bytes], Path], process: Process, tmp_path: Path
) -> None:
    ds = pydicom.dcmread(GOOD / "xray_intraoral.dcm")
    ds.InstitutionName = "Sunny Smiles Dental"
    ds.OperatorsName = "Operator^Olga"
    ds.DeviceSerialNumber = "SENSOR-998877"
    ds.ImageComments = "patient Testpatient sensor 2"
    block = ds.private_block(0x0011, "ACME SENSOR", create=True)
    block.add_new(0x01, "LO", "private-secret-value")
    item = pydicom.Dataset()
    item.VerifyingObserverName = "Observer^Oscar"
    ds.VerifyingObserverSequence = pydicom.Sequence([item])
    path = tmp_path / "tagged.dcm"
    ds.save_as(path, enforce_file_format=True)

    media = process(path)

    data = media.original_path.read_bytes()
    for needle in (b"Sunny Smiles", b"Olga", b"SENSOR-998877", b"private-secret", b"Oscar"):
        assert needle not in data
    assert {"DICOM private tags", "DICOM staff and institution names"} <= set(media.removed)


def test_jpeg_with_appended_html_stores_no_html(
    write: Callable[[str, bytes], Path], process: Process
) -> None:
    page = b"<html><body><script>alert(document.cookie)</script></body></html>"
    jpeg = (GOOD / "progressive.jpg").read_bytes()
    media = process(write("photo.jpg", jpeg + page))

    stored = media.original_path.read_bytes()
    assert b"<html" not in stored and b"script" not in stored
    assert stored.endswith(b"\xff\xd9")
    assert "trailing data after image end" in media.removed
    assert media.received_size == len(jpeg) + len(page)


def test_png_keeps_colour_chunks_and_drops_metadata_losslessly(
    write: Callable[[str, bytes], Path], process: Process
) -> None:
    from PIL import PngImagePlugin

    source = Image.open(GOOD / "intraoral_camera.png")
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Dr Secret")
    text.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>GPSLatitude 45</x:xmpmeta>")
    data = encode(source, "PNG", pnginfo=text, exif=phone_exif(6), dpi=(300, 300))
    media = process(write("camera.png", data + b"<html>trailing</html>"))

    stored = media.original_path.read_bytes()
    for needle in (b"Dr Secret", b"xmpmeta", b"<html", *DEVICE_STRINGS):
        assert needle not in stored
    cleaned = Image.open(media.original_path)
    assert cleaned.info.get("dpi") == pytest.approx((300, 300), abs=0.01)
    assert dict(cleaned.getexif()) == {0x0112: 6}
    assert np.array_equal(np.asarray(cleaned), np.asarray(source))
    assert {"GPS position", "text metadata", "XMP metadata"} <= set(media.removed)
    assert "trailing data after image end" in media.removed
    assert (media.width, media.height) == (960, 1280)  # orientation 6: shown upright


def test_webp_is_cleaned_at_chunk_level(
    write: Callable[[str, bytes], Path], process: Process
) -> None:
    source = Image.open(GOOD / "intraoral_camera.png").convert("RGB")
    data = encode(source, "WEBP", lossless=True, exif=phone_exif(1), xmp=b"<x:xmpmeta/>")
    media = process(write("photo.webp", data))

    assert media.media_type == "webp"
    assert_no_location_or_device(media)
    stored = media.original_path.read_bytes()
    assert b"EXIF" not in stored and b"XMP " not in stored and b"xmpmeta" not in stored
    assert np.array_equal(np.asarray(Image.open(media.original_path)), np.asarray(source))
    assert media.captured_at is not None and media.captured_at.year == 2026


def test_tiff_keeps_16_bit_pixels_and_drops_tags(
    write: Callable[[str, bytes], Path], process: Process
) -> None:
    source = Image.open(GOOD / "xray_periapical_16bit.tif")
    exif = phone_exif(1)
    for pointer in (GPS_IFD, 0x8769):  # Pillow's TIFF writer wants the sub-IFDs set explicitly
        exif[pointer] = exif.get_ifd(pointer)
    data = encode(source, "TIFF", exif=exif, dpi=(600, 600))
    media = process(write("sensor.tif", data))

    assert_no_location_or_device(media)
    cleaned = Image.open(media.original_path)
    assert cleaned.mode == "I;16"
    assert cleaned.info.get("compression") == "tiff_adobe_deflate"
    assert cleaned.info.get("dpi") == pytest.approx((600, 600), abs=0.01)
    assert np.array_equal(np.asarray(cleaned), np.asarray(source))
    assert {"GPS position", "camera make/model", "camera serial"} <= set(media.removed)
    assert media.captured_at is not None and media.captured_at.year == 2026


def test_heic_is_reencoded_without_exif(processed: Processed) -> None:
    media = processed("phone_postop.heic")
    cleaned = Image.open(media.original_path)
    assert cleaned.format == "HEIF"
    assert not cleaned.info.get("exif") and not cleaned.info.get("xmp")
    source = np.asarray(Image.open(GOOD / "phone_postop.heic").convert("RGB"), dtype=np.int16)
    again = np.asarray(cleaned.convert("RGB"), dtype=np.int16)
    assert np.abs(source - again).mean() < 3  # quality 95: visually the same


def _xray_of(patient: str, tmp_path: Path, **tags: str) -> pydicom.Dataset:
    ds = pydicom.dcmread(GOOD / "xray_intraoral.dcm")
    ds.PatientName = patient
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    return ds


def test_dicom_name_left_in_an_unscrubbed_tag_refuses_the_file(
    process: Process, tmp_path: Path
) -> None:
    ds = _xray_of("Doeberg^Janeway", tmp_path, ContrastBolusAgent="for Janeway Doeberg")
    path = tmp_path / "leaky.dcm"
    ds.save_as(path, enforce_file_format=True)

    with pytest.raises(MediaRefused) as refused:
        process(path)

    assert refused.value.code == "unsupported_type"
    assert "anonymised" in refused.value.message


def test_dicom_pixel_samples_that_spell_the_name_are_not_mistaken_for_it(
    process: Process, tmp_path: Path
) -> None:
    """The last check reads the header, not the image samples: a 16-bit sample pair that
    happens to spell the family name is not patient identity."""
    ds = _xray_of("Doeberg^Janeway", tmp_path)
    pixels = bytearray(ds.PixelData)
    pixels[1000:1007] = b"Doeberg"
    ds.PixelData = bytes(pixels)
    path = tmp_path / "unlucky.dcm"
    ds.save_as(path, enforce_file_format=True)

    media = process(path)

    cleaned = pydicom.dcmread(media.original_path)
    assert "PatientName" not in cleaned
    assert cleaned.PixelData == ds.PixelData
