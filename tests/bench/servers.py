"""Servers a benchmark starts on loopback and stops by itself: the portal and Orthanc."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.live import LiveServer, running_portal
from tests.support.orthanc import Orthanc, orthanc_binary, orthanc_server

ROOT = Path(__file__).resolve().parents[2]


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def portal(
    workdir: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """The portal on its embedded defaults (SQLite + file blobs) unless ``env`` says otherwise,
    with limits raised so a benchmark can put many large files in one case."""
    settings = {
        "TOOTHLINE_MAX_UPLOAD_BYTES": str(100 * 1024 * 1024),
        "TOOTHLINE_MAX_FILES_PER_CASE": "1000",
        **(env or {}),
    }
    with running_portal(workdir / "portal-var", env=settings, workers=workers) as server:
        yield server


@contextmanager
def orthanc(workdir: Path) -> Iterator[Orthanc]:
    """Debian's Orthanc with its own storage folder, HTTP on a free loopback port, no DICOM
    network listener, no authentication (loopback only), no plugins: the archive tests' server
    (tests/support/orthanc.py) with more HTTP threads for concurrent clients."""
    if orthanc_binary() is None:
        raise RuntimeError("Orthanc is not installed: apt-get install orthanc")
    with orthanc_server(workdir, dicomweb=False, name="bench", http_threads=50) as server:
        yield server
