"""The front-end shell in a real browser: the start page on a phone and a tablet, signing in
and out, a wrong password, the CSP the shell is written for, and the upload widget of
static/js/app.js (against a faked upload endpoint, so it needs no intake route)."""

from __future__ import annotations

import io
import re
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import BrowserLog, LiveServer, login, no_horizontal_scroll, shot

pytestmark = pytest.mark.e2e

PATIENT = "patient@demo.test"


def _tap_targets_too_small(page: Page) -> list[str]:
    """Visible buttons, button-styled links and form controls smaller than 44 px."""
    return page.evaluate(
        """() => [...document.querySelectorAll(
              "button, .btn, select, textarea, "
              + "input:not([type=hidden]):not([type=checkbox]):not([type=radio])")]
            .filter((el) => el.offsetParent !== null)
            .map((el) => [el, el.getBoundingClientRect()])
            .filter(([, r]) => r.height < 44 || r.width < 44)
            .map(([el, r]) => el.outerHTML.slice(0, 80)
                 + `: ${Math.round(r.width)}x${Math.round(r.height)}`)"""
    )


def test_start_page_on_a_phone(live_server: LiveServer, phone_page: Page, browser_log: BrowserLog):
    page = phone_page
    response = page.goto(f"{live_server.url}/")
    assert response is not None and response.status == 200
    expect(page).to_have_title(re.compile("Toothline"))

    form = page.locator("#login-form")
    expect(form).to_be_visible()
    expect(form.get_by_label("Email")).to_be_visible()
    expect(form.get_by_label("Password")).to_have_attribute("type", "password")
    expect(form.get_by_role("button", name="Sign in")).to_be_visible()
    expect(form.locator('input[name="_csrf_token"]')).to_have_count(1)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

    # htmx 2 and app.js ran, configured for the CSP: no <style> injected, no eval
    assert page.evaluate("() => window.htmx && window.htmx.version").startswith("2.")
    assert page.evaluate("() => htmx.config.includeIndicatorStyles") is False
    assert page.evaluate("() => htmx.config.allowEval") is False
    assert page.evaluate("() => htmx.config.historyCacheSize") == 0
    assert page.evaluate("() => document.querySelectorAll('style, [style]').length") == 0
    assert page.evaluate("() => typeof window.Toothline") == "object"

    no_horizontal_scroll(page)
    assert _tap_targets_too_small(page) == []
    shot(page, "phone-start")
    browser_log.assert_clean()


def test_sign_in_and_out_on_a_phone(
    live_server: LiveServer, phone_page: Page, browser_log: BrowserLog
):
    page = phone_page
    login(page, live_server.url, PATIENT, live_server.password)

    header = page.locator("header")
    expect(header).to_contain_text(PATIENT)
    expect(header).to_contain_text("Patient")
    sign_out = header.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()
    expect(header.get_by_role("navigation").get_by_role("link", name="My cases")).to_be_visible()
    expect(page.locator("#login-form")).to_have_count(0)
    no_horizontal_scroll(page)
    assert _tap_targets_too_small(page) == []
    shot(page, "phone-signed-in")

    with page.expect_navigation():
        sign_out.click()
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(page.locator("header")).not_to_contain_text(PATIENT)

    # the session is really over, not just this page
    page.goto(f"{live_server.url}/")
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("header")).not_to_contain_text(PATIENT)
    shot(page, "phone-signed-out")
    browser_log.assert_clean()


def test_wrong_password_shows_an_error_and_starts_no_session(
    live_server: LiveServer, phone_page: Page, browser_log: BrowserLog
):
    page = phone_page
    login(page, live_server.url, PATIENT, "not-the-password")

    form = page.locator("#login-form")
    error = form.get_by_role("alert")
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    expect(form.get_by_label("Email")).to_have_value(PATIENT)
    expect(form.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    no_horizontal_scroll(page)
    shot(page, "phone-wrong-password")

    page.goto(f"{live_server.url}/")
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("header")).not_to_contain_text(PATIENT)
    # Chromium logs the refused sign-in's 401 answer as a failed load; nothing else may appear
    browser_log.assert_clean(r"status of 401")


def test_start_page_on_a_tablet(
    live_server: LiveServer, tablet_page: Page, browser_log: BrowserLog
):
    page = tablet_page
    page.goto(f"{live_server.url}/")
    intro = page.locator(".home-intro").bounding_box()
    form = page.locator("#login-form").bounding_box()
    assert intro is not None and form is not None
    assert form["x"] >= intro["x"] + intro["width"], "on a tablet the form sits beside the text"
    no_horizontal_scroll(page)
    shot(page, "tablet-start")
    browser_log.assert_clean()


def test_pages_are_served_with_the_csp_the_shell_is_written_for(live_server: LiveServer):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{live_server.url}/", timeout=10) as response:
        policy = response.headers.get("content-security-policy", "")
    directives = {
        d.split()[0]: d.split()[1:] for d in (part.strip() for part in policy.split(";")) if d
    }
    assert directives.get("script-src") == ["'self'"], policy
    assert directives.get("style-src") == ["'self'"], policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, policy
    assert directives.get("frame-ancestors") == ["'none'"], policy


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


