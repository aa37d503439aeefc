"""A family signs in without a password: the therapist emails a caregiver a sign-in link; the
link opens one family session (a cookie) bound to that caregiver and that client.

The link is a random token: it carries nothing readable, and only its SHA-256 is stored (the
email's body is dropped from the outbox once sent). It works once, expires, and the therapist
can revoke it, which also ends the sessions it opened.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Caregiver, Client, FamilySession, FamilySignInLink, OutboxMessage, User
from server.services.audit import Actor, add_audit
from server.services.errors import NotFound, ValidationFailed, as_uuid
from server.services.scheduling.outbox import add_email

LINK_LIFETIME = timedelta(hours=72)
SESSION_LIFETIME = timedelta(days=14)
TOKEN_BYTES = 32
NO_LINK = "No such sign-in link."


class SignInRefused(Exception):
    """The link cannot sign anyone in; ``reason`` says why (used, expired, revoked, unknown,
    other_family) and the message is what the person is shown."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class FamilyIdentity:
    """Who a family session is: one caregiver of one client."""

    session_id: uuid.UUID
    caregiver: Caregiver
    client: Client

    @property
    def actor_id(self) -> str:
        return str(self.caregiver.id)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def family_actor(identity: FamilyIdentity, remote_addr: str | None = None) -> Actor:
    return Actor("family", identity.actor_id, "family", remote_addr)


def sign_in_path(token: str) -> str:
    return f"/family/sign-in/{token}"


def _sign_in_body(
    caregiver: Caregiver, client: Client, therapist: User, url: str, purpose: str
) -> str:
    if purpose == "forms":
        why = [
            f"Before {client.first_name}'s first visit with {therapist.name}, please sign the"
            " telehealth and recording consents and fill in a short intake form on your family"
            " page. It takes about five minutes.",
        ]
    else:
        why = [
            f"{therapist.name} invites you to {client.first_name}'s family page: the next visits,"
            " the home program, forms to complete and messages.",
        ]
    return "\n".join(
        [
            f"Hello {caregiver.name},",
            "",
            *why,
            "Sign in from this link (it works once, for 3 days; please do not forward it):",
            url,
            "",
            "If you did not expect this message, you can ignore it.",
        ]
    )


async def issue_sign_in_link(
    session: AsyncSession,
    therapist: User,
    client: Client,
    caregiver_id: str,
    base_url: str,
    actor: Actor,
    *,
    now: datetime | None = None,
    purpose: str = "invite",
    dedupe_key: str | None = None,
) -> FamilySignInLink | None:
    """A new link for one caregiver of a client the therapist may see, emailed through the
    outbox in the same transaction. With ``dedupe_key``: once only (None when already sent)."""
    now = now or utcnow()
    if dedupe_key is not None and await session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
    ):
        return None
    caregiver = next((c for c in client.caregivers if str(c.id) == caregiver_id), None)
    if caregiver is None:
        raise NotFound("No such caregiver for this client.")
    if not caregiver.email:
        raise ValidationFailed({"caregiver_id": f"{caregiver.name} has no email address on file."})
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = FamilySignInLink(
        token_hash=hash_token(token),
        caregiver_id=caregiver.id,
        client_id=client.id,
        created_by=therapist.id,
        created_at=now,
        expires_at=now + LINK_LIFETIME,
    )
    session.add(link)
    await session.flush()
    message = await add_email(
        session,
        caregiver,
        kind=f"family.sign_in.{purpose}",
        subject=(
            f"Before {client.first_name}'s first visit: consent and intake"
            if purpose == "forms"
            else f"Your family page for {client.first_name}"
        ),
        body=_sign_in_body(caregiver, client, therapist, base_url + sign_in_path(token), purpose),
        dedupe_key=dedupe_key,
    )
    add_audit(
        session, actor, "family.link_issue", object_type="client", object_id=client.id,
        detail={"link_id": str(link.id), "caregiver_id": str(caregiver.id),
                "outbox_id": str(message.id)},
    )  # fmt: skip
    return link


async def list_sign_in_links(session: AsyncSession, client: Client) -> list[FamilySignInLink]:
    rows = await session.scalars(
        select(FamilySignInLink)
        .where(FamilySignInLink.client_id == client.id)
        .order_by(FamilySignInLink.created_at.desc())
        .limit(20)
    )
    return list(rows)


