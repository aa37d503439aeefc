"""Two bookings of the same slot at the same moment: exactly one lands."""

from __future__ import annotations

import asyncio
from datetime import date

from practice import add_child, add_therapist, license_in
from sqlalchemy import func, select

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.models import Appointment, User
from server.services.scheduling.appointments import BookingRefused, book_appointment
from server.services.scheduling.availability import BlockInput, add_block
from server.services.scheduling.checks import BookingInput

TUESDAY = date(2027, 3, 2)


async def test_concurrent_bookings_of_one_slot_never_both_land(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    db = make_sessionmaker(engine)
    try:
        async with transaction(db) as session:
            user, actor = await add_therapist(session)
            kids = [await add_child(session, user, name) for name in ("Ana", "Ben")]
            await license_in(session, user, actor)
            await add_block(session, user, BlockInput("1", "08:00", "12:00", "telehealth"), actor)
            await session.flush()
            user_id, kid_ids = user.id, [str(k.id) for k in kids]

        first_booked = asyncio.Event()

        def booking(kid: str) -> BookingInput:
            return BookingInput(
                client_id=kid, date=TUESDAY.isoformat(), start_time="09:00",
                duration_minutes="60", mode="telehealth", service_type="ot_treatment",
            )  # fmt: skip

        async def first() -> None:
            async with transaction(db) as session:
                therapist = await session.get(User, user_id)
                assert therapist is not None
                await book_appointment(session, therapist, booking(kid_ids[0]), actor)
                first_booked.set()
                # Hold the transaction open while the second request runs its checks.
                await asyncio.sleep(0.5)

        async def second() -> str:
            await first_booked.wait()
            try:
                async with transaction(db) as session:
                    therapist = await session.get(User, user_id)
                    assert therapist is not None
                    await book_appointment(session, therapist, booking(kid_ids[1]), actor)
            except BookingRefused:
                return "refused"
            return "booked"

        _, outcome = await asyncio.gather(first(), second())
        # The lock makes the second wait for the first, then see its visit and refuse.
        assert outcome == "refused"
        async with transaction(db) as session:
            count = await session.scalar(
                select(func.count(Appointment.id)).where(Appointment.therapist_id == user_id)
            )
        assert count == 1
    finally:
        await engine.dispose()
