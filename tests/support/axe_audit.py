"""axe-core in Chromium: the WCAG 2.0 and 2.1 A and AA rules run on each page a test shows.

axe-core comes from npm (tests/e2e/axe/package.json, pinned in its package-lock.json); .ci/run
installs it with `npm ci`. It is evaluated through the DevTools protocol, which the app's CSP
(no inline scripts) does not apply to, so the pages are checked exactly as they are served.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from services import service_missing
from starlette.applications import Starlette
from starlette.routing import Mount, Route, WebSocketRoute

AXE_DIR = Path(__file__).resolve().parents[1] / "e2e" / "axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
# The rules of WCAG 2.0 and 2.1, levels A and AA (axe's tags); nothing else.
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")

RUN_AXE = """async (tags) => {
  const results = await axe.run(document, {
    runOnly: { type: "tag", values: tags }, resultTypes: ["violations"],
  });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
  }));
}"""


def axe_source() -> str:
    if not AXE_JS.exists():
        service_missing(f"axe-core ({AXE_JS}: `npm ci --prefix {AXE_DIR}` installs it)")
    return AXE_JS.read_text()


@dataclass(frozen=True)
class PageRoute:
    path: str
    pattern: re.Pattern[str]


def get_routes(app: Starlette) -> tuple[list[PageRoute], list[str]]:
    """The app's GET routes in dispatch order, and every other HTTP mount (static files)."""
    routes: list[PageRoute] = []
    mounts: list[str] = []
    for route in app.routes:
        if isinstance(route, Route) and "GET" in (route.methods or ()):
            routes.append(PageRoute(route.path, route.path_regex))
        elif isinstance(route, Mount):
            mounts.append(route.path)
        elif not isinstance(route, (Route, WebSocketRoute)):
            mounts.append(getattr(route, "path", repr(route)))
    return routes, mounts


def describe(violations: list[dict[str, Any]]) -> list[str]:
    lines = []
    for v in violations:
        lines.append(f"  {v['id']} ({v['impact']}): {v['help']}  [{v['url']}]")
        for node in v["nodes"]:
            summary = " ".join(str(node["summary"]).split())
            lines.append(f"    {node['target']}: {summary}")
    return lines


@dataclass
class Audit:
    """Runs axe on pages and keeps what it found, and which routes were seen rendering."""

    source: str
    routes: list[PageRoute]
    mounts: list[str] = field(default_factory=list)
    covered: dict[str, list[str]] = field(default_factory=dict)  # route path -> page labels
    statuses: dict[int, list[str]] = field(default_factory=dict)  # HTTP status -> page labels
    findings: list[str] = field(default_factory=list)
    checked: int = 0
    _status: dict[int, int] = field(default_factory=dict)  # id(page) -> its document's status

    def watch(self, page: Any) -> None:
        """Remember the HTTP status of each document the page shows (redirects end in a GET)."""

        def on_response(response: Any) -> None:
            if response.request.is_navigation_request() and response.frame == page.main_frame:
                self._status[id(page)] = response.status

        page.on("response", on_response)

    def route_of(self, path: str) -> str | None:
        return next((r.path for r in self.routes if r.pattern.match(path)), None)

    def check(self, page: Any, label: str) -> None:
        """Run axe on what the page shows now; a page that rendered counts for its route."""
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(self.source)
        violations: list[dict[str, Any]] = page.evaluate(RUN_AXE, list(WCAG_TAGS))
        self.checked += 1
        status = self._status.get(id(page), 0)
        url = urlsplit(page.url)
        where = url.path + (f"?{url.query}" if url.query else "")
        self.statuses.setdefault(status, []).append(label)
        route = self.route_of(url.path)
        if route is not None and 200 <= status < 300:
            self.covered.setdefault(route, []).append(label)
        if violations:
            self.findings.append(f"{label} ({status} {where}):")
            self.findings.extend(describe(violations))

    def unaccounted(self, not_pages: dict[str, str]) -> list[str]:
        """GET routes and mounts neither seen rendering nor listed as not pages."""
        paths = [r.path for r in self.routes] + self.mounts
        return [p for p in paths if p not in self.covered and p not in not_pages]

    def stale(self, not_pages: dict[str, str]) -> list[str]:
        """Entries of not_pages that name no route or mount of the app."""
        paths = {r.path for r in self.routes} | set(self.mounts)
        return [p for p in not_pages if p not in paths]
