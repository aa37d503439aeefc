"""Second-camera links: a parent's phone joins as a second camera of the same participant.

The link is a short random code (72 bits) in a URL; only its SHA-256 is stored. It is bound to
one participant of one session, lives a few minutes and works once: the socket's join claims it
(one UPDATE that succeeds only while it is unused and unexpired), so a copy of the link, a
reload or a second phone gets nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import SecondCameraLink
from server.services.audit import Actor, add_audit
from server.services.errors import NotFound, Refused

from .common import parse_id

TTL = timedelta(minutes=10)
# Open (unused, unexpired) links per participant: a page asking in a loop gets no more.
MAX_OPEN = 5
NO_LINK = "This second-camera link is not valid. Ask for a new QR code on the computer."


class CameraLinkGone(NotFound):
    """Used already, or expired."""


@dataclass(frozen=True)
class IssuedCameraLink:
    code: str
    expires_at: datetime


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def issue_camera_link(
    session: AsyncSession,
    session_id: str,
    participant_id: str,
    link_id: str,
    actor: Actor,
    now: datetime,
) -> IssuedCameraLink:
    sid = parse_id(session_id)
    open_links = await session.scalar(
        select(func.count())
        .select_from(SecondCameraLink)
        .where(
            SecondCameraLink.session_id == sid,
            SecondCameraLink.participant_id == participant_id,
            SecondCameraLink.used_at.is_(None),
            SecondCameraLink.expires_at > now,
        )
    )
    if (open_links or 0) >= MAX_OPEN:
        raise Refused("Too many second-camera codes at once: use one, or wait a few minutes.")
    code = secrets.token_urlsafe(9)
    expires_at = now + TTL
    session.add(
        SecondCameraLink(
            code_sha256=_digest(code),
            session_id=sid,
            participant_id=participant_id,
            link_id=link_id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    add_audit(
        session, actor, "second_camera.link_issued", object_type="video_session",
        object_id=session_id, detail={"participant_id": participant_id},
    )  # fmt: skip
    return IssuedCameraLink(code, expires_at)


async def open_camera_link(session: AsyncSession, code: str, now: datetime) -> SecondCameraLink:
    """The link's row while it can still be used (for the phone's page)."""
    row = await session.get(SecondCameraLink, _digest(code[:64]))
    if row is None:
        raise NotFound(NO_LINK)
    if row.used_at is not None or row.expires_at <= now:
        raise CameraLinkGone(
            "This second-camera link was used already or has expired. Show a new QR code on "
            "the computer and scan it again."
        )
    return row


async def claim_camera_link(
    session: AsyncSession, session_id: str, code: str, actor: Actor, now: datetime
) -> str | None:
    """The participant whose second camera this is, and the link is spent; None: unknown,
    used or expired (audited as refused)."""
    digest = _digest(code[:64])
    claimed = await session.execute(
        update(SecondCameraLink)
        .where(
            SecondCameraLink.code_sha256 == digest,
            SecondCameraLink.session_id == uuid.UUID(session_id),
            SecondCameraLink.used_at.is_(None),
            SecondCameraLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(SecondCameraLink.participant_id)
    )
    participant_id = claimed.scalar_one_or_none()
    add_audit(
        session, actor, "second_camera.join", object_type="video_session", object_id=session_id,
        outcome="ok" if participant_id else "refused",
        detail={"participant_id": participant_id} if participant_id else {"reason": "used/expired"},
    )  # fmt: skip
    return participant_id
