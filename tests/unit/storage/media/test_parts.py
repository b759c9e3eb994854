"""The pipeline's small parts on their own: sniffing, dates, EXIF helpers, windowing, limits."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from storage.media import MediaLimits, MediaRefused, sniff
from storage.media.capture_time import dicom_capture_time, exif_capture_time, parse_exif_datetime
from storage.media.dicom import REMOVED_KEYWORDS
from storage.media.exif import load_exif, orientation_only_tiff, privacy_labels
from storage.media.window import percentile_window, reduce_factor, windowed_gray


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
        (b"II*\x00\x08\x00\x00\x00", "tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "tiff"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "heif"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "heif"),
        (b"\x00" * 128 + b"DICM\x02\x00", "dicom"),
    ],
)
def test_sniff_accepted(head: bytes, expected: str) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    ("head", "word"),
    [
        (b"%PDF-1.7", "PDF"),
        (b"PK\x03\x04", "ZIP"),
        (b"MZ\x90\x00", "program"),
        (b"GIF89a", "GIF"),
        (b"<svg xmlns=", "SVG"),
        (b"  <!DOCTYPE html>", "web page"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", "AVIF"),
        (b"\x00\x00\x00\x18ftypisom", "video"),
    ],
)
def test_sniff_names_what_it_refuses(head: bytes, word: str) -> None:
    with pytest.raises(MediaRefused) as refused:
        sniff(head)
    assert refused.value.code == "unsupported_type"
    assert word in refused.value.message


def test_sniff_empty_is_damaged() -> None:
    with pytest.raises(MediaRefused) as refused:
        sniff(b"")
    assert refused.value.code == "damaged"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026:11:20 08:15:02", datetime(2026, 11, 20, 8, 15, 2)),
        (b"2026:11:20 08:15:02\x00", datetime(2026, 11, 20, 8, 15, 2)),
        ("2026-11-20T08:15:02", datetime(2026, 11, 20, 8, 15, 2)),
        ("0000:00:00 00:00:00", None),
        ("2026:13:40 08:15:02", None),
        ("    :  :     :  :  ", None),
        ("", None),
        (None, None),
        (12, None),
    ],
)
def test_parse_exif_datetime(value: object, expected: datetime | None) -> None:
    assert parse_exif_datetime(value) == expected


def test_exif_capture_time_prefers_original_over_digitized() -> None:
    exif = Image.Exif()
    exif[0x0132] = "2020:01:01 00:00:00"  # DateTime (file change): not used
    exif.get_ifd(0x8769)[0x9004] = "2026:11:20 09:00:00"
    assert exif_capture_time(exif) == datetime(2026, 11, 20, 9, 0)
    exif.get_ifd(0x8769)[0x9003] = "2026:11:20 08:15:02"
    assert exif_capture_time(exif) == datetime(2026, 11, 20, 8, 15, 2)
    assert exif_capture_time(None) is None


def test_dicom_capture_time_order() -> None:
    ds = pydicom.Dataset()
    assert dicom_capture_time(ds) is None
    ds.StudyDate, ds.StudyTime = "20261120", "071500"
    assert dicom_capture_time(ds) == datetime(2026, 11, 20, 7, 15)
    ds.ContentDate, ds.ContentTime = "20261120", "0810"
    assert dicom_capture_time(ds) == datetime(2026, 11, 20, 8, 10)
    ds.AcquisitionDateTime = "20261120081502.123456+0100"
    assert dicom_capture_time(ds) == datetime(2026, 11, 20, 8, 15, 2)  # wall clock, no zone


def test_orientation_only_exif_round_trips() -> None:
    exif = load_exif(b"Exif\x00\x00" + orientation_only_tiff(6))
    assert exif is not None and dict(exif) == {0x0112: 6}
    assert privacy_labels(exif) == []


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("data", [b"", b"Exif\x00\x00MM\x00*\x00\x00\xff\xff", b"\xff" * 40])
def test_unreadable_exif_gives_nothing(data: bytes) -> None:
    exif = load_exif(data)
    assert exif is None or not dict(exif)
    assert privacy_labels(exif) == []


def test_dicom_removal_list_uses_real_keywords() -> None:
    unknown = [k for k in REMOVED_KEYWORDS if pydicom.datadict.tag_for_keyword(k) is None]
    assert unknown == []


def test_limits() -> None:
    assert MediaLimits().max_pixels >= 8064 * 6048
    MediaLimits().check_pixels(8064, 6048)
    with pytest.raises(MediaRefused) as refused:
        MediaLimits(max_pixels=100).check_pixels(11, 10)
    assert refused.value.code == "too_many_pixels"
    with pytest.raises(ValueError):
        MediaLimits(max_bytes=0)


def test_percentile_window_ignores_outliers_and_flat_images() -> None:
    values = np.concatenate([np.full(10_000, 100.0), np.linspace(1000, 2000, 100_000), [60000.0]])
    lo, hi = percentile_window(values.astype(np.float32))
    assert 100 <= lo < 1100 and 1900 < hi < 2001
    assert percentile_window(np.full(10, 7.0, dtype=np.float32)) == (6.5, 7.5)


def test_reduce_factor() -> None:
    assert reduce_factor(1600, 1200, 2048) == 1
    assert reduce_factor(4500, 4500, 2048) == 2
    assert reduce_factor(4500, 4500, 2048, at_most=True) == 3
    assert reduce_factor(100_000, 1, 2048) == 1  # never below one pixel


def test_windowed_gray_on_big_endian_16_bit() -> None:
    ramp = np.tile(np.linspace(1000, 30000, 3000, dtype=np.uint16), (500, 1))
    im = Image.frombytes("I;16B", (3000, 500), ramp.astype(">u2").tobytes())
    gray = np.asarray(windowed_gray(im, 2048))
    assert gray.shape == (500, 3000)  # integer reduction only (factor 1 here); fit() follows
    assert gray[:, :20].mean() < 5 and gray[:, -20:].mean() > 250


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
def test_jpeg_scan_copy_does_not_depend_on_where_reads_end(
    chunk: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stuffed bytes, restart markers and fill bytes split across two reads are copied the
    same as whole ones."""
    from storage.media import jpeg

    rng = np.random.default_rng(7)
    noise = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    source = tmp_path / "noise.jpg"
    noise.save(source, "JPEG", quality=95, restart_marker_blocks=1)
    data = source.read_bytes()
    scan = data.index(b"\xff\xda")
    # A fill byte before the end-of-image marker: legal, and dropped by the copy.
    source.write_bytes(data[:-2] + b"\xff" + data[-2:])
    assert b"\xff\x00" in data[scan:] and b"\xff\xd0" in data[scan:]
    limits = MediaLimits(max_bytes=1 << 20, max_pixels=1 << 20)

    monkeypatch.setattr(jpeg, "_CHUNK", chunk)
    jpeg.clean_jpeg(source, tmp_path / f"out-{chunk}.jpg", limits)

    out = (tmp_path / f"out-{chunk}.jpg").read_bytes()
    assert out[out.index(b"\xff\xda"):] == data[scan:]
    assert np.array_equal(np.asarray(Image.open(tmp_path / f"out-{chunk}.jpg")),
                          np.asarray(Image.open(io.BytesIO(data))))
