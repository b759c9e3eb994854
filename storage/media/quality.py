"""Photo quality scores: sharpness, exposure and resolution, with a verdict.

The browser (portal/static/js/quality.js) computes the same scores on a canvas copy before
upload and warns the person; the server computes them once more on the stored picture and
shows them to the dentist. Both sides scale the picture to the same long side, turn it into
the same luminance (Rec. 601 weights) and use the same 3x3 Laplacian and the thresholds of
:data:`THRESHOLDS`, which the pages render from here so the two cannot drift.

Pure functions on a Pillow image: no files, no database.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import numpy as np
from PIL import Image

ANALYSIS_LONG_SIDE: Final = 512
"""The picture is scaled (never up) to this long side before scoring: scores then do not
depend on the camera's pixel count, and a browser can compute them quickly."""

Problem = Literal["blurry", "too_dark", "too_bright", "low_resolution"]
PROBLEMS: Final[tuple[Problem, ...]] = ("blurry", "too_dark", "too_bright", "low_resolution")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where a score becomes a problem. One instance, :data:`THRESHOLDS`, is used everywhere."""

    min_sharpness: float = 40.0
    """Variance of the Laplacian below this: ``blurry``."""
    min_mean_luminance: float = 50.0
    """Mean luminance (0..255) below this: ``too_dark``."""
    max_mean_luminance: float = 215.0
    """Mean luminance above this: ``too_bright``."""
    dark_level: int = 16
    """A pixel at or below this luminance counts as clipped dark."""
    bright_level: int = 239
    """A pixel at or above this luminance counts as clipped bright."""
    max_clipped_share: float = 0.5
    """More than this share of pixels clipped dark (or bright) is ``too_dark`` (``too_bright``)."""
    min_long_side: int = 1000
    """Original long side (px) below this: ``low_resolution``."""
    min_short_side: int = 600
    """Original short side (px) below this: ``low_resolution``."""

    def as_json(self) -> dict[str, Any]:
        """The thresholds as the browser reads them (a ``data-`` attribute)."""
        return {**asdict(self), "analysis_long_side": ANALYSIS_LONG_SIDE}


THRESHOLDS: Final = Thresholds()


@dataclass(frozen=True, slots=True)
class Quality:
    """The scores of one picture and what they mean (``problems`` empty: it looks fine)."""

    sharpness: float
    mean_luminance: float
    dark_share: float
    bright_share: float
    width: int
    height: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """Stored on the attachment (``quality`` column) and returned by the API."""
        return {
            "sharpness": round(self.sharpness, 1),
            "mean_luminance": round(self.mean_luminance, 1),
            "dark_share": round(self.dark_share, 3),
            "bright_share": round(self.bright_share, 3),
            "width": self.width,
            "height": self.height,
            "problems": list(self.problems),
        }


def luminance(im: Image.Image, long_side: int = ANALYSIS_LONG_SIDE) -> np.ndarray:
    """The picture as float luminance (0..255), long side at most ``long_side``.

    Rec. 601 weights, the same the browser uses (Pillow's ``convert("L")`` does too). The
    scale-down is bilinear over the whole picture (``reducing_gap`` off) like a canvas draw.
    """
    gray = im if im.mode == "L" else im.convert("RGB").convert("L")
    width, height = gray.size
    scale = long_side / max(width, height)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = gray.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(gray, dtype=np.float64)


def sharpness(gray: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian [0,1,0; 1,-4,1; 0,1,0] over the inner pixels.

    A focused picture has strong edges and a large variance; blur or camera shake removes
    them. Pictures smaller than 3x3 score 0.
    """
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    centre = gray[1:-1, 1:-1]
    laplacian = (
        gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4.0 * centre
    )
    return float(laplacian.var())


def exposure(
    gray: np.ndarray, thresholds: Thresholds = THRESHOLDS
) -> tuple[float, float, float]:
    """(mean luminance, share of pixels clipped dark, share clipped bright)."""
    if gray.size == 0:
        return 0.0, 0.0, 0.0
    mean = float(gray.mean())
    dark = float(np.count_nonzero(gray <= thresholds.dark_level)) / gray.size
    bright = float(np.count_nonzero(gray >= thresholds.bright_level)) / gray.size
    return mean, dark, bright


def verdict(
    sharpness_score: float,
    mean: float,
    dark_share: float,
    bright_share: float,
    size: tuple[int, int],
    thresholds: Thresholds = THRESHOLDS,
) -> tuple[Problem, ...]:
    """The problems these scores show, in :data:`PROBLEMS` order."""
    found: set[Problem] = set()
    too_dark = mean < thresholds.min_mean_luminance or dark_share > thresholds.max_clipped_share
    too_bright = (
        mean > thresholds.max_mean_luminance or bright_share > thresholds.max_clipped_share
    )
    if too_dark:
        found.add("too_dark")
    elif too_bright:
        found.add("too_bright")
    elif sharpness_score < thresholds.min_sharpness:
        # A very dark or bright picture has few edges anyway: say what is wrong first.
        found.add("blurry")
    if max(size) < thresholds.min_long_side or min(size) < thresholds.min_short_side:
        found.add("low_resolution")
    return tuple(p for p in PROBLEMS if p in found)


def assess(
    im: Image.Image,
    original_size: tuple[int, int] | None = None,
    thresholds: Thresholds = THRESHOLDS,
) -> Quality:
    """Score ``im`` (any mode); ``original_size`` is the upright size of the original when
    ``im`` is already a reduced copy (resolution is judged on the original)."""
    width, height = original_size or im.size
    gray = luminance(im)
    score = sharpness(gray)
    mean, dark, bright = exposure(gray, thresholds)
    problems = verdict(score, mean, dark, bright, (width, height), thresholds)
    return Quality(score, mean, dark, bright, width, height, problems)
