"""The practice log: what the family records per item, adherence by week for the therapist, and
the line the next progress note's draft carries in Subjective."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from doc_world import open_world  # tests/support

from server.db import transaction
from server.models import Appointment
from server.services.documentation.drafting import draft_note
from server.services.errors import ValidationFailed
from server.services.family.access import FamilyIdentity, family_actor
from server.services.family.home_program import add_item
from server.services.family.practice import adherence, log_practice

VISIT = datetime(2026, 10, 8, 15, 0, tzinfo=UTC)  # a Thursday, 10:00 in Chicago


async def test_logged_practice_shows_as_adherence_and_in_the_next_draft(
    database_url: str,
) -> None:
    async with open_world(database_url) as world:
        identity = FamilyIdentity(world.plan.id, world.client.caregivers[0], world.client)
        actor = family_actor(identity)
        async with transaction(world.db) as session:
            snack = await add_item(
                session, world.therapist, world.client, "Snack-time waiting",
                "Wait 5 s before you offer the spoon.", world.actor,
            )  # fmt: skip
            stairs = await add_item(
                session, world.therapist, world.client, "Stairs", "Hold the rail.", world.actor
            )
            for day, minutes in ((2, 10), (3, 12), (5, 8), (7, 10)):  # four days up to the visit
                await log_practice(
                    session, identity, snack, on=date(2026, 10, day).isoformat(),
                    minutes=str(minutes), how_it_went="easy", note="", now=VISIT, actor=actor,
                )  # fmt: skip
            # Two entries on one day count one day; a week earlier is outside the note's week.
            await log_practice(
                session, identity, snack, on="2026-10-07", minutes="10", how_it_went="hard",
                note="Tired.", now=VISIT, actor=actor,
            )  # fmt: skip
            await log_practice(
                session, identity, stairs, on="2026-09-28", minutes="5",
                how_it_went="some_help", note="", now=VISIT, actor=actor,
            )  # fmt: skip
            for bad in (
                {"on": "2026-10-09"},  # tomorrow
                {"on": "2026-09-01"},  # too long ago
                {"on": "soon"},
                {"minutes": "0"},
                {"how_it_went": "meh"},
            ):
                fields = {"on": "2026-10-08", "minutes": "10", "how_it_went": "easy", **bad}
                with pytest.raises(ValidationFailed):
                    await log_practice(
                        session, identity, snack, on=fields["on"], minutes=fields["minutes"],
                        how_it_went=fields["how_it_went"], note="", now=VISIT, actor=actor,
                    )  # fmt: skip
            weeks = await adherence(session, [snack, stairs], world.client.id, date(2026, 10, 8))
        by_item = {
            a.item.title: [(w.starts_on, w.days, w.minutes) for w in a.weeks[:2]] for a in weeks
        }
        assert by_item == {
            "Snack-time waiting": [(date(2026, 10, 5), 2, 28), (date(2026, 9, 28), 2, 22)],
            "Stairs": [(date(2026, 10, 5), 0, 0), (date(2026, 9, 28), 1, 5)],
        }
        appt = await world.visit(VISIT, mode="telehealth")
        async with transaction(world.db) as session:
            loaded = await session.get(Appointment, appt.id)
            assert loaded is not None
            note = await draft_note(session, world.therapist, loaded, world.actor)
        # Oct 2-8: Snack-time waiting on Oct 2, 3, 5, 7 (50 min over 4 days); nothing else.
        assert note.subjective == (
            "Parent reports practice 4 of 7 days, 13 min a day (Snack-time waiting 4 days)."
        )
