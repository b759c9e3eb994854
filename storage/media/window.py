"""High-bit-depth grayscale (X-ray sensor output) to 8 bits, using the picture's own contrast.

Memory matters here: a 40 MB 16-bit PNG decodes to ~40 MB, and a naive float64 pipeline
multiplies that by ten. Everything below works on horizontal strips of the decoded image:
block-average by an integer factor, window, write uint8 rows. Nothing full-size is copied.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image

HIGH_BIT_GRAY_MODES: Final = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})

LOW_PERCENTILE: Final = 0.5
HIGH_PERCENTILE: Final = 99.5
_SAMPLES: Final = 250_000  # pixels looked at to find the contrast range
_STRIP_OUT_ROWS: Final = 32  # output rows produced per strip

Rows = Callable[[int, int], npt.NDArray[np.generic]]  # (y0, y1) -> 2-D array of those rows


def image_rows(im: Image.Image) -> Rows:
    """Row strips of a Pillow image as arrays (each strip is a small copy)."""
    width = im.size[0]

    def rows(y0: int, y1: int) -> npt.NDArray[np.generic]:
        return np.asarray(im.crop((0, y0, width, y1)))

    return rows


def array_rows(arr: npt.NDArray[np.generic]) -> Rows:
    """Row strips of an array (views, no copy)."""

    def rows(y0: int, y1: int) -> npt.NDArray[np.generic]:
        return arr[y0:y1]

    return rows


def reduce_factor(width: int, height: int, max_side: int, *, at_most: bool = False) -> int:
    """Integer block size bringing the long side near ``max_side``.

    Rounded to nearest (a final resize finishes the job) unless ``at_most``, which rounds up
    so that the result is never over ``max_side``.
    """
    ratio = max(width, height) / max_side
    factor = math.ceil(ratio) if at_most else round(ratio)
    return max(1, min(factor, width, height))


def sample(rows: Rows, width: int, height: int) -> npt.NDArray[np.float32]:
    """About ``_SAMPLES`` pixels on a regular grid, as float32 (for percentiles)."""
    step = max(1, math.ceil(math.sqrt(width * height / _SAMPLES)))
    out = np.empty((math.ceil(height / step), math.ceil(width / step)), dtype=np.float32)
    strip = step * max(1, _STRIP_OUT_ROWS // step)  # a multiple of step: the grid stays regular
    for y0 in range(0, height, strip):
        part = rows(y0, min(y0 + strip, height))[::step, ::step]
        out[y0 // step : y0 // step + part.shape[0]] = part
    return out.ravel()


def percentile_window(values: npt.NDArray[np.floating]) -> tuple[float, float]:
    """The 0.5-99.5 percentile range of finite values (never empty: hi > lo)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(finite, [LOW_PERCENTILE, HIGH_PERCENTILE]))
    if hi <= lo:
        lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def to_uint8(block: npt.NDArray[np.float32], lo: float, hi: float) -> npt.NDArray[np.uint8]:
    """Map ``lo..hi`` to 0..255 in place on ``block`` (float32), clipping outside."""
    np.nan_to_num(block, copy=False)
    block -= np.float32(lo)
    block *= np.float32(255.0 / (hi - lo))
    np.clip(block, 0, 255, out=block)
    np.rint(block, out=block)
    return block.astype(np.uint8)


def block_reduce(
    rows: Rows,
    width: int,
    height: int,
    factor: int,
    out_dtype: npt.DTypeLike,
    transform: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.generic]],
) -> npt.NDArray[np.generic]:
    """Average ``factor`` x ``factor`` blocks strip by strip, then ``transform`` each strip.

    Trailing rows/columns that do not fill a block are left out (less than ``factor`` pixels).
    """
    out_h, out_w = height // factor, width // factor
    out = np.empty((out_h, out_w), dtype=out_dtype)
    step = _STRIP_OUT_ROWS
    for oy in range(0, out_h, step):
        n = min(step, out_h - oy)
        strip = rows(oy * factor, (oy + n) * factor)
        if factor == 1:
            block = strip[:, :out_w].astype(np.float32)
        else:
            block = (
                strip[:, : out_w * factor]
                .reshape(n, factor, out_w, factor)
                .mean(axis=(1, 3), dtype=np.float32)
            )
        out[oy : oy + n] = transform(block)
    return out


def windowed_gray(im: Image.Image, max_side: int) -> Image.Image:
    """A high-bit grayscale image as 8-bit ``L`` with its full contrast, reduced by an integer
    factor to near ``max_side`` (up to 1.5x over it: ``fit`` finishes the job, after the caller
    has let go of the full-size image)."""
    width, height = im.size
    rows = image_rows(im)
    lo, hi = percentile_window(sample(rows, width, height))
    factor = reduce_factor(width, height, max_side)
    small = block_reduce(rows, width, height, factor, np.uint8, lambda b: to_uint8(b, lo, hi))
    return Image.fromarray(small)


def fit(im: Image.Image, max_side: int) -> Image.Image:
    """``im`` scaled down (never up) so that its long side is at most ``max_side``."""
    size = fit_size(im.size, max_side)
    if size == im.size:
        return im
    return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def fit_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    scale = max_side / max(width, height)
    if scale >= 1:
        return size
    return max(1, round(width * scale)), max(1, round(height * scale))
