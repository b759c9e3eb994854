"""Opening an image with exactly one Pillow decoder, its size checked before any decoding."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

from PIL import Image
from pillow_heif import register_heif_opener

from storage.media.errors import MediaRefused, damaged, decoding, too_many_pixels
from storage.media.limits import MediaLimits

register_heif_opener()

# warnings.catch_warnings() swaps process-wide state: serialise our own uses of it so two
# worker threads cannot leave each other's filter behind.
_OPEN_LOCK = threading.Lock()


def open_image(path: Path, pillow_format: str, limits: MediaLimits) -> Image.Image:
    """Open ``path`` (header only) with the one decoder named; refuse oversized headers.

    Pillow's own bomb check (``DecompressionBombWarning``/``Error``) is turned into
    ``too_many_pixels`` as well as our limit. Nothing is decoded yet: call ``load_image``.
    """
    with _OPEN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(path, formats=[pillow_format])
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise too_many_pixels(limits.max_pixels, detail=str(exc)) from exc
        except Exception as exc:  # Pillow raises many types on hostile headers
            raise damaged(f"{pillow_format} header: {exc!r}") from exc
    try:
        limits.check_pixels(*im.size)
    except MediaRefused:
        im.close()
        raise
    return im


def load_image(im: Image.Image) -> None:
    """Decode the pixels; any decoder failure is ``damaged``."""
    with decoding(f"{im.format} decode"):
        im.load()
