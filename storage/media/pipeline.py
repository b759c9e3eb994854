"""One upload, from a file on disk to a cleaned original and its derivatives, in two steps.

    validate_and_clean: received file ─ size limit ─ sniff (magic numbers) ─ clean (per
        format, pixel limit from the header) ─ prove the picture complete and decodable
    derive_views: cleaned original ─ decode just enough ─ display + thumbnail

``validate_and_clean`` decides everything that can refuse a file; the portal runs it before
answering. ``derive_views`` works on the stored original alone and may run later, in a
background worker. ``process_upload`` is both at once.

Synchronous and CPU-bound. ``validate_and_clean`` touches nothing but the source file and the
one new file it writes in ``workdir``, which it removes again on failure.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Final

from PIL import Image

from storage.media import dicom
from storage.media.derive import DERIVED, decode_for_display, display_picture, finish
from storage.media.errors import decoding, too_large
from storage.media.exif import orientation_of, read_image_exif
from storage.media.imaging import load_image, open_image
from storage.media.jpeg import clean_jpeg
from storage.media.limits import MediaLimits
from storage.media.png import clean_png
from storage.media.resave import check_single_tiff_page, resave_heif, resave_tiff
from storage.media.results import Cleaned, ProcessedMedia, Validated, Views
from storage.media.sniff import FORMATS, HEAD_BYTES, MediaType, sniff
from storage.media.webp import clean_webp
from storage.media.window import HIGH_BIT_GRAY_MODES

_CHUNK: Final = 1 << 20
_PROOF_SCALE: Final = 8
"""A JPEG is proven decodable at 1/8 scale: libjpeg still entropy-decodes every coefficient
(so truncation and corrupt scans are caught), but skips most of the inverse DCT and colour
conversion."""
_SWAPS_SIDES: Final = frozenset({5, 6, 7, 8})


def process_upload(src: Path, limits: MediaLimits, workdir: Path) -> ProcessedMedia:
    """Decide what ``src`` really is, write its cleaned original into ``workdir``, derive views.

    Raises ``MediaRefused`` (and nothing else for any content of ``src``) when the file is not
    accepted; then nothing is left in ``workdir``.
    """
    checked = validate_and_clean(src, limits, workdir)
    assert checked.original_sha256 is not None
    try:
        views = derive_views(checked.original_path, checked.media_type)
    except BaseException:
        checked.original_path.unlink(missing_ok=True)
        raise
    return ProcessedMedia(
        media_type=checked.media_type,
        original_path=checked.original_path,
        original_content_type=checked.original_content_type,
        original_extension=checked.original_extension,
        original_size=checked.original_size,
        original_sha256=checked.original_sha256,
        received_sha256=checked.received_sha256,
        received_size=checked.received_size,
        display_jpeg=views.display_jpeg,
        thumbnail_jpeg=views.thumbnail_jpeg,
        width=views.width,
        height=views.height,
        captured_at=checked.captured_at,
        removed=checked.removed,
        derived=checked.derived,
        is_radiograph_like=checked.is_radiograph_like,
        bits_per_sample=checked.bits_per_sample,
    )


def validate_and_clean(
    src: Path,
    limits: MediaLimits,
    workdir: Path,
    *,
    received: tuple[str, int] | None = None,
    digest_original: bool = True,
) -> Validated:
    """Decide what ``src`` really is, prove it complete, write its cleaned original.

    Everything that can refuse a file happens here (the same ``MediaRefused`` codes as
    ``process_upload``); the views are left to :func:`derive_views`. ``received`` is the
    (sha256, size) of ``src`` when the caller hashed it while receiving it, so it is not read
    a second time; without ``digest_original`` the cleaned original is not hashed here
    (``original_sha256`` is None: a blob store put hashes what it stores anyway). On a refusal
    nothing is left in ``workdir``.
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
        if received is None or received[1] != size:
            received = _digest(src)
        cleaned, full_size, bits, gray_high_bit = _clean(media_type, src, dst, limits)
        if digest_original:
            original_sha256: str | None
            original_sha256, original_size = _digest(dst)
        else:
            original_sha256, original_size = None, dst.stat().st_size
    except BaseException:
        dst.unlink(missing_ok=True)
        raise
    width, height = full_size
    if cleaned.orientation in _SWAPS_SIDES:
        width, height = height, width
    return Validated(
        media_type=media_type,
        original_path=dst,
        original_content_type=info.content_type,
        original_extension=info.extension,
        original_size=original_size,
        original_sha256=original_sha256,
        received_sha256=received[0],
        received_size=received[1],
        width=width,
        height=height,
        captured_at=cleaned.captured_at,
        removed=cleaned.removed,
        derived=DERIVED,
        orientation=cleaned.orientation,
        is_radiograph_like=media_type == "dicom" or gray_high_bit,
        bits_per_sample=bits,
    )


def derive_views(original_path: Path, media_type: MediaType) -> Views:
    """The display JPEG and thumbnail of a cleaned original (as ``validate_and_clean`` wrote).

    The orientation still to apply is read back from the cleaned file itself, so this needs
    nothing but the stored original. Raises ``MediaRefused`` only for a file that did not come
    from ``validate_and_clean``.
    """
    if media_type == "dicom":
        image = dicom.read_cleaned(original_path)
        picture = dicom.display_picture(original_path, image)
        return finish(picture, 1, (image.width, image.height))
    pillow_format = FORMATS[media_type].pillow_format or ""
    limits = MediaLimits(max_bytes=1 << 62, max_pixels=1 << 62)  # checked when it was received
    with open_image(original_path, pillow_format, limits) as im:
        full_size = im.size
        orientation = 1 if media_type == "heif" else orientation_of(read_image_exif(im))
        photo_like = im.mode not in HIGH_BIT_GRAY_MODES
        picture = display_picture(decode_for_display(im))
    return finish(picture, orientation, full_size, score=photo_like)


def _clean(
    media_type: MediaType, src: Path, dst: Path, limits: MediaLimits
) -> tuple[Cleaned, tuple[int, int], int, bool]:
    """(what cleaning found, stored size, bits per sample, is high-bit grayscale)."""
    if media_type == "dicom":
        cleaned, image = dicom.clean_dicom(src, dst, limits)
        return cleaned, (image.width, image.height), image.bits_stored, True
    pillow_format = FORMATS[media_type].pillow_format or ""
    if media_type in ("jpeg", "png", "webp"):
        # Lossless rewrite first; then prove what is stored decodes.
        cleaner = {"jpeg": clean_jpeg, "png": clean_png, "webp": clean_webp}[media_type]
        cleaned = cleaner(src, dst, limits)
        with open_image(dst, pillow_format, limits) as im:
            full_size, mode, bits = im.size, im.mode, _bits(im)
            if im.format == "JPEG":
                proof = (max(1, im.width // _PROOF_SCALE), max(1, im.height // _PROOF_SCALE))
                with decoding("JPEG draft"):
                    im.draft(im.mode, proof)
            load_image(im)  # PNG and WebP have no cheaper complete decode
    else:
        with open_image(src, pillow_format, limits) as im:
            full_size, mode, bits = im.size, im.mode, _bits(im)
            if media_type == "tiff":
                check_single_tiff_page(im)
                load_image(im)
                cleaned, plain = resave_tiff(im, dst)
                plain.close()
            else:
                load_image(im)
                cleaned = resave_heif(im, dst)
    return cleaned, full_size, bits, mode in HIGH_BIT_GRAY_MODES and bits > 8


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
