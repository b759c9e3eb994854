"""Lossless PNG cleaning, chunk by chunk, streamed (an IDAT run can be tens of megabytes).

Kept: critical chunks and the colour chunks that change how pixels look. Dropped: eXIf, text
chunks (tEXt/zTXt/iTXt, where XMP and "raw profile" EXIF live), tIME and every other
ancillary chunk, and anything after IEND. CRCs of kept chunks are verified while copying. If
the picture needs turning, an eXIf chunk with only the orientation is written.
"""

from __future__ import annotations

import struct
import zlib
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Final

from storage.media.capture_time import exif_capture_time
from storage.media.errors import damaged, unsupported
from storage.media.exif import (
    dedupe,
    load_exif,
    orientation_of,
    orientation_only_tiff,
    privacy_labels,
)
from storage.media.limits import MediaLimits
from storage.media.results import Cleaned

SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_KEEP: Final = frozenset(
    {
        b"IHDR", b"PLTE", b"IDAT", b"IEND",
        b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs",
        b"cICP", b"mDCv", b"cLLI",
    }
)  # fmt: skip
_TEXT: Final = frozenset({b"tEXt", b"zTXt", b"iTXt"})
_ANIMATION: Final = frozenset({b"acTL", b"fcTL", b"fdAT"})
_MAX_CHUNK: Final = 2**31 - 1
_MAX_EXIF: Final = 4 << 20
_PIECE: Final = 1 << 20

LABEL_TEXT: Final = "text metadata"
LABEL_XMP: Final = "XMP metadata"
LABEL_TIME: Final = "file time stamp"
LABEL_OTHER: Final = "other metadata"
LABEL_TRAILING: Final = "trailing data after image end"

_INCOMPLETE: Final = (
    "This picture is incomplete (the file was cut off), so it can't be opened. "
    "Please upload it again."
)


def clean_png(src: Path, dst: Path, limits: MediaLimits) -> Cleaned:
    """Write ``src`` to ``dst`` without its metadata; check IHDR's size before anything else."""
    with src.open("rb") as fin, dst.open("wb") as fout:
        return _clean(fin, fout, limits)


def _clean(fin: BinaryIO, fout: BinaryIO, limits: MediaLimits) -> Cleaned:
    if fin.read(8) != SIGNATURE:
        raise damaged("no PNG signature")
    fout.write(SIGNATURE)
    removed: list[str] = []
    orientation = 1
    orientation_written = False
    captured_at: datetime | None = None
    first = True
    idat_seen = False
    while True:
        length, kind = _chunk_header(fin)
        if first:
            if kind != b"IHDR" or length != 13:
                raise damaged("PNG does not start with its header chunk")
            first = False
        elif kind == b"IHDR":
            raise damaged("second PNG header chunk")
        if kind in _ANIMATION:
            raise unsupported(
                "animated PNG",
                "Animated pictures can't be accepted. Please upload a still photo or X-ray.",
            )
        if kind in (b"IDAT", b"IEND") and orientation != 1 and not orientation_written:
            _write_chunk(fout, b"eXIf", orientation_only_tiff(orientation))
            orientation_written = True
        if kind in _KEEP:
            if kind == b"IHDR":
                data = _read_exact(fin, length)
                width, height = struct.unpack(">II", data[:8])
                limits.check_pixels(width, height)  # before any pixel data is read
                _check_crc(fin, kind, zlib.crc32(kind + data))
                _write_chunk(fout, kind, data)
            else:
                _copy_chunk(fin, fout, length, kind)
            idat_seen = idat_seen or kind == b"IDAT"
            if kind == b"IEND":
                if not idat_seen:
                    raise damaged("PNG without image data")
                if fin.read(1):
                    removed.append(LABEL_TRAILING)
                return Cleaned(dedupe(removed), captured_at, orientation)
            continue
        # A dropped chunk: read what we report on, skip the rest.
        if kind == b"eXIf" and length <= _MAX_EXIF:
            exif = load_exif(_read_exact(fin, length))
            _read_exact(fin, 4)  # CRC
            removed.extend(privacy_labels(exif) or [LABEL_OTHER])
            if exif is not None and captured_at is None:
                captured_at = exif_capture_time(exif)
                orientation = orientation_of(exif)
            continue
        if kind in _TEXT:
            keyword = _read_exact(fin, min(length, 80))
            removed.append(
                LABEL_XMP if keyword.startswith(b"XML:com.adobe.xmp\x00") else LABEL_TEXT
            )
            _skip(fin, length - len(keyword) + 4)
            continue
        removed.append(LABEL_TIME if kind == b"tIME" else LABEL_OTHER)
        _skip(fin, length + 4)


def _chunk_header(fin: BinaryIO) -> tuple[int, bytes]:
    header = _read_exact(fin, 8)
    length, kind = struct.unpack(">I4s", header)
    if length > _MAX_CHUNK or not kind.isalpha() or not kind.isascii():
        raise damaged(f"bad PNG chunk header {header!r}")
    return length, kind


def _copy_chunk(fin: BinaryIO, fout: BinaryIO, length: int, kind: bytes) -> None:
    fout.write(struct.pack(">I", length) + kind)
    crc = zlib.crc32(kind)
    left = length
    while left:
        piece = _read_exact(fin, min(left, _PIECE))
        crc = zlib.crc32(piece, crc)
        fout.write(piece)
        left -= len(piece)
    _check_crc(fin, kind, crc)
    fout.write(struct.pack(">I", crc))


def _check_crc(fin: BinaryIO, kind: bytes, crc: int) -> None:
    (stored,) = struct.unpack(">I", _read_exact(fin, 4))
    if stored != crc:
        raise damaged(f"PNG {kind.decode('ascii')} chunk fails its checksum")


def _write_chunk(fout: BinaryIO, kind: bytes, data: bytes) -> None:
    fout.write(struct.pack(">I", len(data)) + kind + data)
    fout.write(struct.pack(">I", zlib.crc32(kind + data)))


def _read_exact(fin: BinaryIO, n: int) -> bytes:
    data = fin.read(n)
    if len(data) != n:
        raise damaged("PNG ends inside a chunk", _INCOMPLETE)
    return data


def _skip(fin: BinaryIO, n: int) -> None:
    while n > 0:
        piece = fin.read(min(n, _PIECE))
        if not piece:
            raise damaged("PNG ends inside a chunk", _INCOMPLETE)
        n -= len(piece)
