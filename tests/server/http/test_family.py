"""Family access without a password: the sign-in link arrives by email (a real SMTP server),
works once, expires, can be withdrawn, and opens only its own family's page and items."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import replace
from datetime import timedelta
from typing import Any

from running import eventually, on_db, tandem  # tests/support
from smtp_inbox import Mailbox, text_of  # tests/support
from sqlalchemy import select, update
from starlette.testclient import TestClient
from visit_world import CAREGIVER_EMAIL, book_soon, practice  # tests/support

from server.config import Settings
from server.db import utcnow
from server.models import AuditEntry, FamilySignInLink, OutboxMessage
from server.services.family.forms import CONSENTS
from server.services.scheduling.delivery import SCRUBBED

HTML = {"accept": "text/html"}
BASE = "https://tandem.example.test"


def add_kid(client: TestClient, helpers: Any, first: str, caregiver_email: str) -> str:
    headers = {"x-csrf-token": helpers.form(client, "/")["csrf_token"]}
    kid = client.post(
        "/api/v1/clients",
        json={"first_name": first, "last_name": "Lund", "date_of_birth": "2019-02-01",
              "time_zone": "America/Chicago", "home_state": "IL",
              "caregivers": [{"name": f"{first}'s parent", "relationship": "Mother",
                              "email": caregiver_email}]},
        headers=headers,
    )  # fmt: skip
    assert kid.status_code == 201, kid.text
    kid_id: str = kid.json()["id"]
    return kid_id


def add_item(client: TestClient, helpers: Any, kid: str, title: str) -> str:
    page = f"/clients/{kid}"
    response = client.post(
        f"/clients/{kid}/home-program",
        data=helpers.form(client, page, title=title, instruction="Wait 5 s before the spoon."),
    )
    assert response.status_code == 303
    found = re.findall(
        r'<strong>([^<]+)</strong><br><span class="muted">Wait 5 s',
        client.get(page, headers=HTML).text,
    )
    assert title in found
    return title


def send_link(client: TestClient, helpers: Any, mailbox: Mailbox, kid: str, to: str) -> str:
    """Emails a sign-in link to the kid's caregiver; the path it carries, read from the email."""
    page = client.get(f"/clients/{kid}", headers=HTML).text
    caregiver = re.search(
        r'id="family-caregiver" name="caregiver_id">\s*<option value="([^"]+)"', page
    )
    assert caregiver
    before = len([m for m in mailbox.received if m["To"] == to])
    response = client.post(
        f"/clients/{kid}/family-links",
        data=helpers.form(client, f"/clients/{kid}", caregiver_id=caregiver.group(1)),
    )
    assert response.status_code == 303
    mails = eventually(
        lambda: (ms := [m for m in mailbox.received if m["To"] == to])[before:] and ms
    )
    link = re.search(re.escape(BASE) + r"(/family/sign-in/[A-Za-z0-9_-]+)", text_of(mails[-1]))
    assert link, text_of(mails[-1])
    return link.group(1)


def sign_in(family: TestClient, helpers: Any, path: str) -> Any:
    form = family.get(path, headers=HTML)
    assert form.status_code == 200, form.text
    return family.post(path, data={"csrf_token": helpers.csrf_from(form.text)}, headers=HTML)


def audit(settings: Settings, action: str) -> list[AuditEntry]:
    async def work(session: Any) -> list[AuditEntry]:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)))

    rows: list[AuditEntry] = on_db(settings, work)
    return rows


