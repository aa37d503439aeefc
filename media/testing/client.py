"""An aiortc participant for tests: answers relay offers, publishes a pattern, records arrivals."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import av
from aiortc import (
    MediaStreamError,
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)

from media.aiortc import add_loopback_candidates, parse_sdp
from media.room import Room
from media.testing.pattern import (
    PatternVideoTrack,
    ToneAudioTrack,
    decode_frame_number,
    estimate_tone,
)

logger = logging.getLogger(__name__)

Answerer = Callable[[str, int], Awaitable[None]]
# Checking the tone costs a Python loop over ~2,000 samples: sample one frame in ten.
_TONE_EVERY = 10


@dataclass
class Received:
    """What arrived from one stream id (one publisher)."""

    video_numbers: list[int] = field(default_factory=list)
    video_unreadable: int = 0
    audio_frames: int = 0
    tones: list[float] = field(default_factory=list)
    first_video_at: float | None = None
    first_audio_at: float | None = None


class TestClient:
    """One participant: a real aiortc peer connection that decodes what it receives."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(
        self,
        participant_id: str,
        *,
        publish: bool = True,
        tone_hz: float = 440.0,
        include_loopback: bool = True,
    ) -> None:
        self.participant_id = participant_id
        self.publish = publish
        self._include_loopback = include_loopback
        # max-bundle: with aiortc's default "balanced" policy, a second m-line of a kind that
        # arrives in the first offer keeps a transport that BUNDLE then discards (no media).
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.video = PatternVideoTrack() if publish else None
        self.audio = ToneAudioTrack(tone_hz) if publish else None
        if self.audio is not None and self.video is not None:
            self.pc.addTrack(self.audio)
            self.pc.addTrack(self.video)
        self.received: dict[str, Received] = {}
        # The relay side's connection states for this participant, as reported to on_state.
        self.relay_states: list[str] = []
        self.offers: list[tuple[str, int]] = []
        self.answers: list[str] = []
        self.errors: list[BaseException] = []
        self.answer_transform: Callable[[str], str] | None = None
        self._answerer: Answerer | None = None
        # Cleared to hold offers unanswered (a slow client); set again to answer them in order.
        self.answering = asyncio.Event()
        self.answering.set()
        self._offers: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self._stream_by_mid: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._worker = asyncio.create_task(self._answer_offers(), name=f"client:{participant_id}")
        self.pc.on("track", self._on_track)

    def answer_with(self, answerer: Answerer) -> None:
        """Where answers go, e.g. ``functools.partial(room.answer, participant_id)``."""
        self._answerer = answerer

    async def on_offer(self, offer_sdp: str, revision: int) -> None:
        """An ``OfferSink``: offers are applied strictly in order, like a browser must."""
        self.offers.append((offer_sdp, revision))
        self._offers.put_nowait((offer_sdp, revision))

    async def on_state(self, state: str) -> None:
        """A ``StateSink``."""
        self.relay_states.append(state)

    def stream(self, stream_id: str) -> Received:
        return self.received.setdefault(stream_id, Received())

    async def wait_for(
        self, condition: Callable[[], bool], within: float = 10.0, what: str = "condition"
    ) -> None:
        deadline = time.monotonic() + within
        while not condition():
            if self.errors:
                raise AssertionError(f"{self.participant_id}: {self.errors[0]!r}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.participant_id}: timed out waiting for {what}")
            await asyncio.sleep(0.05)

    async def wait_idle(self, within: float = 10.0) -> None:
        """Until every offer received so far is answered."""
        await self.wait_for(
            lambda: len(self.answers) == len(self.offers),
            within,
            "offers answered",
        )

    async def _answer_offers(self) -> None:
        while True:
            offer_sdp, revision = await self._offers.get()
            await self.answering.wait()
            try:
                await self._answer(offer_sdp, revision)
            except Exception as exc:
                logger.exception("%s failed to answer revision %d", self.participant_id, revision)
                self.errors.append(exc)

    async def _answer(self, offer_sdp: str, revision: int) -> None:
        description = parse_sdp(offer_sdp)
        for media in description.media:
            if media.msid:
                self._stream_by_mid[media.rtp.muxId] = media.msid.split(" ")[0]
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        answer = await self.pc.createAnswer()
        if self._include_loopback:
            add_loopback_candidates(self.pc)
        await self.pc.setLocalDescription(answer)
        answer_sdp = self.pc.localDescription.sdp
        if self.answer_transform is not None:
            answer_sdp = self.answer_transform(answer_sdp)
        self.answers.append(answer_sdp)
        if self._answerer is None:
            raise RuntimeError("answer_with() was not called")
        await self._answerer(answer_sdp, revision)

    def _on_track(self, track: MediaStreamTrack) -> None:
        task = asyncio.create_task(self._consume(track))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _mid_of(self, track: MediaStreamTrack) -> str | None:
        for transceiver in self.pc.getTransceivers():
            if transceiver.receiver.track is track:
                return transceiver.mid
        return None

    async def _consume(self, track: MediaStreamTrack) -> None:
        # Reading every received track also keeps aiortc's unbounded track queue from growing.
        count = 0
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            mid = self._mid_of(track)
            stream_id = self._stream_by_mid.get(mid or "", "?")
            received = self.stream(stream_id)
            now = time.monotonic()
            if isinstance(frame, av.VideoFrame):
                number = decode_frame_number(frame)
                if number is None:
                    received.video_unreadable += 1
                else:
                    received.video_numbers.append(number)
                    if received.first_video_at is None:
                        received.first_video_at = now
            elif isinstance(frame, av.AudioFrame):
                received.audio_frames += 1
                if received.first_audio_at is None:
                    received.first_audio_at = now
                if count % _TONE_EVERY == 0:
                    received.tones.append(estimate_tone(frame))
            count += 1

    async def close(self) -> None:
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        await self.pc.close()
        for task in set(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class ClientPool:
    """Joins TestClients to rooms and closes them all at the end of a test."""

    def __init__(self) -> None:
        self.clients: list[TestClient] = []

    async def join(
        self,
        room: Room,
        participant_id: str,
        *,
        publish: bool = True,
        tone_hz: float = 440.0,
        answer_transform: Callable[[str], str] | None = None,
    ) -> TestClient:
        client = TestClient(participant_id, publish=publish, tone_hz=tone_hz)
        client.answer_transform = answer_transform
        self.clients.append(client)
        client.answer_with(functools.partial(room.answer, participant_id))
        await room.join(
            participant_id, publish=publish, on_offer=client.on_offer, on_state=client.on_state
        )
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        self.clients.clear()
