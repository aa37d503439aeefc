"""Every page meets WCAG 2.1 AA: axe-core, run in Chromium on each page, finds no violation.

One tour of the whole app on the demo practice (tests/support/demo_site.py): signed out, as the
therapist, as the admin, then a real call seen by the therapist, the parent and the observer
through each of its phases. Every GET route of the app must be shown rendering (2xx) at least
once, or be listed in NOT_PAGES with what it serves instead, so a new page cannot skip the check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import pytest
from axe_audit import Audit, axe_source, get_routes
from demo_site import DemoSite, seed_demo_site
from e2e_flows import (
    Live,
    Participant,
    admit,
    timeline,
    wait_consent_dialog,
    wait_frames_growing,
    wait_js,
    wait_recording_state,
    wait_until,
)
from live import LiveServer, prepare_environment, serving

from server.config import load_settings
from server.wiring import build_app

pytestmark = pytest.mark.browser

# GET routes that answer with something other than an HTML page for people to read.
NOT_PAGES = {
    "/healthz": "health probe (JSON)",
    "/metrics": "Prometheus metrics (text)",
    "/static": "static files (CSS, JS, images)",
    "/api/v1/me": "JSON API",
    "/api/v1/clients": "JSON API",
    "/api/v1/clients/{client_id}": "JSON API",
    "/api/v1/audit": "JSON API",
    "/api/openapi.json": "OpenAPI document (JSON)",
    "/api/v1/notes/{note_id}": "JSON API",
    "/api/v1/clients/{client_id}/fhir": "FHIR bundle (JSON)",
    "/api/v1/appointments": "JSON API",
    "/api/v1/appointments/{appointment_id}": "JSON API",
    "/api/v1/availability": "JSON API",
    "/api/v1/schedule/health": "JSON API",
    "/calendar/{token}.ics": "iCalendar feed",
    "/recordings/{file_id}/media": "recorded video (WebM)",
    "/family/items/{item_id}/clip": "a home-program clip (WebM)",
    "/sessions/{session_id}/annotations/{annotation_id}/snapshot": "snapshot image (JPEG)",
    "/billing/claims.837p": "837P claims file (X12)",
    "/billing/ledger.csv": "charges (CSV)",
    "/billing/superbill/{client_id}": "superbill (PDF)",
}
# Answers other than a page the tour must also have checked: a refusal, a missing page, a
# withdrawn join link, a form sent back with its errors.
ERROR_STATUSES = {403, 404, 410, 422}


@pytest.fixture(scope="session")
def axe(chromium: str) -> str:
    """axe-core's source (npm), or a skip (a failure under TANDEM_REQUIRE_SERVICES=1)."""
    return axe_source()


@pytest.fixture(scope="module")
def site(
    axe: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, DemoSite]]:
    tmp = tmp_path_factory.mktemp("a11y")

    def prepare() -> tuple[dict[str, str], DemoSite]:
        env = prepare_environment(tmp)
        return env, seed_demo_site(load_settings(env, dotenv=None))

    # Playwright's sync API owns this thread's event loop: seed from another thread.
    with ThreadPoolExecutor(1) as pool:
        env, demo = pool.submit(prepare).result()
    with serving(env, tmp) as server:
        yield server, demo


@pytest.fixture(scope="module")
def live(site: tuple[LiveServer, DemoSite]) -> Live:
    """Overrides tests/e2e/conftest.py's server: `launch` opens browsers on the demo site."""
    return Live(site[0], site[1].therapist_email)


@pytest.fixture
def audit(axe: str, site: tuple[LiveServer, DemoSite]) -> Audit:
    routes, mounts = get_routes(build_app(load_settings(site[0].env, dotenv=None)))
    return Audit(axe, routes, mounts)


class Tour:
    """One browser page walked through the app, checked with axe wherever it lands."""

    def __init__(self, audit: Audit, person: Participant, base: str) -> None:
        self.audit, self.person, self.page, self.base = audit, person, person.page, base
        audit.watch(self.page)

    def visit(self, path: str, label: str, ready: str | None = None) -> None:
        self.page.goto(self.base + path)
        self.check(label, ready)

    def check(self, label: str, ready: str | None = None) -> None:
        if ready:
            self.page.locator(ready).first.wait_for(state="attached")
        self.audit.check(self.page, f"{self.person.who}: {label}")

    def submit(self, form: str, label: str) -> None:
        """Submit a form in the page's main content and check the page it leads to."""
        with self.page.expect_navigation():
            self.page.locator(f"main {form} [type=submit]").first.click()
        self.check(label)

    def sign_in(self, email: str, password: str) -> None:
        self.page.goto(f"{self.base}/login")
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        with self.page.expect_navigation():
            self.page.click("main button[type=submit]")

    def sign_out(self) -> None:
        self.page.goto(f"{self.base}/")
        with self.page.expect_navigation():
            self.page.click(".signout button[type=submit]")


