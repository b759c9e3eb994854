"""Issue 21, the dentist's workbench, in a real browser: compare a post-op photo with last
week's, draw an arrow with a note (chosen for the claim attachment), measure on a DICOM with
pixel spacing, sign with the keyboard only; the claim attachment PDF then holds the chosen
annotation and the original blobs are byte-identical."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader
from sqlalchemy import select

from reviewer.billing.facts import load_case_facts
from reviewer.documents.pdf import render_attachment_pdf
from reviewer.queue.scope import queue_rank
from storage.blobs import open_blob_store
from storage.database import create_engine, create_session_maker
from storage.models import Attachment, Case, Organization, Patient, User
from tests.e2e.conftest import BrowserLog, LiveServer, login, shot
from tests.support.dicoms import write_dicom

pytestmark = pytest.mark.e2e

NOTE = "Socket margin closing; compare distal edge"
ADVICE = "Keep rinsing gently with warm salt water; the socket is closing well."


def _jpeg(color: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


async def _seed(server: LiveServer) -> tuple[uuid.UUID, dict[str, str]]:
    """A new patient with last week's post-op case (a photo of the lower teeth) and today's
    (the same view, and a DICOM radiograph with Pixel Spacing 0.1 mm)."""
    engine = create_engine(f"sqlite:///{server.var_dir}/toothline.db")
    blobs = open_blob_store(f"file://{server.var_dir}/blobs")
    now = datetime.now(UTC)
    originals: dict[str, str] = {}
    try:
        async with create_session_maker(engine)() as db:
            clinic = await db.scalar(
                select(Organization).where(Organization.name == "Demo Dental Clinic"))
            submitter = await db.scalar(select(User).where(User.email == "hygienist@demo.test"))
            assert clinic and submitter
            patient = Patient(organization_id=clinic.id, first_name="Wren",
                              last_name=f"Bench{uuid.uuid4().hex[:6]}",
                              date_of_birth=date(1985, 3, 4), state="CA")
            db.add(patient)
            await db.flush()
            cases = []
            for days_ago, status in ((7, "reviewed"), (0, "submitted")):
                at = now - timedelta(days=days_ago)
                case = Case(organization_id=clinic.id, patient_id=patient.id, kind="post_op",
                            status=status, urgency="soon", urgency_rank=queue_rank("soon"),
                            questionnaire={"pain": 2}, location_state="CA",
                            location_site="home", submitted_by_id=submitter.id,
                            submitted_at=at, first_submitted_at=at,
                            due_at=at + timedelta(hours=20), created_at=at, updated_at=at)
                db.add(case)
                await db.flush()
                cases.append(case)
            with tempfile.TemporaryDirectory() as folder:
                dicom = write_dicom(Path(folder) / "pa.dcm",
                                    pixel_spacing=(0.1, 0.1)).read_bytes()
            files = (
                (cases[0], "photo", "lower_occlusal", "image/jpeg",
                 _jpeg((150, 70, 70), (640, 480)), (120, 60, 60)),
                (cases[1], "photo", "lower_occlusal", "image/jpeg",
                 _jpeg((170, 90, 90), (640, 480)), (40, 40, 40)),
                (cases[1], "radiograph", "periapical", "application/dicom", dicom,
                 (90, 90, 90)),
            )
            for case, kind, view, content_type, original, colour in files:
                keys = {}
                for variant, size in (("display", (640, 480)), ("thumbnail", (160, 120))):
                    keys[variant] = f"e2e/{uuid.uuid4().hex}"
                    await blobs.put(keys[variant], _jpeg(colour, size), content_type="image/jpeg")
                keys["original"] = f"e2e/{uuid.uuid4().hex}"
                await blobs.put(keys["original"], original, content_type=content_type)
                attachment = Attachment(
                    case_id=case.id, organization_id=clinic.id, kind=kind, view=view,
                    media_type="dicom" if kind == "radiograph" else "jpeg",
                    content_type=content_type, original_key=keys["original"],
                    display_key=keys["display"], thumbnail_key=keys["thumbnail"],
                    received_sha256="0" * 64, received_size=len(original),
                    original_sha256=hashlib.sha256(original).hexdigest(),
                    original_size=len(original),
                    width=256 if kind == "radiograph" else 640,
                    height=192 if kind == "radiograph" else 480,
                    uploaded_by_id=submitter.id, status="ready", created_at=case.created_at)
                db.add(attachment)
                await db.flush()
                originals[keys["original"]] = attachment.original_sha256
            await db.commit()
            return cases[1].id, originals
    finally:
        await blobs.aclose()
        await engine.dispose()


async def _claim_pdf(server: LiveServer, case_id: uuid.UUID) -> tuple[str, dict[str, str]]:
    engine = create_engine(f"sqlite:///{server.var_dir}/toothline.db")
    blobs = open_blob_store(f"file://{server.var_dir}/blobs")
    try:
        async with create_session_maker(engine)() as db:
            case = await db.get_one(Case, case_id)
            facts = await load_case_facts(db, case, blobs=blobs)
            pdf = render_attachment_pdf(facts.record, narrative="n",
                                        attachment_control_number="TLE2E21",
                                        images=facts.record.items)
            text = re.sub(r"\s+", " ", "\n".join(
                p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages))
            hashes = {}
            for a in await db.scalars(select(Attachment).where(Attachment.case_id == case_id)):
                hashes[a.original_key] = hashlib.sha256(await blobs.read(a.original_key)
                                                        ).hexdigest()
            return text, hashes
    finally:
        await blobs.aclose()
        await engine.dispose()


def _drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    box = page.locator("#viewer-image").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    for step in range(1, 6):
        t = step / 5
        page.mouse.move(box["x"] + box["width"] * (start[0] + (end[0] - start[0]) * t),
                        box["y"] + box["height"] * (start[1] + (end[1] - start[1]) * t))
    page.mouse.up()


def test_compare_annotate_measure_and_sign_by_keyboard(
    live_server: LiveServer, browser: Browser, browser_log: BrowserLog
) -> None:
    with ThreadPoolExecutor(1) as pool:
        case_id, originals = pool.submit(asyncio.run, _seed(live_server)).result()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    browser_log.attach(page)
    login(page, live_server.url, "dentist@demo.test", live_server.password)
    page.goto(f"{live_server.url}/review/cases/{case_id}")
    expect(page.locator("#shortcuts")).to_contain_text("next case")
    claim = page.get_by_role("button", name="Claim this case")
    claim.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#claim-panel")).to_contain_text("You hold this case")

    # Compare: "c" goes to last week's picture of the same view beside today's.
    page.keyboard.press("c")
    compare = page.locator("#compare")
    expect(compare).to_be_focused()
    expect(compare.locator("figcaption").first).to_contain_text("Earlier")
    expect(compare.locator("img")).to_have_count(2)
    strip = page.locator("#timeline .timeline-strip[data-view=lower_occlusal] li")
    expect(strip).to_have_count(2)
    expect(strip.last).to_contain_text("this case")

    # "n": the first image of this case in the viewer; an arrow with a note for the claim.
    page.keyboard.press("n")
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    expect(page.locator("#annotation-panel")).to_have_attribute("data-loaded", "1")
    viewer.get_by_role("button", name="Arrow").click()
    _drag(page, (0.3, 0.3), (0.55, 0.5))
    expect(page.locator("#viewer-overlay [data-layer=pending] line")).to_have_count(1)
    page.locator("#annotation-note").fill(NOTE)
    page.locator("#annotation-claim").check()
    viewer.get_by_role("button", name="Save annotation").click()
    expect(page.locator("#annotation-list")).to_contain_text(NOTE)
    expect(page.locator("#annotation-list")).to_contain_text("in the claim attachment")
    expect(page.locator("#viewer-overlay [data-layer=saved] line")).to_have_count(1)
    page.keyboard.press("+")
    expect(page.locator("#viewer-image")).to_have_attribute("data-zoom", "1.5")
    shot(page, "workbench-arrow")
    # "c" in the viewer: last week's picture of the same view beside it, zoom and pan linked.
    earlier_src = strip.first.locator("a").get_attribute("data-viewer-src")
    page.keyboard.press("c")
    other = page.locator("#viewer-compare-image")
    expect(other).to_be_visible()
    expect(other).to_have_attribute("src", earlier_src or "")
    expect(page.locator("#viewer-stage")).to_have_class(re.compile("is-comparing"))
    page.keyboard.press("+")
    expect(other).to_have_attribute("data-zoom", "2.25")
    assert "scale(2.25)" in other.evaluate("img => img.style.transform")
    shot(page, "workbench-compare")
    viewer.get_by_role("button", name="Overlay").click()
    expect(page.locator("#viewer-stage")).to_have_class(re.compile("is-overlaid"))
    page.keyboard.press("c")
    expect(other).to_be_hidden()

    # "n" again: the DICOM radiograph; measure 0.5 of its 256 px width = 12.8 mm.
    page.keyboard.press("n")
    expect(page.locator("#viewer-image")).to_have_attribute("data-kind", "radiograph")
    expect(page.locator("#measure-calibration")).to_have_text(
        "calibration: DICOM Pixel Spacing 0.1 mm")
    viewer.get_by_role("button", name="Measure").click()
    _drag(page, (0.25, 0.5), (0.75, 0.5))
    expect(page.locator("#measure-readout")).to_contain_text("mm")
    viewer.get_by_role("button", name="Save annotation").click()
    expect(page.locator("#annotation-list")).to_contain_text(
        "(calibration: DICOM Pixel Spacing 0.1 mm)")
    readout = page.locator("#measure-readout").text_content() or ""
    assert re.fullmatch(r"1[23](\.\d+)? mm", readout.strip()), readout
    viewer.get_by_role("button", name="Bone").click()
    expect(page.locator("#viewer-image")).to_have_attribute("data-preset", "bone")
    viewer.get_by_role("button", name="Invert").click()
    expect(page.locator("#viewer-image")).to_have_attribute("data-invert", "1")
    shot(page, "workbench-measure")

    # The advice, then "s" and the keyboard only: password, Tab to the attestation, Space, Enter.
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    page.get_by_label("Advice to the patient (plain language)").fill(ADVICE)
    expect(page.locator("#save-status")).to_contain_text("Draft saved")
    page.keyboard.press("Escape")  # out of the field: keys are shortcuts again
    page.keyboard.press("s")
    expect(page.locator("#sign-password")).to_be_focused()
    page.keyboard.type(live_server.password)
    page.keyboard.press("Tab")
    expect(page.locator("#sign-attest")).to_be_focused()
    page.keyboard.press("Space")
    with page.expect_navigation():
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
    expect(page.locator("#evaluation-signed")).to_contain_text("Signed")
    expect(page.locator("#signed-image-review")).to_contain_text("2 of 2 opened")
    browser_log.check_accessibility()  # axe at both sizes while the page is still open
    context.close()

    with ThreadPoolExecutor(1) as pool:
        text, hashes = pool.submit(asyncio.run, _claim_pdf(live_server, case_id)).result()
    assert f"Annotation 1 (arrow): {NOTE}" in text, text
    for key, digest in hashes.items():
        assert originals[key] == digest  # the stored originals are byte-identical
    browser_log.assert_clean()


def _tab_to(page: Page, selector: str, limit: int = 150) -> None:
    """Press Tab until the element is focused: it is reachable from the keyboard."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_claim_review_and_sign_with_the_keyboard_only(
    live_server: LiveServer, browser: Browser, browser_log: BrowserLog
) -> None:
    """WCAG 2.1.1: Tab to the claim button, the shortcut keys through both images, Tab to
    the advice, and the sign form -- no mouse at all (page.mouse and click are not used)."""
    with ThreadPoolExecutor(1) as pool:
        case_id, _ = pool.submit(asyncio.run, _seed(live_server)).result()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    browser_log.attach(page)
    login(page, live_server.url, "dentist@demo.test", live_server.password)
    page.goto(f"{live_server.url}/review/cases/{case_id}")
    _tab_to(page, "#claim-panel button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#claim-panel")).to_contain_text("You hold this case")

    page.keyboard.press("n")
    expect(page.locator("#viewer")).to_be_visible()
    page.keyboard.press("n")
    expect(page.locator("#viewer-image")).to_have_attribute("data-kind", "radiograph")
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()

    advice = "#" + (page.get_by_label("Advice to the patient (plain language)")
                    .get_attribute("id") or "")
    _tab_to(page, advice)
    page.keyboard.type(ADVICE)
    expect(page.locator("#save-status")).to_contain_text("Draft saved")
    page.keyboard.press("Escape")
    page.keyboard.press("s")
    expect(page.locator("#sign-password")).to_be_focused()
    page.keyboard.type(live_server.password)
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    with page.expect_navigation():
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
    expect(page.locator("#evaluation-signed")).to_contain_text("Signed")
    expect(page.locator("#signed-image-review")).to_contain_text("2 of 2 opened")
    browser_log.check_accessibility()
    context.close()
    browser_log.assert_clean()
