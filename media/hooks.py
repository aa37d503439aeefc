"""Typed media events for the application (persisting who joined, what was recorded, ...).

The relay never waits for the application: events go on a bounded queue (``HookDispatcher``)
and one consumer task hands them to the ``MediaHooks`` implementation, one at a time, in order.
A hook that is slow only delays later events (and past ``capacity`` they are dropped and
counted); a hook that raises is logged. Neither touches forwarding or recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

logger = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ParticipantJoined:
    room_id: str
    participant_id: str
    publish: bool
    # True when the participant replaced their own connection (network change).
    reconnect: bool
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class ParticipantLeft:
    room_id: str
    participant_id: str
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class TrackPublished:
    """The first packet of a publisher's (new) stream of one kind reached the relay."""

    room_id: str
    participant_id: str
    kind: str
    codec: str
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class KeyframeReceived:
    room_id: str
    publisher_id: str
    kind: str
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class SegmentWritten:
    """A segment of the recording is complete in storage (segments are built from the journal
    when the recording is finalized)."""

    room_id: str
    participant_id: str
    path: str
    kinds: tuple[str, ...]
    # Seconds on the participant's recording timeline (the final file's timeline).
    first_timestamp: float
    last_timestamp: float
    bytes: int
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class RecordingFailed:
    room_id: str
    participant_id: str
    error: str
    at: datetime = field(default_factory=_now)


MediaEvent = (
    ParticipantJoined
    | ParticipantLeft
    | TrackPublished
    | KeyframeReceived
    | SegmentWritten
    | RecordingFailed
)


class MediaHooks(Protocol):
    """Implemented by the application; dispatch on the event's type (``match event: ...``)."""

    async def on_event(self, event: MediaEvent) -> None: ...


class HookDispatcher:
    """Bounded, ordered, never-blocking delivery of ``MediaEvent`` to one ``MediaHooks``.

    ``emit`` must be called on the event loop (threads use ``loop.call_soon_threadsafe``).
    When the queue is full the *new* event is dropped: the earlier ones (a join, the first
    segments) are the ones that make later events meaningful.
    """

    def __init__(
        self, hooks: MediaHooks | None, capacity: int = 1024, slow_after: float = 1.0
    ) -> None:
        self._hooks = hooks
        self._queue: asyncio.Queue[MediaEvent] = asyncio.Queue(capacity)
        self._slow_after = slow_after
        self._consumer: asyncio.Task[None] | None = None
        self._closed = False
        self.emitted = 0
        self.delivered = 0
        self.dropped = 0
        self.failed = 0

    def emit(self, event: MediaEvent) -> None:
        if self._hooks is None or self._closed:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            return
        self.emitted += 1
        if self._consumer is None:
            self._consumer = asyncio.create_task(self._consume(), name="media-hooks")

    async def _consume(self) -> None:
        assert self._hooks is not None
        while True:
            event = await self._queue.get()
            started = time.monotonic()
            try:
                await self._hooks.on_event(event)
            except Exception:
                self.failed += 1
                logger.exception("media hook failed on %r", event)
            else:
                self.delivered += 1
            finally:
                self._queue.task_done()
            took = time.monotonic() - started
            if took > self._slow_after:
                logger.warning("media hook took %.1f s on %s", took, type(event).__name__)

    async def close(self, within: float = 2.0) -> None:
        """Deliver what is queued (at most ``within`` seconds), then stop."""
        self._closed = True
        consumer = self._consumer
        if consumer is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), within)
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        self._consumer = None
