"""Video sessions: start, join links, revocation, end, attendance, removals. The relay runs
elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import (
    Client,
    JoinLink,
    SessionAttendance,
    SessionRemoval,
    User,
    VideoSession,
)
from server.models import VideoSessionState as State
from server.services.audit import Actor, add_audit
from server.services.errors import Invalid, NotFound, not_found_for, owned_id
from signaling.ports import PastParticipant
from signaling.protocol import Role
from signaling.tokens import (
    JoinLinkClaim,
    LinkGone,
    LinkInvalid,
    LinkRole,
    TokenSigner,
    new_join_link_claim,
)

from .common import NO_SESSION, SessionNotFound, parse_id

DEFAULT_LENGTH = timedelta(minutes=60)
_ROLES: dict[str, Role] = {"therapist": "therapist", "parent": "parent", "observer": "observer"}
MAX_LENGTH = timedelta(hours=4)


class VideoSessionError(Invalid):
    pass


@dataclass(frozen=True)
class IssuedLink:
    link: JoinLink
    token: str


def join_path(session_id: object, token: str) -> str:
    """Where a join link opens, under the site's address."""
    return f"/join/{session_id}/{token}"


async def start_session(
    session: AsyncSession,
    therapist: User,
    actor: Actor,
    *,
    title: str,
    client: Client | None = None,
    planned_start: datetime | None = None,
    planned_end: datetime | None = None,
) -> VideoSession:
    start = planned_start or utcnow()
    end = planned_end or start + DEFAULT_LENGTH
    if end <= start:
        raise VideoSessionError("The session must end after it starts.")
    if end - start > MAX_LENGTH:
        raise VideoSessionError("A session can be planned for at most 4 hours.")
    title = title.strip()[:200] or (client.full_name if client else "Video session")
    if client is not None and client.therapist_id != therapist.id:
        raise VideoSessionError("That client is not on your caseload.")
    video = VideoSession(
        therapist_id=therapist.id,
        client_id=client.id if client else None,
        title=title,
        state=State.open,
        planned_start=start,
        planned_end=end,
    )
    session.add(video)
    await session.flush()
    add_audit(
        session,
        actor,
        "video_session.start",
        object_type="video_session",
        object_id=video.id,
        detail={"client_id": str(client.id) if client else None},
    )
    return video


async def issue_link(
    session: AsyncSession,
    signer: TokenSigner,
    video: VideoSession,
    actor: Actor,
    *,
    role: LinkRole,
    display_name: str,
    grace: timedelta,
) -> IssuedLink:
    if video.state == State.ended:
        raise VideoSessionError("This session has ended; start a new one.")
    name = " ".join(display_name.split())[:80]
    if not name:
        raise VideoSessionError("Enter the name the participant will be shown as.")
    claim = new_join_link_claim(str(video.id), role, video.planned_end + grace)
    link = JoinLink(
        id=claim.link_id,
        session_id=video.id,
        role=role,
        display_name=name,
        expires_at=claim.expires_at,
    )
    session.add(link)
    await session.flush()
    add_audit(
        session,
        actor,
        "join_link.issue",
        object_type="video_session",
        object_id=video.id,
        detail={"link_id": link.id, "role": role},
    )
    return IssuedLink(link, signer.issue_join_link(claim))


async def revoke_link(
    session: AsyncSession, video: VideoSession, link_id: str, actor: Actor
) -> JoinLink:
    link = await session.get(JoinLink, link_id)
    if link is None or link.session_id != video.id:
        raise NotFound("No such link.")
    if link.revoked_at is None:
        link.revoked_at = utcnow()
    add_audit(
        session,
        actor,
        "join_link.revoke",
        object_type="video_session",
        object_id=video.id,
        detail={"link_id": link.id},
    )
    return link


async def find_session(session: AsyncSession, session_id: object) -> VideoSession | None:
    """The session by id, for the runtime (no user: the signaling layer checked who asks)."""
    try:
        return await session.get(VideoSession, parse_id(session_id))
    except SessionNotFound:
        return None


async def is_link_active(session: AsyncSession, session_id: str, link_id: str) -> bool:
    """Whether a join link of this session still admits its holder (not revoked)."""
    link = await session.get(JoinLink, link_id)
    return link is not None and str(link.session_id) == session_id and link.revoked_at is None


async def find_link(session: AsyncSession, link_id: str) -> JoinLink | None:
    return await session.get(JoinLink, link_id)


async def get_session_for(
    session: AsyncSession, user: User, session_id: object, actor: Actor | None = None
) -> VideoSession:
    """The user's session (admins see all); another's, or none, is refused and audited."""
    sid = owned_id(session_id, NO_SESSION, actor, "video_session.read", "video_session")
    video = await session.get(VideoSession, sid)
    if video is None or (video.therapist_id != user.id and not user.is_admin):
        refused = not_found_for(
            NO_SESSION, actor, "video_session.read", "video_session", sid, exists=bool(video)
        )
        raise SessionNotFound(refusal=refused.refusal)
    return video


async def list_links(session: AsyncSession, video: VideoSession) -> list[JoinLink]:
    rows = await session.scalars(
        select(JoinLink).where(JoinLink.session_id == video.id).order_by(JoinLink.created_at)
    )
    return list(rows)


