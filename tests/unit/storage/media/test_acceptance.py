"""What is accepted, what is refused, and with which code."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storage.media import CODE_STATUS, FORMATS, MediaLimits, MediaRefused, process_upload

from .conftest import BAD, GOOD, Process, Processed, encode, fixture_names, open_bytes

EXPECTED_TYPE = {
    "cmyk.jpg": "jpeg",
    "intraoral_camera.png": "png",
    "phone_postop.heic": "heif",
    "phone_postop_rotated_gps.jpg": "jpeg",
    "phone_postop_upright.jpg": "jpeg",
    "progressive.jpg": "jpeg",
    "xray_8bit.jpg": "jpeg",
    "xray_bitewing_16bit.png": "png",
    "xray_intraoral.dcm": "dicom",
    "xray_periapical_16bit.tif": "tiff",
}
EXPECTED_REFUSAL = {
    "animated.gif": "unsupported_type",
    "bomb_40000x40000.png": "too_many_pixels",
    "empty.jpg": "damaged",
    "exe_named.png": "unsupported_type",
    "html_named.png": "unsupported_type",
    "huge_dimensions.jpg": "too_many_pixels",
    "pdf_named.jpg": "unsupported_type",
    "script.svg": "unsupported_type",
    "truncated.jpg": "damaged",
    "zip_named.jpg": "unsupported_type",
}


def test_fixture_folders_are_the_ones_described() -> None:
    assert fixture_names(GOOD) == sorted(EXPECTED_TYPE)
    assert fixture_names(BAD) == sorted(EXPECTED_REFUSAL)


@pytest.mark.parametrize("name", fixture_names(GOOD))
def test_every_good_fixture_is_accepted_with_views(name: str, processed: Processed) -> None:
    media = processed(name)

    assert media.media_type == EXPECTED_TYPE[name]
    assert media.original_content_type == FORMATS[media.media_type].content_type
    assert media.original_path.suffix == media.original_extension
    assert media.original_path.stat().st_size == media.original_size > 0
    assert media.received_size == (GOOD / name).stat().st_size
    assert len(media.received_sha256) == 64
    assert media.derived == ("display", "thumbnail")
    display, thumbnail = open_bytes(media.display_jpeg), open_bytes(media.thumbnail_jpeg)
    for picture, longest in ((display, 2048), (thumbnail, 320)):
        assert picture.format == "JPEG"
        assert picture.mode == "RGB"
        assert 0 < max(picture.size) <= longest
    # Views keep the upright picture's proportions.
    assert display.size[0] / display.size[1] == pytest.approx(media.width / media.height, rel=0.02)
    assert thumbnail.size[0] / thumbnail.size[1] == pytest.approx(
        media.width / media.height, rel=0.02
    )


@pytest.mark.parametrize("name", fixture_names(BAD))
def test_every_bad_fixture_is_refused_leaving_nothing(name: str, workdir: Path) -> None:
    with pytest.raises(MediaRefused) as refused:
        process_upload(BAD / name, MediaLimits(), workdir)

    assert refused.value.code == EXPECTED_REFUSAL[name]
    assert refused.value.status == CODE_STATUS[refused.value.code]
    assert refused.value.message and "Error" not in refused.value.message
    assert list(workdir.iterdir()) == []


def test_statuses_per_code() -> None:
    assert CODE_STATUS == {
        "too_large": 413,
        "unsupported_type": 415,
        "damaged": 422,
        "too_many_pixels": 422,
    }
    assert MediaRefused.CODE_STATUS is CODE_STATUS
    assert MediaRefused("too_large", "x").status == 413


def test_type_comes_from_the_bytes_not_the_name(
    write: Callable[[str, bytes], Path], process: Process
) -> None:
    media = process(write("photo.jpg", (GOOD / "intraoral_camera.png").read_bytes()))
    assert media.media_type == "png"
    assert media.original_extension == ".png"


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about the broken TIFF
@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"GIF89a" + b"\x00" * 40, "unsupported_type"),
        (b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00avifmif1", "unsupported_type"),
        (b"\x00\x00\x00\x18ftypqt  \x00\x00\x00\x00qt  ", "unsupported_type"),
        (b"BM" + b"\x00" * 60, "unsupported_type"),
        (b"\xef\xbb\xbf<?xml version='1.0'?><svg/>", "unsupported_type"),
        (b"\xff\xd8\xff", "damaged"),
        (b"\x89PNG\r\n\x1a\n", "damaged"),
        (b"RIFF\x04\x00\x00\x00WEBP", "damaged"),
        (b"II*\x00\x08\x00\x00\x00", "damaged"),
        (b"\x00" * 128 + b"DICM", "damaged"),
    ],
)
def test_other_signatures(
    data: bytes, code: str, write: Callable[[str, bytes], Path], process: Process
) -> None:
    with pytest.raises(MediaRefused) as refused:
        process(write("upload.jpg", data))
    assert refused.value.code == code


def test_byte_limit(process: Process) -> None:
    path = GOOD / "progressive.jpg"
    with pytest.raises(MediaRefused) as refused:
        process(path, max_bytes=path.stat().st_size - 1)
    assert refused.value.code == "too_large"
    assert refused.value.status == 413
    assert process(path, max_bytes=path.stat().st_size).received_size == path.stat().st_size


@pytest.mark.parametrize("name", fixture_names(GOOD))
def test_pixel_limit_applies_to_every_format(name: str, process: Process, workdir: Path) -> None:
    with pytest.raises(MediaRefused) as refused:
        process(GOOD / name, max_pixels=100_000)
    assert refused.value.code == "too_many_pixels"
    assert list(workdir.iterdir()) == []


def test_default_limits_accept_a_48_megapixel_phone_photo(
    write: Callable[[str, bytes], Path], process: Process
) -> None:
    photo = Image.new("RGB", (8064, 6048), (200, 120, 110))
    media = process(write("48mp.jpg", encode(photo, "JPEG", quality=70)))
    assert (media.width, media.height) == (8064, 6048)
    assert open_bytes(media.display_jpeg).size == (2016, 1512)  # decoded at 1/4 scale


def _one_bit_png(width: int, height: int) -> bytes:
    return encode(Image.new("1", (width, height)), "PNG", optimize=True)


def test_pillow_bomb_error_is_too_many_pixels_even_under_a_high_limit(
    process: Process, workdir: Path
) -> None:
    # Our limit lets the 1.6-gigapixel header through; Pillow's own bomb check refuses it.
    with pytest.raises(MediaRefused) as refused:
        process(BAD / "bomb_40000x40000.png", max_pixels=2_000_000_000)
    assert refused.value.code == "too_many_pixels"
    assert list(workdir.iterdir()) == []


def test_pillow_bomb_warning_is_too_many_pixels_and_filters_are_restored(
    write: Callable[[str, bytes], Path], process: Process
) -> None:
    assert Image.MAX_IMAGE_PIXELS is not None
    side = int((Image.MAX_IMAGE_PIXELS * 1.2) ** 0.5)  # over the warning, under the error
    path = write("big.png", _one_bit_png(side, side))
    filters_before = list(warnings.filters)
    with pytest.raises(MediaRefused) as refused:
        process(path, max_pixels=side * side + 1)
    assert refused.value.code == "too_many_pixels"
    assert warnings.filters == filters_before


def test_multi_page_tiff_is_refused(write: Callable[[str, bytes], Path], process: Process) -> None:
    pages = [Image.new("L", (64, 48), v) for v in (10, 200)]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    with pytest.raises(MediaRefused) as refused:
        process(write("scan.tif", data))
    assert refused.value.code == "unsupported_type"


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_png_and_webp_are_refused(
    fmt: str, write: Callable[[str, bytes], Path], process: Process
) -> None:
    frames = [Image.new("RGB", (64, 48), c) for c in ("red", "blue")]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(MediaRefused) as refused:
        process(write("anim", data))
    assert refused.value.code == "unsupported_type"


def test_png_with_bad_checksum_is_damaged(
    write: Callable[[str, bytes], Path], process: Process
) -> None:
    data = bytearray((GOOD / "intraoral_camera.png").read_bytes())
    idat = data.index(b"IDAT")
    data[idat + 100] ^= 0xFF
    with pytest.raises(MediaRefused) as refused:
        process(write("x.png", bytes(data)))
    assert refused.value.code == "damaged"


def test_big_16_bit_radiograph_png(write: Callable[[str, bytes], Path], process: Process) -> None:
    """Functional check on a ~40 MB 16-bit PNG (memory is measured by tests/bench)."""
    rng = np.random.default_rng(7)
    height, width = 4500, 4500
    gradient = np.linspace(2000, 50000, width, dtype=np.float32)[None, :]
    pixels = (gradient + rng.normal(0, 4000, (height, width))).clip(0, 65535).astype(np.uint16)
    path = write("big16.png", encode(Image.fromarray(pixels), "PNG", compress_level=1))
    assert path.stat().st_size > 30_000_000

    media = process(path)

    assert (media.width, media.height) == (4500, 4500)
    assert media.is_radiograph_like and media.bits_per_sample == 16
    display = np.asarray(open_bytes(media.display_jpeg).convert("L"))
    assert display.shape == (2048, 2048)
    columns = display.mean(axis=0)
    assert columns[:50].mean() < 60 and columns[-50:].mean() > 190  # the gradient survives
