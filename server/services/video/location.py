"""Where the family is during a telehealth session: the licensure gate, enforced at join.

A therapist may see a client by video only while the client is in a state where the therapist
holds a license (or compact privilege). The parent confirms that state on the check page; the
server stores it on the join link, and the signaling join refuses a parent's knock until a state
that passes the gate is stored (a page script alone is no gate). Sessions tied to a client (a
telehealth visit, or an ad hoc session for a client) are gated; ad hoc sessions without a client
are not.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Appointment, Client, JoinLink, User, VideoSession
from server.services.audit import Actor, add_audit
from server.services.scheduling.appointments import set_status
from server.services.scheduling.common import Status
from server.services.scheduling.licensure import LicensureResult, check_telehealth_licensure
from signaling.ports import LinkInfo, LinkStatus
from signaling.tokens import TokenSigner

from .common import SessionNotFound, parse_id
from .sessions import verify_join_link


def needs_location(video: VideoSession) -> bool:
    return video.appointment_id is not None or video.client_id is not None


def therapist_today(therapist: User) -> date:
    return utcnow().astimezone(ZoneInfo(therapist.time_zone)).date()


async def confirm_location(
    session: AsyncSession,
    signer: TokenSigner,
    session_id: str,
    token: str,
    state_code: str,
    actor: Actor,
) -> LicensureResult | None:
    """The parent says where they are at check-in; the licensure gate runs on that state.

    An allowed state is stored on the link (the socket's join checks it); a refused one clears
    what was stored. Returns None when the session is not gated (no client).
    """
    video, claim = await verify_join_link(session, signer, session_id, token, now=utcnow())
    link = await session.get(JoinLink, claim.link_id)
    therapist = await session.get(User, video.therapist_id)
    if not needs_location(video) or link is None or therapist is None:
        return None
    appt = await session.get(Appointment, video.appointment_id) if video.appointment_id else None
    state = state_code.strip().upper()[:2]
    result = await check_telehealth_licensure(session, therapist, state, therapist_today(therapist))
    detail = {"state": state, "link_id": claim.link_id}
    if appt is not None:
        detail["booked_state"] = appt.client_state
    add_audit(
        session,
        actor,
        "appointment.location_confirm" if appt is not None else "video_session.location_confirm",
        object_type="appointment" if appt is not None else "video_session",
        object_id=appt.id if appt is not None else video.id,
        outcome="ok" if result.allowed else "refused",
        detail=detail,
    )
    if not result.allowed:
        link.location_state = None
        link.location_confirmed_at = None
        return result
    link.location_state = state
    link.location_confirmed_at = utcnow()
    if appt is not None:
        # The session runs where the family really is: the booking follows the confirmation.
        if state != appt.client_state:
            appt.client_state = state
        if appt.status == Status.booked:
            await set_status(session, appt, Status.checked_in, actor)
    return result


async def link_info(session: AsyncSession, session_id: str, link_id: str) -> LinkInfo | None:
    """The link as the signaling join needs it: revoked or not, its name, and the gate."""
    link = await session.get(JoinLink, link_id)
    if link is None or str(link.session_id) != session_id:
        return None
    if link.revoked_at is not None:
        return LinkInfo("revoked", link.display_name)
    try:
        video = await session.get(VideoSession, parse_id(session_id))
    except SessionNotFound:
        return None
    if video is None:
        return None
    if link.role != "parent" or not needs_location(video):
        return LinkInfo("ok", link.display_name)
    therapist = await session.get(User, video.therapist_id)
    if link.location_state is None or therapist is None:
        return LinkInfo("location_required", link.display_name)
    # Checked again at the knock: a license that lapsed since the check page no longer admits.
    result = await check_telehealth_licensure(
        session, therapist, link.location_state, therapist_today(therapist)
    )
    status: LinkStatus = "ok" if result.allowed else "location_required"
    return LinkInfo(status, link.display_name, link.location_state)


async def check_client_licensure(
    session: AsyncSession, therapist: User, client: Client, actor: Actor
) -> LicensureResult:
    """The gate for an ad hoc session started for a client: the client's home state, today.

    A refusal is audited in the caller's unit of work (which then commits it, creating nothing).
    """
    result = await check_telehealth_licensure(
        session, therapist, client.home_state, therapist_today(therapist)
    )
    if not result.allowed:
        add_audit(
            session,
            actor,
            "video_session.start",
            object_type="client",
            object_id=client.id,
            outcome="refused",
            detail={"state": client.home_state, "reason": "licensure"},
        )
    return result