def signed_out(tour: Tour, demo: DemoSite) -> None:
    tour.visit("/login", "sign-in page")
    tour.page.fill("#email", demo.therapist_email)
    tour.page.fill("#password", "not the password")
    tour.submit("form", "sign-in page, wrong password")
    tour.visit("/no/such/page", "404 page, signed out")
    tour.visit(demo.join_urls["tampered"], "join link that was tampered with (403)")
    tour.visit(demo.join_urls["revoked"], "join link withdrawn (410)")
    tour.visit(demo.visit_url, "a reminder's visit link, visit not open yet")


def therapist_pages(tour: Tour, demo: DemoSite) -> None:
    page = tour.page
    tour.sign_in(demo.therapist_email, demo.password)
    tour.check("home (dashboard)")
    tour.visit("/clients", "client list")
    tour.visit("/clients?q=zzz", "client list, nothing found")
    tour.visit(f"/clients/{demo.client_id}", "client detail (chart, timeline)")
    tour.visit(f"/clients/{demo.client_id}/edit", "client edit form")
    tour.visit("/clients/new", "new client form")
    tour.submit("form", "new client form, with errors")
    tour.visit(f"/clients/{demo.client_id}/plans/new", "new plan of care form")
    tour.visit(f"/clients/{demo.client_id}/tags", "tags for the call (per goal)", "#tags-form")
    tour.submit("#tags-form", "tags for the call, saved")
    tour.visit(f"/plans/{demo.plan_id}", "plan of care with goal charts", "svg.goal-chart")
    tour.visit(f"/notes/{demo.draft_note_id}", "draft note editor", "form[data-autosave-ready=yes]")
    tour.visit(f"/notes/{demo.signed_note_id}", "signed note with an addendum", "#hash-verified")
    page.emulate_media(media="print")
    tour.check("signed note, print view")
    page.emulate_media(media="screen")

    tour.visit("/schedule", "week view, this week")
    cancelled = demo.cancelled_day
    tour.visit(f"/schedule?week={cancelled}", "week view with a cancelled and a no-show visit")
    tour.visit(f"/schedule/day/{cancelled}", "day view with a cancelled visit")
    tour.visit(f"/schedule/health?week={cancelled}", "schedule health")
    tour.visit(f"/schedule/appointments/{demo.cancelled_appointment_id}", "cancelled visit")
    tour.visit(f"/schedule/appointments/{demo.video_appointment_id}", "telehealth visit, video on")
    tour.visit(f"/schedule/appointments/{demo.video_appointment_id}/edit", "visit edit form")
    tour.visit("/schedule/new", "booking form")
    tour.submit("#booking-form", "booking form, with errors")
    book_unlicensed_evening(tour)

    tour.visit(f"/billing?month={demo.charge_month}", "billing: the month's charges")
    tour.visit(f"/billing/charges/{demo.proposed_charge_id}", "charge to review")
    tour.visit(f"/billing/charges/{demo.charge_id}", "confirmed charge, held back by a check")
    tour.visit("/billing/setup", "billing setup (practice, payers, fees)")
    page.fill("#practice input[name=billing_npi]", "1234567890")
    tour.submit("form[action='/billing/setup/practice']", "billing setup, with an error")
    tour.visit(f"/clients/{demo.client_id}/billing", "client insurance and authorizations")
    tour.submit(
        "form[action$='/billing/authorizations']", "client insurance, authorization with errors"
    )

    tour.visit("/profile", "profile (licenses, blocks, feed)")
    page.fill("#rate-amount", "a lot")
    tour.submit("form[action='/profile/rates']", "profile, with an error")
    tour.submit("form[action='/profile/calendar-feed']", "profile, new calendar feed shown")

    tour.visit("/sessions", "video sessions")
    tour.visit(f"/sessions/{demo.live_session_id}", "live session: links and attendance")
    tour.visit(f"/sessions/{demo.recorded_session_id}", "ended session: observation summary")
    tour.visit(f"/sessions/{demo.recorded_session_id}/playback", "playback", "#timeline .marker")
    wait_js(page, "() => document.getElementById('playback-video').readyState >= 1", 15)
    tour.check("playback, video loaded")
    tour.visit("/admin/audit", "audit log refused to a therapist (403)")
    tour.visit("/no/such/page", "404 page, signed in")
    tour.sign_out()


