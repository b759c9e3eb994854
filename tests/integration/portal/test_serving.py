"""``toothline run --workers N``: every worker listens on its own socket, keep-alive connections
opened together spread over the workers, a dead worker is replaced, SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from portal.serving import listening_socket, supports_reuse_port
from tests.support.live import REPO_ROOT, LiveServer, free_port, running_portal

pytestmark = pytest.mark.skipif(
    not supports_reuse_port() or not Path("/proc/net/tcp").exists(),
    reason="SO_REUSEPORT and /proc are Linux features",
)

LISTEN = "0A"
ESTABLISHED = "01"


def _port(server: LiveServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _socket_inodes(port: int, state: str) -> set[str]:
    """Inodes of the IPv4 TCP sockets on local ``port`` in ``state``."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == state:
            inodes.add(fields[9])
    return inodes


def _owners(inodes: set[str], pids: list[int]) -> dict[int, int]:
    """How many of ``inodes`` each of ``pids`` holds open."""
    held: dict[int, int] = {}
    for pid in pids:
        try:
            links = [os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        held[pid] = sum(1 for link in links if link.removeprefix("socket:[")[:-1] in inodes)
    return held


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _workers(server: LiveServer) -> list[int]:
    """The supervisor's children that listen on the portal's port."""
    listening = _socket_inodes(_port(server), LISTEN)
    return [pid for pid, n in _owners(listening, _children(server.pid)).items() if n == 1]


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[LiveServer]:
    with running_portal(tmp_path / "var", workers=2) as server:
        _wait_for(lambda: len(_workers(server)) == 2)
        yield server


def test_each_worker_listens_on_its_own_socket(two_workers: LiveServer) -> None:
    assert len(_socket_inodes(_port(two_workers), LISTEN)) == 2
    assert len(_workers(two_workers)) == 2


def test_connections_opened_together_reach_both_workers(two_workers: LiveServer) -> None:
    """Sixteen connections opened at once (as by phones uploading together, or a proxy's
    pool) and kept open are served by both workers."""
    port = _port(two_workers)
    connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
    try:
        for connection in connections:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: portal\r\n\r\n")
        for connection in connections:
            assert connection.recv(64).startswith(b"HTTP/1.1 200")
        held = _owners(_socket_inodes(port, ESTABLISHED), _workers(two_workers))
        assert sum(held.values()) == 16
        assert all(count > 0 for count in held.values()), held  # 2 x 2**-16 to fail by chance
    finally:
        for connection in connections:
            connection.close()


def test_a_dead_worker_is_replaced(two_workers: LiveServer) -> None:
    victim, survivor = _workers(two_workers)
    os.kill(victim, signal.SIGKILL)
    _wait_for(lambda: victim not in _workers(two_workers) and len(_workers(two_workers)) == 2)
    assert survivor in _workers(two_workers)
    for _ in range(8):
        with httpx.Client(base_url=two_workers.url, timeout=10) as client:
            assert client.get("/healthz").status_code == 200


def test_sigterm_stops_every_worker(tmp_path: Path) -> None:
    with running_portal(tmp_path / "var", workers=2) as server:
        _wait_for(lambda: len(_workers(server)) == 2)
        workers = _workers(server)
        os.kill(server.pid, signal.SIGTERM)
        _wait_for(
            lambda: (
                not Path(f"/proc/{server.pid}").exists()
                or Path(f"/proc/{server.pid}/stat").read_text().split()[2] == "Z"
            ),
            40,
        )
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists() or (
                Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
            )


def test_a_port_taken_by_another_program_stops_the_command(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as other:  # no SO_REUSEPORT: the workers cannot share it
        other.bind(("127.0.0.1", port))
        other.listen()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOOTHLINE_")}
        env.update(
            TOOTHLINE_VAR_DIR=str(tmp_path / "var"),
            TOOTHLINE_DATABASE_URL=f"sqlite:///{tmp_path}/var/toothline.db",
            TOOTHLINE_BLOB_URL=f"file://{tmp_path}/var/blobs",
        )
        result = subprocess.run(
            [sys.executable, "-m", "portal.cli", "run", "--port", str(port), "--workers", "2"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 3, result.stderr
    assert "cannot listen" in result.stderr


def test_listening_sockets_of_one_user_share_a_port() -> None:
    port = free_port()
    first = listening_socket("127.0.0.1", port)
    second = listening_socket("127.0.0.1", port)
    try:
        first.listen()
        second.listen()
        assert first.getsockname() == second.getsockname()
    finally:
        first.close()
        second.close()
