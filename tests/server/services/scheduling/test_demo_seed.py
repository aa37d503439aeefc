from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction, utcnow
from server.demo import DEMO_EMAIL, seed_demo
from server.models import Appointment, CalendarFeed, License, User
from server.services.scheduling.common import week_start
from server.services.scheduling.health import upcoming_licensure_problems, week_health
from server.services.scheduling.licensure import expiring_licenses


def test_demo_seeds_a_hybrid_schedule_idempotently(settings: Settings) -> None:
    async def run() -> None:
        await seed_demo(settings, "http://127.0.0.1:8000")
        info = await seed_demo(settings, "http://127.0.0.1:8000")
        assert any("/calendar/" in line for line in info.extra_lines)
        engine = make_engine(settings.database_url)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                therapist = await session.scalar(select(User).where(User.email == DEMO_EMAIL))
                assert therapist is not None
                appts = list(
                    (
                        await session.scalars(
                            select(Appointment).where(Appointment.therapist_id == therapist.id)
                        )
                    ).unique()
                )
                # Rebuilt, not duplicated: one run's worth of visits.
                assert 20 <= len(appts) <= 40
                licensure = [a for a in appts if "licensure" in a.overridden]
                assert len(licensure) == 1
                assert licensure[0].client.home_state == "WI"
                assert licensure[0].override_reason
                modes = {a.mode for a in appts}
                assert modes == {"in_person", "telehealth"}
                today = utcnow().astimezone(ZoneInfo(therapist.time_zone)).date()
                monday = week_start(today)
                next_week = [a for a in appts if a.starts_at.date() >= monday + timedelta(days=7)]
                assert next_week
                assert licensure[0].status == "booked"  # upcoming, so the flag is actionable
                this_week = await week_health(session, therapist, monday)
                assert "sprinkled_telehealth" in {f.kind for f in this_week.flags}
                tz = ZoneInfo(therapist.time_zone)
                its_week = week_start(licensure[0].starts_at.astimezone(tz).date())
                health = await week_health(session, therapist, its_week)
                assert "licensure" in {f.kind for f in health.flags}
                upcoming = await upcoming_licensure_problems(session, therapist)
                assert [a.id for a, _ in upcoming] == [licensure[0].id]
                assert "Wisconsin (WI)" in upcoming[0][1]
                assert health.projected_income_cents > 0
                warnings = await expiring_licenses(session, therapist, today)
                assert [w.license.state for w in warnings] == ["CO"]
                licenses = await session.scalar(select(func.count(License.id)))
                assert licenses is not None
                assert licenses >= 2
                feeds = await session.scalar(
                    select(func.count(CalendarFeed.id)).where(
                        CalendarFeed.therapist_id == therapist.id
                    )
                )
                assert feeds == 1
        finally:
            await engine.dispose()

    asyncio.run(run())