def book_unlicensed_evening(tour: Tour) -> None:
    """Telehealth for a client in a state with no license, outside hours: refused, explained."""
    page = tour.page
    page.goto(f"{tour.base}/schedule/new")
    page.select_option("#client_id", label="Leo Brandt (WI)")
    page.select_option("#service_type", index=1)
    page.fill("#date", (date.today() + timedelta(days=2)).isoformat())
    page.fill("#start_time", "21:00")
    page.check("input[name=mode][value=telehealth]")
    page.locator("#booking-check:not([hidden])").wait_for()
    tour.check("booking form, live check shows problems")
    tour.submit("#booking-form", "booking form, refused by the server")


def family_pages(tour: Tour, demo: DemoSite) -> None:
    """The parent's side: signed out, the emailed sign-in link, the family page, an item."""
    tour.visit("/family", "family page, signed out")
    tour.visit(demo.family_sign_in_url, "family sign-in link")
    tour.submit("form", "family page")
    tour.visit(f"/family/items/{demo.family_item_id}", "home-program item")
    tour.page.fill("#minutes", "10")
    tour.page.check("input[name=how_it_went][value=easy]")
    tour.submit("#practice-form", "home-program item, practice logged")
    tour.visit("/family/forms/recording", "recording consent, to sign")
    tour.page.fill("#signed-name", " ")  # passes the browser's check, not the server's
    tour.submit("form[action='/family/forms/recording']", "recording consent, name missing")
    tour.page.fill("#signed-name", "Ada Okafor")
    tour.submit("form[action='/family/forms/recording']", "recording consent, signed")
    tour.visit("/family/forms/intake", "intake form")
    tour.submit("form[action='/family/forms/intake']", "intake form, with an error")
    tour.visit(demo.family_sign_in_url, "family sign-in link, already used (410)")
    tour.page.goto(f"{tour.base}/family")
    with tour.page.expect_navigation():
        tour.page.click("main form[action='/family/sign-out'] [type=submit]")


def admin_pages(tour: Tour, demo: DemoSite) -> None:
    tour.sign_in(demo.admin_email, demo.password)
    tour.check("home")
    tour.visit("/admin/audit", "audit log")
    tour.visit("/admin/audit?action=note.sign", "audit log, filtered")
    tour.sign_out()


def join_check(tour: Tour, url: str, label: str) -> None:
    """The join page once its device and connection checks are done."""
    tour.page.goto(tour.base + url)
    tour.person.wait_phase("check")
    wait_js(tour.page, "() => !document.getElementById('btn-join').disabled", 15)
    wait_js(
        tour.page, "() => document.getElementById('net-status').dataset.result !== 'checking'", 20
    )
    tour.check(label)


def knock_and_wait(tour: Tour) -> str:
    tour.page.click("#btn-join")
    tour.person.wait_phase("lobby")
    tour.check("join page, waiting room")
    return tour.person.participant_id()


