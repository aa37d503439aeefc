"""The outbox worker: a task the app's lifespan starts and stops.

Each round it takes back tries whose worker died, queues the reminders that fell due, and sends
every due message, one at a time. It sleeps until the next message is due (at most POLL), or
until `wake()` (a request that just queued a message). Everything it knows is in the database,
so a restart loses nothing: the next process picks up where this one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from server.db import transaction, utcnow
from server.services.family.forms import queue_forms_requests
from server.services.scheduling.delivery import (
    Claim,
    LoggingSender,
    OutboxSender,
    claim_next,
    next_due_at,
    record_failure,
    record_sent,
    recover_lost_attempts,
    release_claim,
)
from server.services.scheduling.reminders import queue_due_reminders
from server.services.scheduling.visit_links import VisitLinkSigner
from server.state import AppState

from .smtp import SmtpConfig, SmtpSender

log = logging.getLogger("tandem.outbox")

# Reminders fall due by the clock, and other processes may queue: look at least this often.
POLL = timedelta(seconds=15)


class OutboxWorker:
    def __init__(self, state: AppState, senders: dict[str, OutboxSender], *, base_url: str) -> None:
        self.state = state
        self.senders = senders
        self.base_url = base_url
        self.first_retry = timedelta(seconds=state.settings.outbox_retry_seconds)
        self.links = VisitLinkSigner(state.settings.secret_key)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """One round; returns how many messages were sent."""
        db, settings = self.state.db, self.state.settings
        async with transaction(db) as session:
            await recover_lost_attempts(session, utcnow())
            await queue_due_reminders(session, utcnow(), self.base_url, self.links)
            await queue_forms_requests(session, utcnow(), self.base_url)
        sent = 0
        while True:
            async with transaction(db) as session:
                claim = await claim_next(session, utcnow(), settings.mail_from)
            if claim is None:
                return sent
            sender = self.senders.get(claim.message.channel, LoggingSender())
            try:
                await sender.send(claim.message)
            except asyncio.CancelledError:
                # Shutting down: whether the server took it is unknown; it goes again (same
                # Message-ID) from the next process instead of waiting out the claim.
                await asyncio.shield(self._release(claim))
                raise
            except Exception as exc:  # every failure is recorded on the message, then retried
                async with transaction(db) as session:
                    status = await record_failure(
                        session, claim, exc, utcnow(), first_retry=self.first_retry
                    )
                log.warning(
                    "outbox message not sent",
                    extra={
                        "outbox_id": claim.message.id,
                        "attempt": claim.number,
                        "status": status,
                        "error": type(exc).__name__,
                    },
                )
                continue
            async with transaction(db) as session:
                await record_sent(session, claim, utcnow())
            sent += 1

    async def _release(self, claim: Claim) -> None:
        async with transaction(self.state.db) as session:
            await release_claim(session, claim, utcnow())

    async def _sleep(self) -> None:
        async with transaction(self.state.db) as session:
            due = await next_due_at(session, utcnow())
        wait = POLL.total_seconds()
        if due is not None:
            wait = min(wait, max((due - utcnow()).total_seconds(), 0.0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=wait)
        self._wake.clear()

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
                await self._sleep()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be briefly away: the next round tries again
                log.exception("outbox round failed")
                await asyncio.sleep(POLL.total_seconds())


def make_email_sender(state: AppState) -> OutboxSender:
    settings = state.settings
    if settings.smtp_url is None:
        log.warning("TANDEM_SMTP_URL is not set: emails are logged, not sent")
        return LoggingSender()
    return SmtpSender(SmtpConfig.from_url(settings.smtp_url), settings.mail_from)


def wake_outbox(state: AppState) -> None:
    """A message was just queued: send it now rather than at the next poll."""
    worker = state.extras.get("outbox")
    if isinstance(worker, OutboxWorker):
        worker.wake()


@contextlib.asynccontextmanager
async def outbox_extension(state: AppState) -> AsyncIterator[None]:
    settings = state.settings
    worker = OutboxWorker(
        state,
        # SMS stays a port: logged until a provider can be tested for real.
        {"email": make_email_sender(state), "sms": LoggingSender()},
        base_url=settings.public_base_url or "http://127.0.0.1:8000",
    )
    state.extras["outbox"] = worker
    task = asyncio.create_task(worker.run(), name="outbox-worker")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        state.extras.pop("outbox", None)
