"""A school screening day on a tablet (820x1180): the demo hygienist signs in, creates an
event, imports roster_good.csv, screens one child with a photo and sends the case, marks the
child without consent (S-1003) "not screened", and sees the class progress."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import BrowserLog, LiveServer, login, no_horizontal_scroll, shot
from tests.support.fixtures import FIXTURES

pytestmark = pytest.mark.e2e

HYGIENIST = "hygienist@demo.test"


def test_screening_day_on_a_tablet(
    live_server: LiveServer, tablet_page: Page, browser_log: BrowserLog
) -> None:
    page = tablet_page
    login(page, live_server.url, HYGIENIST, live_server.password)
    page.goto(f"{live_server.url}/screening")
    expect(page.get_by_role("heading", name="School screening days")).to_be_visible()

    # create the event
    form = page.locator("#new-event-form")
    form.get_by_label("School").fill("Lincoln Elementary (e2e)")
    form.get_by_label("Day of the visit").fill("2026-11-20")
    with page.expect_navigation():
        form.get_by_role("button", name="Create the screening day").click()
    expect(page.get_by_role("heading", name="Lincoln Elementary (e2e)")).to_be_visible()
    event_url = page.url

    # import the roster (htmx, multipart): the class appears without a reload
    page.locator("#roster-file").set_input_files(str(FIXTURES / "roster_good.csv"))
    page.get_by_role("button", name="Import roster").click()
    expect(page.locator("#roster-result")).to_contain_text("4 imported")
    expect(page.locator("#class-list .child-row")).to_have_count(4)
    expect(page.locator("#progress-total")).to_have_text("4")
    expect(page.locator('.child-row[data-student="S-1003"]')).to_contain_text("No consent")
    no_horizontal_scroll(page)
    shot(page, "tablet-screening-class")

    # screen Zoë: findings, a photo, send
    page.locator('.child-row[data-student="S-1001"] a').click()
    expect(page.get_by_role("heading", name="Zoë Nguyễn")).to_be_visible()
    findings = page.locator("#findings-form")
    findings.get_by_role("group", name="Caries experience", exact=True).get_by_label("Yes").check()
    findings.get_by_role("group", name="Untreated decay", exact=True).get_by_label("Yes").check()
    findings.get_by_role("group", name="Sealants present", exact=True).get_by_label("No").check()
    findings.get_by_label("Early dental care").check()
    findings.get_by_label("Fluoride varnish (D1206)").check()
    findings.get_by_label(re.compile("Sealants \\(D1351\\)")).fill("3 14")
    expect(findings.locator("[data-save-status]")).to_have_text("Unsaved changes.")
    findings.get_by_role("button", name="Save findings").click()
    expect(page.locator("#findings-form [data-save-status]")).to_have_text("Saved.")
    photo = page.locator("#photo-upper_occlusal")
    expect(photo).to_be_attached()
    photo.set_input_files(str(FIXTURES / "good" / "intraoral_camera.png"))
    expect(page.locator(".upload-item.is-done")).to_have_count(1, timeout=20_000)
    no_horizontal_scroll(page)
    shot(page, "tablet-screening-child")
    with page.expect_navigation():
        page.get_by_role("button", name="Send to the dentists").click()
    expect(page.locator("#flash")).to_contain_text("Sent to the dentists")
    expect(page.locator('.child-row[data-student="S-1001"] .child-state')).to_have_text(
        "Submitted")

    # S-1003 has no consent: no camera, marked not screened
    page.locator('.child-row[data-student="S-1003"] a').click()
    expect(page.locator("#no-consent")).to_be_visible()
    expect(page.locator('input[type="file"]')).to_have_count(0)
    page.get_by_label("Why not?").select_option("no_consent")
    with page.expect_navigation():
        page.get_by_role("button", name="Mark not screened").click()
    assert page.url == event_url

    # class progress
    expect(page.locator('.child-row[data-student="S-1003"] .child-state')).to_have_text(
        "Not screened")
    progress = page.locator("#class-progress")
    expect(page.locator("#progress-done")).to_have_text("2")
    expect(progress.locator('[data-count="pending"]')).to_have_text("2")
    expect(progress.locator('[data-count="submitted"]')).to_have_text("1")
    expect(progress.locator('[data-count="not_screened"]')).to_have_text("1")
    no_horizontal_scroll(page)
    shot(page, "tablet-screening-progress")
    browser_log.assert_clean()
