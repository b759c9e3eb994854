"""Where the upload and roster fixtures live: ``tests/fixtures`` inside this repository.

One constant for every test and benchmark, so a clone needs nothing beside it. The files are
committed; ``tests/fixtures/make_fixtures.py`` rebuilds them (see tests/fixtures/README.md).
Pure paths: importing this module reads no file.
"""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
GOOD = FIXTURES / "good"  # must be accepted
BAD = FIXTURES / "bad"  # must be refused
ROSTER_GOOD = FIXTURES / "roster_good.csv"
ROSTER_BAD = FIXTURES / "roster_bad.csv"
