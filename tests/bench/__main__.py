"""Every benchmark, one after the other: ``.venv/bin/python -m tests.bench``.

``--only mixed`` (or any other name below, e.g. ``--only ingest``) runs the benchmarks whose
module name holds that word. The mixed load runs 60 s per server (uvicorn and granian).

Figures are printed; JSON lands in tests/bench/results/ (git-ignored). See
docs/performance.md for what each figure means and the last run's numbers.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

BENCHMARKS = [
    ["-m", "tests.bench.bench_derivation"],
    ["tests/bench/bench_media_memory.py"],
    ["-m", "tests.bench.bench_upload_memory"],
    ["-m", "tests.bench.bench_ingest"],
    ["-m", "tests.bench.bench_queue"],
    ["-m", "tests.bench.bench_claim_attachment"],
    ["-m", "tests.bench.bench_mixed", "--seconds", "60"],
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run only the benchmarks whose name holds this word")
    only = parser.parse_args().only
    failed = 0
    for args in BENCHMARKS:
        if only and not any(only in part for part in args):
            continue
        print(f"\n=== {' '.join(args)}", flush=True)
        failed += subprocess.call([sys.executable, *args]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
