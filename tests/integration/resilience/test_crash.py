"""A portal process killed (SIGKILL) in the middle of a large upload: no row points at a
missing blob, the sweep removes what the crash left, and the portal starts again on the same
var dir. A real process on the embedded default (SQLite file + blob folder)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from tests.bench.synth import make_big_radiograph_png
from tests.integration.resilience.api import (
    api_token,
    child_pid,
    direct_client,
    open_draft_case,
    upload_photo,
)
from tests.support.live import REPO_ROOT, LiveServer, running_portal

pytestmark = [pytest.mark.slow]

BIG_BYTES = 20 * 1024 * 1024
DEADLINE_S = 60.0
HOUR = 3600


@dataclass(frozen=True)
class Leftovers:
    rows: dict[str, set[str]]
    """attachment id -> the blob keys it points at"""
    blobs: set[str]
    """keys (relative paths) of complete blob files under blobs/attachments"""
    blob_temps: list[Path]
    """the file store's ``~put-…`` temporaries"""
    upload_dirs: list[Path]
    """upload work folders under the var dir's tmp"""


def _leftovers(var_dir: Path) -> Leftovers:
    with sqlite3.connect(var_dir / "toothline.db") as db:
        rows = {
            str(row[0]): {k for k in row[1:] if k}
            for row in db.execute(
                "SELECT id, original_key, display_key, thumbnail_key FROM attachment")
        }
    root = var_dir / "blobs"
    files = [p for p in (root / "attachments").rglob("*") if p.is_file()] if root.exists() else []
    return Leftovers(
        rows=rows,
        blobs={str(p.relative_to(root)) for p in files if not p.name.startswith("~")},
        blob_temps=[p for p in files if p.name.startswith("~")],
        upload_dirs=sorted((var_dir / "tmp").glob("upload-*")),
    )


def _multipart(path: Path, boundary: str) -> tuple[bytes, bytes]:
    """The body around the file's bytes: (head, tail)."""
    head = b"".join(
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        .encode() for name, value in (("kind", "radiograph"), ("view", "other"))
    ) + (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
         f"filename=\"{path.name}\"\r\nContent-Type: image/png\r\n\r\n").encode()
    return head, f"\r\n--{boundary}--\r\n".encode()


def _wait_for(condition: Callable[[], bool], what: str, *, poll_s: float = 0.002) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(poll_s)


def _start_upload(server: LiveServer, token: str, case_id: uuid.UUID, big: Path,
                  fraction: float) -> socket.socket:
    """Send the request head and ``fraction`` of the body; the connection stays open."""
    boundary = uuid.uuid4().hex
    head, tail = _multipart(big, boundary)
    data = big.read_bytes()
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        f"POST /api/v1/cases/{case_id}/attachments HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/json\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(head) + len(data) + len(tail)}\r\n\r\n".encode() + head
    )
    if fraction >= 1:
        sock.sendall(data + tail)
    else:
        sock.sendall(data[: int(len(data) * fraction)])
    return sock


def _kill(server: LiveServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    os.kill(child_pid(port), signal.SIGKILL)


def _sweep(var_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOTHLINE_")}
    env.update(
        TOOTHLINE_VAR_DIR=str(var_dir),
        TOOTHLINE_DATABASE_URL=f"sqlite:///{var_dir}/toothline.db",
        TOOTHLINE_BLOB_URL=f"file://{var_dir}/blobs",
    )
    return subprocess.run(
        [sys.executable, "-m", "portal.cli", "blobs", "sweep", "--min-age-minutes", "1"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def _new_blob_write(
    blob_writes: Callable[[bool], set[Path]], complete: bool, earlier: set[Path]
) -> bool:
    return bool(blob_writes(complete) - earlier)


def _backdate(paths: list[Path], seconds: int) -> None:
    old = time.time() - seconds
    for path in paths:
        for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
            os.utime(item, (old, old))


@pytest.fixture(scope="module")
def big_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_big_radiograph_png(tmp_path_factory.mktemp("big") / "radiograph.png", BIG_BYTES)


def test_a_portal_killed_mid_upload_leaves_nothing_the_sweep_does_not_clean(
    tmp_path: Path, big_png: Path
) -> None:
    var_dir = tmp_path / "var"
    findings: list[str] = []

    # 1. Killed while the body is still arriving.
    with running_portal(var_dir) as server:
        token = api_token(server.url, "patient@demo.test", server.password)
        with direct_client(server.url, token) as client:
            case_id = open_draft_case(client)
        sock = _start_upload(server, token, case_id, big_png, fraction=0.5)
        try:
            _wait_for(lambda: any(p.is_file() and p.stat().st_size > 0
                                  for p in (var_dir / "tmp").glob("upload-*/*")),
                      "the upload's temporary file")
            _kill(server)
        finally:
            sock.close()
    streaming = _leftovers(var_dir)
    findings.append(f"killed while streaming: {len(streaming.upload_dirs)} upload dir(s), "
                    f"{len(streaming.blobs)} blob(s), {len(streaming.rows)} row(s)")
    assert streaming.rows == {} and streaming.blobs == set()

    # 2. Killed while the whole body is in and the portal stores it: once at the first
    #    blob write (a half-written file), once at the first complete blob (before the row).
    def blob_writes(complete: bool) -> set[Path]:
        root = var_dir / "blobs" / "attachments"
        if not root.exists():
            return set()
        return {p for p in root.rglob("*")
                if p.is_file() and (not complete or not p.name.startswith("~"))}

    for moment, complete in (("mid blob write", False), ("after a blob write", True)):
        with running_portal(var_dir) as server:
            with direct_client(server.url) as client:
                assert client.get("/readyz").status_code == 200
            earlier = blob_writes(complete)
            sock = _start_upload(server, token, case_id, big_png, fraction=1.0)
            try:
                _wait_for(partial(_new_blob_write, blob_writes, complete, earlier),
                          f"the upload to reach: {moment}")
                _kill(server)
            finally:
                sock.close()
        state = _leftovers(var_dir)
        findings.append(f"killed {moment}: {len(state.upload_dirs)} upload dir(s), "
                        f"{len(state.blobs)} blob(s), {len(state.blob_temps)} blob temp(s), "
                        f"{len(state.rows)} row(s)")
    after = _leftovers(var_dir)
    # No row ever points at a missing blob.
    for keys in after.rows.values():
        assert keys <= after.blobs, "a row points at a missing blob"
    referenced = set().union(*after.rows.values()) if after.rows else set()
    orphans = after.blobs - referenced

    # 3. The sweep (blobs older than a minute; here backdated by two hours) cleans it all.
    _backdate([var_dir / "blobs", var_dir / "tmp"], 2 * HOUR)
    swept = _sweep(var_dir)
    assert swept.returncode == 0, swept.stderr
    findings.append(f"sweep: {swept.stdout.strip()}")
    cleaned = _leftovers(var_dir)
    assert cleaned.rows == after.rows
    assert cleaned.blobs == after.blobs - orphans == referenced
    assert cleaned.blob_temps == [], cleaned.blob_temps
    assert cleaned.upload_dirs == [], cleaned.upload_dirs

    # 4. The portal starts again on the same var dir, ready, and takes the upload.
    with running_portal(var_dir) as server, direct_client(server.url, token) as client:
        assert client.get("/readyz").status_code == 200
        assert upload_photo(client, case_id).status_code == 201
    print("\n".join(findings))
