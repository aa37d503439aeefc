"""The seam to live video: what the video-session domain calls when a telehealth visit starts."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Appointment, User
from server.services.audit import Actor, add_audit

from .appointments import set_status
from .common import Mode, Status
from .licensure import LicensureResult, check_telehealth_licensure


async def begin_telehealth_session(
    session: AsyncSession,
    therapist: User,
    appt: Appointment,
    actor: Actor,
    *,
    video_session_id: str | None = None,
    confirmed_state: str | None = None,
) -> LicensureResult:
    """Re-checks licensure for today and the state the parent confirmed, then marks in_session.

    Refusal changes nothing but writes a 'refused' audit row (no exception, so the caller's unit
    of work commits it) and returns the result whose message names the state and the fix.
    """
    if appt.mode != Mode.telehealth:
        raise ValueError("only telehealth appointments start a video session")
    state = (confirmed_state or appt.client_state).upper()
    today = utcnow().astimezone(ZoneInfo(therapist.time_zone)).date()
    result = await check_telehealth_licensure(session, therapist, state, today)
    if not result.allowed:
        add_audit(
            session,
            actor,
            "appointment.session_start",
            object_type="appointment",
            object_id=appt.id,
            outcome="refused",
            detail={"state": state, "reason": "licensure"},
        )
        return result
    if confirmed_state and confirmed_state.upper() != appt.client_state:
        appt.client_state = confirmed_state.upper()
    if appt.status in (Status.booked, Status.checked_in):
        await set_status(session, appt, Status.in_session, actor, video_session_id=video_session_id)
    return result
