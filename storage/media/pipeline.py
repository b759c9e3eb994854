"""One upload, from a file on disk to a cleaned original and its derivatives.

    received file ─ size limit ─ sniff (magic numbers) ─ clean (per format, pixel limit from
    the header) ─ decode just enough ─ display + thumbnail

Synchronous and CPU-bound: the portal runs it in a worker thread. It touches nothing but the
source file and the one new file it writes in ``workdir``, which it removes again on failure.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Final

from PIL import Image

from storage.media import dicom
from storage.media.derive import DERIVED, decode_for_display, display_picture, finish
from storage.media.errors import too_large
from storage.media.imaging import load_image, open_image
from storage.media.jpeg import clean_jpeg
from storage.media.limits import MediaLimits
from storage.media.png import clean_png
from storage.media.resave import check_single_tiff_page, resave_heif, resave_tiff
from storage.media.results import Cleaned, ProcessedMedia, Views
from storage.media.sniff import FORMATS, HEAD_BYTES, MediaType, sniff
from storage.media.webp import clean_webp
from storage.media.window import HIGH_BIT_GRAY_MODES

_CHUNK: Final = 1 << 20


def process_upload(src: Path, limits: MediaLimits, workdir: Path) -> ProcessedMedia:
    """Decide what ``src`` really is, write its cleaned original into ``workdir``, derive views.

    Raises ``MediaRefused`` (and nothing else for any content of ``src``) when the file is not
    accepted; then nothing is left in ``workdir``.
    """
    size = src.stat().st_size
    if size > limits.max_bytes:
        raise too_large(size, limits.max_bytes)
    with src.open("rb") as f:
        head = f.read(HEAD_BYTES)
    media_type = sniff(head)
    info = FORMATS[media_type]
    dst = _new_file(workdir, info.extension)
    try:
        received_sha256, received_size = _digest(src)
        cleaned, views, bits, gray_high_bit = _process(media_type, src, dst, limits)
        original_sha256, original_size = _digest(dst)
    except BaseException:
        dst.unlink(missing_ok=True)
        raise
    return ProcessedMedia(
        media_type=media_type,
        original_path=dst,
        original_content_type=info.content_type,
        original_extension=info.extension,
        original_size=original_size,
        original_sha256=original_sha256,
        received_sha256=received_sha256,
        received_size=received_size,
        display_jpeg=views.display_jpeg,
        thumbnail_jpeg=views.thumbnail_jpeg,
        width=views.width,
        height=views.height,
        captured_at=cleaned.captured_at,
        removed=cleaned.removed,
        derived=DERIVED,
        is_radiograph_like=media_type == "dicom" or gray_high_bit,
        bits_per_sample=bits,
    )


def _process(
    media_type: MediaType, src: Path, dst: Path, limits: MediaLimits
) -> tuple[Cleaned, Views, int, bool]:
    """(what cleaning found, the views, bits per sample, is high-bit grayscale)."""
    if media_type == "dicom":
        cleaned, image = dicom.clean_dicom(src, dst, limits)
        picture = dicom.display_picture(dst, image)
        views = finish(picture, 1, (image.width, image.height))
        return cleaned, views, image.bits_stored, True
    pillow_format = FORMATS[media_type].pillow_format or ""
    if media_type in ("jpeg", "png", "webp"):
        # Lossless rewrite first; the views are then made from what is stored.
        cleaner = {"jpeg": clean_jpeg, "png": clean_png, "webp": clean_webp}[media_type]
        cleaned = cleaner(src, dst, limits)
        with open_image(dst, pillow_format, limits) as im:
            full_size, mode, bits = im.size, im.mode, _bits(im)
            picture = display_picture(decode_for_display(im))
    else:
        with open_image(src, pillow_format, limits) as im:
            full_size, mode, bits = im.size, im.mode, _bits(im)
            if media_type == "tiff":
                check_single_tiff_page(im)
                load_image(im)
                cleaned, plain = resave_tiff(im, dst)
                im.close()  # the pixels live on in ``plain``; do not hold them twice
            else:
                load_image(im)
                cleaned = resave_heif(im, dst)
                plain = im
            picture = display_picture(plain)
    views = finish(picture, cleaned.orientation, full_size)
    return cleaned, views, bits, mode in HIGH_BIT_GRAY_MODES and bits > 8


def _bits(im: Image.Image) -> int:
    """Bits per sample as the file stores them."""
    if im.format == "PNG":
        return 16 if im.mode.startswith("I;16") else 8  # Pillow keeps only 8/16-bit as such
    if im.format == "TIFF":
        stored = getattr(im, "tag_v2", {}).get(258)
        if isinstance(stored, tuple) and stored and isinstance(stored[0], int):
            return stored[0]
        if isinstance(stored, int):
            return stored
    if im.format == "HEIF":
        depth = im.info.get("bit_depth")
        if isinstance(depth, int):
            return depth
    return {"I;16": 16, "I;16L": 16, "I;16B": 16, "I;16N": 16, "I": 32, "F": 32, "1": 1}.get(
        im.mode, 8
    )


def _new_file(workdir: Path, extension: str) -> Path:
    """A new empty file of our own in ``workdir`` (random name: it carries no PHI)."""
    while True:
        path = workdir / f"original-{secrets.token_hex(12)}{extension}"
        try:
            path.open("xb").close()
        except FileExistsError:
            continue
        return path


def _digest(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size
