"""The benchmarks' target check (tests/bench/summary.py): pure, so a unit test suffices."""

from __future__ import annotations

import math

from tests.bench.summary import Target, check_targets

TARGETS = (Target("page p95 ms", 300.0), Target("errors", 0.0))


def test_met_and_missed_targets_are_named() -> None:
    lines = check_targets({"page p95 ms": 120.0, "errors": 2.0}, TARGETS)
    assert lines == ["page p95 ms: 120 (target <= 300) ok", "errors: 2 (target <= 0) MISSED"]


def test_a_figure_on_the_target_meets_it() -> None:
    assert check_targets({"page p95 ms": 300.0, "errors": 0.0}, TARGETS, failed_only=True) == []


def test_absent_or_unmeasured_figures_miss() -> None:
    lines = check_targets({"page p95 ms": math.nan}, TARGETS, failed_only=True)
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["MISSED", "MISSED"]
