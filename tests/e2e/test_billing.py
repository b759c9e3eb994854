"""Billing in a real browser: the front desk signs in, opens the worklist, opens the case the
dentist signed and downloads its claim attachment (rows seeded into the live server's SQLite
file and blob folder)."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from storage.blobs import open_blob_store
from storage.database import create_engine, create_session_maker
from tests.e2e.conftest import BrowserLog, LiveServer, login, shot
from tests.integration.billing.conftest import seed_post_op

pytestmark = pytest.mark.e2e


def _seed(server: LiveServer) -> uuid.UUID:
    async def run() -> uuid.UUID:
        engine = create_engine(f"sqlite:///{server.var_dir}/toothline.db")
        blobs = open_blob_store(f"file://{server.var_dir}/blobs")
        try:
            async with create_session_maker(engine)() as db:
                seeded = await seed_post_op(db, blobs)
            return seeded.case_id
        finally:
            await blobs.aclose()
            await engine.dispose()

    # Playwright's sync API runs an event loop in this thread: seed from another one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def test_billing_downloads_the_claim_attachment(
    live_server: LiveServer, tablet_page: Page, browser_log: BrowserLog
):
    case_id = _seed(live_server)
    page = tablet_page
    login(page, live_server.url, "billing@demo.test", live_server.password)
    page.goto(f"{live_server.url}/billing")
    expect(page.get_by_role("heading", name="Billing worklist")).to_be_visible()
    row = page.locator(f'tr[data-encounter="{case_id}"]')
    expect(row).to_contain_text("Pat Demo")
    expect(row).to_contain_text("D9996")
    shot(page, "billing-worklist")
    with page.expect_navigation():
        row.get_by_role("link").click()
    expect(page.locator("#encounter")).to_contain_text("Asynchronous review (store and forward)")
    expect(page.locator("#claim-lines")).to_be_visible()
    with page.expect_download() as info:
        page.locator("#download-attachment").click()
    download = info.value
    assert download.suggested_filename.startswith("claim-attachment-TL")
    data = Path(download.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist()[0] == "D9996-record.pdf"
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["encounter"] == {"type": "asynchronous", "id": str(case_id),
                                     "teledentistry_code": "D9996"}
    page.reload()
    expect(page.locator("#documents")).to_contain_text(manifest["attachment_control_number"])
    shot(page, "billing-encounter")
    browser_log.assert_clean()
