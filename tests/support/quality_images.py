"""Synthetic photos for the quality checks, made by code (no camera files in the repository).

``sharp`` is a text-like pattern of small dark strokes on a mid-grey ground (many edges);
``blurred`` is the same with a Gaussian blur; ``underexposed`` is the sharp one scaled
towards black, as a photo taken without light. Sizes are above the resolution thresholds.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter

SIZE = (1200, 900)


def sharp(size: tuple[int, int] = SIZE, seed: int = 19) -> Image.Image:
    rng = random.Random(seed)
    im = Image.new("RGB", size, (170, 160, 150))
    draw = ImageDraw.Draw(im)
    for _ in range(900):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        w, h = rng.randrange(4, 30), rng.randrange(4, 30)
        shade = rng.randrange(20, 90)
        draw.rectangle((x, y, x + w, y + h), outline=(shade, shade, shade), width=2)
    return im


def blurred(size: tuple[int, int] = SIZE) -> Image.Image:
    return sharp(size).filter(ImageFilter.GaussianBlur(6))


def underexposed(size: tuple[int, int] = SIZE) -> Image.Image:
    return sharp(size).point(lambda v: v // 8)


def overexposed(size: tuple[int, int] = SIZE) -> Image.Image:
    return sharp(size).point(lambda v: min(255, 200 + v // 4))


def jpeg(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, format="JPEG", quality=90)
    return out.getvalue()