def test_a_family_signs_in_from_the_emailed_link_once_and_sees_its_page(
    https_settings: Settings, helpers: Any, mailbox: Mailbox
) -> None:
    settings = replace(https_settings, public_base_url=BASE, smtp_url=mailbox.url)
    login = helpers.make_user()
    with tandem(settings, login, helpers, base_url=BASE) as client:
        kid = practice(client, helpers)
        add_item(client, helpers, kid, "Snack-time waiting")
        path = send_link(client, helpers, mailbox, kid, CAREGIVER_EMAIL)
        token = path.rpartition("/")[2]

        # The database holds the token's hash only; the email's body is dropped once sent.
        def stored() -> Any:
            async def work(session: Any) -> Any:
                link = await session.scalar(
                    select(FamilySignInLink).where(FamilySignInLink.client_id == kid)
                )
                mail = await session.scalar(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.kind == "family.sign_in.invite",
                        OutboxMessage.recipient == CAREGIVER_EMAIL,
                        OutboxMessage.status == "sent",
                    )
                    .order_by(OutboxMessage.sent_at.desc())
                )
                return link, mail

            return on_db(settings, work)

        link, mail = eventually(lambda: (found := stored())[1] is not None and found)
        assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in mail.body
        assert mail.body == SCRUBBED

        client.cookies.clear()  # from here on, the parent's browser
        signed = sign_in(client, helpers, path)
        assert signed.status_code == 303
        assert signed.headers["location"] == "/family"
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith("tandem_family=")
        for flag in ("HttpOnly", "Secure", "Path=/family", "SameSite=lax"):
            assert flag in cookie
        page = client.get("/family", headers=HTML)
        assert page.status_code == 200
        assert "Leo&#39;s family page" in page.text
        assert "Snack-time waiting" in page.text
        item = re.search(r'href="(/family/items/[0-9a-f-]+)"', page.text)
        assert item
        item_page = client.get(item.group(1), headers=HTML).text
        assert "Wait 5 s before the spoon." in item_page
        entry = {"csrf_token": helpers.csrf_from(item_page), "practiced_on": "2001-01-01",
                    "minutes": "10", "how_it_went": "easy", "note": "Waited twice"}  # fmt: skip
        too_old = client.post(f"{item.group(1)}/practice", data=entry, headers=HTML)
        assert too_old.status_code == 422
        assert "Choose today or a day of the last two weeks." in too_old.text
        today = re.search(r'name="practiced_on" value="([0-9-]+)"', item_page)
        assert today
        logged = client.post(
            f"{item.group(1)}/practice", data={**entry, "practiced_on": today.group(1)}
        )
        assert logged.status_code == 303
        assert "10 min · Went well · Waited twice" in client.get(item.group(1), headers=HTML).text
        # The link worked once.
        again = client.post(path, data={"csrf_token": helpers.csrf_from(page.text)}, headers=HTML)
        assert again.status_code == 410
        assert "already used" in again.text
        helpers.login(client, *login)
        assert "<td>1/7 · 10 min</td>" in client.get(f"/clients/{kid}", headers=HTML).text
    views = [r for r in audit(settings, "family.view") if r.object_id == kid]
    assert views
    assert views[-1].actor_type == "family"
    assert [r.outcome for r in audit(settings, "family.item_read") if r.actor_type == "family"]


def test_refusals_expired_revoked_unknown_and_another_familys_link_or_item(
    https_settings: Settings, helpers: Any, mailbox: Mailbox
) -> None:
    settings = replace(https_settings, public_base_url=BASE, smtp_url=mailbox.url)
    login = helpers.make_user()
    with tandem(settings, login, helpers, base_url=BASE) as therapist:
        leo = practice(therapist, helpers)
        mia = add_kid(therapist, helpers, "Mia", "mia.parent@example.test")
        add_item(therapist, helpers, mia, "Stairs for Mia")
        expired = send_link(therapist, helpers, mailbox, leo, CAREGIVER_EMAIL)
        revoked = send_link(therapist, helpers, mailbox, leo, CAREGIVER_EMAIL)
        leos = send_link(therapist, helpers, mailbox, leo, CAREGIVER_EMAIL)
        mias = send_link(therapist, helpers, mailbox, mia, "mia.parent@example.test")
        mia_page = therapist.get(f"/clients/{mia}", headers=HTML).text
        withdraw = re.findall(
            r'action="(/clients/[^"]+/family-links/[^"]+/revoke)"',
            therapist.get(f"/clients/{leo}", headers=HTML).text,
        )

        async def expire(session: Any) -> None:
            await session.execute(
                update(FamilySignInLink)
                .where(
                    FamilySignInLink.token_hash
                    == hashlib.sha256(expired.rpartition("/")[2].encode()).hexdigest()
                )
                .values(expires_at=utcnow() - timedelta(minutes=1))
            )

        on_db(settings, expire)
        # The newest link is listed first: withdraw the second one sent.
        assert len(withdraw) == 3
        assert (
            therapist.post(withdraw[1], data=helpers.form(therapist, f"/clients/{leo}")).status_code
            == 303
        )
        assert "Mia" in mia_page

    with tandem(settings, login, helpers, base_url=BASE) as family:
        family.cookies.clear()
        page = family.get(expired, headers=HTML)
        assert page.status_code == 410
        assert "expired" in page.text
        page = family.get(revoked, headers=HTML)
        assert page.status_code == 410
        assert "withdrawn" in page.text
        assert family.get("/family/sign-in/not-a-real-token", headers=HTML).status_code == 403
        assert sign_in(family, helpers, leos).status_code == 303
        # Signed in as Leo's family: Mia's family's link and Mia's items are refused.
        other = family.get(mias, headers=HTML)
        assert other.status_code == 403
        assert "another family" in other.text
        assert "Stairs for Mia" not in family.get("/family", headers=HTML).text

        async def mia_item(session: Any) -> str:
            from server.models import HomeProgramItem

            row = await session.scalar(
                select(HomeProgramItem).where(HomeProgramItem.client_id == mia)
            )
            return str(row.id)

        item_id = on_db(settings, mia_item)
        assert family.get(f"/family/items/{item_id}", headers=HTML).status_code == 404
        assert family.get("/family/items/not-an-id", headers=HTML).status_code == 404
        # Withdrawing a used link signs its family out.
        helpers.login(family, *login)
        leo_page = family.get(f"/clients/{leo}", headers=HTML).text
        newest = re.findall(r'action="(/clients/[^"]+/family-links/[^"]+/revoke)"', leo_page)[0]
        assert "Withdraw and sign out" in leo_page
        assert family.post(newest, data=helpers.form(family, f"/clients/{leo}")).status_code == 303
        assert "Open the sign-in link" in family.get("/family", headers=HTML).text
    refusals = [r for r in audit(settings, "family.item_read") if r.object_id == item_id]
    assert [(r.outcome, r.detail.get("reason")) for r in refusals] == [("refused", "not_owner")]
    reasons = {
        r.detail.get("reason") for r in audit(settings, "family.sign_in") if r.outcome == "refused"
    }
    assert {"expired", "revoked", "unknown", "other_family"} <= reasons


