"""Email really sent: the outbox worker delivers to a real SMTP server (aiosmtpd, in-process),
retries while it is down or refusing, and nothing is lost across a restart of Tandem."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

from running import eventually, on_db, tandem  # tests/support
from smtp_inbox import Mailbox, html_of, text_of  # tests/support
from sqlalchemy import select, update
from visit_world import CAREGIVER_EMAIL, book_soon, practice, send_to_caregiver  # tests/support

from server.config import Settings
from server.db import utcnow
from server.models import Appointment, OutboxAttempt, OutboxMessage

HTML = {"accept": "text/html"}


def messages(settings: Settings, kind: str, appt_id: str) -> list[OutboxMessage]:
    """The outbox rows of one kind for one visit (the database is shared by the session)."""

    async def work(session: Any) -> list[OutboxMessage]:
        rows = await session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == kind, OutboxMessage.appointment_id == appt_id
            )
        )
        return list(rows)

    result: list[OutboxMessage] = on_db(settings, work)
    return result


def attempts(settings: Settings, message_id: object) -> list[str]:
    async def work(session: Any) -> list[str]:
        rows = await session.scalars(
            select(OutboxAttempt)
            .where(OutboxAttempt.message_id == message_id)
            .order_by(OutboxAttempt.number)
        )
        return [row.outcome for row in rows]

    result: list[str] = on_db(settings, work)
    return result


def arrived(box: Mailbox, settings: Settings, kind: str, appt_id: str) -> Any:
    """The one outbox row of that kind for that visit, once its email is in the mailbox."""

    def check() -> Any:
        rows = messages(settings, kind, appt_id)
        return (rows[0], box.with_id(rows[0].rfc_message_id)) if len(rows) == 1 else None

    row, mails = eventually(lambda: (found := check()) and found[1] and found)
    assert len(mails) == 1
    return row, mails[0]


def test_an_invite_arrives_with_its_content_and_one_message_id(
    settings: Settings, helpers: Any, mailbox: Mailbox
) -> None:
    settings = replace(settings, smtp_url=mailbox.url, mail_from="Tandem <care@example.test>")
    with tandem(settings, helpers.make_user(), helpers) as client:
        appt_id = book_soon(client, helpers, practice(client, helpers), minutes_ahead=180)
        send_to_caregiver(client, helpers, appt_id, "invite")
        row, mail = arrived(mailbox, settings, "appointment.invite", appt_id)

        def sent_page() -> str | None:
            page = client.get(f"/schedule/appointments/{appt_id}", headers=HTML).text
            return page if "· sent" in page else None

        page = eventually(sent_page)
    assert CAREGIVER_EMAIL in page
    (row,) = messages(settings, "appointment.invite", appt_id)
    assert mail["To"] == CAREGIVER_EMAIL
    assert mail["From"] == "Tandem <care@example.test>"
    assert mail["Subject"] == row.subject
    assert mail["Message-ID"] == row.rfc_message_id == f"<outbox.{row.id}@example.test>"
    body = text_of(mail)
    assert "Hello Jonas Brandt," in body
    assert "telehealth visit for Leo" in body
    assert attempts(settings, row.id) == ["sent"]


def test_reminders_arrive_with_the_mode_and_a_join_link_that_opens_the_visit(
    settings: Settings, helpers: Any, mailbox: Mailbox
) -> None:
    settings = replace(settings, smtp_url=mailbox.url)
    login = helpers.make_user()
    mailbox.refusing = True  # nothing leaves the first instance: only the second one sends
    with tandem(settings, login, helpers) as client:
        kid = practice(client, helpers)
        soon = book_soon(client, helpers, kid, minutes_ahead=50)
        later = book_soon(client, helpers, kid, minutes_ahead=10 * 60)

    # The later visit was booked two days ago (the 24 h reminder is for visits booked ahead).
    async def backdate(session: Any) -> None:
        await session.execute(
            update(Appointment)
            .where(Appointment.id == later)
            .values(created_at=utcnow() - timedelta(days=2))
        )

    on_db(settings, backdate)
    mailbox.refusing = False
    with tandem(settings, login, helpers) as client:
        hour_row, hour = arrived(mailbox, settings, "reminder.1h", soon)
        day_row, day = arrived(mailbox, settings, "reminder.24h", later)
        assert messages(settings, "reminder.24h", soon) == []
        assert messages(settings, "reminder.1h", later) == []
        assert "visit is coming up" in text_of(day)
        text = text_of(hour)
        assert "visit is in about an hour" in text
        assert "How: Telehealth" in text
        link = re.search(r"http://[^/\s]+(/visit/\S+)", text)
        assert link
        assert "Join the visit" in html_of(hour)
        assert link.group(1) in html_of(hour)
        waiting = client.get(link.group(1), headers=HTML)
        assert waiting.status_code == 200
        assert "not open yet" in waiting.text
        started = client.post(
            f"/schedule/appointments/{soon}/video",
            data=helpers.form(client, f"/schedule/appointments/{soon}"),
        )
        assert started.status_code == 303
        opened = client.get(link.group(1), headers=HTML)
        assert opened.status_code == 303
        assert "/join/" in opened.headers["location"]
        tampered = client.get(link.group(1)[:-2] + "xx", headers=HTML)
        assert tampered.status_code == 403
    # Reminders are queued once: a third instance sends nothing more.
    with tandem(settings, login, helpers):
        time.sleep(1.0)
    assert len(mailbox.with_id(hour_row.rfc_message_id)) == 1
    assert len(mailbox.with_id(day_row.rfc_message_id)) == 1


def test_a_message_waits_out_a_down_then_refusing_server_across_a_restart(
    settings: Settings, helpers: Any
) -> None:
    box = Mailbox()  # not started: its port refuses connections
    settings = replace(settings, smtp_url=box.url, outbox_retry_seconds=1)
    login = helpers.make_user()
    with tandem(settings, login, helpers) as client:
        appt_id = book_soon(client, helpers, practice(client, helpers), minutes_ahead=180)
        send_to_caregiver(client, helpers, appt_id, "invite")
        eventually(
            lambda: (
                len(attempts(settings, messages(settings, "appointment.invite", appt_id)[0].id))
                >= 2
            )
        )
    (row,) = messages(settings, "appointment.invite", appt_id)
    assert row.status == "pending"
    assert row.last_error
    assert set(attempts(settings, row.id)) == {"retry"}
    box.refusing = True
    box.start()
    try:
        with tandem(settings, login, helpers):  # a new instance of Tandem on the same database
            eventually(lambda: box.refused >= 1)
            box.refusing = False
            eventually(
                lambda: messages(settings, "appointment.invite", appt_id)[0].status == "sent"
            )
    finally:
        box.stop()
    (row,) = messages(settings, "appointment.invite", appt_id)
    outcomes = attempts(settings, row.id)
    assert outcomes[-1] == "sent"
    assert set(outcomes[:-1]) == {"retry"}
    # At least the two tries while it was down (one may be the try the 451 answered) and the
    # one that went; the refusal itself is counted by the server above.
    assert len(outcomes) >= 3
    # One copy arrived, under the Message-ID the message had from its first try.
    (mail,) = box.with_id(row.rfc_message_id)
    assert mail["To"] == CAREGIVER_EMAIL
