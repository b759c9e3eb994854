"""The limits an upload is checked against."""

from __future__ import annotations

from dataclasses import dataclass

from storage.media.errors import damaged, too_many_pixels


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """``max_pixels`` is checked from the file's header, before any pixel is decoded.

    The default accepts 48-megapixel phone photos (8064 x 6048). Note that Pillow's own
    ``Image.MAX_IMAGE_PIXELS`` still applies on top (an image over twice that is refused as a
    decompression bomb whatever this says).
    """

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 60_000_000

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_pixels <= 0:
            raise ValueError("media limits must be positive")

    def check_pixels(self, width: int, height: int) -> None:
        """Refuse (``too_many_pixels``) dimensions over the limit; zero is ``damaged``."""
        if width <= 0 or height <= 0:
            raise damaged(f"image header claims {width}x{height}")
        if width * height > self.max_pixels:
            raise too_many_pixels(self.max_pixels, width, height)