def test_the_first_visit_brings_a_request_for_consent_and_intake(
    https_settings: Settings, helpers: Any, mailbox: Mailbox
) -> None:
    settings = replace(https_settings, public_base_url=BASE, smtp_url=mailbox.url)
    login = helpers.make_user()
    parent = f"noa-{secrets.token_hex(4)}@example.test"
    with tandem(settings, login, helpers, base_url=BASE) as client:
        practice(client, helpers)  # the therapist's Illinois license
        noa = add_kid(client, helpers, "Noa", parent)
        appt = book_soon(client, helpers, noa, minutes_ahead=180)
        mail = eventually(lambda: next((m for m in mailbox.received if m["To"] == parent), None))
        assert mail["Subject"] == "Before Noa's first visit: consent and intake"
        link = re.search(re.escape(BASE) + r"(/family/sign-in/[A-Za-z0-9_-]+)", text_of(mail))
        assert link
        client.cookies.clear()
        assert sign_in(client, helpers, link.group(1)).status_code == 303
        page = client.get("/family", headers=HTML).text
        assert page.count("<strong>to complete</strong>") == 3
        consent = client.get("/family/forms/telehealth", headers=HTML)
        assert CONSENTS["telehealth"].text in consent.text
        form = {
            "csrf_token": helpers.csrf_from(consent.text),
            "version": CONSENTS["telehealth"].version,
        }
        unsigned = client.post(
            "/family/forms/telehealth", data={**form, "signed_name": ""}, headers=HTML
        )
        assert unsigned.status_code == 422
        assert "Type your full name to sign." in unsigned.text
        signed = client.post(
            "/family/forms/telehealth", data={**form, "signed_name": "Noa's parent"}
        )
        assert signed.status_code == 303
        assert (
            "Signed</strong> by Noa&#39;s parent"
            in client.get("/family/forms/telehealth", headers=HTML).text
        )
        intake = client.get("/family/forms/intake", headers=HTML)
        sent = client.post(
            "/family/forms/intake",
            data={
                "csrf_token": helpers.csrf_from(intake.text),
                "concerns": "Dressing in the morning",
            },
        )
        assert sent.status_code == 303
        assert client.get("/family", headers=HTML).text.count("<strong>to complete</strong>") == 1
        helpers.login(client, *login)
        status = client.get(f"/schedule/appointments/{appt}", headers=HTML).text
        assert "Consent to telehealth: signed by Noa&#39;s parent" in status
        assert "Consent to recording visits: <strong>not yet</strong>" in status
        assert "Intake form: received" in status
    signs = [r for r in audit(settings, "family.consent_sign") if r.object_id == noa]
    assert [(r.actor_type, r.detail["kind"]) for r in signs] == [("family", "telehealth")]
