"""The records desk in a real browser: the front desk logs a request from the demo patient,
verifies identity (the document seen and the last four characters of its number), waives the
fee, prepares and releases the copy (choosing the delivery method); the patient downloads it
from their page."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from storage.blobs import open_blob_store
from storage.database import create_engine, create_session_maker
from tests.e2e.conftest import BrowserLog, LiveServer, login, shot
from tests.integration.records.seeding import demo_patient, signed_case
from tests.support.pdfs import real_pdf

pytestmark = pytest.mark.e2e


def _seed(server: LiveServer) -> str:
    async def run() -> str:
        engine = create_engine(f"sqlite:///{server.var_dir}/toothline.db")
        blobs = open_blob_store(f"file://{server.var_dir}/blobs")
        try:
            async with create_session_maker(engine)() as db:
                patient = await demo_patient(db)
                await signed_case(db, blobs, patient, collected_on=dt.date(2026, 11, 3))
                return str(patient.id)
        finally:
            await blobs.aclose()
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def test_front_desk_releases_and_patient_downloads(
    live_server: LiveServer, tablet_page: Page, browser: Browser, browser_log: BrowserLog,
    tmp_path: Path,
):
    patient_id = _seed(live_server)
    page = tablet_page
    login(page, live_server.url, "billing@demo.test", live_server.password)
    page.goto(f"{live_server.url}/records")
    expect(page.get_by_role("heading", name="Records desk")).to_be_visible()
    page.get_by_role("link", name="Log a request").click()
    page.locator("#f-patient_id").select_option(patient_id)
    page.locator("#f-requester").select_option("patient")
    page.locator("#f-deliver_to").fill("portal")
    with page.expect_navigation():
        page.get_by_role("button", name="Log the request").click()
    expect(page.locator("#request-status")).to_have_text("Received")
    page.locator("#f-identity_method").select_option("in_person_photo_id")
    page.get_by_label("Document seen").select_option(label="Driver's license")
    page.get_by_label("Last four characters of its number").fill("4821")
    page.locator("#f-authority").fill("self")
    with page.expect_navigation():
        page.get_by_role("button", name="Record the check").click()
    expect(page.locator("#request-status")).to_have_text("Identity verified")
    expect(page.locator("#identity-check")).to_contain_text("Driver's license ending in 4821")
    expect(page.locator("#identity-check")).to_contain_text("checked by")
    # keep the signed paper as a person does: the file form of the page (CSRF in the header)
    paper = tmp_path / "authorization.pdf"
    paper.write_bytes(real_pdf())
    page.locator("#f-kind").select_option("authorization")
    page.locator("#f-file").set_input_files(str(paper))
    page.get_by_role("button", name="Keep the paper").click()
    expect(page.get_by_text("Document kept with the request.")).to_be_visible()
    expect(page.locator("body")).to_contain_text("application/pdf")
    for action, status in (("quote", "Fee quoted"), ("waive", "Fee waived"),
                           ("prepare", "Prepared")):
        with page.expect_navigation():
            page.locator(f'button[data-action="{action}"]').click()
        expect(page.locator("#request-status")).to_have_text(status)
    shot(page, "records-prepared")
    page.get_by_label("Delivery method").select_option(label="Patient portal download")
    with page.expect_navigation():
        page.locator('button[data-action="deliver"]').click()
    expect(page.locator("#request-status")).to_have_text("Delivered")
    expect(page.locator("#delivery-method")).to_have_text("Patient portal download")
    expect(page.locator("#download-url")).to_be_visible()
    expect(page.locator("#records-history")).to_contain_text("waived")
    shot(page, "records-delivered")

    patient_context = browser.new_context(accept_downloads=True)
    patient_page = patient_context.new_page()
    browser_log.attach(patient_page)
    try:
        login(patient_page, live_server.url, "patient@demo.test", live_server.password)
        patient_page.goto(f"{live_server.url}/patient/records")
        requests = patient_page.locator("#patient-requests")
        expect(requests).to_contain_text("Delivered")
        shot(patient_page, "records-patient")
        with patient_page.expect_download() as info:
            requests.get_by_role("link", name="Download my records").click()
        target = tmp_path / "records.zip"
        info.value.save_as(target)
        with zipfile.ZipFile(io.BytesIO(target.read_bytes())) as archive:
            index = json.loads(archive.read("index.json"))
            for entry in index["files"]:
                assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"]
            assert any(n.endswith("D9996-record.pdf") for n in archive.namelist())
        browser_log.check_accessibility()  # both pages, at the other size too
    finally:
        patient_context.close()
    browser_log.assert_clean()
