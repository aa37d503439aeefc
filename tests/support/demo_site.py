"""A demo practice for page-by-page browser checks: `tandem demo`'s data and a little more.

The demo seed (server/demo.py) gives the therapist, the admin, four clients with plans of care, two
weeks of visits, a draft note and a live video session with a parent and an observer link. On top
of it this adds what the demo leaves out, so every page shows its less common parts: a cancelled
and a no-show visit, a telehealth visit whose video session was started from the appointment, a
recorded session with a real WebM file, a signed note with an addendum (points on the goal chart)
and the charge its signing proposed, chart facts, and join links that are revoked or tampered with.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from doc_world import DocWorld, held_telehealth_session
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction, utcnow
from server.demo import DEMO_ADMIN_EMAIL, DEMO_EMAIL, seed_demo
from server.models import (
    Appointment,
    Charge,
    Client,
    FamilySignInLink,
    Note,
    RecordingFile,
    User,
    VideoSession,
    VideoSessionState,
)
from server.services.audit import Actor
from server.services.billing.charges import propose_charge
from server.services.documentation.chart import add_consent, add_diagnosis, add_referral
from server.services.documentation.drafting import draft_note
from server.services.documentation.notes import NoteEdit, add_addendum, sign_note, update_note
from server.services.documentation.plans import active_plan
from server.services.family.access import hash_token, sign_in_path
from server.services.family.home_program import add_item
from server.services.scheduling.appointments import set_status
from server.services.scheduling.visit_links import VisitLinkSigner, visit_path
from server.services.video.demo_seed import DEMO_TITLE as LIVE_TITLE
from server.services.video.sessions import issue_link, link_token, list_links, revoke_link
from server.services.video.visits import start_appointment_video
from signaling.tokens import TokenSigner

Row = TypeVar("Row")


@dataclass
class DemoSite:
    """Who signs in, and the ids of the records each page is opened for."""

    therapist_email: str
    admin_email: str
    password: str
    client_id: str
    plan_id: str
    draft_note_id: str
    signed_note_id: str
    cancelled_appointment_id: str
    cancelled_day: str  # the cancelled visit's date in the therapist's zone
    video_appointment_id: str
    live_session_id: str
    recorded_session_id: str
    charge_id: str  # a confirmed charge that the checks hold back (no authorization)
    proposed_charge_id: str  # the signed note's charge, waiting for review
    charge_month: str  # YYYY-MM of the confirmed charge's date of service
    join_urls: dict[str, str] = field(default_factory=dict)  # role or case -> path
    visit_url: str = ""  # a reminder's link to a telehealth visit that is not open yet
    family_sign_in_url: str = ""  # Maya's caregiver's sign-in link, not used yet
    family_item_id: str = ""  # an item of Maya's home program


def write_webm(path: Path, seconds: int = 3) -> None:
    """A small VP8 + Opus WebM, like the recorder's files, so the playback page has a video."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="webm") as container:
        video = container.add_stream("libvpx", rate=15)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = container.add_stream("libopus", rate=48000, layout="mono")
        for i in range(seconds * 15):
            frame = av.VideoFrame(320, 240, "rgb24")
            plane = frame.planes[0]
            plane.update(bytes([(i * 8) % 256, 90, 160]) * (plane.line_size // 3 * 240))
            for packet in video.encode(frame.reformat(format="yuv420p")):
                container.mux(packet)
        for i in range(seconds * 50):
            silence = av.AudioFrame(format="s16", layout="mono", samples=960)
            silence.planes[0].update(bytes(silence.planes[0].buffer_size))
            silence.sample_rate, silence.pts = 48000, i * 960
            for packet in audio.encode(silence):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                container.mux(packet)


async def _one(session: AsyncSession, model: type[Row], *where: ColumnElement[bool]) -> Row:
    found = await session.scalar(select(model).where(*where))
    assert found is not None, f"the demo seed has no {model.__name__} here"
    return found


async def _cancel_and_no_show(session: AsyncSession, therapist: User, actor: Actor) -> Appointment:
    """Two visits of the coming days leave the calendar: the week view strikes them through."""
    now = utcnow()
    upcoming = list(
        await session.scalars(
            select(Appointment)
            .where(
                Appointment.therapist_id == therapist.id,
                Appointment.status == "booked",
                Appointment.starts_at > now,
            )
            .order_by(Appointment.starts_at)
            .limit(2)
        )
    )
    assert len(upcoming) == 2, "the demo seed books visits in the coming days"
    cancelled, missed = upcoming
    await set_status(session, cancelled, "cancelled", actor, reason="Family is travelling.")
    await set_status(session, missed, "no_show", actor)
    return cancelled


async def _telehealth_visit(
    session: AsyncSession, therapist: User, maya: Client, at: datetime
) -> Appointment:
    start = at.replace(second=0, microsecond=0)
    appt = Appointment(
        therapist_id=therapist.id, client_id=maya.id, starts_at=start,
        ends_at=start + timedelta(minutes=45), mode="telehealth", client_state=maya.home_state,
        service_type="ot_treatment", status="booked", overridden=["outside_blocks"],
        override_reason="Added for the accessibility check.",
    )  # fmt: skip
    session.add(appt)
    await session.flush()
    return appt


async def _video_visit(
    session: AsyncSession, therapist: User, maya: Client, signer: TokenSigner, actor: Actor
) -> str:
    """A telehealth visit starting now, its video session started from the appointment page."""
    appt = await _telehealth_visit(session, therapist, maya, utcnow())
    await session.refresh(appt, ["client"])
    outcome = await start_appointment_video(
        session, therapist, appt, signer, actor, grace=timedelta(minutes=30)
    )
    assert outcome.video is not None, outcome.licensure.message
    return str(appt.id)


async def _visit_link(
    session: AsyncSession, therapist: User, maya: Client, settings: Settings
) -> str:
    """A reminder's link to a telehealth visit tomorrow (its session not started)."""
    appt = await _telehealth_visit(session, therapist, maya, utcnow() + timedelta(days=1))
    token = VisitLinkSigner(settings.secret_key).sign(appt.id, maya.caregivers[0].id, appt.ends_at)
    return visit_path(token)


async def _family(
    session: AsyncSession, therapist: User, maya: Client, actor: Actor
) -> tuple[str, str]:
    """A home-program item for Maya and a sign-in link for her caregiver (the token is kept
    here, as the email would carry it)."""
    item = await add_item(
        session, therapist, maya, "Buttons at breakfast",
        "Let Maya do the last two buttons; wait before you help.", actor,
    )  # fmt: skip
    token = secrets.token_urlsafe(32)
    session.add(
        FamilySignInLink(
            token_hash=hash_token(token), caregiver_id=maya.caregivers[0].id, client_id=maya.id,
            created_by=therapist.id, expires_at=utcnow() + timedelta(days=1),
        )
    )  # fmt: skip
    return sign_in_path(token), str(item.id)


async def _chart_facts(session: AsyncSession, therapist: User, maya: Client, actor: Actor) -> None:
    today = datetime.now(ZoneInfo(therapist.time_zone)).date()
    await add_diagnosis(
        session, maya, "F82", "Developmental coordination disorder", actor, primary=True
    )
    await add_referral(
        session, maya, "Pediatrician", actor, provider="Dr. Example",
        reason="Fine-motor concerns at preschool.", referred_on=today - timedelta(days=60),
    )  # fmt: skip
    await add_consent(
        session, therapist, maya, "telehealth", "Ada Okafor", today - timedelta(days=50), actor
    )


async def _join_links(
    session: AsyncSession, signer: TokenSigner, live: VideoSession, actor: Actor
) -> dict[str, str]:
    """The live session's parent and observer links, one revoked link, and a tampered one."""
    urls = {}
    for link in await list_links(session, live):
        if link.revoked_at is None:
            urls[link.role] = f"/join/{live.id}/{link_token(signer, link)}"
    withdrawn = await issue_link(
        session, signer, live, actor, role="parent", display_name="Grandma Okafor",
        grace=timedelta(minutes=30),
    )  # fmt: skip
    await revoke_link(session, live, withdrawn.link.id, actor)
    urls["revoked"] = f"/join/{live.id}/{withdrawn.token}"
    # One character of the signature changed (not the last: its low bits are padding).
    parent, at = urls["parent"], len(urls["parent"]) - 10
    urls["tampered"] = parent[:at] + ("A" if parent[at] != "A" else "B") + parent[at + 1 :]
    return urls


async def _signed_note(
    session: AsyncSession, world: DocWorld, appt_id: uuid.UUID
) -> tuple[Note, Charge]:
    """A signed note with an addendum, and the charge its signing proposed (not confirmed)."""
    appt = await session.get(Appointment, appt_id)
    assert appt is not None
    note = await draft_note(session, world.therapist, appt, world.actor)
    await update_note(
        session, world.therapist, note,
        NoteEdit(assessment="Emerging tripod grasp with a model.",
                 plan="Continue weekly telehealth; add a home program for buttons.",
                 procedures=[("97530", "30"), ("97535", "15")]),
        world.actor,
    )  # fmt: skip
    await sign_note(session, world.therapist, note, world.actor)
    charge = await propose_charge(session, world.therapist, note, world.actor)
    assert charge is not None
    await add_addendum(
        session, world.therapist, note, "Correction",
        "Grandfather was also present for the last ten minutes.", world.actor,
    )  # fmt: skip
    return note, charge


async def _seed(settings: Settings) -> DemoSite:
    info = await seed_demo(settings, "http://127.0.0.1")
    engine = make_engine(settings.database_url)
    db = make_sessionmaker(engine)
    signer = TokenSigner(settings.secret_key)
    try:
        async with transaction(db) as session:
            therapist = await _one(session, User, User.email == DEMO_EMAIL)
            actor = Actor("user", str(therapist.id), therapist.email)
            maya = await _one(
                session, Client, Client.therapist_id == therapist.id, Client.first_name == "Maya"
            )
            plan = await active_plan(session, maya.id)
            assert plan is not None
            draft = await _one(
                session, Note, Note.author_id == therapist.id, Note.status == "draft"
            )
            # The billing demo's flagged charge: Sam's plan requires an authorization.
            sam = await _one(
                session, Client, Client.therapist_id == therapist.id, Client.first_name == "Sam"
            )
            held_back = await _one(session, Charge, Charge.client_id == sam.id)
            live = await _one(
                session, VideoSession, VideoSession.title == LIVE_TITLE,
                VideoSession.state != VideoSessionState.ended,
            )  # fmt: skip
            cancelled = await _cancel_and_no_show(session, therapist, actor)
            zone = ZoneInfo(therapist.time_zone)
            video_visit = await _video_visit(session, therapist, maya, signer, actor)
            await _chart_facts(session, therapist, maya, actor)
            join_urls = await _join_links(session, signer, live, actor)
            visit_url = await _visit_link(session, therapist, maya, settings)
            family_url, family_item = await _family(session, therapist, maya, actor)
        world = DocWorld(db, therapist, maya, plan)
        # Three weeks ago: in the plan's certification period, before the demo's own visit.
        held = await held_telehealth_session(world, utcnow() - timedelta(days=21))
        async with transaction(db) as session:
            signed, proposed = await _signed_note(session, world, held.appointment.id)
            files = list(
                await session.scalars(
                    select(RecordingFile).where(RecordingFile.session_id == held.video_id)
                )
            )
        for row in files:
            await asyncio.to_thread(write_webm, settings.storage_dir / row.storage_path)
        return DemoSite(
            therapist_email=DEMO_EMAIL, admin_email=DEMO_ADMIN_EMAIL, password=info.password,
            client_id=str(maya.id), plan_id=str(plan.id), draft_note_id=str(draft.id),
            signed_note_id=str(signed.id), cancelled_appointment_id=str(cancelled.id),
            cancelled_day=cancelled.starts_at.astimezone(zone).date().isoformat(),
            video_appointment_id=video_visit, live_session_id=str(live.id),
            recorded_session_id=str(held.video_id), charge_id=str(held_back.id),
            proposed_charge_id=str(proposed.id),
            charge_month=held_back.service_date.strftime("%Y-%m"), join_urls=join_urls,
            visit_url=visit_url, family_sign_in_url=family_url, family_item_id=family_item,
        )  # fmt: skip
    finally:
        await engine.dispose()


def seed_demo_site(settings: Settings) -> DemoSite:
    """Seed from a thread of its own: Playwright's sync API owns the caller's event loop."""
    return asyncio.run(_seed(settings))
