"""Photo quality scores on synthetic fixtures: a sharp pattern passes, its blur is blurry,
an underexposed copy is too dark, an overexposed one too bright, a small one low resolution."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from storage.media.quality import (
    ANALYSIS_LONG_SIDE,
    THRESHOLDS,
    Thresholds,
    assess,
    exposure,
    luminance,
    sharpness,
    verdict,
)
from tests.support import quality_images


def test_sharp_photo_has_no_problems() -> None:
    quality = assess(quality_images.sharp())
    assert quality.ok
    assert quality.sharpness > 10 * THRESHOLDS.min_sharpness
    assert (quality.width, quality.height) == quality_images.SIZE


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (quality_images.blurred, "blurry"),
        (quality_images.underexposed, "too_dark"),
        (quality_images.overexposed, "too_bright"),
    ],
)
def test_bad_photos_get_their_problem(make: object, problem: str) -> None:
    quality = assess(make())  # type: ignore[operator]
    assert quality.problems == (problem,)


def test_scores_survive_jpeg_encoding() -> None:
    for make in (quality_images.sharp, quality_images.blurred, quality_images.underexposed):
        im = make()
        decoded = Image.open(io.BytesIO(quality_images.jpeg(im)))
        assert assess(decoded).problems == assess(im).problems


def test_small_original_is_low_resolution_even_when_sharp() -> None:
    assert assess(quality_images.sharp((640, 480))).problems == ("low_resolution",)
    # A reduced copy is judged on the original's size.
    small_copy = quality_images.sharp((600, 450))
    assert "low_resolution" not in assess(small_copy, original_size=(4000, 3000)).problems


def test_laplacian_of_flat_and_of_one_dot() -> None:
    assert sharpness(np.full((10, 10), 128.0)) == 0.0
    dot = np.zeros((5, 5))
    dot[2, 2] = 1.0
    # Laplacian over the inner 3x3: -4 at the centre, 1 at its four neighbours, 0 at corners.
    expected = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float).var()
    assert sharpness(dot) == pytest.approx(expected)
    assert sharpness(np.zeros((2, 8))) == 0.0


def test_exposure_counts_clipped_pixels() -> None:
    gray = np.array([[0.0, 10.0, 128.0, 250.0]])
    mean, dark, bright = exposure(gray)
    assert mean == pytest.approx(97.0)
    assert (dark, bright) == (0.5, 0.25)


def test_verdict_thresholds_are_named_and_used() -> None:
    strict = Thresholds(min_sharpness=5000.0)
    assert verdict(100.0, 128.0, 0.0, 0.0, (2000, 1500)) == ()
    assert verdict(100.0, 128.0, 0.0, 0.0, (2000, 1500), strict) == ("blurry",)
    assert verdict(100.0, 128.0, 0.6, 0.0, (2000, 1500)) == ("too_dark",)
    assert verdict(100.0, 128.0, 0.0, 0.6, (2000, 1500)) == ("too_bright",)
    assert verdict(1.0, 20.0, 0.0, 0.0, (800, 500)) == ("too_dark", "low_resolution")


def test_analysis_copy_is_scaled_to_the_long_side_in_gray() -> None:
    gray = luminance(quality_images.sharp((2000, 1000)))
    assert gray.shape == (ANALYSIS_LONG_SIDE // 2, ANALYSIS_LONG_SIDE)
    assert luminance(Image.new("RGB", (100, 50))).shape == (50, 100)  # never scaled up


def test_json_forms() -> None:
    data = assess(quality_images.blurred()).as_json()
    assert data["problems"] == ["blurry"]
    assert set(data) >= {"sharpness", "mean_luminance", "width", "height"}
    assert THRESHOLDS.as_json()["analysis_long_side"] == ANALYSIS_LONG_SIDE
