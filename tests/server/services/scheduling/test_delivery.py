"""The outbox's record of each try: a try lost with its worker is taken back and made again with
the same Message-ID; a final refusal fails the message; retries back off."""

from __future__ import annotations

from datetime import timedelta

from practice import unit_of_work  # tests/support
from sqlalchemy import select, update

from server.db import utcnow
from server.models import OutboxAttempt, OutboxMessage
from server.services.scheduling.delivery import (
    LEASE,
    SendRefused,
    backoff,
    claim_next,
    record_failure,
    recover_lost_attempts,
)

FROM = "Tandem <care@example.test>"


async def outcomes(database_url: str, message_id: object) -> list[str]:
    async with unit_of_work(database_url) as session:
        rows = await session.scalars(
            select(OutboxAttempt)
            .where(OutboxAttempt.message_id == message_id)
            .order_by(OutboxAttempt.number)
        )
        return [row.outcome for row in rows]


async def queued(database_url: str) -> OutboxMessage:
    async with unit_of_work(database_url) as session:
        # The run shares one database: park what other tests left pending or mid-try (their
        # order depends on the run's), so this message is the only one due or recoverable.
        far = utcnow() + timedelta(days=3650)
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status.in_(("pending", "sending")))
            .values(next_attempt_at=far, claimed_until=far)
        )
        # Due in the past: claimed before anything other tests left pending.
        row = OutboxMessage(
            kind="test", recipient="a@example.test", subject="s", body="b",
            next_attempt_at=utcnow() - timedelta(days=3650),
            created_at=utcnow() - timedelta(days=3650),
        )  # fmt: skip
        session.add(row)
    return row


async def test_a_try_lost_with_its_worker_is_made_again_with_the_same_message_id(
    database_url: str,
) -> None:
    row = await queued(database_url)
    now = utcnow()
    async with unit_of_work(database_url) as session:
        first = await claim_next(session, now, FROM)
    assert first is not None
    assert first.message.id == str(row.id)
    # The worker dies here (after the server may have taken it, before our record).
    async with unit_of_work(database_url) as session:
        assert await recover_lost_attempts(session, now + LEASE / 2) == 0
        again = await claim_next(session, now + LEASE / 2, FROM)
        assert again is None or again.message.id != str(row.id)  # still claimed: not twice
    async with unit_of_work(database_url) as session:
        await recover_lost_attempts(session, now + LEASE * 2)
    async with unit_of_work(database_url) as session:
        second = await claim_next(session, now + LEASE * 2, FROM)
    assert second is not None
    assert second.message.id == str(row.id)
    assert (
        second.message.message_id == first.message.message_id == f"<outbox.{row.id}@example.test>"
    )
    assert second.number == 2
    assert await outcomes(database_url, row.id) == ["interrupted", "started"]


async def test_a_final_refusal_fails_the_message_and_a_transient_one_backs_off(
    database_url: str,
) -> None:
    row = await queued(database_url)
    now = utcnow()
    async with unit_of_work(database_url) as session:
        claim = await claim_next(session, now, FROM)
        assert claim is not None
        status = await record_failure(
            session, claim, SendRefused("550 no such user"), now, first_retry=timedelta(seconds=30)
        )
    assert status == "failed"
    assert await outcomes(database_url, row.id) == ["failed"]
    down = await queued(database_url)
    # A minute after it was queued, a server that is down means: try again later.
    then = down.created_at + timedelta(minutes=1)
    async with unit_of_work(database_url) as session:
        claim = await claim_next(session, now, FROM)
        assert claim is not None
        assert claim.message.id == str(down.id)
        status = await record_failure(
            session, claim, ConnectionRefusedError("down"), then, first_retry=timedelta(seconds=30)
        )
    assert status == "pending"
    async with unit_of_work(database_url) as session:
        again = await session.get(OutboxMessage, down.id)
        assert again is not None
        assert again.next_attempt_at == then + timedelta(seconds=30)
        assert again.last_error == "ConnectionRefusedError: down"
    assert await outcomes(database_url, down.id) == ["retry"]
    assert [backoff(timedelta(seconds=30), n).total_seconds() for n in (1, 2, 3, 9, 20)] == [
        30, 60, 120, 3600, 3600,
    ]  # fmt: skip
