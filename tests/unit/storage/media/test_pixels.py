"""What the stored pictures look like: upright, lossless where promised, with sane contrast."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageCms

from storage.media import ProcessedMedia

from .conftest import GOOD, Process, Processed, encode, open_bytes

BLUE_MARKER = np.array([20, 40, 220])
JPEGS = ["cmyk.jpg", "phone_postop_rotated_gps.jpg", "phone_postop_upright.jpg",
         "progressive.jpg", "xray_8bit.jpg"]  # fmt: skip
RADIOGRAPHS = ["xray_bitewing_16bit.png", "xray_periapical_16bit.tif", "xray_intraoral.dcm"]


def corner_colours(view: bytes) -> dict[str, np.ndarray]:
    rgb = np.asarray(open_bytes(view).convert("RGB"), dtype=np.float32)
    h, w = rgb.shape[0] // 30, rgb.shape[1] // 30  # well inside the 1/12 marker
    return {
        "top-left": rgb[:h, :w].mean(axis=(0, 1)),
        "top-right": rgb[:h, -w:].mean(axis=(0, 1)),
        "bottom-left": rgb[-h:, :w].mean(axis=(0, 1)),
        "bottom-right": rgb[-h:, -w:].mean(axis=(0, 1)),
    }


@pytest.mark.parametrize(
    "name", ["phone_postop_rotated_gps.jpg", "phone_postop_upright.jpg", "phone_postop.heic"]
)
def test_views_stand_upright_with_the_blue_marker_top_left(name: str, processed: Processed) -> None:
    media = processed(name)
    for view in (media.display_jpeg, media.thumbnail_jpeg):
        corners = corner_colours(view)
        assert np.abs(corners.pop("top-left") - BLUE_MARKER).max() < 30
        for colour in corners.values():
            assert colour[2] < colour[0]  # the other corners are the reddish mouth


def test_rotated_photo_is_reported_in_its_upright_size(processed: Processed) -> None:
    media = processed("phone_postop_rotated_gps.jpg")
    assert Image.open(GOOD / "phone_postop_rotated_gps.jpg").size == (2016, 1512)
    assert (media.width, media.height) == (1512, 2016)
    assert open_bytes(media.display_jpeg).size == (1512, 2016)


@pytest.mark.parametrize("name", JPEGS)
def test_cleaned_jpeg_decodes_to_identical_pixels(name: str, processed: Processed) -> None:
    media = processed(name)
    source, cleaned = Image.open(GOOD / name), Image.open(media.original_path)
    assert cleaned.mode == source.mode and cleaned.size == source.size
    assert np.array_equal(np.asarray(cleaned), np.asarray(source))
    assert cleaned.getexif().get(0x0112, 1) == source.getexif().get(0x0112, 1)
    assert cleaned.info.get("adobe") == source.info.get("adobe")  # CMYK keeps its Adobe marker


@pytest.mark.parametrize("name", RADIOGRAPHS)
def test_radiograph_display_uses_the_full_contrast_range(name: str, processed: Processed) -> None:
    media = processed(name)
    assert media.is_radiograph_like
    assert media.bits_per_sample == 16
    for view in (media.display_jpeg, media.thumbnail_jpeg):
        gray = np.asarray(open_bytes(view).convert("L"))
        assert gray.min() < 30 and gray.max() > 225
        assert gray.std() > 40  # neither a black nor a white square
        # The teeth (bright ellipses) are bright, the field between them dark.
        assert np.percentile(gray, 10) < 40 and np.percentile(gray, 95) > 200


@pytest.mark.parametrize("name", ["intraoral_camera.png", "progressive.jpg", "xray_8bit.jpg"])
def test_photos_are_not_flagged_as_radiographs(name: str, processed: Processed) -> None:
    media = processed(name)
    assert not media.is_radiograph_like
    assert media.bits_per_sample == 8


def test_cmyk_displays_with_sane_colours(processed: Processed) -> None:
    media = processed("cmyk.jpg")
    rgb = np.asarray(open_bytes(media.display_jpeg), dtype=np.float32)
    assert rgb.shape == (600, 800, 3)
    tooth = rgb[220:330, 110:170].mean(axis=(0, 1))  # first tooth: off-white (235, 232, 220)
    assert tooth.min() > 200
    gum = rgb[480:580, 300:500].mean(axis=(0, 1))  # mouth background: red
    assert gum[0] > 150 and gum[0] > gum[1] + 60


def test_dicom_is_windowed_from_its_window_tags(process: Process, tmp_path: Path) -> None:
    ds = pydicom.dcmread(GOOD / "xray_intraoral.dcm")
    ds.WindowCenter, ds.WindowWidth = 4000, 2000  # a window on the dark field only
    ds.PhotometricInterpretation = "MONOCHROME1"  # and inverted
    path = tmp_path / "windowed.dcm"
    ds.save_as(path, enforce_file_format=True)

    gray = np.asarray(open_bytes(process(path).display_jpeg).convert("L"))
    # Teeth (about a third of the picture) are far above the window: saturated, then
    # inverted to black; the field is spread across the window around mid-gray.
    assert np.percentile(gray, 20) < 10
    assert 90 < np.percentile(gray, 70) < 200


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("phone_postop_rotated_gps.jpg", datetime(2026, 11, 20, 8, 15, 2)),
        ("phone_postop_upright.jpg", datetime(2026, 11, 20, 8, 15, 2)),
        ("phone_postop.heic", datetime(2026, 11, 20, 8, 15, 2)),
        ("xray_intraoral.dcm", datetime(2026, 11, 20, 0, 0)),  # StudyDate, no time
        ("intraoral_camera.png", None),
        ("xray_periapical_16bit.tif", None),
    ],
)
def test_capture_time(name: str, expected: datetime | None, processed: Processed) -> None:
    media: ProcessedMedia = processed(name)
    assert media.captured_at == expected
    assert media.captured_at is None or media.captured_at.tzinfo is None


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparency_is_laid_on_white(
    mode: str, write: Callable[[str, bytes], Path], process: Process
) -> None:
    im = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    im.paste((200, 30, 30, 255), (0, 0, 100, 100))  # left half opaque red-ish, right clear
    if mode == "P":
        source = im.convert("P")
        source.info["transparency"] = source.getpixel((150, 50))
    else:
        source = im.convert(mode)
    media = process(write("t.png", encode(source, "PNG")))
    rgb = np.asarray(open_bytes(media.display_jpeg), dtype=np.float32)
    assert rgb[40:60, 150:190].mean() > 245  # transparent → white, not black
    assert rgb[40:60, 10:50].mean() < 200


@pytest.mark.parametrize("icc", ["srgb", "garbage"])
def test_embedded_icc_profile_is_used_or_safely_ignored(
    icc: str, write: Callable[[str, bytes], Path], process: Process
) -> None:
    profile = (
        ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        if icc == "srgb"
        else b"not an icc profile" * 10
    )
    source = Image.new("RGB", (300, 200), (40, 160, 90))
    media = process(write("icc.jpg", encode(source, "JPEG", quality=95, icc_profile=profile)))
    assert open_bytes(media.original_path.read_bytes()).info.get("icc_profile") == profile
    display = open_bytes(media.display_jpeg)
    assert "icc_profile" not in display.info
    assert np.abs(np.asarray(display, dtype=np.float32).mean(axis=(0, 1)) - (40, 160, 90)).max() < 6
