"""In the browser: sign a telehealth note with its procedures, confirm the charge it proposes,
see it in the month's totals on the schedule health page, download the superbill; and read an
addendum's author in the note's print view."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
from billing_world import BillingWorld, make_billing_world
from e2e_flows import Live, Participant
from pypdf import PdfReader

from server.config import load_settings
from server.db import make_engine, make_sessionmaker, transaction
from server.models import Note
from server.services.billing.coverage import end_coverage

pytestmark = pytest.mark.browser
VISIT = datetime(2026, 10, 7, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in Chicago


def seed(env: dict[str, str]) -> tuple[BillingWorld, Note]:
    """A private-pay family's completed telehealth visit, its note a draft."""

    async def run() -> tuple[BillingWorld, Note]:
        engine = make_engine(load_settings(env, dotenv=None).database_url)
        try:
            world = await make_billing_world(make_sessionmaker(engine))
            async with transaction(world.db) as session:
                await end_coverage(session, world.doc.client, date(2026, 9, 30), world.doc.actor)
            return world, await world.document(VISIT, [], sign=False)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_sign_confirm_totals_superbill(live: Live, launch: Callable[[str], Participant]) -> None:
    # Playwright's sync API owns this thread's event loop: seed from another thread.
    with ThreadPoolExecutor(1) as pool:
        world, note = pool.submit(seed, live.server.env).result()
    base = live.server.base_url
    page = launch("therapist").page
    page.goto(f"{base}/login")
    page.fill("#email", world.doc.therapist.email)
    page.fill("#password", "correct-horse-1")
    page.click("button[type=submit]:has-text('Sign in')")
    page.wait_for_url(lambda url: "/login" not in url)

    # The note: procedures and minutes, the client at home, then sign.
    page.goto(f"{base}/notes/{note.id}")
    page.select_option("select[name=proc-code-0]", "97530")
    page.fill("input[name=proc-minutes-0]", "38")
    page.select_option("select[name=client_at_home]", "yes")
    page.fill("textarea[name=assessment]", "Tripod grasp with a model.")
    page.click("#sign-note")

    # Signing proposes the charge and opens it: 38 timed minutes are 3 units, POS 10, GO 95.
    page.wait_for_url("**/billing/charges/*")
    line = page.locator("#charge-lines tr.line[data-code='97530']")
    assert line.locator("input[name^=modifiers-]").input_value() == "GO 95"
    assert line.locator("input[name^=units-]").input_value() == "3"
    assert page.locator("#pos").inner_text() == "10"
    assert page.locator("#charge-total").inner_text() == "$180.00"
    assert page.locator("#charge-problems").count() == 0
    page.click("#confirm-charge")
    page.locator("#charge-status:has-text('Confirmed')").wait_for()
    assert page.locator("#confirm-charge").count() == 0

    # The schedule health page: the month's telehealth total is billed, not projected.
    page.goto(f"{base}/schedule/health?week=2026-10-05")
    month = page.locator("#mode-totals tr[data-period=month][data-mode=telehealth]")
    assert month.locator("td.billed").inner_text().startswith("$180")
    assert month.locator("td.total").inner_text() == "$180"
    week = page.locator("#mode-totals tr[data-period=week][data-mode=telehealth]")
    assert week.locator("td.billed").inner_text().startswith("$180")

    # The superbill, downloaded from the month's billing page.
    page.goto(f"{base}/billing?month=2026-10")
    assert "$180.00" in page.locator("#billed-total").inner_text()
    with page.expect_download() as download:
        page.click("a.superbill-link")
    pdf = download.value.path().read_bytes()
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    for expected in ("Maya Okafor", "97530", "GO 95", "$180.00", "Total charges"):
        assert expected in text, expected

    # An addendum's author is on the note and stays in its print view.
    page.goto(f"{base}/notes/{note.id}")
    page.fill("input[name=reason]", "Correction")
    page.fill("textarea[name=text]", "Grandmother also present.")
    page.click("button:has-text('Add addendum')")
    page.locator(".addendum:has-text('Grandmother also present')").wait_for()
    page.emulate_media(media="print")
    author = page.locator(".addendum .addendum-author")
    assert author.is_visible()
    assert author.inner_text() == world.doc.therapist.name
    assert not page.locator(".addendum-form").is_visible()
    assert not page.locator("#note-charge").is_visible()
