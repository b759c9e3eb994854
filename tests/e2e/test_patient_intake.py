"""The patient's journey on a phone: sign in, accept the consent, answer the questionnaire,
add three photos (one HEIC) and watch each upload, send, and see "waiting for the dentist"."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from storage.database import create_engine, create_session_maker
from storage.models import Consent, User, patient_login
from tests.e2e.conftest import BrowserLog, LiveServer, login, no_horizontal_scroll, shot
from tests.support.fixtures import GOOD

pytestmark = pytest.mark.e2e

PATIENT = "patient@demo.test"


def _withdraw_consents(server: LiveServer) -> None:
    """Whatever other journeys did first, the patient starts without a consent in force, so
    the consent step always runs."""

    async def run() -> None:
        engine = create_engine(f"sqlite:///{server.var_dir}/toothline.db")
        try:
            async with create_session_maker(engine)() as db:
                patients = select(patient_login.c.patient_id).join(
                    User, User.id == patient_login.c.user_id).where(User.email == PATIENT)
                await db.execute(update(Consent).where(
                    Consent.patient_id.in_(patients), Consent.revoked_at.is_(None)
                ).values(revoked_at=datetime.now(UTC)))
                await db.commit()
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, run()).result()


def _slow_uploads(page: Page) -> None:
    """Throttle the upload so the progress bar is seen (a phone on poor signal)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 40, "downloadThroughput": 4_000_000,
         "uploadThroughput": 1_000_000},
    )


def test_patient_sends_three_photos_and_sees_the_waiting_status(
    live_server: LiveServer, phone_page: Page, browser_log: BrowserLog
):
    page = phone_page
    _withdraw_consents(live_server)
    login(page, live_server.url, PATIENT, live_server.password)
    page.goto(f"{live_server.url}/patient")
    page.get_by_role("link", name="Send photos to the dentist").click()

    expect(page).to_have_url(re.compile(r"/patient/consent"))
    expect(page.get_by_role("heading", name="Consent to teledentistry")).to_be_visible()
    page.get_by_label(re.compile("I agree to a dentist reviewing")).check()
    with page.expect_navigation():
        page.get_by_role("button", name="I agree").click()
    expect(page).to_have_url(re.compile(r"/patient/cases/new$"))
    no_horizontal_scroll(page)

    page.get_by_label("A check after a procedure").check()
    page.get_by_label(re.compile("How much does it hurt")).select_option("3")
    page.get_by_label("Where is it?").fill("lower left, back tooth")
    expect(page.locator("#emergency-alert [role=alert]")).to_have_count(0)
    shot(page, "phone-intake-questionnaire")
    with page.expect_navigation():
        page.get_by_role("button", name="Next: add photos").click()
    expect(page).to_have_url(re.compile(r"/patient/cases/[0-9a-f-]{36}$"))
    expect(page.locator("#status-text")).to_have_text("Not sent yet")

    _slow_uploads(page)
    page.set_input_files("#photo-anterior", str(GOOD / "phone_postop_upright.jpg"))
    first = page.locator("#view-anterior .upload-item")
    expect(first.locator("progress")).to_be_visible()  # the bar shows while it uploads
    page.set_input_files("#photo-other", str(GOOD / "phone_postop.heic"))
    page.set_input_files("#photo-left", str(GOOD / "phone_postop_rotated_gps.jpg"))

    items = page.locator(".upload-item")
    expect(items).to_have_count(3)
    for index in range(3):
        expect(items.nth(index)).to_have_class(re.compile(r"\bis-done\b"), timeout=30_000)
        expect(items.nth(index).locator(".upload-status")).to_contain_text("Uploaded")
    # the browser cannot draw a HEIC: the server's thumbnail replaces the placeholder
    heic = page.locator("#view-other .upload-item img.upload-thumb")
    # shown from the one fetch of the thumbnail (a blob: URL of its 200 answer)
    expect(heic).to_have_attribute("src", re.compile(r"^blob:"), timeout=30_000)
    no_horizontal_scroll(page)
    shot(page, "phone-intake-photos")

    with page.expect_navigation():
        page.get_by_role("button", name="Send to the dentist").click()
    expect(page.locator("#status-text")).to_have_text("Waiting for the dentist")
    expect(page.locator("#photos img")).to_have_count(3)
    expect(page.locator("input[type=file]")).to_have_count(0)
    no_horizontal_scroll(page)
    shot(page, "phone-intake-waiting")

    page.goto(f"{live_server.url}/patient")
    expect(page.locator("#main")).to_contain_text("Waiting for the dentist")
    browser_log.assert_clean()
