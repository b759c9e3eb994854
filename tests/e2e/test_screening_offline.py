"""An offline screening day: the hygienist opens the class, the network drops, she screens two
children (findings and a photo each), closes the page, opens it again (still offline: the
service worker's copy), sees what is waiting, the network comes back and the queue drains:
each child's findings and exactly one photo arrive, once."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from storage.database import create_engine, create_session_maker
from storage.models import (
    Attachment,
    Case,
    IdempotencyRecord,
    Patient,
    ScreeningEnrollment,
    ScreeningEvent,
)
from tests.e2e.conftest import BrowserLog, LiveServer, login
from tests.support.fixtures import FIXTURES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HYGIENIST = "hygienist@demo.test"
PHOTO = FIXTURES / "good" / "intraoral_camera.png"
CACHE_READY = """async () => {
  const cache = await caches.open("toothline-screening-v1");
  const links = [...document.querySelectorAll("a.child-link")].map((a) => a.href);
  const found = await Promise.all([location.href, ...links].map((u) => cache.match(u)));
  return links.length === 4 && found.every(Boolean) && !!navigator.serviceWorker.controller;
}"""


def _arrived(server: LiveServer, event_site: str) -> dict[str, tuple[int, int]]:
    """Per student id: (cases with findings, photos on the child's cases)."""
    async def run() -> dict[str, tuple[int, int]]:
        engine = create_engine(f"sqlite:///{server.var_dir}/toothline.db")
        try:
            async with create_session_maker(engine)() as db:
                rows = (await db.execute(
                    select(Patient.student_id, Case.id, Case.screening)
                    .join(ScreeningEnrollment, ScreeningEnrollment.patient_id == Patient.id)
                    .join(ScreeningEvent, ScreeningEvent.id == ScreeningEnrollment.event_id)
                    .join(Case, (Case.patient_id == Patient.id)
                          & (Case.screening_event_id == ScreeningEvent.id))
                    .where(Case.kind == "school_screening", ScreeningEvent.site == event_site)
                )).all()
                found: dict[str, tuple[int, int]] = {}
                for student, case_id, screening in rows:
                    photos = int(await db.scalar(select(func.count()).where(
                        Attachment.case_id == case_id)) or 0)
                    cases, seen = found.get(student, (0, 0))
                    found[student] = (cases + (1 if screening else 0), seen + photos)
                assert await db.scalar(select(func.count()).select_from(IdempotencyRecord))
                return found
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def _screen(page: Page, student: str, urgency: str) -> None:
    page.locator(f'.child-row[data-student="{student}"] a').click()
    findings = page.locator("#findings-form")
    expect(findings).to_be_visible()
    findings.get_by_role("group", name="Caries experience", exact=True).get_by_label("Yes").check()
    findings.get_by_role("group", name="Untreated decay", exact=True).get_by_label("No").check()
    findings.get_by_role("group", name="Sealants present", exact=True).get_by_label("No").check()
    findings.get_by_label(urgency).check()
    findings.get_by_role("button", name="Save findings").click()
    expect(findings.locator("[data-save-status]")).to_contain_text("Saved on this tablet")
    photo = page.locator("#offline-photo-upper_occlusal")
    expect(photo).to_be_visible()
    photo.set_input_files(str(PHOTO))
    expect(page.locator("[data-queued-photo]")).to_have_count(1)


# One rerun: about one run in ten on a loaded machine still finds a child's page missing from
# the service worker's cache right after it was there (the Cache API drops an entry while it
# replaces it; offline.js now writes each copy once, which made it rare, not impossible).
# A second failure in a row fails the suite.
@pytest.mark.flaky(reruns=1)
def test_two_children_screened_offline_arrive_once(
    live_server: LiveServer, tablet_page: Page, browser_log: BrowserLog
) -> None:
    page = tablet_page
    context = page.context
    site = f"Offline Elementary {uuid.uuid4().hex[:6]}"  # its own on a rerun, too
    login(page, live_server.url, HYGIENIST, live_server.password)
    page.goto(f"{live_server.url}/screening")
    form = page.locator("#new-event-form")
    form.get_by_label("School").fill(site)
    form.get_by_label("Day of the visit").fill("2026-11-21")
    with page.expect_navigation():
        form.get_by_role("button", name="Create the screening day").click()
    event_url = page.url
    page.locator("#roster-file").set_input_files(str(FIXTURES / "roster_good.csv"))
    page.get_by_role("button", name="Import roster").click()
    expect(page.locator("#class-list .child-row")).to_have_count(4)
    # The class page copies itself and the children's pages for offline use.
    page.reload()
    page.wait_for_function(CACHE_READY, timeout=20_000)

    context.set_offline(True)
    _screen(page, "S-1001", "Early dental care")
    page.goto(event_url)
    _screen(page, "S-1002", "Urgent care")
    expect(page.locator("#offline-queue")).to_have_text("4 waiting to send (offline)")

    page.close()
    page = context.new_page()
    page.goto(event_url)  # still offline: the service worker's copy
    expect(page.locator("#class-list .child-row")).to_have_count(4)
    expect(page.locator("#offline-queue")).to_have_text("4 waiting to send (offline)")

    context.set_offline(False)
    expect(page.locator("#offline-queue")).to_have_attribute("data-waiting", "0",
                                                           timeout=30_000)
    expect(page.locator("#offline-problems li")).to_have_count(0)
    arrived = _arrived(live_server, site)
    assert arrived == {"S-1001": (1, 1), "S-1002": (1, 1)}, arrived

    # Going offline and online again sends nothing twice.
    page.reload()
    expect(page.locator("#offline-queue")).to_have_attribute("data-waiting", "0")
    assert _arrived(live_server, site) == arrived
