"""Start a real portal process (``python -m portal.cli run``) for browser tests,
multi-process tests and benchmarks, and stop it afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "demo-password-123"
START_TIMEOUT_S = 60.0


class PortalDidNotStart(RuntimeError):
    pass


@dataclass(frozen=True)
class LiveServer:
    url: str
    password: str
    var_dir: Path
    stderr_path: Path
    pid: int
    """The ``portal.cli run`` process (with several workers: their supervisor)."""

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# No proxy for 127.0.0.1, whatever the environment says.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(url: str) -> bool:
    try:
        with _direct.open(f"{url}/healthz", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def running_portal(
    var_dir: Path,
    *,
    env: dict[str, str] | None = None,
    workers: int = 1,
    port: int | None = None,
) -> Iterator[LiveServer]:
    """A portal on loopback. Defaults: SQLite + file blobs under ``var_dir``; ``env``
    (``TOOTHLINE_*`` names) overrides. Nothing from the outer environment's ``TOOTHLINE_*``
    leaks in, so a test can never point the server at another database."""
    var_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("TOOTHLINE_")}
    child_env.update(
        TOOTHLINE_VAR_DIR=str(var_dir),
        TOOTHLINE_DATABASE_URL=f"sqlite:///{var_dir}/toothline.db",
        TOOTHLINE_BLOB_URL=f"file://{var_dir}/blobs",
        TOOTHLINE_DEMO_PASSWORD=DEMO_PASSWORD,
        # Browsers send Origin on every POST; it must be the public URL's (CSRF Origin check).
        TOOTHLINE_PUBLIC_URL=url,
        PYTHONUNBUFFERED="1",
    )
    child_env.update(env or {})
    stdout_path = var_dir / f"server-{port}.stdout.log"
    stderr_path = var_dir / f"server-{port}.stderr.log"
    command = [sys.executable, "-m", "portal.cli", "run", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers)]
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=child_env, stdout=stdout, stderr=stderr
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(url):
            problem = None
            if process.poll() is not None:
                problem = f"exited with status {process.returncode} before answering"
            elif time.monotonic() > deadline:
                problem = f"did not answer GET /healthz within {START_TIMEOUT_S:.0f} s"
            if problem:
                _stop(process)
                raise PortalDidNotStart(
                    f"{' '.join(command)} {problem}.\n--- stderr ---\n"
                    f"{stderr_path.read_text(errors='replace') or '(empty)'}\n--- stdout ---\n"
                    f"{stdout_path.read_text(errors='replace') or '(empty)'}"
                )
            time.sleep(0.2)
        yield LiveServer(
            url=url, password=DEMO_PASSWORD, var_dir=var_dir, stderr_path=stderr_path,
            pid=process.pid,
        )
    finally:
        _stop(process)
