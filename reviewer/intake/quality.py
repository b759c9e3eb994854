"""What the photo quality scores (storage.media.quality) say to people: the dentist's notes
next to each photo, and the thresholds the browser check reads, from the one place they live.
"""

from __future__ import annotations

import json
from typing import Any, Final

from storage.media.quality import THRESHOLDS, Thresholds

PROBLEM_TITLES: Final = {
    "blurry": "Blurry",
    "too_dark": "Too dark",
    "too_bright": "Too bright",
    "low_resolution": "Low resolution",
}


def quality_notes(
    quality: dict[str, Any] | None, thresholds: Thresholds = THRESHOLDS
) -> list[str]:
    """One line per problem, with the score and its threshold: ``Blurry (sharpness 12,
    threshold 40)``. Empty when there are no scores or no problem."""
    if not quality:
        return []
    notes = []
    for problem in quality.get("problems") or []:
        title = PROBLEM_TITLES.get(problem, problem)
        if problem == "blurry":
            detail = (f"sharpness {quality['sharpness']:.0f}, "
                      f"threshold {thresholds.min_sharpness:.0f}")
        elif problem == "too_dark":
            detail = (f"mean brightness {quality['mean_luminance']:.0f}, "
                      f"threshold {thresholds.min_mean_luminance:.0f}; "
                      f"{quality['dark_share']:.0%} near black")
        elif problem == "too_bright":
            detail = (f"mean brightness {quality['mean_luminance']:.0f}, "
                      f"threshold {thresholds.max_mean_luminance:.0f}; "
                      f"{quality['bright_share']:.0%} near white")
        elif problem == "low_resolution":
            detail = (f"{quality['width']}x{quality['height']} px, at least "
                      f"{thresholds.min_long_side}x{thresholds.min_short_side}")
        else:
            detail = ""
        notes.append(f"{title} ({detail})" if detail else title)
    return notes


def browser_thresholds() -> str:
    """The thresholds as JSON for a ``data-quality-thresholds`` attribute (quality.js)."""
    return json.dumps(THRESHOLDS.as_json(), separators=(",", ":"))
