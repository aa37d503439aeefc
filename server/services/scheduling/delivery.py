"""Sending what the outbox holds: claim a due message, try it, record the outcome.

Every try is an OutboxAttempt written (committed) before the sender is called and completed
after it. A worker that dies mid-try leaves the message claimed; once the claim's lease runs out,
`recover_lost_attempts` marks that try interrupted and the message is tried again with the same
Message-ID. So a message goes out twice only when the process died between the mail server's
acceptance and our record of it, and mail clients fold that copy.

Claims are a conditional UPDATE (pending -> sending), so several processes may run workers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Protocol

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import OutboxAttempt, OutboxMessage
from server.services.audit import Actor, add_audit

log = logging.getLogger("tandem.outbox")

# A claim outlives any one SMTP exchange (the sender's timeout is 60 s) by far.
LEASE = timedelta(minutes=5)
# Messages that carry a credential (a family's sign-in link): once sent or failed, the body is
# dropped from the outbox, so the database never keeps a usable token.
SCRUB_PREFIX = "family.sign_in"
SCRUBBED = "(This message carried a sign-in link; it is not kept once sent.)"

# Retries double from the first delay up to this; a message not out by GIVE_UP is failed.
MAX_BACKOFF = timedelta(hours=1)
GIVE_UP = timedelta(hours=48)


@dataclass(frozen=True)
class OutgoingMessage:
    id: str
    channel: str
    recipient: str
    subject: str
    body: str
    html_body: str | None = None
    message_id: str | None = None  # the RFC 5322 Message-ID, identical on every try


@dataclass(frozen=True)
class Claim:
    message: OutgoingMessage
    attempt_id: str
    number: int


class SendRefused(Exception):
    """The server refused the message for good (a 5xx answer): retrying cannot help."""


class OutboxSender(Protocol):
    async def send(self, message: OutgoingMessage) -> None:
        """Delivers, or raises (SendRefused when it is final); the outbox records either."""
        ...


class LoggingSender:
    """Logs that a message would be sent (domain only, never the address or the body): the
    sender when no SMTP server is configured, and the SMS port's only adapter so far."""

    async def send(self, message: OutgoingMessage) -> None:
        domain = message.recipient.rpartition("@")[2] or "?"
        log.info(
            "outbox message not sent (logging sender)",
            extra={"message_id": message.id, "channel": message.channel, "domain": domain},
        )


def rfc_message_id(message_id: object, mail_from: str) -> str:
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<outbox.{message_id}@{domain}>"


def backoff(first: timedelta, attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try: first, 2x, 4x ... up to MAX_BACKOFF."""
    factor: int = 2 ** max(attempts - 1, 0)
    return min(first * factor, MAX_BACKOFF)


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now)


async def recover_lost_attempts(session: AsyncSession, now: datetime) -> int:
    """Messages whose claim ran out (their worker died): due again, the lost try recorded."""
    rows = list(
        await session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.status == "sending", OutboxMessage.claimed_until < now
            )
        )
    )
    for row in rows:
        claimed = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.status == "sending")
            .where(OutboxMessage.claimed_until < now)
            .values(status="pending", claimed_until=None, next_attempt_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
            continue
        await session.execute(
            update(OutboxAttempt)
            .where(OutboxAttempt.message_id == row.id, OutboxAttempt.outcome == "started")
            .values(outcome="interrupted", finished_at=now, error="the worker stopped mid-try")
        )
        log.warning("outbox message claim expired; trying again", extra={"outbox_id": str(row.id)})
    return len(rows)


async def claim_next(
    session: AsyncSession, now: datetime, mail_from: str, *, lease: timedelta = LEASE
) -> Claim | None:
    """Claims the oldest due message for this worker and records the try it is about to make."""
    candidates = await session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", _due(now))
        .order_by(OutboxMessage.created_at)
        .limit(5)
    )
    for message_id in list(candidates):
        claimed = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending")
            .values(status="sending", claimed_until=now + lease)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]  # another worker was first
            continue
        row = await session.get(OutboxMessage, message_id, populate_existing=True)
        assert row is not None
        row.attempts += 1
        if row.rfc_message_id is None:
            row.rfc_message_id = rfc_message_id(row.id, mail_from)
        attempt = OutboxAttempt(message_id=row.id, number=row.attempts, started_at=now)
        session.add(attempt)
        await session.flush()
        message = OutgoingMessage(
            str(row.id),
            row.channel,
            row.recipient,
            row.subject,
            row.body,
            row.html_body,
            row.rfc_message_id,
        )
        return Claim(message, str(attempt.id), row.attempts)
    return None


async def _owned(session: AsyncSession, claim: Claim) -> tuple[OutboxMessage, OutboxAttempt]:
    row = await session.get(OutboxMessage, claim.message.id, populate_existing=True)
    attempt = await session.get(OutboxAttempt, claim.attempt_id, populate_existing=True)
    assert row is not None
    assert attempt is not None
    return row, attempt


def _audit_outcome(session: AsyncSession, row: OutboxMessage, outcome: str) -> None:
    detail = {"kind": row.kind, "attempts": row.attempts}
    add_audit(
        session, Actor.system(), "outbox.sent", object_type="outbox_message", object_id=row.id,
        outcome=outcome, detail=detail,
    )  # fmt: skip


def _scrub(row: OutboxMessage) -> None:
    if row.kind.startswith(SCRUB_PREFIX):
        row.body, row.html_body = SCRUBBED, None


async def record_sent(session: AsyncSession, claim: Claim, now: datetime) -> None:
    row, attempt = await _owned(session, claim)
    _scrub(row)
    attempt.outcome, attempt.finished_at = "sent", now
    row.status, row.sent_at, row.claimed_until, row.last_error = "sent", now, None, None
    _audit_outcome(session, row, "ok")


async def record_failure(
    session: AsyncSession,
    claim: Claim,
    error: BaseException,
    now: datetime,
    *,
    first_retry: timedelta,
) -> str:
    """Records a failed try; the message is due again later, or failed. Returns its status."""
    row, attempt = await _owned(session, claim)
    text = f"{type(error).__name__}: {error}"[:500]
    final = isinstance(error, SendRefused) or now - row.created_at >= GIVE_UP
    attempt.outcome, attempt.finished_at, attempt.error = (
        "failed" if final else "retry",
        now,
        text,
    )
    row.last_error, row.claimed_until = text, None
    if final:
        row.status = "failed"
        _scrub(row)
        _audit_outcome(session, row, "failed")
    else:
        row.status, row.next_attempt_at = "pending", now + backoff(first_retry, row.attempts)
    return row.status


async def release_claim(session: AsyncSession, claim: Claim, now: datetime) -> None:
    """The worker stops mid-try (shutdown): due again at once, with the same Message-ID."""
    row, attempt = await _owned(session, claim)
    attempt.outcome, attempt.finished_at = "interrupted", now
    attempt.error = "the worker stopped mid-try"
    row.status, row.claimed_until, row.next_attempt_at = "pending", None, now


async def next_due_at(session: AsyncSession, now: datetime) -> datetime | None:
    """When the earliest pending message falls due (None: nothing pending)."""
    if await session.scalar(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at.is_(None))
        .limit(1)
    ):
        return now
    return await session.scalar(
        select(OutboxMessage.next_attempt_at)
        .where(OutboxMessage.status == "pending")
        .order_by(OutboxMessage.next_attempt_at)
        .limit(1)
    )
