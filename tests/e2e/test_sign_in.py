"""Signing in, being refused, and signing out on a phone-sized screen (issue 4)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import BrowserLog, LiveServer, login, no_horizontal_scroll, shot

pytestmark = pytest.mark.e2e

STAFF = "coordinator@demo.test"


def test_staff_signs_in_sees_role_and_organization_and_signs_out(
    live_server: LiveServer, phone_page: Page, browser_log: BrowserLog
) -> None:
    page = phone_page
    login(page, live_server.url, STAFF, live_server.password)
    header = page.locator("header")
    expect(header).to_contain_text(STAFF)
    expect(header).to_contain_text("Coordinator")
    expect(header).to_contain_text("Demo Dental Clinic")
    no_horizontal_scroll(page)
    page.goto(f"{live_server.url}/account")
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    no_horizontal_scroll(page)
    shot(page, "phone-account")
    with page.expect_navigation():
        page.locator("header").get_by_role("button", name="Sign out").click()
    expect(page.locator("#login-form")).to_be_visible()
    response = page.goto(f"{live_server.url}/account")
    assert response is not None
    expect(page.locator("#login-form")).to_be_visible()  # redirected to /login
    assert page.url.endswith("/login")
    browser_log.assert_clean()


def test_refused_then_signed_in(
    live_server: LiveServer, phone_page: Page, browser_log: BrowserLog
) -> None:
    page = phone_page
    login(page, live_server.url, "nobody@demo.test", "not-the-password")
    alert = page.locator("#login-form").get_by_role("alert")
    expect(alert).to_contain_text("The email or password is not right.")
    no_horizontal_scroll(page)
    shot(page, "phone-refused")
    login(page, live_server.url, STAFF, live_server.password)
    expect(page.locator("header")).to_contain_text(STAFF)
    browser_log.assert_clean(r"status of 401")