def test_upload_widget_sends_each_file_alone_with_the_token_in_a_header(
    live_server: LiveServer, phone_page: Page, browser_log: BrowserLog
):
    page = phone_page
    page.goto(f"{live_server.url}/")  # the real layout, scripts and CSP
    sent: list[dict[str, Any]] = []
    failing = {"broken.jpg", "unwanted.jpg"}

    def upload_endpoint(route: Route) -> None:
        body = route.request.post_data_buffer or b""
        name = re.search(rb'filename="([^"]+)"', body)
        filename = name.group(1).decode() if name else ""
        sent.append({"headers": route.request.headers, "body": body, "filename": filename})
        if filename in failing:
            route.fulfill(status=422, json={"message": f"{filename} is not a photo we can read."})
        else:
            route.fulfill(status=201, json={"message": "Saved"})

    page.route("**/__upload-probe", upload_endpoint)
    page.evaluate(
        """() => {
          const box = document.createElement("div");
          box.className = "card";
          box.innerHTML = `
            <label for="probe-view">View</label>
            <input id="probe-view" name="view" value="upper">
            <label for="probe">Photos</label>
            <input id="probe" type="file" multiple accept="image/*"
                   data-upload-url="/__upload-probe" data-csrf="probe-token"
                   data-field-kind="photo" data-upload-fields="view">`;
          document.querySelector("main").append(box);
        }"""
    )
    page.set_input_files(
        "#probe",
        [
            {"name": "good.jpg", "mimeType": "image/jpeg", "buffer": _jpeg((200, 60, 60))},
            {"name": "broken.jpg", "mimeType": "image/jpeg", "buffer": b"PK\x03\x04 not a jpeg"},
            {"name": "unwanted.jpg", "mimeType": "image/jpeg", "buffer": b"PK\x03\x04 zip"},
        ],
    )
    items = page.locator(".upload-list .upload-item")
    expect(items).to_have_count(3)
    good, broken, unwanted = items.nth(0), items.nth(1), items.nth(2)
    expect(good).to_have_class(re.compile(r"\bis-done\b"))
    expect(broken).to_have_class(re.compile(r"\bis-failed\b"))
    expect(broken.locator(".upload-status")).to_contain_text("not a photo we can read")
    expect(unwanted).to_have_class(re.compile(r"\bis-failed\b"))
    expect(good.locator("img.upload-thumb")).to_have_attribute("src", re.compile(r"^blob:"))

    assert len(sent) == 3
    keys = set()
    for request in sent:
        body = request["body"]
        assert request["headers"].get("x-csrftoken") == "probe-token"
        assert b"_csrf_token" not in body, "the token must travel in the header only"
        assert body.count(b"filename=") == 1, "one file per request"
        # the extra fields come before the file, for the streaming parser
        assert body.index(b'name="kind"') < body.index(b"filename=")
        assert body.index(b'name="view"') < body.index(b"filename=")
        assert b"\r\n\r\nphoto\r\n" in body and b"\r\n\r\nupper\r\n" in body
        keys.add(request["headers"].get("idempotency-key"))
    assert len(keys) == 3 and None not in keys

    shot(page, "phone-upload-widget")

    # removing one failed file leaves the others alone
    unwanted.get_by_role("button", name="Remove unwanted.jpg").click()
    expect(items).to_have_count(2)
    expect(good).to_have_class(re.compile(r"\bis-done\b"))
    expect(broken).to_have_class(re.compile(r"\bis-failed\b"))

    # a retry resends the same file with the same idempotency key
    failing.discard("broken.jpg")
    first_key = next(r["headers"]["idempotency-key"] for r in sent if r["filename"] == "broken.jpg")
    broken.get_by_role("button", name="Retry broken.jpg").click()
    expect(broken).to_have_class(re.compile(r"\bis-done\b"))
    assert [r["filename"] for r in sent].count("broken.jpg") == 2
    assert sent[-1]["headers"]["idempotency-key"] == first_key
    assert len(sent) == 4

    # Chromium logs each refused upload (422) as a failed load
    browser_log.assert_clean(r"status of 422")


def test_htmx_navigation_swaps_main_and_failed_requests_show_a_flash(
    live_server: LiveServer, phone_page: Page, browser_log: BrowserLog
):
    page = phone_page
    login(page, live_server.url, PATIENT, live_server.password)
    page.evaluate("() => { document.title = 'stale'; }")

    # HX-Target: main -> the layout answers with only main's inner HTML (+ <title>)
    page.evaluate("() => htmx.ajax('GET', '/login', {target: '#main'})")
    expect(page).to_have_title("Sign in · Toothline")
    expect(page.locator("main#main #login-form")).to_have_count(1)
    expect(page.locator("main#main > #flash")).to_have_count(1)
    assert page.locator("header").count() == 1, "a fragment must not bring a second layout"

    # an error answer is not swapped; the person is told instead
    page.evaluate("() => htmx.ajax('GET', '/no-such-page', {target: '#main'})")
    expect(page.locator("#flash .flash-error")).to_contain_text("not found")
    expect(page.locator("main#main #login-form")).to_have_count(1)
    # Chromium logs the 404 as a failed load, htmx logs it as a response error
    browser_log.assert_clean(r"status of 404", r"Error Code 404 from /no-such-page")