def call_pages(
    audit: Audit, demo: DemoSite, base: str, therapist: Tour, launch: Callable[[str], Participant]
) -> None:
    parent = Tour(audit, launch("parent"), base)
    observer = Tour(audit, launch("observer"), base)
    therapist.sign_in(demo.therapist_email, demo.password)
    therapist.page.goto(f"{base}/sessions/{demo.live_session_id}/call")
    therapist.person.wait_phase("call")
    therapist.check("call page, alone")
    me = therapist.person.participant_id()

    join_check(parent, demo.join_urls["parent"], "join page, checks done (location asked)")
    # In a state the therapist holds no license for: the page says why joining is refused.
    parent.page.select_option("#location-state", "WI")
    parent.page.click("#btn-join")
    parent.page.locator("#check-status.alert-error").wait_for()
    parent.check("join page, location refused")
    parent.page.select_option("#location-state", "IL")
    parent_id = knock_and_wait(parent)
    therapist.page.locator(f"#waiting-list li[data-participant='{parent_id}']").wait_for()
    therapist.check("call page, parent in the waiting room")
    admit(therapist.person, parent_id)
    parent.person.wait_phase("call")
    wait_frames_growing(parent.person, me)
    wait_frames_growing(therapist.person, parent_id)
    parent.check("call page, in the call")
    therapist.check("call page, with the parent")

    # The parent's phone as a second camera: the code on the computer, the phone's page.
    parent.page.click("#btn-camera-link")
    parent.page.locator("#camera-link:not([hidden])").wait_for()
    parent.check("call page, second-camera code shown")
    phone = Tour(audit, launch("parent-phone"), base)
    phone.page.set_viewport_size({"width": 390, "height": 844})
    camera_url = parent.page.inner_text("#camera-url").removeprefix(base)
    phone.visit(camera_url, "second camera page (phone)", "#camera[data-state=ready]")

    join_check(observer, demo.join_urls["observer"], "join page, checks done")
    observer_id = knock_and_wait(observer)
    admit(therapist.person, observer_id)
    observer.person.wait_phase("call")
    wait_frames_growing(observer.person, parent_id)
    observer.check("call page, watching")

    therapist.page.click("#btn-record")
    wait_consent_dialog(parent.person)
    parent.check("consent dialog")
    therapist.check("call page, asking for consent")
    wait_consent_dialog(observer.person)  # everyone in the room is asked
    observer.page.click("#consent-accept")
    parent.page.click("#consent-decline")
    therapist.page.locator("#recording-refused:not([hidden])").wait_for()
    therapist.check("call page, recording declined")
    parent.page.locator("#btn-consent-review:not([hidden])").wait_for()
    parent.check("call page, after declining the recording")
    parent.page.click("#btn-consent-review")
    wait_consent_dialog(parent.person)
    parent.page.click("#consent-accept")
    wait_recording_state(therapist.person, "recording")
    therapist.page.locator("#tag-buttons button").first.click()
    therapist.page.fill("#note-text", "Reaches with the left hand")
    therapist.page.press("#note-text", "Enter")
    wait_until(
        lambda: [i["status"] for i in timeline(therapist.person)] == ["saved", "saved"],
        10, lambda: f"annotations not saved: {timeline(therapist.person)}",
    )  # fmt: skip
    therapist.check("call page, recording, with notes and tags")
    parent.check("call page, being recorded")

    therapist.page.click("#btn-end")
    therapist.person.wait_phase("ended")
    parent.person.wait_phase("ended")
    therapist.check("call page, session ended")
    parent.check("join page, session over")


def test_every_page_meets_wcag_21_aa(
    site: tuple[LiveServer, DemoSite], audit: Audit, launch: Callable[[str], Participant]
) -> None:
    server, demo = site
    tour = Tour(audit, launch("therapist"), server.base_url)
    try:
        signed_out(tour, demo)
        therapist_pages(tour, demo)
        admin_pages(tour, demo)
        family_pages(tour, demo)
        call_pages(audit, demo, server.base_url, tour, launch)
    finally:
        # Shown when a step of the tour breaks: what axe found until then.
        print("\n".join(audit.findings))

    problems = list(audit.findings)
    missing = audit.unaccounted(NOT_PAGES)
    stale = audit.stale(NOT_PAGES)
    if missing:
        problems.append(
            f"GET routes that no page of the tour rendered (check them, or list them in "
            f"NOT_PAGES if they serve no page): {missing}"
        )
    if stale:
        problems.append(f"NOT_PAGES names routes the app does not have: {stale}")
    unseen = ERROR_STATUSES - set(audit.statuses)
    if unseen:
        problems.append(f"error pages not checked: {sorted(unseen)}")
    assert not problems, f"axe checked {audit.checked} pages:\n" + "\n".join(problems)


def test_the_check_finds_a_violation(axe: str, chromium: str, playwright_instance: Any) -> None:
    """The check is live: a page with an unlabelled field and low-contrast text fails it."""
    audit = Audit(axe, [])
    browser = playwright_instance.chromium.launch(executable_path=chromium, args=["--headless"])
    try:
        page = browser.new_page()
        page.set_content(
            '<html lang="en"><head><title>Bad</title></head><body><main>'
            '<input id="x"><p style="color:#bbb;background:#fff">faint</p></main></body></html>'
        )
        audit.check(page, "a bad page")
    finally:
        browser.close()
    found = "\n".join(audit.findings)
    assert re.search(r"^  label \(critical\)", found, re.M), found
    assert re.search(r"^  color-contrast \(serious\)", found, re.M), found
