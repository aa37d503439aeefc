"""The note a payer reads: late entries counted from the date of service, each addendum's
author on the note page (and its print view), and time in/out entered and shown in the
therapist's zone, round-tripping across daylight-saving changes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from doc_world import DocWorld, make_world
from starlette.testclient import TestClient

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.models import Appointment, Note, UserRole
from server.services.billing.practice import PracticeInput, update_practice
from server.services.documentation.drafting import draft_note
from server.services.documentation.notes import NoteEdit, sign_note, update_note
from server.services.documentation.times import form_value, parse_wall_time

HTML = {"accept": "text/html"}
ZONE = "America/Chicago"
MONDAY_10AM = datetime(2026, 10, 5, 15, 0, tzinfo=UTC)


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[DocWorld]:
    engine = make_engine(settings.database_url)
    yield await make_world(make_sessionmaker(engine))
    await engine.dispose()


async def draft_for(world: DocWorld, appt: Appointment) -> Note:
    async with transaction(world.db) as session:
        loaded = await session.get(Appointment, appt.id)
        assert loaded is not None
        note = await draft_note(session, world.therapist, loaded, world.actor)
        await update_note(session, world.therapist, note, NoteEdit(objective="Seen."), world.actor)
        return note


async def sign_at(world: DocWorld, note: Note, when: datetime) -> Note:
    async with transaction(world.db) as session:
        loaded = await session.get(Note, note.id)
        assert loaded is not None
        return await sign_note(session, world.therapist, loaded, world.actor, now=when)


async def test_completed_and_signed_three_days_after_the_date_of_service_is_late(
    world: DocWorld,
) -> None:
    """The visit was marked completed three days late, so the note's time out defaults to that
    moment; signing right then is still a late entry, counted from the date of service."""
    appt = await world.visit(MONDAY_10AM, status="booked")
    three_days_later = MONDAY_10AM + timedelta(days=3)
    async with transaction(world.db) as session:
        loaded = await session.get(Appointment, appt.id)
        assert loaded is not None
        loaded.status, loaded.ended_at = "completed", three_days_later
    note = await draft_for(world, appt)
    assert note.time_out == three_days_later
    signed = await sign_at(world, note, three_days_later + timedelta(minutes=10))
    assert signed.late_entry is True


async def test_on_time_until_the_limit_after_the_end_of_the_date_of_service(
    world: DocWorld,
) -> None:
    on_time = await draft_for(world, await world.visit(MONDAY_10AM))
    # Tuesday 23:30 in Chicago: within 24 hours of Monday's end.
    tuesday_night = datetime(2026, 10, 7, 4, 30, tzinfo=UTC)
    assert (await sign_at(world, on_time, tuesday_night)).late_entry is False
    late = await draft_for(world, await world.visit(MONDAY_10AM + timedelta(hours=2)))
    # Wednesday 00:30 in Chicago: past it.
    assert (await sign_at(world, late, tuesday_night + timedelta(hours=1))).late_entry is True


async def test_the_practice_sets_the_limit(world: DocWorld) -> None:
    async with transaction(world.db) as session:
        session.add(world.therapist)
        await update_practice(
            session, world.therapist, PracticeInput(practice_name="P", late_entry_hours="48"),
            world.actor,
        )  # fmt: skip
    note = await draft_for(world, await world.visit(MONDAY_10AM))
    wednesday_night = datetime(2026, 10, 8, 4, 30, tzinfo=UTC)  # 23:30 Wednesday in Chicago
    assert (await sign_at(world, note, wednesday_night)).late_entry is False


# 2026-11-01, 01:00-02:00 happens twice in Chicago (CDT, then CST); 2026-03-08 skips 02:00-03:00.
FALL_IN, FALL_OUT = "2026-11-01T01:20", "2026-11-01T01:10"  # 01:10 CST is after 01:20 CDT


def test_wall_times_across_the_autumn_change() -> None:
    time_in = parse_wall_time(FALL_IN, ZONE)
    assert time_in == datetime(2026, 11, 1, 6, 20, tzinfo=UTC)  # first 01:20 (CDT)
    time_out = parse_wall_time(FALL_OUT, ZONE, not_before=time_in)
    assert time_out == datetime(2026, 11, 1, 7, 10, tzinfo=UTC)  # second 01:10 (CST)
    assert time_out - time_in == timedelta(minutes=50)
    assert (form_value(time_in, ZONE), form_value(time_out, ZONE)) == (FALL_IN, FALL_OUT)
    # Saved again as shown, neither moves.
    assert parse_wall_time(FALL_OUT, ZONE, current=time_out) == time_out
    # An explicit offset is taken as it is.
    assert parse_wall_time("2026-11-01T01:10-06:00", ZONE) == time_out


def test_wall_times_across_the_spring_change() -> None:
    time_in = parse_wall_time("2026-03-08T01:40", ZONE)
    time_out = parse_wall_time("2026-03-08T03:20", ZONE, not_before=time_in)
    assert time_out - time_in == timedelta(minutes=40)
    with pytest.raises(ValueError, match="does not exist"):
        parse_wall_time("2026-03-08T02:30", ZONE)


def world_with_note(
    settings: Settings, starts_at: datetime, *, signed: bool
) -> tuple[DocWorld, Note]:
    """From synchronous test code: a world and the draft (or signed) note of one visit."""

    async def setup() -> tuple[DocWorld, Note]:
        engine = make_engine(settings.database_url)
        try:
            world = await make_world(make_sessionmaker(engine))
            note = await draft_for(world, await world.visit(starts_at))
            if signed:
                note = await sign_at(world, note, starts_at + timedelta(hours=2))
            return world, note
        finally:
            await engine.dispose()

    return asyncio.run(setup())


def _form_times(html: str) -> tuple[str, str]:
    found = dict(re.findall(r'name="(time_in|time_out)" value="([^"]*)"', html))
    return found["time_in"], found["time_out"]


def test_note_times_round_trip_through_the_form_across_dst(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    world, note = world_with_note(settings, datetime(2026, 11, 1, 6, 0, tzinfo=UTC), signed=False)
    helpers.login(client, world.therapist.email, "correct-horse-1")
    url = f"/notes/{note.id}"
    saved = client.post(url, data=helpers.form(client, url, time_in=FALL_IN, time_out=FALL_OUT))
    assert saved.status_code == 303
    body = client.get(f"/api/v1/notes/{note.id}").json()
    assert (body["time_in"], body["time_out"]) == (
        "2026-11-01T06:20:00+00:00", "2026-11-01T07:10:00+00:00"
    )  # fmt: skip
    page = client.get(url, headers=HTML).text
    assert _form_times(page) == (FALL_IN, FALL_OUT)
    assert "(CDT)" in page
    assert "(CST)" in page
    # Autosave sends the form back as it is shown: nothing moves by an hour.
    csrf = {"x-csrf-token": helpers.form(client, url)["csrf_token"]}
    again = client.post(
        f"/api/v1/notes/{note.id}", json={"time_in": FALL_IN, "time_out": FALL_OUT}, headers=csrf
    )
    assert again.status_code == 200
    assert again.json()["saved"] == []
    gap = client.post(url, data=helpers.form(client, url, time_in="2026-03-08T02:30"))
    assert gap.status_code == 422
    assert "does not exist" in gap.text
    # The signed note shows the same wall-clock times, with their zone.
    signed = client.post(f"{url}/sign", data=helpers.form(client, url))
    assert signed.status_code == 303
    shown = client.get(url, headers=HTML).text
    times = re.search(r'<span id="note-times">(.*?)</span>', shown, re.S)
    assert times is not None
    assert times.group(1) == "Nov 1, 2026 1:20 AM CDT \u2013 Nov 1, 2026 1:10 AM CST"


def test_each_addendum_shows_its_author(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    world, note = world_with_note(settings, MONDAY_10AM, signed=True)
    url = f"/notes/{note.id}"
    helpers.login(client, world.therapist.email, "correct-horse-1")
    client.post(f"{url}/addenda", data=helpers.form(client, url, reason="Correction",
                                                    text="Grandfather present."))  # fmt: skip
    admin_email, admin_password = helpers.make_user(UserRole.admin)
    client.cookies.clear()
    helpers.login(client, admin_email, admin_password)
    client.post(f"{url}/addenda", data=helpers.form(client, url, reason="Late information",
                                                    text="Referral letter received."))  # fmt: skip
    page = client.get(url, headers=HTML).text
    items = re.findall(r'<li class="addendum">(.*?)</li>', page, re.S)
    assert len(items) == 2
    authors = [re.search(r'class="addendum-author">([^<]*)<', item) for item in items]
    assert [a.group(1) if a else None for a in authors] == ["Jordan Avery, OTR/L", "Test Person"]
    # The print view is this page under print CSS, which hides .no-print and the form only:
    # the addenda section and its author lines are outside both.
    section = page[page.index('<section id="addenda"') :]
    assert 'class="addenda"' in section.split(">", 1)[0]
    assert "no-print" not in section.split(">", 1)[0]
    assert section.index('class="addendum-author"') < section.index("addendum-form")
