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
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request

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
SERVER_START_TIMEOUT_S = 60.0

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


@dataclass(frozen=True)
class LiveServer:
    url: str
    password: str
    var_dir: Path
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# No proxy for 127.0.0.1, whatever the environment says.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(url: str) -> bool:
    try:
        with _direct.open(f"{url}/healthz", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    var_dir = tmp_path_factory.mktemp("toothline-live")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # Only our TOOTHLINE_* settings: nothing from the outer shell may point the server at
    # another database or blob store.
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOOTHLINE_")}
    env.update(
        TOOTHLINE_VAR_DIR=str(var_dir),
        TOOTHLINE_DATABASE_URL=f"sqlite:///{var_dir}/toothline.db",
        TOOTHLINE_BLOB_URL=f"file://{var_dir}/blobs",
        TOOTHLINE_DEMO_PASSWORD=DEMO_PASSWORD,
        PYTHONUNBUFFERED="1",
    )
    stdout_path = var_dir / "server.stdout.log"
    stderr_path = var_dir / "server.stderr.log"
    command = [sys.executable, "-m", "portal.cli", "run"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=stdout, stderr=stderr)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _healthy(url):
            problem = None
            if process.poll() is not None:
                problem = f"exited with status {process.returncode} before answering"
            elif time.monotonic() > deadline:
                limit = f"{SERVER_START_TIMEOUT_S:.0f} s"
                problem = f"did not answer GET /healthz with 200 within {limit}"
            if problem:
                _stop(process)
                output = stderr_path.read_text(errors="replace") or "(empty)"
                stdout_text = stdout_path.read_text(errors="replace") or "(empty)"
                message = (
                    f"live server {' '.join(command)} {problem}.\n"
                    f"--- server stderr ---\n{output}\n--- server stdout ---\n{stdout_text}"
                )
                print(message, file=sys.stderr)
                pytest.fail(message, pytrace=False)
            time.sleep(0.2)
        yield LiveServer(url=url, password=DEMO_PASSWORD, var_dir=var_dir, stderr_path=stderr_path)
    finally:
        _stop(process)


# ---------------------------------------------------------------------------- pages


@dataclass
class BrowserLog:
    """What went wrong in the browser: console errors (CSP violations and failed loads
    included), uncaught exceptions and failed requests."""

    problems: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
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
        """No problems except those matching one of the ``allow`` regular expressions."""
        unexpected = self.unexpected(allow)
        assert not unexpected, "browser reported:\n" + "\n".join(unexpected)


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
