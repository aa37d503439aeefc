"""Where scheduling meets live video: start a telehealth visit's session, invite, check-in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import (
    Appointment,
    Client,
    OutboxMessage,
    User,
    VideoSession,
    VideoSessionState,
)
from server.services.audit import Actor, add_audit
from server.services.errors import Conflict, ValidationFailed
from server.services.scheduling.common import Mode, Status
from server.services.scheduling.licensure import LicensureResult, check_telehealth_licensure
from server.services.scheduling.outbox import emailable_caregiver, queue_email
from server.services.scheduling.session_gate import begin_telehealth_session
from signaling.tokens import TokenSigner

from .common import parse_id
from .sessions import (
    issue_link,
    join_path,
    link_token,
    list_links,
    start_session,
)

# A visit started early or run late still gets a usable window for its links.
MIN_REMAINING = timedelta(minutes=15)
# The waiting room opens at most this long before the visit: a session is a visit, not a lobby
# left open for days.
EARLIEST_START = timedelta(minutes=60)


@dataclass(frozen=True)
class StartOutcome:
    video: VideoSession | None
    licensure: LicensureResult


@dataclass(frozen=True)
class VisitVideo:
    video: VideoSession
    parent_token: str | None  # the parent's join link (the first not revoked), signed again


def _today(therapist: User, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(therapist.time_zone))


async def find_visit_session(session: AsyncSession, appt: Appointment) -> VideoSession | None:
    """The video session started for this visit, if any."""
    if not appt.video_session_id:
        return None
    return await session.get(VideoSession, parse_id(appt.video_session_id))


async def get_visit_video(
    session: AsyncSession, appt: Appointment, signer: TokenSigner
) -> VisitVideo | None:
    """What the appointment page shows of the visit's video session, if one was started."""
    video = await find_visit_session(session, appt)
    if video is None:
        return None
    parent = next(
        (
            link
            for link in await list_links(session, video)
            if link.role == "parent" and link.revoked_at is None
        ),
        None,
    )
    return VisitVideo(video, link_token(signer, parent) if parent else None)


async def get_booked_state(session: AsyncSession, video: VideoSession) -> str | None:
    """Where the family was expected to be: the visit's booked state, or for an ad hoc session
    for a client, the client's home state; None for a session with no client (no gate)."""
    if video.appointment_id is not None:
        appt = await session.get(Appointment, video.appointment_id)
        return appt.client_state if appt is not None else None
    if video.client_id is not None:
        client = await session.get(Client, video.client_id)
        return client.home_state if client is not None else None
    return None


async def start_appointment_video(
    session: AsyncSession,
    therapist: User,
    appt: Appointment,
    signer: TokenSigner,
    actor: Actor,
    *,
    grace: timedelta,
) -> StartOutcome:
    """One click from a telehealth appointment: licensure re-checked, session, links, in session.

    Starting again while the visit's session is still open returns that same session.
    """
    if appt.mode != Mode.telehealth:
        raise ValidationFailed({"mode": "Only telehealth visits start a video session."})
    if appt.status in (Status.cancelled, Status.no_show, Status.completed):
        raise ValidationFailed({"status": f"This visit is {appt.status.replace('_', ' ')}."})
    now = utcnow()
    if appt.starts_at - now > EARLIEST_START:
        raise ValidationFailed(
            {"starts_at": "You can start the video session up to an hour before the visit."}
        )
    existing = await find_visit_session(session, appt)
    if existing is not None and existing.state != VideoSessionState.ended:
        result = await check_telehealth_licensure(
            session, therapist, appt.client_state, _today(therapist, now).date()
        )
        return StartOutcome(existing if result.allowed else None, result)
    result = await begin_telehealth_session(session, therapist, appt, actor)
    if not result.allowed:
        return StartOutcome(None, result)
    client = appt.client
    video = await start_session(
        session,
        therapist,
        actor,
        title=f"{client.full_name}: telehealth visit",
        client=client,
        planned_start=min(appt.starts_at, now),
        planned_end=max(appt.ends_at, now + MIN_REMAINING),
    )
    video.appointment_id = appt.id
    parent = client.caregivers[0].name if client.caregivers else "Parent"
    await issue_link(session, signer, video, actor, role="parent", display_name=parent, grace=grace)
    await issue_link(
        session, signer, video, actor, role="observer", display_name="Observer", grace=grace
    )
    appt.video_session_id = str(video.id)
    add_audit(
        session,
        actor,
        "appointment.video_start",
        object_type="appointment",
        object_id=appt.id,
        detail={"video_session_id": str(video.id), "state": appt.client_state},
    )
    return StartOutcome(video, result)


async def queue_join_link(
    session: AsyncSession,
    therapist: User,
    appt: Appointment,
    caregiver_id: str,
    signer: TokenSigner,
    base_url: str,
    actor: Actor,
) -> OutboxMessage:
    """Emails the parent's join link of the visit's session (started, not ended) to a caregiver."""
    found = await get_visit_video(session, appt, signer)
    if found is None or found.parent_token is None:
        raise Conflict("Start the video session first, then send its link.")
    if found.video.state == VideoSessionState.ended:
        raise Conflict("This visit's video session has ended.")
    join_url = base_url + join_path(found.video.id, found.parent_token)
    caregiver = emailable_caregiver(appt, caregiver_id)
    local = appt.starts_at.astimezone(ZoneInfo(appt.client.time_zone))
    body = "\n".join(
        [
            f"Hello {caregiver.name},",
            "",
            f"Your telehealth visit with {therapist.name} for {appt.client.first_name} is "
            f"{local:%A %B %-d at %-I:%M %p} ({appt.client.time_zone}).",
            "Join from this link (it works for this visit only; please do not forward it):",
            join_url,
            "",
            "You will check your camera and microphone, confirm the state you are in, and wait "
            "until the therapist lets you in.",
        ]
    )
    return await queue_email(
        session,
        actor,
        appt,
        caregiver,
        kind="session.join_link",
        subject=f"Join link: {appt.client.first_name}'s visit {local:%a %b %-d, %-I:%M %p}",
        body=body,
        audit_action="appointment.join_link_sent",
    )
