"""Playwright harness for the browser journeys under tests/e2e.

Fixtures
    browser       (session) headless Debian Chromium (/usr/bin/chromium) through
                  playwright.sync_api. Missing Chromium: the run FAILS when it runs as root or
                  with CI set (the CI image must have it), and is skipped elsewhere.
    live_server   (session) ``python -m portal.cli run`` in a subprocess on a free port, with
                  its own SQLite file and blob folder in a temporary directory and the demo
                  accounts seeded with DEMO_PASSWORD. Yields a LiveServer (.url, .password).
    browser_log   (function) console errors, uncaught page errors, failed requests and CSP
                  violations of the pages below; ``browser_log.assert_clean()`` at the end.
    phone_page    (function) a page in a fresh context, 390x844, is_mobile, has_touch
    tablet_page   (function) a page in a fresh context, 820x1180, has_touch

Helpers
    shot(page, name) -> Path       full-page PNG in tests/e2e/screenshots/ (git-ignored)
    login(page, base_url, email, password)   fills and submits the sign-in form, waits for
                                   the page that answers
    no_horizontal_scroll(page)     asserts the page is no wider than the viewport

Every test under tests/e2e carries the ``e2e`` marker (added below; test modules also set
``pytestmark``), so ``pytest -m "not e2e"`` leaves the browser alone.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request

from tests.support.axe import AxeAudit
from tests.support.live import LiveServer, PortalDidNotStart, running_portal

__all__ = ["LiveServer"]

REPO_ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
SCREENSHOTS_DIR = E2E_DIR / "screenshots"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "demo-password-123"

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
TABLET: dict[str, Any] = {
    "viewport": {"width": 820, "height": 1180},
    "has_touch": True,
}

# Reports every Content-Security-Policy violation as a console error (init scripts are
# injected by the browser itself, so the CSP does not apply to this one).
_CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline")
    + " at " + (e.sourceFile || "?") + ":" + e.lineNumber);
});
"""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


# ---------------------------------------------------------------------------- browser


def _must_fail_without_chromium() -> bool:
    is_root = getattr(os, "geteuid", lambda: -1)() == 0
    return is_root or bool(os.environ.get("CI"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = (
            f"\n{'=' * 72}\nBROWSER TESTS NOT RUN: {CHROMIUM} is missing.\n"
            "Install Debian's Chromium: apt-get install chromium\n"
            f"{'=' * 72}"
        )
        if _must_fail_without_chromium():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


# ---------------------------------------------------------------------------- live server


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One portal process for the browser tests (SQLite + file blobs, demo seeded)."""
    try:
        with running_portal(tmp_path_factory.mktemp("toothline-live")) as server:
            yield server
    except PortalDidNotStart as exc:
        print(exc, file=sys.stderr)
        pytest.fail(str(exc), pytrace=False)


# ---------------------------------------------------------------------------- pages


@dataclass
class BrowserLog:
    """What went wrong in the browser: console errors (CSP violations and failed loads
    included), uncaught exceptions and failed requests."""

    problems: list[str] = field(default_factory=list)
    axe: AxeAudit = field(default_factory=AxeAudit)

    def attach(self, page: Page) -> None:
        self.axe.attach(page)
        page.add_init_script(_CSP_REPORTER)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._on_request_failed)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text} ({message.location})")

    def _on_request_failed(self, request: Request) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" in failure:  # a navigation that replaced a still-loading one
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {failure}")

    def unexpected(self, allow: tuple[str, ...] = ()) -> list[str]:
        return [p for p in self.problems if not any(re.search(a, p) for a in allow)]

    def assert_clean(self, *allow: str) -> None:
        """No problems except those matching one of the ``allow`` regular expressions, and
        no serious/critical axe violation on any page visited (at both sizes, see
        tests/support/axe.py; call :meth:`check_accessibility` before closing the context
        where a journey closes it before this)."""
        unexpected = self.unexpected(allow)
        assert not unexpected, "browser reported:\n" + "\n".join(unexpected)
        self.check_accessibility()

    def check_accessibility(self) -> None:
        """Rescan the open pages' visited URLs at the other size, then fail on violations."""
        self.axe.rescan_other_size()
        self.axe.assert_clean()


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


def _page(browser: Browser, browser_log: BrowserLog, options: dict[str, Any]) -> Iterator[Page]:
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        browser_log.attach(page)
        yield page
    finally:
        context.close()


@pytest.fixture
def phone_page(browser: Browser, browser_log: BrowserLog) -> Iterator[Page]:
    yield from _page(browser, browser_log, PHONE)


@pytest.fixture
def tablet_page(browser: Browser, browser_log: BrowserLog) -> Iterator[Page]:
    yield from _page(browser, browser_log, TABLET)


# ---------------------------------------------------------------------------- helpers


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as tests/e2e/screenshots/<name>.png and return its path."""
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS_DIR / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page: Page, base_url: str, email: str, password: str) -> None:
    """Sign in through the form on /login; returns once the answering page has loaded
    (the start page, or the form again with its error)."""
    page.goto(f"{base_url}/login")
    form = page.locator("#login-form")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    with page.expect_navigation():
        form.get_by_role("button", name="Sign in").click()


def no_horizontal_scroll(page: Page) -> None:
    scroll_width, client_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll_width <= client_width, (
        f"{page.url} scrolls sideways: {scroll_width} px of content in {client_width} px"
    )
