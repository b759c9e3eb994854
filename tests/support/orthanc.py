"""Debian's Orthanc with its DICOMweb plugin, on a free loopback port, for archive tests.

:func:`orthanc_server` starts one for the caller and stops it (by its process group) when the
block ends; the ``orthanc`` fixture holds one per test module. Without the binary or the
plugin the fixture skips with the reason, unless ``TOOTHLINE_REQUIRE_ORTHANC=1`` or CI is set
(``.ci/run``), where it fails: CI installs ``orthanc`` and ``orthanc-dicomweb``
(``scripts/test``). The benchmarks' server (``tests/bench/servers.py``) is the same Orthanc
without the plugin.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import pytest

from tests.support.live import free_port
from tests.support.processes import background_process

DICOMWEB_PLUGIN: Final = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
DICOMWEB_ROOT: Final = "/dicom-web/"
START_TIMEOUT_S: Final = 60.0


@dataclass(frozen=True)
class Orthanc:
    url: str
    """The HTTP root, ``http://127.0.0.1:PORT``."""
    storage: Path

    @property
    def dicomweb_url(self) -> str:
        """The DICOMweb root an archive setting names (``…/dicom-web``)."""
        return self.url + DICOMWEB_ROOT.rstrip("/")


def orthanc_binary() -> Path | None:
    found = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
    return Path(found) if Path(found).exists() else None


def missing() -> str | None:
    """Why Orthanc with DICOMweb cannot run here (None: it can)."""
    if orthanc_binary() is None:
        return "Orthanc is not installed: apt-get install orthanc orthanc-dicomweb"
    if not DICOMWEB_PLUGIN.exists():
        return f"{DICOMWEB_PLUGIN} is missing: apt-get install orthanc-dicomweb"
    return None


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Orthanc exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"Orthanc did not answer within {START_TIMEOUT_S:.0f} s")


@contextmanager
def orthanc_server(workdir: Path, *, dicomweb: bool = True, name: str = "toothline-test",
                   http_threads: int = 10) -> Iterator[Orthanc]:
    """Orthanc with its own storage folder, HTTP on a free loopback port, no DICOM network
    listener, no authentication (loopback only), the DICOMweb plugin at ``/dicom-web/``."""
    binary = orthanc_binary()
    if binary is None:
        raise RuntimeError("Orthanc is not installed: apt-get install orthanc")
    port = free_port()
    storage = workdir / "orthanc-db"
    storage.mkdir(parents=True, exist_ok=True)
    config: dict[str, object] = {
        "Name": name,
        "StorageDirectory": str(storage),
        "IndexDirectory": str(storage),
        "HttpPort": port,
        "DicomServerEnabled": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpServerEnabled": True,
        "Plugins": [str(DICOMWEB_PLUGIN)] if dicomweb else [],
        "StorageCompression": False,
        "ConcurrentJobs": 2,
        "HttpThreadsCount": http_threads,
    }
    if dicomweb:
        config["DicomWeb"] = {"Enable": True, "Root": DICOMWEB_ROOT}
    config_path = workdir / "orthanc.json"
    config_path.write_text(json.dumps(config))
    log = workdir / "orthanc.log"
    with background_process([str(binary), str(config_path)], log) as proc:
        url = f"http://127.0.0.1:{port}"
        _wait(url + "/system", proc, log)
        yield Orthanc(url, storage)


def _must_fail_without_orthanc() -> bool:
    return os.environ.get("TOOTHLINE_REQUIRE_ORTHANC") == "1" or bool(os.environ.get("CI"))


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """One Orthanc with DICOMweb per test module (each test uses studies of its own)."""
    reason = missing()
    if reason:
        message = f"ORTHANC TESTS NOT RUN: {reason}"
        if _must_fail_without_orthanc():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with orthanc_server(tmp_path_factory.mktemp("orthanc")) as server:
        yield server
