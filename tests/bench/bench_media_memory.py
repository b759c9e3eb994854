"""Peak memory of the media pipeline on a ~40 MB 16-bit PNG radiograph.

Pillow allocates image memory outside Python's allocator, so tracemalloc does not see it:
this measures the growth of the peak resident set in a fresh subprocess, from after the
imports to after ``process_upload``. On Linux the peak (VmHWM) is reset to the current RSS
first (``/proc/self/clear_refs``), because ``ru_maxrss`` carries the parent's peak across
fork and exec. Run:

    .venv/bin/python tests/bench/bench_media_memory.py [--size 4500]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_MIB = 64


def _status_mib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _reset_peak() -> float:
    """Reset the peak RSS where the OS allows; return the baseline to subtract."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        current = _status_mib("VmRSS")
        if current is not None:
            return current
    except OSError:
        pass
    return _peak_mib()


def _peak_mib() -> float:
    peak = _status_mib("VmHWM")
    if peak is not None:
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(src: Path, workdir: Path) -> None:
    from storage.media import MediaLimits, process_upload

    before = _reset_peak()
    started = time.perf_counter()
    media = process_upload(src, MediaLimits(), workdir)
    elapsed = time.perf_counter() - started
    growth = _peak_mib() - before
    print(
        f"{src.stat().st_size / 1e6:.1f} MB {media.width}x{media.height} "
        f"{media.bits_per_sample}-bit PNG: peak RSS growth {growth:.1f} MiB "
        f"(budget {BUDGET_MIB} MiB), {elapsed * 1000:.0f} ms, "
        f"display {len(media.display_jpeg) / 1e3:.0f} kB, "
        f"thumbnail {len(media.thumbnail_jpeg) / 1e3:.0f} kB"
    )
    sys.exit(0 if growth < BUDGET_MIB else 1)


def synthesize(path: Path, side: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(9996)
    gradient = np.linspace(2000, 50000, side, dtype=np.float32)[None, :]
    pixels = (gradient + rng.normal(0, 4000, (side, side))).clip(0, 65535).astype(np.uint16)
    Image.fromarray(pixels).save(path, compress_level=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=4500, help="side of the square image")
    parser.add_argument("--child", nargs=2, metavar=("SRC", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
    with tempfile.TemporaryDirectory() as tmp:
        src, workdir = Path(tmp) / "radiograph.png", Path(tmp) / "work"
        workdir.mkdir()
        synthesize(src, args.size)
        root = Path(__file__).resolve().parents[2]
        command = [sys.executable, __file__, "--child", str(src), str(workdir)]
        return subprocess.run(command, cwd=root, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
