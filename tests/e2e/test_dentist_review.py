"""The dentist's day in a real browser: the queue, "Next case", the viewer (zoom), writing and
signing an evaluation; a second dentist's "Next case" during the first one's lease gets a
different case; the patient then reads the advice."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from reviewer.queue.scope import queue_rank
from storage.blobs import open_blob_store
from storage.database import create_engine, create_session_maker
from storage.models import Attachment, Case, Organization, Patient, User
from tests.e2e.conftest import BrowserLog, LiveServer, login, shot

pytestmark = pytest.mark.e2e

ADVICE = "Rinse gently with warm salt water after meals; the socket is healing well."


def _jpeg(color: tuple[int, int, int], size: int = 480) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


async def _seed(server: LiveServer) -> list[uuid.UUID]:
    """Two submitted cases of the demo patient (one urgent with a photo), straight into the
    live server's SQLite file, and the photo's blobs into its blob folder."""
    engine = create_engine(f"sqlite:///{server.var_dir}/toothline.db")
    blobs = open_blob_store(f"file://{server.var_dir}/blobs")
    now = datetime.now(UTC)
    ids = []
    try:
        async with create_session_maker(engine)() as db:
            clinic = await db.scalar(
                select(Organization).where(Organization.name == "Demo Dental Clinic"))
            patient = await db.scalar(select(Patient).where(Patient.email == "patient@demo.test"))
            submitter = await db.scalar(select(User).where(User.email == "patient@demo.test"))
            assert clinic and patient and submitter
            for urgency, hours in (("urgent", 2), ("routine", 60)):
                case = Case(organization_id=clinic.id, patient_id=patient.id, kind="post_op",
                            status="submitted", urgency=urgency, urgency_rank=queue_rank(urgency),
                            questionnaire={"pain": 4, "notes": "Extraction last week"},
                            location_state="CA", location_site="home",
                            submitted_by_id=submitter.id, submitted_at=now,
                            first_submitted_at=now, due_at=now + timedelta(hours=hours))
                db.add(case)
                await db.flush()
                ids.append(case.id)
            keys = {}
            for variant, size in (("original", 960), ("display", 640), ("thumbnail", 160)):
                key = f"e2e/{uuid.uuid4().hex}"
                await blobs.put(key, _jpeg((180, 90, 90), size), content_type="image/jpeg")
                keys[variant] = key
            db.add(Attachment(
                case_id=ids[0], organization_id=clinic.id, kind="photo", view="lower_occlusal",
                media_type="jpeg", content_type="image/jpeg", original_key=keys["original"],
                display_key=keys["display"], thumbnail_key=keys["thumbnail"],
                received_sha256="0" * 64, received_size=1, original_sha256="0" * 64,
                original_size=1, width=960, height=960, uploaded_by_id=submitter.id,
                status="ready"))
            await db.commit()
    finally:
        await blobs.aclose()
        await engine.dispose()
    return ids


def _context_page(browser: Browser, browser_log: BrowserLog) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    browser_log.attach(page)
    return page


def test_dentist_reviews_and_signs(live_server: LiveServer, browser: Browser,
                                   browser_log: BrowserLog) -> None:
    # Playwright's sync API runs an event loop in this thread: seed from another one.
    with ThreadPoolExecutor(1) as pool:
        urgent_id, routine_id = pool.submit(asyncio.run, _seed(live_server)).result()
    page = _context_page(browser, browser_log)
    login(page, live_server.url, "dentist@demo.test", live_server.password)

    page.goto(f"{live_server.url}/review")
    queue = page.locator("#queue-list")
    expect(queue.locator(f"#queue-row-{urgent_id}")).to_be_visible()
    expect(queue.locator("tbody tr").first).to_have_attribute("data-case-id", str(urgent_id))
    shot(page, "review-queue")

    with page.expect_navigation():
        page.get_by_role("button", name="Next case").click()
    assert page.url.endswith(f"/review/cases/{urgent_id}")
    expect(page.locator("#claim-panel")).to_contain_text("You hold this case")

    # The second dentist, during the first one's lease, gets the other case.
    other = _context_page(browser, browser_log)
    login(other, live_server.url, "dentist2@demo.test", live_server.password)
    other.goto(f"{live_server.url}/review")
    with other.expect_navigation():
        other.get_by_role("button", name="Next case").click()
    assert other.url.endswith(f"/review/cases/{routine_id}")
    other.context.close()

    # Open the photo in the viewer and zoom.
    thumb = page.locator("#thumbs a[data-viewer-src]").first
    expect(thumb.locator("img")).to_have_js_property("complete", True)
    assert thumb.locator("img").evaluate("img => img.naturalWidth") > 0
    thumb.click()
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    image = page.locator("#viewer-image")
    expect(image).to_have_attribute("data-zoom", "1")
    viewer.get_by_role("button", name="Zoom in").click()
    expect(image).to_have_attribute("data-zoom", "1.5")
    assert "scale(1.5)" in image.evaluate("img => img.style.transform")
    page.locator("#viewer-contrast").fill("180")
    expect(image).to_have_attribute("data-contrast", "180")
    shot(page, "review-viewer-zoomed")
    viewer.get_by_role("button", name="Close").click()
    expect(viewer).to_be_hidden()
    # The sign form, drawn before, marks the photo opened (signing checks the server's log).
    expect(page.locator("#sign-form .image-opened")).to_have_text("opened just now")

    # Write: the draft saves itself.
    page.locator("#f-findings").fill("Socket closing, no swelling.")
    page.get_by_label("Advice to the patient (plain language)").fill(ADVICE)
    expect(page.locator("#save-status")).to_contain_text("Draft saved")
    page.reload()
    expect(page.get_by_label("Advice to the patient (plain language)")).to_have_value(ADVICE)

    # Sign with password and attestation. The sign form lists the photo, opened in the viewer
    # above (its display variant; the thumbnail alone would not count).
    sign = page.locator("#sign-form")
    expect(sign.locator("#image-review")).to_contain_text("Images reviewed: 1 of 1 opened")
    expect(sign.locator("#image-review")).to_contain_text("Lower teeth (biting surfaces)")
    expect(sign.locator(".image-opened")).to_contain_text("opened")
    # A wrong password first: the form comes back with its error announced and focused.
    sign.get_by_label("Your password").fill("not-the-password")
    sign.get_by_label(re.compile("I reviewed this case asynchronously")).check()
    sign.get_by_role("button", name="Sign evaluation").click()
    expect(page.locator("#sign-error")).to_be_focused()
    expect(page.locator("#sign-error")).to_have_attribute("role", "alert")
    sign.get_by_label("Your password").fill(live_server.password)
    sign.get_by_label(re.compile("I reviewed this case asynchronously")).check()
    with page.expect_navigation():
        sign.get_by_role("button", name="Sign evaluation").click()
    expect(page.locator("#evaluation-signed")).to_contain_text("Signed")
    expect(page.locator("#signed-advice")).to_have_text(ADVICE)
    expect(page.locator("#signed-image-review")).to_contain_text("1 of 1 opened")
    expect(page.locator("#signed-image-review")).to_contain_text("(first view to signature)")
    expect(page.locator("#case-status")).to_have_text("Reviewed")
    shot(page, "review-signed")
    browser_log.axe.rescan_other_size()  # axe at phone size too, while the session is open
    page.context.close()

    # The patient reads the advice on their case page.
    patient = _context_page(browser, browser_log)
    login(patient, live_server.url, "patient@demo.test", live_server.password)
    patient.goto(f"{live_server.url}/patient/cases/{urgent_id}")
    expect(patient.locator("#advice")).to_contain_text(ADVICE)
    browser_log.check_accessibility()
    patient.context.close()
    browser_log.assert_clean(r"status of 422 .*/sign'")  # the wrong password above
