"""Visit reminders are queued when due, once per visit time and caregiver; one still waiting
when its visit is cancelled or moved is cancelled, and the moved visit gets its own."""

from __future__ import annotations

from datetime import timedelta

from practice import add_child, add_therapist, unit_of_work  # tests/support
from sqlalchemy import select

from server.db import utcnow
from server.models import Appointment, Caregiver, OutboxMessage
from server.services.scheduling.reminders import queue_due_reminders
from server.services.scheduling.visit_links import VisitLinkSigner

LINKS = VisitLinkSigner("k" * 40)


async def reminders_of(database_url: str, appt_id: object) -> list[tuple[str, str]]:
    async with unit_of_work(database_url) as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.appointment_id == appt_id)
            .order_by(OutboxMessage.created_at)
        )
        return [(row.kind, row.status) for row in rows]


async def test_reminders_once_then_cancelled_or_moved(database_url: str) -> None:
    now = utcnow()
    async with unit_of_work(database_url) as session:
        therapist, _ = await add_therapist(session)
        child = await add_child(session, therapist)
        session.add(Caregiver(client_id=child.id, name="Ada", relationship_to_client="Mother",
                              email="ada@example.test"))  # fmt: skip
        appt = Appointment(
            therapist_id=therapist.id, client_id=child.id, starts_at=now + timedelta(minutes=40),
            ends_at=now + timedelta(minutes=85), mode="telehealth", client_state="IL",
            service_type="ot_treatment", status="booked", overridden=[],
            created_at=now - timedelta(days=3),
        )  # fmt: skip
        session.add(appt)
    async with unit_of_work(database_url) as session:
        assert await queue_due_reminders(session, now, "https://t.example", LINKS) >= 1
    async with unit_of_work(database_url) as session:
        await queue_due_reminders(session, now + timedelta(minutes=1), "https://t.example", LINKS)
    assert await reminders_of(database_url, appt.id) == [("reminder.1h", "pending")]
    # Moved 20 hours later: the waiting reminder is cancelled; the 24 h one for the new time is
    # due at once.
    async with unit_of_work(database_url) as session:
        moved = await session.get(Appointment, appt.id)
        assert moved is not None
        moved.starts_at += timedelta(hours=20)
        moved.ends_at += timedelta(hours=20)
        await queue_due_reminders(session, now + timedelta(minutes=2), "https://t.example", LINKS)
    assert await reminders_of(database_url, appt.id) == [
        ("reminder.1h", "cancelled"), ("reminder.24h", "pending"),
    ]  # fmt: skip
    async with unit_of_work(database_url) as session:
        cancelled = await session.get(Appointment, appt.id)
        assert cancelled is not None
        cancelled.status = "cancelled"
        await queue_due_reminders(session, now + timedelta(minutes=3), "https://t.example", LINKS)
    assert await reminders_of(database_url, appt.id) == [
        ("reminder.1h", "cancelled"), ("reminder.24h", "cancelled"),
    ]  # fmt: skip
