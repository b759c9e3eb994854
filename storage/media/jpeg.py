"""Lossless JPEG cleaning at the segment level: no pixel is decoded or re-encoded.

Kept: JFIF APP0 (without its thumbnail), ICC profile (APP2), Adobe APP14 (CMYK colour),
tables, frame and scan data. Dropped: Exif/XMP (APP1), MPF previews, IPTC (APP13), comments,
every other APPn, and anything after the end-of-image marker. A new Exif APP1 carrying only
the orientation is written when the picture needs turning, so viewers still show it upright.
The frame header's dimensions are checked against the pixel limit before anything else.
"""

from __future__ import annotations

import re
import struct
from datetime import datetime
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

SOI: Final = b"\xff\xd8"
_EOI: Final = 0xD9
_SOS: Final = 0xDA
_COM: Final = 0xFE
_APP0: Final = 0xE0
_APP1: Final = 0xE1
_APP2: Final = 0xE2
_APP13: Final = 0xED
_APP14: Final = 0xEE
_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length
_SOF_DECODABLE: Final = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended, progressive
_SOF_OTHER: Final = frozenset({0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})

_CHUNK: Final = 1 << 20
_SCAN_END: Final = re.compile(rb"\xff[^\x00\xd0-\xd7]")
"""0xFF followed by anything but a stuffed zero or a restart marker: a marker (or a fill byte
before one) ends the entropy-coded data. Found by the regex engine, not a Python loop over
every 0xFF (a 12 MP photo has tens of thousands of stuffed bytes)."""
_MAX_KEPT_HEADER: Final = 8 << 20  # kept segments before the first scan (ICC, tables)

LABEL_XMP: Final = "XMP metadata"
LABEL_IPTC: Final = "IPTC/Photoshop metadata"
LABEL_COMMENT: Final = "comments"
LABEL_PREVIEWS: Final = "embedded preview images"
LABEL_THUMBNAIL: Final = "embedded thumbnail"
LABEL_OTHER: Final = "other metadata"
LABEL_TRAILING: Final = "trailing data after image end"

_INCOMPLETE: Final = (
    "This picture is incomplete (the file was cut off), so it can't be opened. "
    "Please upload it again."
)


