"""The pictures people look at: an upright display JPEG and a thumbnail, with no metadata.

Colour is converted to sRGB (through the embedded ICC profile when there is one; Pillow
already undoes Adobe's inverted CMYK), transparency is laid on white, and high-bit-depth
grayscale is windowed to its real contrast range. Nothing from the source's metadata is
copied: the encoder is given an image whose ``info`` is empty.
"""

from __future__ import annotations

import io
import logging
from typing import Final

from PIL import Image, ImageCms

from storage.media.errors import decoding
from storage.media.imaging import load_image
from storage.media.quality import assess
from storage.media.results import Views
from storage.media.window import HIGH_BIT_GRAY_MODES, fit, fit_size, windowed_gray

log = logging.getLogger(__name__)

DISPLAY_MAX_SIDE: Final = 2048
# A JPEG is decoded at 1/2, 1/4 or 1/8 scale while its long side stays at least this: a 12 MP
# photo decodes at 2000 px (about 3x faster), a 48 MP one at 2016 px.
DRAFT_MIN_SIDE: Final = 1536
THUMBNAIL_MAX_SIDE: Final = 320
DISPLAY_QUALITY: Final = 85
THUMBNAIL_QUALITY: Final = 80
DERIVED: Final = ("display", "thumbnail")

_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}  # the same table as ImageOps.exif_transpose, applied to the small picture
_ALPHA_MODES: Final = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})


def decode_for_display(im: Image.Image) -> Image.Image:
    """Decode ``im`` (opened, not loaded) just large enough for the display picture."""
    if im.format == "JPEG":
        with decoding("JPEG draft"):
            im.draft("RGB", fit_size(im.size, DRAFT_MIN_SIDE))
    load_image(im)
    return im


def display_picture(im: Image.Image) -> Image.Image:
    """A loaded image as RGB (or L), long side <= DISPLAY_MAX_SIDE, not yet turned upright.

    Takes ownership of ``im``: it is closed as soon as its full-size pixels are no longer
    needed, so that a big decode is not held while the display picture is encoded.
    """
    if im.mode in HIGH_BIT_GRAY_MODES:
        reduced = windowed_gray(im, DISPLAY_MAX_SIDE)
        im.close()
        return fit(reduced, DISPLAY_MAX_SIDE)
    icc = im.info.get("icc_profile")
    picture = im
    if picture.mode == "1":
        picture = picture.convert("L")
    elif picture.mode == "P" or (picture.mode in ("L", "RGB") and "transparency" in picture.info):
        picture = picture.convert("RGBA" if "transparency" in picture.info else "RGB")
    elif picture.mode in _ALPHA_MODES and picture.mode != "RGBA":
        picture = picture.convert("RGBA")
    elif picture.mode not in ("L", "RGB", "RGBA", "CMYK"):
        picture = picture.convert("RGB")  # YCbCr, LAB, HSV...
    picture = fit(picture, DISPLAY_MAX_SIDE)
    if picture is not im:
        im.close()
    if icc and picture.mode in ("RGB", "RGBA", "CMYK"):
        picture = _to_srgb(picture, icc)
    if picture.mode == "RGBA":
        white = Image.new("RGB", picture.size, (255, 255, 255))
        white.paste(picture, mask=picture.getchannel("A"))
        picture = white
    return picture if picture.mode in ("L", "RGB") else picture.convert("RGB")


def finish(
    picture: Image.Image, orientation: int, full_size: tuple[int, int], *, score: bool = False
) -> Views:
    """Turn the display picture upright and encode it and its thumbnail (and, with
    ``score``, compute its photo quality scores: the picture is already decoded here)."""
    transpose = _TRANSPOSE.get(orientation)
    if transpose is not None:
        picture = picture.transpose(transpose)
    width, height = full_size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    if picture.mode != "RGB":
        picture = picture.convert("RGB")
    thumbnail = fit(picture, THUMBNAIL_MAX_SIDE)
    return Views(
        display_jpeg=_jpeg(picture, DISPLAY_QUALITY),
        thumbnail_jpeg=_jpeg(thumbnail, THUMBNAIL_QUALITY),
        width=width,
        height=height,
        quality=assess(picture, (width, height)) if score else None,
    )


def _to_srgb(im: Image.Image, icc: bytes) -> Image.Image:
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(
            im,
            source,
            ImageCms.createProfile("sRGB"),
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            outputMode="RGBA" if im.mode == "RGBA" else "RGB",
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        log.info("embedded ICC profile not used: %r", exc)
        return im
    return converted if converted is not None else im


def _jpeg(picture: Image.Image, quality: int) -> bytes:
    picture.info = {}  # no EXIF, ICC, comments or anything else of the source's
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()