async def list_sessions(
    session: AsyncSession, user: User, *, limit: int = 20
) -> list[VideoSession]:
    rows = await session.scalars(
        select(VideoSession)
        .where(VideoSession.therapist_id == user.id)
        .order_by(VideoSession.created_at.desc())
        .limit(limit)
    )
    return list(rows)


async def verify_join_link(
    session: AsyncSession, signer: TokenSigner, session_id: str, token: str, *, now: datetime
) -> tuple[VideoSession, JoinLinkClaim]:
    """The full check a link gets: signature, session, expiry, revocation, session ended."""
    try:
        sid = parse_id(session_id)
    except SessionNotFound:
        raise LinkInvalid("no such session") from None
    claim = signer.verify_join_link(token, session_id=str(sid), now=now)
    video = await session.get(VideoSession, sid)
    if video is None:
        raise LinkInvalid("no such session")
    link = await session.get(JoinLink, claim.link_id)
    if link is None or link.session_id != video.id:
        raise LinkInvalid("unknown link")
    if link.revoked_at is not None:
        raise LinkGone("link revoked")
    if video.state == State.ended:
        raise LinkGone("session ended")
    return video, claim


async def set_state(session: AsyncSession, session_id: str, state: State) -> None:
    video = await session.get(VideoSession, parse_id(session_id))
    if video is None or video.state == State.ended:
        return  # ended is final; a late "live" from a racing process must not reopen it
    video.state = state
    now = utcnow()
    if state == State.live and video.live_at is None:
        video.live_at = now
    if state == State.ended:
        video.ended_at = now


async def record_presence(
    session: AsyncSession,
    session_id: str,
    participant_id: str,
    *,
    role: str,
    name: str,
    joined: bool,
    at: datetime,
    node_id: str | None = None,
) -> None:
    """A stretch of presence opens (``joined``) or the participant's latest open one ends.
    ``node_id``: the process hosting the session, whose death ends the stretch."""
    sid = parse_id(session_id)
    if joined:
        session.add(
            SessionAttendance(
                session_id=sid,
                participant_id=participant_id,
                role=role,
                display_name=name[:80],
                joined_at=at,
                node_id=node_id,
            )
        )
        return
    open_row = await session.scalar(
        select(SessionAttendance)
        .where(
            SessionAttendance.session_id == sid,
            SessionAttendance.participant_id == participant_id,
            SessionAttendance.left_at.is_(None),
        )
        .order_by(SessionAttendance.joined_at.desc())
    )
    if open_row is not None:
        open_row.left_at = at


async def close_attendance_of_node(session: AsyncSession, node_id: str, at: datetime) -> int:
    """Every stretch a node left open ends at ``at`` (its last sign of life), or where it began
    if that was later. Returns how many were closed."""
    rows = await session.scalars(
        select(SessionAttendance).where(
            SessionAttendance.node_id == node_id, SessionAttendance.left_at.is_(None)
        )
    )
    closed = 0
    for row in rows:
        row.left_at = max(row.joined_at, at)
        closed += 1
    return closed


async def past_participant(
    session: AsyncSession, session_id: str, participant_id: str
) -> PastParticipant | None:
    """What the records say of a participant id: in the room before (attendance), in which
    role, and whether the therapist removed them. None: never in the room."""
    try:
        sid = parse_id(session_id)
    except SessionNotFound:
        return None
    role = await session.scalar(
        select(SessionAttendance.role)
        .where(
            SessionAttendance.session_id == sid,
            SessionAttendance.participant_id == participant_id,
        )
        .order_by(SessionAttendance.joined_at.desc())
        .limit(1)
    )
    known = _ROLES.get(role or "")
    if known is None:
        return None
    removed = await session.get(SessionRemoval, (sid, participant_id))
    return PastParticipant(known, removed is not None)


async def record_removal(
    session: AsyncSession, session_id: str, participant_id: str, at: datetime
) -> None:
    sid = parse_id(session_id)
    if await session.get(SessionRemoval, (sid, participant_id)) is None:
        session.add(SessionRemoval(session_id=sid, participant_id=participant_id, removed_at=at))


async def therapist_participant_id(session: AsyncSession, video: VideoSession) -> str | None:
    """The participant id the therapist had the last time they were in the room, if ever."""
    pid: str | None = await session.scalar(
        select(SessionAttendance.participant_id)
        .where(SessionAttendance.session_id == video.id, SessionAttendance.role == "therapist")
        .order_by(SessionAttendance.joined_at.desc())
        .limit(1)
    )
    return pid


async def attendance(session: AsyncSession, video: VideoSession) -> list[SessionAttendance]:
    rows = await session.scalars(
        select(SessionAttendance)
        .where(SessionAttendance.session_id == video.id)
        .order_by(SessionAttendance.joined_at)
    )
    return list(rows)


def link_token(signer: TokenSigner, link: JoinLink) -> str:
    """Signing is deterministic, so a link's URL can be shown again without storing the token."""
    role: LinkRole = "observer" if link.role == "observer" else "parent"
    return signer.issue_join_link(
        JoinLinkClaim(str(link.session_id), role, link.id, link.expires_at)
    )