async def revoke_sign_in_link(
    session: AsyncSession, client: Client, link_id: str, actor: Actor
) -> FamilySignInLink:
    """Withdraws a link (used or not) and ends every family session it opened."""
    link = await session.get(FamilySignInLink, as_uuid(link_id, NO_LINK))
    if link is None or link.client_id != client.id:
        raise NotFound(NO_LINK)
    now = utcnow()
    if link.revoked_at is None:
        link.revoked_at = now
    await session.execute(
        update(FamilySession)
        .where(FamilySession.link_id == link.id, FamilySession.ended_at.is_(None))
        .values(ended_at=now)
    )
    add_audit(
        session, actor, "family.link_revoke", object_type="client", object_id=client.id,
        detail={"link_id": str(link.id)},
    )  # fmt: skip
    return link


async def check_sign_in_link(
    session: AsyncSession, token: str, now: datetime, current: FamilyIdentity | None = None
) -> FamilySignInLink:
    """The link behind a token if it can still sign in; SignInRefused otherwise."""
    link = await session.scalar(
        select(FamilySignInLink).where(FamilySignInLink.token_hash == hash_token(token[:100]))
    )
    if link is None:
        raise SignInRefused(
            "unknown", "This sign-in link is not valid. Check that you copied all of it."
        )
    if current is not None and (
        current.caregiver.id != link.caregiver_id or current.client.id != link.client_id
    ):
        raise SignInRefused(
            "other_family",
            "This sign-in link is for another family. Sign out first if you share this device.",
        )
    if link.revoked_at is not None:
        raise SignInRefused(
            "revoked", "This sign-in link was withdrawn. Ask your therapist for a new one."
        )
    if link.used_at is not None:
        raise SignInRefused(
            "used", "This sign-in link was already used. Ask your therapist for a new one."
        )
    if now >= link.expires_at:
        raise SignInRefused(
            "expired", "This sign-in link has expired. Ask your therapist for a new one."
        )
    return link


async def redeem_sign_in_link(
    session: AsyncSession,
    token: str,
    now: datetime,
    current: FamilyIdentity | None,
    remote_addr: str | None,
) -> tuple[str, FamilySession]:
    """Uses the link (once: a conditional UPDATE) and opens a family session; returns the
    session's cookie value (only its hash is stored) and the session."""
    link = await check_sign_in_link(session, token, now, current)
    used = await session.execute(
        update(FamilySignInLink)
        .where(FamilySignInLink.id == link.id, FamilySignInLink.used_at.is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        raise SignInRefused(
            "used", "This sign-in link was already used. Ask your therapist for a new one."
        )
    cookie = secrets.token_urlsafe(TOKEN_BYTES)
    family_session = FamilySession(
        token_hash=hash_token(cookie),
        link_id=link.id,
        caregiver_id=link.caregiver_id,
        client_id=link.client_id,
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    session.add(family_session)
    await session.flush()
    add_audit(
        session, Actor("family", str(link.caregiver_id), "family", remote_addr),
        "family.sign_in", object_type="client", object_id=link.client_id,
        detail={"link_id": str(link.id)},
    )  # fmt: skip
    return cookie, family_session


async def resolve_family_session(
    session: AsyncSession, cookie: str, now: datetime
) -> FamilyIdentity | None:
    row = await session.scalar(
        select(FamilySession).where(FamilySession.token_hash == hash_token(cookie[:100]))
    )
    if row is None or row.ended_at is not None or now >= row.expires_at:
        return None
    caregiver = await session.get(Caregiver, row.caregiver_id)
    client = await session.get(Client, row.client_id)
    if caregiver is None or client is None or client.archived_at is not None:
        return None
    if caregiver.client_id != client.id:
        return None
    return FamilyIdentity(row.id, caregiver, client)


async def end_family_session(session: AsyncSession, cookie: str) -> None:
    await session.execute(
        update(FamilySession)
        .where(
            FamilySession.token_hash == hash_token(cookie[:100]), FamilySession.ended_at.is_(None)
        )
        .values(ended_at=utcnow())
    )
