"""Shared helpers for the media pipeline tests: the upload fixtures and a JPEG segment lister."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from storage.media import MediaLimits, ProcessedMedia, process_upload
from tests.support.fixtures import BAD, GOOD  # noqa: F401 (the media tests import them here)

Process = Callable[..., ProcessedMedia]


def fixture_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def process(workdir: Path) -> Process:
    """``process(path, **limits)`` → ProcessedMedia, written into the test's work folder."""

    def run(path: Path, **limits: int) -> ProcessedMedia:
        return process_upload(path, MediaLimits(**limits), workdir)

    return run


@pytest.fixture(scope="session")
def processed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], ProcessedMedia]:
    """``processed(name)`` → the good fixture's ProcessedMedia, made once per test session
    (HEIC re-encoding takes a second). Read-only: tests must not touch its files."""
    workdir = tmp_path_factory.mktemp("processed")
    cache: dict[str, ProcessedMedia] = {}

    def get(name: str) -> ProcessedMedia:
        if name not in cache:
            cache[name] = process_upload(GOOD / name, MediaLimits(), workdir)
        return cache[name]

    return get


Processed = Callable[[str], ProcessedMedia]


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, bytes], Path]:
    """Write bytes as an upload file (named as an attacker likes) and return its path."""

    def put(name: str, data: bytes) -> Path:
        path = tmp_path / "upload" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        return path

    return put


def jpeg_header_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of every segment before the first scan of a JPEG."""
    assert data[:2] == b"\xff\xd8"
    segments: list[tuple[int, bytes]] = []
    pos = 2
    while True:
        assert data[pos] == 0xFF, f"no marker at {pos}"
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        if marker == 0xDA:
            return segments
        pos += 2 + length


def open_bytes(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    im.save(out, format=fmt, **params)
    return out.getvalue()
