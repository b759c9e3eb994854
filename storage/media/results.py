"""What the pipeline hands back: the cleaned original on disk, the derivatives in memory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from storage.media.quality import Quality
from storage.media.sniff import MediaType


@dataclass(frozen=True, slots=True)
class Cleaned:
    """What cleaning one original learned and removed."""

    removed: tuple[str, ...] = ()
    captured_at: datetime | None = None
    orientation: int = 1  # EXIF orientation still to apply when displaying (1..8)


@dataclass(frozen=True, slots=True)
class Views:
    """The derived pictures and facts about the upright image."""

    display_jpeg: bytes
    thumbnail_jpeg: bytes
    width: int
    height: int
    quality: Quality | None = None
    """Photo quality scores of the upright picture (storage.media.quality); None for a
    radiograph-like source (DICOM, high-bit grayscale), where they mean nothing."""


@dataclass(frozen=True, slots=True)
class Validated:
    """A received file proven acceptable, with its cleaned original written (no views yet)."""

    media_type: MediaType
    original_path: Path  # the cleaned original, written in the work folder
    original_content_type: str
    original_extension: str  # with the dot: ".jpg"
    original_size: int
    original_sha256: str | None  # None when the caller asked not to hash it here
    received_sha256: str  # hex digest of the bytes as received
    received_size: int
    width: int  # of the upright original
    height: int
    captured_at: datetime | None  # device wall clock, naive
    removed: tuple[str, ...]  # human labels of what was stripped from the original
    derived: tuple[str, ...]  # what derive_views will make: ("display", "thumbnail")
    orientation: int  # EXIF orientation the views apply (kept in the cleaned original too)
    is_radiograph_like: bool  # a hint only: DICOM, or high-bit-depth grayscale
    bits_per_sample: int


@dataclass(frozen=True, slots=True)
class ProcessedMedia:
    media_type: MediaType
    original_path: Path  # the cleaned original, written in the work folder
    original_content_type: str
    original_extension: str  # with the dot: ".jpg"
    original_size: int
    original_sha256: str
    received_sha256: str  # hex digest of the bytes as received
    received_size: int
    display_jpeg: bytes  # upright, long side <= 2048, RGB, no metadata
    thumbnail_jpeg: bytes  # upright, long side <= 320, RGB, no metadata
    width: int  # of the upright original
    height: int
    captured_at: datetime | None  # device wall clock, naive
    removed: tuple[str, ...]  # human labels of what was stripped from the original
    derived: tuple[str, ...]  # ("display", "thumbnail")
    is_radiograph_like: bool  # a hint only: DICOM, or high-bit-depth grayscale
    bits_per_sample: int
