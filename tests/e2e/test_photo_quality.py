"""The photo quality check in the browser (issue 19): a blurred and an underexposed photo get
"retake, or send anyway" before anything is sent, a sharp one goes straight up, and the
server's scores of the uploaded files give the same verdict as the browser's.

The photos are made by code (tests/support/quality_images.py), 1200x900 JPEGs.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import BrowserLog, LiveServer, login
from tests.support import quality_images

pytestmark = [pytest.mark.e2e]

PATIENT = "patient@demo.test"


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("quality-photos")
    made = {}
    for name in ("sharp", "blurred", "underexposed"):
        path = folder / f"{name}.jpg"
        path.write_bytes(quality_images.jpeg(getattr(quality_images, name)()))
        made[name] = path
    return made


def _open_case(page: Page, server: LiveServer) -> str:
    login(page, server.url, PATIENT, server.password)
    api = page.request
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    headers = {"x-csrftoken": token, "accept": "application/json"}
    form = api.get(f"{server.url}/api/v1/consent-forms/teledentistry").json()
    api.post(f"{server.url}/api/v1/consents", headers=headers,
             data={"form": "teledentistry", "version": form["version"]})  # 201, or 409 again
    case = api.post(f"{server.url}/api/v1/cases", headers=headers, data={"kind": "question"})
    assert case.status == 201, case.text()
    case_id = str(case.json()["id"])
    page.goto(f"{server.url}/patient/cases/{case_id}")
    return case_id


def _server_quality(server: LiveServer, case_id: str, size: int) -> dict[str, Any]:
    """The stored scores of the case's attachment of this received size (once derived)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with sqlite3.connect(server.var_dir / "toothline.db") as db:
            rows = db.execute(
                "SELECT quality FROM attachment WHERE received_size = ? "
                "AND lower(hex(case_id)) = ?", (size, case_id.replace("-", "").lower())
            ).fetchall()
        if rows and rows[0][0]:
            quality: dict[str, Any] = json.loads(rows[0][0])
            return quality
        time.sleep(0.2)
    raise AssertionError("the server stored no quality scores")


def _browser_problems(page: Page, selector: str) -> list[str]:
    scores = page.locator(selector).evaluate("el => el.__qualityScores")
    assert scores and scores[0], "the browser computed no scores"
    problems: list[str] = scores[0]["problems"]
    return problems


def test_blurred_and_dark_photos_warn_and_the_server_agrees(
    live_server: LiveServer, phone_page: Page, browser_log: BrowserLog,
    photos: dict[str, Path],
) -> None:
    page = phone_page
    case_id = _open_case(page, live_server)
    view = page.locator(".upload-view:has(input[data-quality-check])").first
    input_id = view.locator("input[data-quality-check]").get_attribute("id")
    selector = f"#{input_id}"
    warning = view.locator(".quality-warning")
    items = view.locator(".upload-item")

    # Sharp: no warning, uploaded at once.
    page.set_input_files(selector, str(photos["sharp"]))
    expect(items).to_have_count(1)
    expect(warning).to_have_count(0)
    assert _browser_problems(page, selector) == []

    # Blurred: the warning, nothing sent; "Retake" drops it.
    page.set_input_files(selector, str(photos["blurred"]))
    expect(warning).to_have_attribute("data-quality-problem", "blurry")
    expect(warning).to_contain_text("This photo looks blurry")
    assert _browser_problems(page, selector) == ["blurry"]
    expect(items).to_have_count(1)
    warning.get_by_role("button", name="Retake").click()
    expect(warning).to_have_count(0)
    expect(items).to_have_count(1)

    # Blurred again, sent anyway.
    page.set_input_files(selector, str(photos["blurred"]))
    warning.get_by_role("button", name="Send anyway").click()
    expect(items).to_have_count(2)

    # Underexposed: too dark, sent anyway.
    page.set_input_files(selector, str(photos["underexposed"]))
    expect(warning).to_have_attribute("data-quality-problem", "too_dark")
    expect(warning).to_contain_text("too dark")
    assert _browser_problems(page, selector) == ["too_dark"]
    warning.get_by_role("button", name="Send anyway").click()
    expect(items).to_have_count(3)
    for i in range(3):
        expect(items.nth(i)).to_have_class(re.compile(r"\bis-done\b"), timeout=30_000)

    for name, problems in (("sharp", []), ("blurred", ["blurry"]),
                           ("underexposed", ["too_dark"])):
        stored = _server_quality(live_server, case_id, photos[name].stat().st_size)
        assert stored["problems"] == problems, (name, stored)
    browser_log.assert_clean()
