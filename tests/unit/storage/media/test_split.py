"""The pipeline in two steps: ``validate_and_clean`` alone refuses everything ``process_upload``
refuses (with the same codes), and ``derive_views`` makes the views from the stored original."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from PIL import Image

from storage.media import (
    CODE_STATUS,
    MediaLimits,
    MediaRefused,
    derive_views,
    process_upload,
    validate_and_clean,
)

from .conftest import BAD, GOOD, Processed, encode, fixture_names, open_bytes
from .test_acceptance import EXPECTED_REFUSAL, EXPECTED_TYPE

Write = Callable[[str, bytes], Path]


def refusal(path: Path, workdir: Path, **limits: int) -> str:
    with pytest.raises(MediaRefused) as refused:
        validate_and_clean(path, MediaLimits(**limits), workdir)
    assert refused.value.status == CODE_STATUS[refused.value.code]
    assert refused.value.message and "Error" not in refused.value.message
    assert list(workdir.iterdir()) == []
    return refused.value.code


@pytest.mark.parametrize("name", fixture_names(BAD))
def test_validation_alone_refuses_every_bad_fixture(name: str, workdir: Path) -> None:
    assert refusal(BAD / name, workdir) == EXPECTED_REFUSAL[name]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"GIF89a" + b"\x00" * 40, "unsupported_type"),
        (b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00avifmif1", "unsupported_type"),
        (b"BM" + b"\x00" * 60, "unsupported_type"),
        (b"\xff\xd8\xff", "damaged"),
        (b"\x89PNG\r\n\x1a\n", "damaged"),
        (b"RIFF\x04\x00\x00\x00WEBP", "damaged"),
        (b"II*\x00\x08\x00\x00\x00", "damaged"),
        (b"\x00" * 128 + b"DICM", "damaged"),
    ],
)
def test_validation_alone_refuses_other_signatures(
    data: bytes, code: str, write: Write, workdir: Path
) -> None:
    assert refusal(write("upload.jpg", data), workdir) == code


@pytest.mark.parametrize("name", fixture_names(GOOD))
def test_limits_are_enforced_by_validation(name: str, workdir: Path) -> None:
    assert refusal(GOOD / name, workdir, max_pixels=100_000) == "too_many_pixels"
    size = (GOOD / name).stat().st_size
    assert refusal(GOOD / name, workdir, max_bytes=size - 1) == "too_large"


@pytest.mark.parametrize("name", fixture_names(GOOD))
def test_every_prefix_cut_is_refused_by_validation(name: str, workdir: Path,
                                                   write: Write) -> None:
    data = (GOOD / name).read_bytes()
    for fraction in (0.5, 0.9, 0.99):
        assert refusal(write(name, data[: int(len(data) * fraction)]), workdir) == "damaged"


def test_corrupt_jpeg_scan_is_caught_by_the_reduced_decode(write: Write, workdir: Path) -> None:
    data = bytearray((GOOD / "progressive.jpg").read_bytes())
    end = data.rindex(b"\xff\xd9")
    data[end - 400 : end - 2] = b"\xff\xc0" * 199  # markers where scan data should be
    with pytest.raises(MediaRefused) as refused:
        process_upload(write("x.jpg", bytes(data)), MediaLimits(), workdir)
    assert refusal(write("y.jpg", bytes(data)), workdir) == refused.value.code


def test_multi_page_tiff_animated_and_bad_crc(write: Write, workdir: Path) -> None:
    pages = [Image.new("L", (64, 48), v) for v in (10, 200)]
    tiff = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    assert refusal(write("scan.tif", tiff), workdir) == "unsupported_type"
    frames = [Image.new("RGB", (64, 48), c) for c in ("red", "blue")]
    for fmt in ("PNG", "WEBP"):
        data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)
        assert refusal(write("anim", data), workdir) == "unsupported_type"
    png = bytearray((GOOD / "intraoral_camera.png").read_bytes())
    png[png.index(b"IDAT") + 100] ^= 0xFF
    assert refusal(write("x.png", bytes(png)), workdir) == "damaged"


def _dicom(tmp_path: Path, change: Callable[[pydicom.Dataset], None]) -> Path:
    ds = pydicom.dcmread(GOOD / "xray_intraoral.dcm")
    change(ds)
    path = tmp_path / "changed.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_dicom_with_short_pixel_data_is_damaged(tmp_path: Path, workdir: Path) -> None:
    def shorten(ds: pydicom.Dataset) -> None:
        ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]

    path = _dicom(tmp_path, shorten)
    assert refusal(path, workdir) == "damaged"


def test_dicom_with_colour_photometric_on_one_sample_is_refused(
    tmp_path: Path, workdir: Path
) -> None:
    def palette(ds: pydicom.Dataset) -> None:
        ds.PhotometricInterpretation = "PALETTE COLOR"

    with pytest.raises(MediaRefused) as refused:
        process_upload(_dicom(tmp_path, palette), MediaLimits(), workdir)
    assert refusal(_dicom(tmp_path, palette), workdir) == refused.value.code


@pytest.mark.parametrize("name", fixture_names(GOOD))
def test_views_derived_later_match_process_upload(
    name: str, workdir: Path, processed: Processed
) -> None:
    checked = validate_and_clean(GOOD / name, MediaLimits(), workdir)
    assert checked.media_type == EXPECTED_TYPE[name]
    assert checked.original_path.parent == workdir
    assert checked.derived == ("display", "thumbnail")
    views = derive_views(checked.original_path, checked.media_type)
    whole = processed(name)
    assert (checked.width, checked.height) == (views.width, views.height)
    assert (views.width, views.height) == (whole.width, whole.height)
    assert (checked.received_sha256, checked.original_size) == (
        whole.received_sha256, whole.original_size,
    )
    assert checked.removed == whole.removed
    assert checked.captured_at == whole.captured_at
    assert checked.is_radiograph_like == whole.is_radiograph_like
    display, thumbnail = open_bytes(views.display_jpeg), open_bytes(views.thumbnail_jpeg)
    assert display.size == open_bytes(whole.display_jpeg).size
    assert thumbnail.size == open_bytes(whole.thumbnail_jpeg).size
    assert max(thumbnail.size) <= 320


def test_known_received_digest_is_used(workdir: Path) -> None:
    path = GOOD / "progressive.jpg"
    checked = validate_and_clean(path, MediaLimits(), workdir,
                                 received=("ab" * 32, path.stat().st_size))
    assert checked.received_sha256 == "ab" * 32
