"""pytest plugin: an S3-protocol server (moto) for the whole test session.

Loaded from the root ``tests/conftest.py`` (``pytest_plugins``). The server starts only when
a test asks for the ``s3_server`` fixture, and is stopped (its whole process group) at the
end of the session. If it cannot start, the requesting tests fail: they are never skipped
silently.

moto accepts any credentials and keeps objects in memory: use small objects, a fresh bucket
per test or module, and delete what you store.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_S = 30.0
ATTEMPTS = 3


@dataclass(frozen=True)
class S3Server:
    host: str
    port: int
    access_key: str = "test"
    secret_key: str = "test"
    region: str = "us-east-1"

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, bucket: str) -> str:
        """Blob store URL (``storage.blobs.open_blob_store``) for ``bucket`` on this server."""
        return (
            f"s3://{self.access_key}:{self.secret_key}@{self.endpoint}/{bucket}"
            f"?secure=0&region={self.region}"
        )

    @staticmethod
    def new_bucket_name(prefix: str = "test") -> str:
        """A bucket name no other test uses."""
        return f"{prefix}-{uuid.uuid4().hex[:16]}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    # http.client, not urllib: no proxy from the environment may get in the way.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status < 500
    except OSError:
        return False
    finally:
        conn.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # its own group: see start_new_session
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _start(executable: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start moto_server on a free port; retried because the port may be taken meanwhile."""
    failures: list[str] = []
    for _ in range(ATTEMPTS):
        port = free_port()
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [str(executable), "-H", "127.0.0.1", "-p", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, killed as a whole
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(port):
                return proc, port
            time.sleep(0.1)
        failures.append(f"port {port}: exit code {proc.poll()}")
        _stop(proc)
    log_tail = log_path.read_text(errors="replace")[-3000:]
    pytest.fail(
        f"moto_server did not start ({'; '.join(failures)}). Log {log_path}:\n{log_tail}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    executable = Path(sys.executable).parent / "moto_server"
    if not executable.exists():
        pytest.fail(
            f"{executable} is missing: install the dev extras (moto[server])", pytrace=False
        )
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    proc, port = _start(executable, log_path)
    try:
        yield S3Server(host="127.0.0.1", port=port)
    finally:
        _stop(proc)
