"""Property: whatever the bytes, the pipeline answers with a result or MediaRefused, nothing else,
and a refusal leaves nothing behind in the work folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.media import (
    MediaLimits,
    MediaRefused,
    derive_views,
    process_upload,
    validate_and_clean,
)

from .conftest import GOOD, fixture_names

# Decoders warn about the garbage they are fed; that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FUZZ = settings(
    max_examples=int(os.environ.get("TOOTHLINE_FUZZ_EXAMPLES", "60")),  # raise for deep runs
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
GOOD_BYTES = {name: (GOOD / name).read_bytes() for name in fixture_names(GOOD)}
SIGNATURES = [
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe1\x00\x20Exif\x00\x00MM\x00*",
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"RIFF\x00\x01\x00\x00WEBPVP8X",
    b"II*\x00",
    b"MM\x00*",
    b"\x00\x00\x00\x18ftypheic",
    b"\x00" * 128 + b"DICM",
]


def run(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src, workdir = Path(tmp) / "upload", Path(tmp) / "work"
        workdir.mkdir()
        src.write_bytes(data)
        try:
            media = process_upload(src, MediaLimits(max_pixels=20_000_000), workdir)
        except MediaRefused as refused:
            assert refused.code in refused.CODE_STATUS
            assert list(workdir.iterdir()) == []
        else:
            assert media.display_jpeg[:2] == b"\xff\xd8"
            assert list(workdir.iterdir()) == [media.original_path]
        split_run(src, workdir)


def split_run(src: Path, workdir: Path) -> None:
    """What validation accepts, the later derivation must always manage (it cannot refuse)."""
    for left in workdir.iterdir():
        left.unlink()
    try:
        checked = validate_and_clean(src, MediaLimits(max_pixels=20_000_000), workdir)
    except MediaRefused:
        assert list(workdir.iterdir()) == []
    else:
        views = derive_views(checked.original_path, checked.media_type)
        assert views.thumbnail_jpeg[:2] == b"\xff\xd8"


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    run(data)


@FUZZ
@given(st.sampled_from(SIGNATURES), st.binary(max_size=2048))
def test_accepted_signatures_with_random_bodies(signature: bytes, body: bytes) -> None:
    run(signature + body)


@FUZZ
@given(st.sampled_from(sorted(GOOD_BYTES)), st.floats(0.0, 1.0))
def test_random_prefixes_of_valid_files(name: str, fraction: float) -> None:
    data = GOOD_BYTES[name]
    run(data[: int(len(data) * fraction)])


@FUZZ
@given(
    st.sampled_from(["progressive.jpg", "xray_8bit.jpg", "cmyk.jpg", "xray_intraoral.dcm"]),
    st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_corrupted_headers_of_valid_files(name: str, changes: list[tuple[int, int]]) -> None:
    data = bytearray(GOOD_BYTES[name])
    for offset, value in changes:
        data[offset % len(data)] = value
    run(bytes(data))
