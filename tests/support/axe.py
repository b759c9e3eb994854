"""axe-core accessibility scans inside the browser journeys (WCAG 2.2 AA, issue 18).

Why in the journeys: the pages worth checking are the ones a person actually reaches (signed
in, with a case claimed, after an htmx swap), and the journeys already get there. So every page
a journey opens gets axe-core (tests/e2e/vendor/axe.min.js, MPL-2.0) as an init script; axe
runs on every ``load`` and after every htmx swap settles, and posts what it found to Python
through an exposed binding. Only ``serious`` and ``critical`` violations of the WCAG 2.0/2.1/
2.2 A and AA rules count (best-practice rules and minor/moderate findings are left out).

The second size: a journey runs at one viewport (phone 390x844, tablet 820x1180 or desktop
1280x900). Before the journey ends, :meth:`AxeAudit.rescan_other_size` opens every page it
visited once more at the other size (desktop for a phone or tablet journey, phone for a
desktop one) and scans it there -- cheaper than running each journey twice.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Response

AXE_JS = Path(__file__).resolve().parents[1] / "e2e" / "vendor" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
IMPACTS = ("serious", "critical")
PHONE_SIZE = {"width": 390, "height": 844}
DESKTOP_SIZE = {"width": 1280, "height": 800}

# Runs axe on load and after each htmx settle (debounced; one run at a time; once no htmx
# request is in flight) and reports
# {url, width, violations} through window.__toothlineAxe. Only in the top frame.
_RUNNER = """
(() => {
  if (window.top !== window || !window.axe) return;
  const options = {runOnly: {type: "tag", values: __TAGS__}, resultTypes: ["violations"]};
  let running = false, again = false, timer = null;
  // htmx dims a region while its request runs (.htmx-request, opacity 0.6 with a 0.2 s
  // transition): scan the page at rest, not that passing state.
  const busy = ".htmx-request, .htmx-swapping, .htmx-settling";
  let disturbed = false;
  for (const name of ["htmx:beforeRequest", "htmx:beforeSwap"]) {
    document.addEventListener(name, () => { disturbed = true; });
  }
  const pause = (ms) => new Promise((done) => setTimeout(done, ms));
  async function settled() {
    for (let i = 0; i < 60 && document.querySelector(busy); i++) await pause(50);
    await pause(250);
  }
  async function scan() {
    if (running) { again = true; return; }
    running = true;
    try {
      let result = null;
      for (let i = 0; i < 5; i++) {  // again if htmx started a request or swap meanwhile
        await settled();
        disturbed = false;
        result = await window.axe.run(document, options);
        if (!disturbed) break;
      }
      // a colour caught mid-transition (a swap's fade, a dialog opening) is not a finding:
      // keep only the contrast failures that are still there a moment later
      const contrast = result.violations.find((v) => v.id === "color-contrast");
      if (contrast) {
        await pause(600);
        const again = await window.axe.run(document, {runOnly: ["color-contrast"]});
        const still = new Set(again.violations.flatMap(
          (v) => v.nodes.map((n) => n.target.join(" "))));
        contrast.nodes = contrast.nodes.filter((n) => still.has(n.target.join(" ")));
        if (!contrast.nodes.length) {
          result.violations.splice(result.violations.indexOf(contrast), 1);
        }
      }
      const violations = result.violations
        .filter((v) => __IMPACTS__.includes(v.impact))
        .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                      targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
                      why: ((v.nodes[0].any[0] || v.nodes[0].all[0] || {}).message || "")}));
      await window.__toothlineAxe({url: location.href, width: window.innerWidth, violations});
    } catch (e) { /* the page went away mid-scan */ }
    running = false;
    if (again) { again = false; scan(); } else if (!timer) { window.__toothlineAxeIdle = true; }
  }
  window.__toothlineAxeScan = scan;
  window.__toothlineAxeIdle = false;
  const soon = () => {
    window.__toothlineAxeIdle = false;
    clearTimeout(timer);
    timer = setTimeout(() => { timer = null; scan(); }, 50);
  };
  window.addEventListener("load", soon);
  document.addEventListener("htmx:afterSettle", soon);
})();
""".replace("__TAGS__", json.dumps(TAGS)).replace("__IMPACTS__", json.dumps(list(IMPACTS)))


@dataclass
class AxeAudit:
    """Violations found on the pages attached to it, and the URLs those pages visited."""

    violations: list[str] = field(default_factory=list)
    scans: int = 0
    # per page: url -> the journey's viewport there (emptied once rescanned)
    visited: dict[int, dict[str, dict[str, int]]] = field(default_factory=dict)
    pages: list[Page] = field(default_factory=list)
    gets: set[str] = field(default_factory=set)  # pages loaded by a GET (safe to load again)
    rescanning: bool = False

    def attach(self, page: Page) -> None:
        page.expose_binding("__toothlineAxe", self._report)
        page.add_init_script(path=str(AXE_JS))
        page.add_init_script(_RUNNER)
        page.on("response", self._on_response)
        self.pages.append(page)

    def _on_response(self, response: Response) -> None:
        request = response.request
        if request.is_navigation_request() and request.method == "GET" and response.ok:
            self.gets.add(response.url.split("#")[0])

    def _report(self, source: dict[str, Any], result: dict[str, Any]) -> None:
        self.scans += 1
        page = source.get("page")
        url = str(result["url"])
        if (isinstance(page, Page) and page.viewport_size and not self.rescanning
                and not url.startswith("about:")):
            urls = self.visited.setdefault(id(page), {})
            urls.setdefault(url.split("#")[0], dict(page.viewport_size))
        for v in result["violations"]:
            line = (f"{url} @{result['width']}px: {v['id']} ({v['impact']}) {v['help']} "
                    f"-- {', '.join(v['targets'])} ({v['why']})")
            if line not in self.violations:
                self.violations.append(line)

    def rescan_other_size(self) -> None:
        """Open each page a still-open journey page visited again, in that page (so with its
        session), at the other size, and scan it there. Call before the context closes."""
        for page in self.pages:  # the journey's last scans first
            if not page.is_closed():
                # (a page without the runner -- a download, about:blank -- times out)
                with contextlib.suppress(PlaywrightError):
                    page.wait_for_function("() => window.__toothlineAxeIdle !== false",
                                           timeout=10_000)
        self.rescanning = True
        try:
            for page in self.pages:
                urls = self.visited.pop(id(page), {})
                if not page.is_closed():
                    self._rescan(page, urls)
        finally:
            self.rescanning = False

    def _rescan(self, page: Page, urls: dict[str, dict[str, int]]) -> None:
        for url, size in urls.items():
            if url not in self.gets:  # a form POST's answer: loading it again would GET it
                continue
            page.set_viewport_size(PHONE_SIZE if size["width"] >= 1000 else DESKTOP_SIZE)
            before = self.scans
            try:
                page.goto(url)
            except PlaywrightError as exc:  # e.g. a download URL: nothing to scan
                if "Download is starting" not in str(exc):
                    raise
                continue
            for _ in range(100):  # the scan the load starts (5 s at most)
                if self.scans > before:
                    break
                page.wait_for_timeout(50)

    def assert_clean(self) -> None:
        assert self.scans, "axe never ran: is tests/e2e/vendor/axe.min.js there?"
        assert not self.violations, (
            "accessibility (axe, WCAG 2.2 AA, serious/critical):\n" + "\n".join(self.violations)
        )
