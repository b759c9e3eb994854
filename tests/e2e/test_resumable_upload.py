"""Resumable uploads in the browser (issue 19): a 40 MB radiograph survives a cut connection
and a page reload, resuming from the stored offset, and the bytes stored are the file's.

The portal runs behind a loopback proxy (tests/support/tcp_proxy.py) that the test cuts and
restores; Chromium's upload is throttled so the cut lands mid-way. The radiograph (a 16-bit
PNG of noise, which does not compress) is made at run time.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect

from tests.bench.bench_upload_memory import make_radiograph
from tests.e2e.conftest import login
from tests.support.live import LiveServer, free_port, running_portal
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PATIENT = "patient@demo.test"
UPLOADS = re.compile(r"/api/v1/uploads(/|$)")


class Proxied:
    def __init__(self, server: LiveServer, proxy: TcpProxy, url: str) -> None:
        self.server, self.proxy, self.url = server, proxy, url


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    port = free_port()
    proxy = TcpProxy("127.0.0.1", port).start()
    url = f"http://127.0.0.1:{proxy.port}"
    try:
        with running_portal(tmp_path_factory.mktemp("toothline-tus"), port=port,
                            env={"TOOTHLINE_PUBLIC_URL": url}) as server:
            yield Proxied(server, proxy, url)
    finally:
        proxy.close()


@pytest.fixture(scope="module")
def radiograph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tus-file") / "radiograph.png"
    make_radiograph(path, 40.0)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _throttle(page: Page, bytes_per_s: int) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 5, "downloadThroughput": -1,
        "uploadThroughput": bytes_per_s})


def _open_case(page: Page, site: Proxied) -> str:
    """Signed in as the demo patient, consent accepted, a fresh draft: its page."""
    login(page, site.url, PATIENT, site.server.password)
    api = page.request
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    headers = {"x-csrftoken": token, "accept": "application/json"}
    form = api.get(f"{site.url}/api/v1/consent-forms/teledentistry").json()
    api.post(f"{site.url}/api/v1/consents", headers=headers,
             data={"form": "teledentistry", "version": form["version"]})  # 201, or 409 again
    case = api.post(f"{site.url}/api/v1/cases", headers=headers, data={"kind": "question"})
    assert case.status == 201, case.text()
    case_id = str(case.json()["id"])
    page.goto(f"{site.url}/patient/cases/{case_id}")
    return case_id


def _wait_progress(page: Page, percent: int, timeout_s: float = 30) -> None:
    bar = page.locator("#view-xray .upload-item progress")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = bar.get_attribute("value") if bar.count() else None
        if value and float(value) >= percent:
            return
        time.sleep(0.1)
    raise AssertionError(f"the upload did not reach {percent}%")


def _stored_sha256(site: Proxied, size: int) -> str:
    with sqlite3.connect(site.server.var_dir / "toothline.db") as db:
        rows = db.execute(
            "SELECT received_sha256 FROM attachment WHERE received_size = ? "
            "ORDER BY created_at DESC", (size,)).fetchall()
    assert rows, "no attachment of the file's size"
    return str(rows[0][0])


def _tus_log(page: Page) -> list[tuple[str, str | None]]:
    """(method, Upload-Offset header) of every tus request the page makes."""
    seen: list[tuple[str, str | None]] = []

    def record(request: Request) -> None:
        if UPLOADS.search(request.url):
            seen.append((request.method, request.headers.get("upload-offset")))

    page.on("request", record)
    return seen


def test_a_cut_connection_resumes_from_the_stored_offset(
    proxied: Proxied, phone_page: Page, radiograph: Path
):
    page = phone_page
    _open_case(page, proxied)
    seen = _tus_log(page)
    _throttle(page, 6_000_000)  # ~7 s for 40 MB: the cut lands mid-way

    page.set_input_files("#photo-xray", str(radiograph))
    _wait_progress(page, 30)
    proxied.proxy.cut()
    time.sleep(1.5)
    proxied.proxy.restore()
    _throttle(page, 60_000_000)

    item = page.locator("#view-xray .upload-item")
    expect(item).to_have_class(re.compile(r"\bis-done\b"), timeout=60_000)
    assert _stored_sha256(proxied, radiograph.stat().st_size) == _sha256(radiograph)
    resumed = [int(offset) for method, offset in seen if method == "PATCH" and offset]
    assert [m for m, _ in seen].count("POST") == 1  # one upload, resumed, not started again
    assert any(offset > 0 for offset in resumed), seen
    assert any(m == "HEAD" for m, _ in seen), "after the cut the client asked the offset"


def test_a_reload_mid_way_resumes_the_same_upload(
    proxied: Proxied, phone_page: Page, radiograph: Path
):
    page = phone_page
    case_id = _open_case(page, proxied)
    _throttle(page, 6_000_000)
    page.set_input_files("#photo-xray", str(radiograph))
    _wait_progress(page, 30)

    page.reload()  # the PATCH in flight is cut; the server keeps what arrived
    expect(page).to_have_url(re.compile(rf"/patient/cases/{case_id}$"))
    seen = _tus_log(page)
    page.set_input_files("#photo-xray", str(radiograph))  # the same file, chosen again

    item = page.locator("#view-xray .upload-item")
    expect(item).to_have_class(re.compile(r"\bis-done\b"), timeout=60_000)
    assert [m for m, _ in seen].count("POST") == 0, seen  # found by its fingerprint
    first_patch = next(int(o or 0) for m, o in seen if m == "PATCH")
    assert first_patch > 0, seen
    assert _stored_sha256(proxied, radiograph.stat().st_size) == _sha256(radiograph)
