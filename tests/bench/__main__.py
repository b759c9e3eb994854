"""Every benchmark, one after the other: ``.venv/bin/python -m tests.bench``.

Figures are printed; JSON lands in tests/bench/results/ (git-ignored). See
docs/performance.md for what each figure means and the last run's numbers.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = [
    ["-m", "tests.bench.bench_derivation"],
    ["tests/bench/bench_media_memory.py"],
    ["-m", "tests.bench.bench_upload_memory"],
    ["-m", "tests.bench.bench_ingest"],
    ["-m", "tests.bench.bench_queue"],
    ["-m", "tests.bench.bench_claim_attachment"],
]


def main() -> int:
    failed = 0
    for args in BENCHMARKS:
        print(f"\n=== {' '.join(args)}", flush=True)
        failed += subprocess.call([sys.executable, *args]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
