"""Display + thumbnail derivation time per file (the whole media pipeline: sniff, clean,
derive), for a 12-megapixel phone JPEG, a 16-bit radiograph PNG and a 16-bit DICOM.

    .venv/bin/python -m tests.bench.bench_derivation [--runs 15]

Prints median and p95 per kind; writes tests/bench/results/derivation.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from storage.media import MediaLimits, process_upload
from tests.bench.synth import make_dicom, make_phone_jpeg, radiograph_pixels

RESULTS = Path(__file__).parent / "results"


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="toothline-derive-") as tmp:
        work = Path(tmp)
        png = work / "bitewing16.png"
        Image.fromarray(radiograph_pixels(3, 1500)[:, :]).resize((2000, 1500)).save(png)
        files = {
            "12 MP phone JPEG": make_phone_jpeg(work / "phone.jpg", 1),
            "16-bit radiograph PNG 2000x1500": png,
            "16-bit DICOM 1730x1730": make_dicom(work / "xray.dcm", 2),
        }
        limits = MediaLimits()
        for label, path in files.items():
            times = []
            for _ in range(args.runs):
                out = work / "out"
                out.mkdir(exist_ok=True)
                started = time.perf_counter()
                result = process_upload(path, limits, out)
                times.append((time.perf_counter() - started) * 1000)
                result.original_path.unlink()
            figures[label] = {
                "bytes": path.stat().st_size,
                "median_ms": statistics.median(times),
                "p95_ms": _p95(times),
            }
            assert np.frombuffer(result.thumbnail_jpeg[:2], dtype=np.uint8).tolist() == [255, 216]
    print(f"{'file':<34} {'MB':>6} {'median ms':>10} {'p95 ms':>8}")
    for label, f in figures.items():
        print(f"{label:<34} {f['bytes'] / 1e6:>6.1f} {f['median_ms']:>10.0f} {f['p95_ms']:>8.0f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "derivation.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
