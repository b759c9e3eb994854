"""Peak memory growth of the portal while it takes a 40 MB 16-bit PNG radiograph.

Not a test (prints figures, asserts nothing). It starts the portal as ``toothline run`` would
(its own SQLite file and blob folder in a temporary directory), signs in as the demo patient,
accepts the consent, opens a case and streams the file to ``POST /api/v1/cases/{id}/
attachments`` from disk — the client never holds the file in memory either. The server's
peak resident memory (``VmHWM``) is reset after a warm-up upload (``/proc/PID/clear_refs``),
so the figure is the growth from request to stored derivatives.

The same file then goes again as a resumable upload (tus 1.0, ``/api/v1/uploads``: creation
and 8 MiB PATCHes, as the widget's tus-js-client sends it), measured the same way.

    .venv/bin/python -m tests.bench.bench_upload_memory [--megabytes 40] [--chunk-mib 8]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from tests.support.fixtures import GOOD

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "bench-password-123"
WARMUP = GOOD / "xray_bitewing_16bit.png"


def make_radiograph(path: Path, megabytes: float) -> None:
    """A 16-bit grayscale PNG of about ``megabytes`` MB (noise does not compress)."""
    side = int((megabytes * 1_000_000 * 1.06 / 2) ** 0.5)  # zlib saves ~5% on this noise
    rng = np.random.default_rng(9996)
    ramp = np.linspace(8_000, 50_000, side, dtype=np.float32)[None, :]
    pixels = (ramp + rng.integers(0, 12_000, (side, side), dtype=np.int32)).astype(np.uint16)
    Image.fromarray(pixels).save(path, compress_level=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_kib(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    assert match, field
    return int(match.group(1))


class Session:
    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | Iterable[bytes] | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        all_headers = {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
                       "x-csrftoken": self.cookies.get("csrftoken", ""), **(headers or {})}
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        data = response.read()
        conn.close()
        return response.status, data

    def json(self, method: str, path: str, payload: object) -> dict[str, object]:
        status, data = self.request(method, path, json.dumps(payload),
                                    {"content-type": "application/json"})
        assert status in (200, 201), (status, data[:300])
        answer: dict[str, object] = json.loads(data)
        return answer

    def upload(self, case_id: str, path: Path) -> tuple[int, bytes]:
        boundary = uuid.uuid4().hex
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n'
                f"radiograph\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f'filename="xray.png"\r\nContent-Type: image/png\r\n\r\n').encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        size = len(head) + path.stat().st_size + len(tail)

        def body() -> Iterator[bytes]:  # streamed from disk, 256 KiB at a time
            yield head
            with path.open("rb") as f:
                while chunk := f.read(256 * 1024):
                    yield chunk
            yield tail

        return self.request(
            "POST", f"/api/v1/cases/{case_id}/attachments", body(),
            {"content-type": f"multipart/form-data; boundary={boundary}",
             "content-length": str(size), "accept": "application/json"},
        )


    def tus_upload(self, case_id: str, path: Path, chunk: int) -> tuple[int, bytes]:
        """Creation, then PATCHes of ``chunk`` bytes, each streamed from disk."""
        size = path.stat().st_size
        meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in
                        {"case_id": case_id, "kind": "radiograph"}.items())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        status, data, location = self._tus(conn, "POST", "/api/v1/uploads", None, {
            "upload-length": str(size), "upload-metadata": meta})
        assert status == 201, (status, data[:300])
        offset = 0
        with path.open("rb") as f:
            while offset < size:
                length = min(chunk, size - offset)

                def body(left: int = length) -> Iterator[bytes]:
                    while left:
                        piece = f.read(min(256 * 1024, left))
                        left -= len(piece)
                        yield piece

                status, data, _ = self._tus(conn, "PATCH", location, body(), {
                    "upload-offset": str(offset), "content-length": str(length),
                    "content-type": "application/offset+octet-stream"})
                if status != 204:
                    break
                offset += length
        conn.close()
        return status, data

    def _tus(self, conn: http.client.HTTPConnection, method: str, path: str,
             body: Iterable[bytes] | None, headers: dict[str, str]) -> tuple[int, bytes, str]:
        conn.request(method, path, body=body, headers={
            "cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "x-csrftoken": self.cookies.get("csrftoken", ""), "tus-resumable": "1.0.0",
            "accept": "application/json", **headers})
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("location") or ""


def measure(server: subprocess.Popen[bytes], label: str, send: Callable[[], tuple[int, bytes]],
            ) -> None:
    baseline = proc_kib(server.pid, "VmRSS")
    Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # reset VmHWM to VmRSS
    started = time.perf_counter()
    status, data = send()
    elapsed = time.perf_counter() - started
    peak = proc_kib(server.pid, "VmHWM")
    code = json.loads(data).get("code", "") if status >= 400 and data else ""
    print(f"{label}:")
    print(f"  answer:   HTTP {status} in {elapsed:.2f} s {code}".rstrip())
    print(f"  server:   RSS before {baseline / 1024:.1f} MiB, peak during {peak / 1024:.1f} MiB")
    print(f"  growth:   {(peak - baseline) / 1024:.1f} MiB peak resident growth "
          "(request to stored derivatives; the issue's bound is 64 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=40.0)
    parser.add_argument("--chunk-mib", type=float, default=8.0,
                        help="PATCH size of the resumable upload (tus-js-client in the widget: 8)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="toothline-bench-") as tmp:
        var = Path(tmp)
        radiograph = var / "radiograph.png"
        make_radiograph(radiograph, args.megabytes)
        port = free_port()
        env = {**os.environ, "TOOTHLINE_VAR_DIR": str(var / "var"),
               "TOOTHLINE_DATABASE_URL": f"sqlite:///{var / 'bench.db'}",
               "TOOTHLINE_BLOB_URL": f"file://{var / 'blobs'}",
               "TOOTHLINE_DEMO_PASSWORD": PASSWORD}
        env.pop("TOOTHLINE_SECRET_KEY", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "portal.cli", "run", "--port", str(port)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            session = Session(port)
            deadline = time.monotonic() + 60
            while True:
                try:
                    if session.request("GET", "/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the portal did not start")
                time.sleep(0.2)
            session.request("GET", "/login")
            status, _ = session.request(
                "POST", "/login", f"email=patient%40demo.test&password={PASSWORD}",
                {"content-type": "application/x-www-form-urlencoded"},
            )
            assert status == 303, status
            form = json.loads(session.request("GET", "/api/v1/consent-forms/teledentistry")[1])
            session.json("POST", "/api/v1/consents",
                          {"form": "teledentistry", "version": form["version"]})
            case_id = str(session.json("POST", "/api/v1/cases", {"kind": "question"})["id"])

            status, _ = session.upload(case_id, WARMUP)  # imports, caches, first allocations
            assert status == 201, status
            with Image.open(radiograph) as im:
                size, mode = im.size, im.mode
            print(f"file:     {radiograph.stat().st_size / 1e6:.1f} MB, {size[0]}x{size[1]}, "
                  f"mode {mode}")
            measure(server, "multipart POST /api/v1/cases/{id}/attachments",
                    lambda: session.upload(case_id, radiograph))
            chunk = int(args.chunk_mib * 1024 * 1024)
            measure(server, f"resumable (tus) /api/v1/uploads, {args.chunk_mib:g} MiB PATCHes",
                    lambda: session.tus_upload(case_id, radiograph, chunk))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
