"""Figures against targets, for the benchmarks' printed summaries (pure, unit-tested)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    figure: str
    at_most: float


def check_targets(
    figures: dict[str, float], targets: tuple[Target, ...], *, failed_only: bool = False
) -> list[str]:
    """One line per target, ``ok`` or ``MISSED``; a figure that is absent or NaN misses
    (a benchmark that measured nothing has not met its target)."""
    lines = []
    for target in targets:
        value = figures.get(target.figure, math.nan)
        met = not math.isnan(value) and value <= target.at_most
        if failed_only and met:
            continue
        verdict = "ok" if met else "MISSED"
        lines.append(f"{target.figure}: {value:.0f} (target <= {target.at_most:.0f}) {verdict}")
    return lines
