"""Lossless WebP cleaning at the RIFF-chunk level: the VP8/VP8L bitstream is copied untouched.

Kept: VP8X (its EXIF/XMP flags cleared), ICCP, ALPH, VP8, VP8L. Dropped: EXIF, XMP and unknown
chunks, and anything after the RIFF body. Animated WebP is refused like animated GIF.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from storage.media.capture_time import exif_capture_time
from storage.media.errors import damaged, unsupported
from storage.media.exif import (
    LABEL_GPS,
    dedupe,
    load_exif,
    orientation_of,
    orientation_only_tiff,
    privacy_labels,
)
from storage.media.limits import MediaLimits
from storage.media.results import Cleaned

_KEEP: Final = frozenset({b"VP8X", b"ICCP", b"ALPH", b"VP8 ", b"VP8L"})
_IMAGE: Final = frozenset({b"VP8 ", b"VP8L"})
_FLAG_EXIF: Final = 0x08
_FLAG_XMP: Final = 0x04
_FLAG_ANIMATION: Final = 0x02
_MAX_EXIF: Final = 4 << 20
_PIECE: Final = 1 << 20

LABEL_XMP: Final = "XMP metadata"
LABEL_OTHER: Final = "other metadata"
LABEL_TRAILING: Final = "trailing data after image end"


@dataclass(frozen=True, slots=True)
class _Chunk:
    kind: bytes
    offset: int  # of the payload
    size: int


def clean_webp(src: Path, dst: Path, limits: MediaLimits) -> Cleaned:
    """Write ``src`` to ``dst`` without its metadata; check the canvas size from VP8X."""
    with src.open("rb") as fin:
        file_size = fin.seek(0, 2)
        fin.seek(0)
        header = fin.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:] != b"WEBP":
            raise damaged("no RIFF/WEBP header")
        riff_end = 8 + struct.unpack("<I", header[4:8])[0]
        if riff_end > file_size:
            raise damaged("WebP shorter than its RIFF header says")
        chunks = _index(fin, riff_end)
        removed: list[str] = [LABEL_TRAILING] if file_size > riff_end else []
        exif_data = _dropped(fin, chunks, removed)
        exif = load_exif(exif_data) if exif_data else None
        removed.extend(privacy_labels(exif) or ([LABEL_OTHER] if exif_data else []))
        orientation = orientation_of(exif)
        kept = [c for c in chunks if c.kind in _KEEP]
        vp8x = _check(fin, kept, limits)
        with dst.open("wb") as fout:
            _write(fin, fout, kept, vp8x, orientation)
    return Cleaned(dedupe(removed), exif_capture_time(exif), orientation)


def _index(fin: BinaryIO, riff_end: int) -> list[_Chunk]:
    chunks: list[_Chunk] = []
    position = 12
    while position < riff_end:
        fin.seek(position)
        header = fin.read(8)
        if len(header) < 8 or position + 8 > riff_end:
            raise damaged("WebP ends inside a chunk header")
        kind, size = header[:4], struct.unpack("<I", header[4:])[0]
        if position + 8 + size > riff_end:
            raise damaged(f"WebP chunk {kind!r} runs past the end")
        if kind in (b"ANIM", b"ANMF"):
            raise unsupported(
                "animated WebP",
                "Animated pictures can't be accepted. Please upload a still photo or X-ray.",
            )
        chunks.append(_Chunk(kind, position + 8, size))
        position += 8 + size + (size & 1)
    if not chunks or chunks[0].kind not in (_IMAGE | {b"VP8X"}):
        raise damaged("WebP without a leading image chunk")
    if not any(c.kind in _IMAGE for c in chunks):
        raise damaged("WebP without image data")
    return chunks


def _dropped(fin: BinaryIO, chunks: list[_Chunk], removed: list[str]) -> bytes:
    """Label what is dropped; return the first EXIF payload (for the capture time)."""
    exif = b""
    for chunk in chunks:
        if chunk.kind in _KEEP:
            continue
        if chunk.kind == b"EXIF":
            if not exif and 0 < chunk.size <= _MAX_EXIF:
                fin.seek(chunk.offset)
                exif = fin.read(chunk.size)
            else:
                removed.append(LABEL_OTHER)
        elif chunk.kind == b"XMP ":
            removed.append(LABEL_XMP)
            if chunk.size <= _MAX_EXIF:
                fin.seek(chunk.offset)
                if b"GPSLatitude" in fin.read(chunk.size):
                    removed.append(LABEL_GPS)
        else:
            removed.append(LABEL_OTHER)
    return exif


def _check(fin: BinaryIO, kept: list[_Chunk], limits: MediaLimits) -> bytes | None:
    """The VP8X payload if any, after checking its canvas against the pixel limit."""
    if kept[0].kind != b"VP8X":
        return None
    if kept[0].size < 10:
        raise damaged("short VP8X chunk")
    fin.seek(kept[0].offset)
    vp8x = fin.read(kept[0].size)
    if vp8x[0] & _FLAG_ANIMATION:
        raise unsupported("animated WebP (VP8X flag)")
    width = 1 + int.from_bytes(vp8x[4:7], "little")
    height = 1 + int.from_bytes(vp8x[7:10], "little")
    limits.check_pixels(width, height)
    return vp8x


def _write(
    fin: BinaryIO, fout: BinaryIO, kept: list[_Chunk], vp8x: bytes | None, orientation: int
) -> None:
    exif = orientation_only_tiff(orientation) if vp8x is not None and orientation != 1 else b""
    body = sum(8 + c.size + (c.size & 1) for c in kept) + (8 + len(exif) if exif else 0)
    fout.write(b"RIFF" + struct.pack("<I", 4 + body) + b"WEBP")
    for chunk in kept:
        fout.write(chunk.kind + struct.pack("<I", chunk.size))
        if chunk.kind == b"VP8X" and vp8x is not None:
            flags = (vp8x[0] & ~(_FLAG_EXIF | _FLAG_XMP)) | (_FLAG_EXIF if exif else 0)
            fout.write(bytes((flags,)) + vp8x[1:])
        else:
            _copy(fin, fout, chunk.offset, chunk.size)
        if chunk.size & 1:
            fout.write(b"\x00")
    if exif:
        fout.write(b"EXIF" + struct.pack("<I", len(exif)) + exif)  # even length: no padding


def _copy(fin: BinaryIO, fout: BinaryIO, offset: int, size: int) -> None:
    fin.seek(offset)
    while size > 0:
        piece = fin.read(min(size, _PIECE))
        if not piece:
            raise damaged("WebP ends inside a chunk")
        fout.write(piece)
        size -= len(piece)
