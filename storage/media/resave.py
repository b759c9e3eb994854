"""Cleaning by re-saving through Pillow, for containers with no simple lossless rewrite.

TIFF: the decoded pixels are written again (deflate, lossless; 16-bit stays 16-bit) with only
resolution, orientation and ICC profile carried over. HEIC/HEIF: re-encoded at quality 95 with
no EXIF or XMP (pillow-heif has already turned the pixels upright). Both write from a plain
copy of the pixels, so Pillow cannot carry tags over from the source file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from PIL import Image, TiffImagePlugin

from storage.media.capture_time import exif_capture_time
from storage.media.errors import decoding, unsupported
from storage.media.exif import (
    EXIF_IFD,
    LABEL_EXIF_OTHER,
    ORIENTATION,
    dedupe,
    orientation_of,
    privacy_labels,
    read_image_exif,
)
from storage.media.results import Cleaned

LABEL_XMP: Final = "XMP metadata"
LABEL_IPTC: Final = "IPTC/Photoshop metadata"
LABEL_TEXT: Final = "text metadata"
LABEL_PREVIEWS: Final = "embedded preview images"
LABEL_DEPTH: Final = "depth map and auxiliary images"
LABEL_OTHER_IMAGES: Final = "other images in the file"

_TIFF_TEXT_TAGS: Final = (0x010E, 0x0131, 0x013C)  # ImageDescription, Software, HostComputer
_TIFF_XMP: Final = 700
_TIFF_IPTC: Final = (33723, 34377)  # IPTC-NAA, Photoshop
_TIFF_RESOLUTION: Final = (0x0128, 0x011A, 0x011B)  # unit, X, Y


def check_single_tiff_page(im: Image.Image) -> None:
    with decoding("TIFF page count"):
        pages = getattr(im, "n_frames", 1)
    if pages > 1:
        raise unsupported(
            "multi-page TIFF",
            "This TIFF file holds several pictures. Please upload each picture as its own file.",
        )


def resave_tiff(im: Image.Image, dst: Path) -> tuple[Cleaned, Image.Image]:
    """Write the loaded TIFF ``im`` to ``dst`` without metadata; return the plain copy too."""
    exif = read_image_exif(im)
    tags: Any = getattr(im, "tag_v2", {})
    removed = privacy_labels(exif)
    if EXIF_IFD not in tags:  # IFD0 of a TIFF is mostly its own structure, not metadata
        removed = [label for label in removed if label != LABEL_EXIF_OTHER]
    if _TIFF_XMP in tags:
        removed.append(LABEL_XMP)
    if any(t in tags for t in _TIFF_IPTC):
        removed.append(LABEL_IPTC)
    if any(t in tags for t in _TIFF_TEXT_TAGS):
        removed.append(LABEL_TEXT)
    tiffinfo = TiffImagePlugin.ImageFileDirectory_v2()
    with decoding("TIFF resolution tags"):
        for tag in _TIFF_RESOLUTION:
            if tag in tags:
                tiffinfo[tag] = tags[tag]
                tiffinfo.tagtype[tag] = tags.tagtype[tag]
    orientation = orientation_of(exif)
    if orientation != 1:
        tiffinfo[ORIENTATION] = orientation
    plain = _plain_copy(im)
    params: dict[str, Any] = {"compression": "tiff_deflate", "tiffinfo": tiffinfo}
    if icc := im.info.get("icc_profile"):
        params["icc_profile"] = icc
    try:
        plain.save(dst, format="TIFF", **params)
    except Exception as exc:  # a mode or tag the TIFF writer cannot write back
        raise unsupported(f"TIFF re-save of mode {im.mode}: {exc!r}") from exc
    plain.info = {"icc_profile": icc} if icc else {}
    cleaned = Cleaned(dedupe(removed), exif_capture_time(exif), orientation)
    return cleaned, plain


def resave_heif(im: Image.Image, dst: Path) -> Cleaned:
    """Re-encode the loaded HEIF ``im`` (already upright) to ``dst`` without metadata."""
    exif = read_image_exif(im)
    removed = privacy_labels(exif)
    if im.info.get("xmp"):
        removed.append(LABEL_XMP)
    if im.info.get("thumbnails"):
        removed.append(LABEL_PREVIEWS)
    if im.info.get("depth_images") or im.info.get("aux"):
        removed.append(LABEL_DEPTH)
    if getattr(im, "n_frames", 1) > 1:
        removed.append(LABEL_OTHER_IMAGES)
    plain = _plain_copy(im)
    # x265's "fast" preset: ~4x quicker than its default at this quality, same size.
    params: dict[str, Any] = {
        "quality": 95,
        "exif": None,
        "xmp": None,
        "enc_params": {"preset": "fast"},
    }
    for key in ("icc_profile", "nclx_profile"):
        if im.info.get(key):
            params[key] = im.info[key]
    try:
        plain.save(dst, format="HEIF", **params)
    except Exception as exc:
        raise unsupported(f"HEIF re-encode of mode {im.mode}: {exc!r}") from exc
    return Cleaned(dedupe(removed), exif_capture_time(exif), orientation=1)


def _plain_copy(im: Image.Image) -> Image.Image:
    """The pixels in a plain Image (no file, no tags), with an empty ``info``."""
    plain = im.copy()
    plain.info = {}
    return plain