class _Stream:
    """Buffered reading with the one scan operation JPEG needs; running out is ``damaged``."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self._buf = b""
        self._pos = 0

    def _fill(self) -> bool:
        data = self._f.read(_CHUNK)
        if not data:
            return False
        self._buf = self._buf[self._pos :] + data
        self._pos = 0
        return True

    def read(self, n: int) -> bytes:
        while len(self._buf) - self._pos < n:
            if not self._fill():
                raise damaged(f"JPEG ends inside a segment (wanted {n} bytes)", _INCOMPLETE)
        out = self._buf[self._pos : self._pos + n]
        self._pos += n
        return out

    def byte(self) -> int:
        return self.read(1)[0]

    def at_eof(self) -> bool:
        return self._pos >= len(self._buf) and not self._fill()

    def copy_scan(self, out: BinaryIO) -> int:
        """Copy entropy-coded data to ``out``; return the marker that ends it (consumed)."""
        search = self._pos
        while True:
            found = _SCAN_END.search(self._buf, search)
            if found is None:
                stop = len(self._buf)
                if stop > self._pos and self._buf[stop - 1] == 0xFF:
                    stop -= 1  # kept: the next chunk says whether it starts a marker
                out.write(self._buf[self._pos : stop])
                self._pos = stop
                if not self._fill():
                    raise damaged("JPEG ends inside scan data (no end-of-image)", _INCOMPLETE)
                search = 0
                continue
            i = found.start()
            out.write(self._buf[self._pos : i])
            following = self._buf[i + 1]
            if following == 0xFF:  # fill byte before a marker: drop it
                self._pos = search = i + 1
            else:
                self._pos = i + 2
                return following


def clean_jpeg(src: Path, dst: Path, limits: MediaLimits) -> Cleaned:
    """Write ``src`` to ``dst`` without its metadata; check its frame size on the way."""
    with src.open("rb") as fin, dst.open("wb") as fout:
        return _Cleaner(_Stream(fin), fout, limits).run()


class _Cleaner:
    def __init__(self, stream: _Stream, out: BinaryIO, limits: MediaLimits) -> None:
        self.s = stream
        self.out = out
        self.limits = limits
        self.removed: list[str] = []
        self.jfif: bytes | None = None
        self.exif_seen = False
        self.orientation = 1
        self.captured_at: datetime | None = None
        self.header: list[bytes] = []  # kept segments before the first scan
        self.header_size = 0
        self.frame_seen = False
        self.scanning = False

    def run(self) -> Cleaned:
        if self.s.read(2) != SOI:
            raise damaged("no JPEG start-of-image")
        marker = self._next_marker()
        while True:
            if marker == _EOI:
                if not self.scanning:
                    raise damaged("JPEG ends before any image data")
                self.out.write(b"\xff\xd9")
                if not self.s.at_eof():
                    self.removed.append(LABEL_TRAILING)
                return Cleaned(dedupe(self.removed), self.captured_at, self.orientation)
            if marker in _STANDALONE:
                self._emit(bytes((0xFF, marker)))
            elif marker == 0xD8:
                raise damaged("second start-of-image inside a JPEG")
            else:
                (length,) = struct.unpack(">H", self.s.read(2))
                if length < 2:
                    raise damaged(f"JPEG segment {marker:#x} with length {length}")
                payload = self.s.read(length - 2)
                self._segment(marker, payload)
                if marker == _SOS:
                    marker = self.s.copy_scan(self.out)
                    continue
            marker = self._next_marker()

    def _next_marker(self) -> int:
        while self.s.byte() != 0xFF:  # stray bytes between segments are skipped, as libjpeg does
            pass
        marker = 0xFF
        while marker == 0xFF:  # fill bytes
            marker = self.s.byte()
        if marker == 0x00:
            raise damaged("invalid JPEG marker 0xff00")
        return marker

    def _segment(self, marker: int, payload: bytes) -> None:
        if _APP0 <= marker <= 0xEF or marker == _COM:
            self._app_or_comment(marker, payload)
            return
        if marker in _SOF_DECODABLE or marker in _SOF_OTHER:
            self._frame(marker, payload)
        if marker == _SOS:
            if not self.frame_seen:
                raise damaged("JPEG scan before its frame header")
            if not self.scanning:
                self._write_header()
            self.scanning = True
        self._emit(bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload)

    def _frame(self, marker: int, payload: bytes) -> None:
        if self.frame_seen:
            raise unsupported("hierarchical JPEG (several frames)")
        if len(payload) < 6:
            raise damaged("short JPEG frame header")
        precision, height, width = struct.unpack(">BHH", payload[:5])
        self.limits.check_pixels(width, height)  # before anything is decoded
        if marker not in _SOF_DECODABLE or precision != 8:
            raise unsupported(f"JPEG process {marker:#x} with {precision}-bit samples")
        self.frame_seen = True

    def _app_or_comment(self, marker: int, payload: bytes) -> None:
        if marker == _APP0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
            if self.jfif is None and not self.scanning:
                self.jfif = payload[:12] + b"\x00\x00"  # same density, no thumbnail
            if payload[12] or payload[13]:
                self.removed.append(LABEL_THUMBNAIL)
        elif marker == _APP1 and payload.startswith(b"Exif\x00"):
            self._exif(payload)
        elif marker == _APP1 and payload.startswith(b"http://ns.adobe.com/x"):
            self.removed.append(LABEL_XMP)
            if b"GPSLatitude" in payload or b"GPSLongitude" in payload:
                self.removed.append(LABEL_GPS)
        elif marker == _APP2 and payload.startswith(b"ICC_PROFILE\x00"):
            self._emit(bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload)
        elif marker == _APP2 and payload.startswith(b"MPF\x00"):
            self.removed.append(LABEL_PREVIEWS)
        elif marker == _APP14 and payload.startswith(b"Adobe"):
            self._emit(bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload)
        elif marker == _APP13:
            self.removed.append(LABEL_IPTC)
        elif marker == _COM:
            self.removed.append(LABEL_COMMENT)
        elif marker == _APP0 and payload.startswith(b"JFXX\x00"):
            self.removed.append(LABEL_THUMBNAIL)
        else:
            self.removed.append(LABEL_OTHER)

    def _exif(self, payload: bytes) -> None:
        exif = load_exif(payload[6:])
        if exif is None:
            self.removed.append(LABEL_OTHER)
            return
        self.removed.extend(privacy_labels(exif))
        if not self.exif_seen:
            self.exif_seen = True
            self.orientation = orientation_of(exif)
            self.captured_at = exif_capture_time(exif)

    def _write_header(self) -> None:
        self.out.write(SOI)
        if self.jfif is not None:
            self.out.write(b"\xff\xe0" + struct.pack(">H", len(self.jfif) + 2) + self.jfif)
        if self.orientation != 1:
            exif = b"Exif\x00\x00" + orientation_only_tiff(self.orientation)
            self.out.write(b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif)
        for segment in self.header:
            self.out.write(segment)
        self.header.clear()

    def _emit(self, segment: bytes) -> None:
        if self.scanning:
            self.out.write(segment)
            return
        self.header_size += len(segment)
        if self.header_size > _MAX_KEPT_HEADER:
            raise damaged("JPEG header segments too large")
        self.header.append(segment)
