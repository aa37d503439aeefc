"""The relay's peer connection with one participant: its m-lines and its offer/answer state.

A publishing participant has one receive-only m-line per kind (a pass-through receiver, never
decoding); every feed it subscribes to gets a send-only m-line (a ``Slot``), reused by the next
publisher when one leaves. The relay always offers; answers are checked (media/negotiation.py)
before aiortc applies them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)

from media import negotiation
from media.aiortc import (
    Negotiated,
    PassthroughTrack,
    answered_transport_cc,
    install_counting_encoder,
    local_candidates,
    make_passthrough_receiver,
    offer_transport_cc,
    on_keyframe_request,
    remember_negotiated,
    restore_negotiated,
    set_sender_ids,
)
from media.config import RelayConfig
from media.errors import NegotiationError
from media.feed import Feed
from media.forwarded_track import ForwardedTrack
from media.rtp.ingress import Ingress
from media.rtp.outstream import OutStream
from media.rtp.twcc import TRANSPORT_CC_FEEDBACK, TRANSPORT_CC_URI
from media.stats import Counters

logger = logging.getLogger(__name__)

OfferSink = Callable[[str, int], Awaitable[None]]
StateSink = Callable[[str], Awaitable[None]]
# Told True when the relay stops sending this participant video its link cannot carry, False
# when video is back (media/rtp/congestion.py, ``ObserverGate``).
AudioOnlySink = Callable[[bool], Awaitable[None]]

KINDS = ("audio", "video")


@dataclass
class Published:
    transceiver: RTCRtpTransceiver
    track: PassthroughTrack


@dataclass
class Slot:
    """A relay-to-participant m-line carrying one publisher's track of one kind (or idle)."""

    kind: str
    transceiver: RTCRtpTransceiver
    # The sender's track. With RTP-level forwarding (``out`` set) it is never fed: packets go
    # out through ``out`` and aiortc's send loop stays idle.
    track: ForwardedTrack
    out: OutStream | None = None
    feed: Feed | None = None

    def attach(self, feed: Feed, connected: bool) -> None:
        self.feed = feed
        if self.out is not None:
            self.out.set_keyframe_requester(feed.request_keyframe)
            if connected:
                feed.add_out(self.out)
        else:
            self.track.set_keyframe_requester(feed.request_keyframe)
            feed.add_sink(self.track)

    def connected(self) -> None:
        """The subscriber's transport is up (DTLS done): RTP-level forwarding may start.

        Fed before, the stream would start the subscriber at a keyframe (or the publisher's
        kept packets since one) as soon as the answer is applied, and lose it into a transport
        without SRTP keys: the subscriber then waits for a fresh keyframe.
        """
        if self.out is not None and self.feed is not None:
            self.feed.add_out(self.out)

    def detach(self) -> None:
        if self.feed is not None:
            if self.out is not None:
                self.feed.remove_out(self.out)
            self.feed.remove_sink(self.track)
        self.feed = None
        if self.out is not None:
            self.out.detach()
        self.track.detach()

    def request_keyframe(self) -> None:
        if self.feed is not None:
            self.feed.request_keyframe()


def track_id(publisher_id: str, kind: str) -> str:
    return f"{publisher_id}-{kind}"


class Peer:
    """The relay's peer connection with one participant, and its offer/answer state.

    The relay always offers. At most one offer is outstanding; changes made while waiting for
    the answer are folded into the next offer, sent as soon as the answer is applied.
    """

    def __init__(
        self,
        participant_id: str,
        *,
        publish: bool,
        config: RelayConfig,
        counters: Counters,
        on_offer: OfferSink,
        on_state: StateSink | None,
        first_revision: int = 0,
        on_audio_only: AudioOnlySink | None = None,
    ) -> None:
        self.participant_id = participant_id
        self.publish = publish
        self._config = config
        self._counters = counters
        self._on_offer = on_offer
        self._on_state = on_state
        self._on_audio_only = on_audio_only
        self._audio_only = False
        self.pc = RTCPeerConnection(
            RTCConfiguration(
                iceServers=[
                    RTCIceServer(list(s.urls), s.username, s.credential) for s in config.ice_servers
                ],
                # One transport for everything: fewer ICE/DTLS handshakes, and what browsers do.
                bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
            )
        )
        self.published: dict[str, Published] = {}
        self.slots: list[Slot] = []
        self._lock = asyncio.Lock()
        # Continues the replaced connection's numbering, so a late answer meant for the old
        # connection can never be mistaken for an answer to this one.
        self._revision = first_revision
        self._pending: int | None = None
        self._dirty = False
        self._closed = False
        # The far end closed the connection, or ICE failed (terminal: aiortc has no ICE restart).
        # A dead connection takes no new m-lines and no offers until the participant connects
        # again; touching it raised "RTCPeerConnection is closed" into every later admission.
        self.dead = False
        self._negotiated: dict[str, Negotiated] = {}
        # The transport-wide sequence number's extension id, once offered: kept across offers.
        self._transport_cc_id: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.pc.on("connectionstatechange", self._state_changed)
        if publish:
            for kind in KINDS:
                transceiver = self.pc.addTransceiver(kind, direction="recvonly")
                negotiation.force_codecs(transceiver)
                track = make_passthrough_receiver(
                    transceiver.receiver, kind, config.queue_capacity, counters.count_drop
                )
                self.published[kind] = Published(transceiver, track)

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def awaiting_answer(self) -> bool:
        return self._pending is not None

    def subscribe(self, feed: Feed) -> Slot | None:
        """Forward ``feed`` to this participant, reusing an idle m-line of its kind if any.

        None when the connection is dead: the participant's next connection subscribes afresh.
        """
        if self.dead or self._closed:
            return None
        for slot in self.slots:
            if slot.feed is feed:
                return slot
        idle = next((s for s in self.slots if s.feed is None and s.kind == feed.kind), None)
        if idle is not None:
            slot = idle
        else:
            transceiver = self.pc.addTransceiver(feed.kind, direction="sendonly")
            negotiation.force_codecs(transceiver)
            install_counting_encoder(
                transceiver.sender,
                negotiation.forced_codec(feed.kind),
                self._counters.count_encode,
            )
            track = ForwardedTrack(
                feed.kind,
                track_id(feed.publisher_id, feed.kind),
                self._config.queue_capacity,
                self._counters,
                feed.request_keyframe,
            )
            transceiver.sender.replaceTrack(track)
            out = None
            if feed.rtp_level:
                # An observer's estimate never caps a publisher (media/rtp/congestion.py).
                out = OutStream(
                    feed.kind, transceiver, self._counters, feed.request_keyframe,
                    limits_publisher=self.publish,
                )  # fmt: skip
                out.on_video_allowed = self._video_allowed_changed
            slot = Slot(feed.kind, transceiver, track, out)
            # A subscriber's PLI/FIR becomes a (rate-limited) PLI to whoever the slot carries.
            on_keyframe_request(transceiver.sender, slot.request_keyframe)
            self.slots.append(slot)
        slot.transceiver.direction = "sendonly"
        slot.track.set_id(track_id(feed.publisher_id, feed.kind))
        # The browser tells whose track is whose by the stream id: the publisher's id.
        set_sender_ids(
            slot.transceiver.sender, feed.publisher_id, track_id(feed.publisher_id, feed.kind)
        )
        slot.attach(feed, self.pc.connectionState == "connected")
        return slot

    def unsubscribe(self, publisher_id: str) -> bool:
        """Idle the m-lines carrying ``publisher_id``; they are reused by the next publisher."""
        changed = False
        for slot in self.slots:
            if slot.feed is not None and slot.feed.publisher_id == publisher_id:
                slot.detach()
                slot.transceiver.direction = "inactive"
                changed = True
        return changed

    async def negotiate(self) -> None:
        """Send a new offer now, or right after the outstanding one is answered."""
        async with self._lock:
            if self._closed or self.dead:
                return
            if self._pending is not None:
                self._dirty = True
                return
            offer = await self.pc.createOffer()
            offer_sdp = restore_negotiated(offer.sdp, self.pc.getTransceivers(), self._negotiated)
            if self._feedback_ingress() is not None:
                # The publisher's own uplink estimate needs the relay's transport feedback.
                offer_sdp, self._transport_cc_id = offer_transport_cc(
                    offer_sdp, TRANSPORT_CC_URI, TRANSPORT_CC_FEEDBACK, self._transport_cc_id
                )
            local_candidates(
                self.pc,
                loopback=self._config.include_loopback,
                ports=self._config.port_range,
                announced=self._config.announced_address,
            )
            await self.pc.setLocalDescription(RTCSessionDescription(offer_sdp, "offer"))
            self._revision += 1
            self._pending = self._revision
            self._dirty = False
            revision = self._revision
            local_sdp = self.pc.localDescription.sdp
        # Outside the lock: the sink may well deliver the answer before it returns.
        await self._on_offer(local_sdp, revision)

    async def apply_answer(self, sdp: str, revision: int) -> None:
        async with self._lock:
            if self._closed:
                raise NegotiationError(f"{self.participant_id}: connection closed")
            if self._pending is None or revision != self._pending:
                raise NegotiationError(
                    f"{self.participant_id}: answer for revision {revision}, "
                    f"expected {self._pending}"
                )
            answer = negotiation.parse_answer(sdp, self.pc.localDescription.sdp)
            sending_before = {
                id(s) for s in self.slots if s.transceiver.currentDirection == "sendonly"
            }
            try:
                await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
            except Exception as exc:  # aiortc raises ValueError, OperationError, ...
                raise NegotiationError(f"{self.participant_id}: {exc}") from exc
            for slot in self.slots:
                # A sender that was disabled until now has thrown away what it read meanwhile,
                # the keyframe included: ask for a fresh one.
                if (
                    slot.out is None  # an OutStream asks by itself once it can send
                    and slot.transceiver.currentDirection == "sendonly"
                    and id(slot) not in sending_before
                ):
                    slot.request_keyframe()
            self._negotiated = remember_negotiated(self.pc.getTransceivers())
            ingress = self._feedback_ingress()
            if ingress is not None:
                ingress.enable_feedback(answered_transport_cc(answer, TRANSPORT_CC_URI))
            self._pending = None
            follow_up = self._dirty
        if follow_up:
            self._spawn(self.negotiate())

    def _video_allowed_changed(self, _: bool) -> None:
        audio_only = any(
            slot.out is not None and not slot.out.video_allowed
            for slot in self.slots
            if slot.feed is not None
        )
        if audio_only != self._audio_only:
            self._audio_only = audio_only
            if self._on_audio_only is not None:
                self._spawn(self._on_audio_only(audio_only))

    def _feedback_ingress(self) -> Ingress | None:
        """Where this publisher's packets are taken (RTP-level forwarding), which sends the
        transport feedback; None for an observer or on the frame-level path."""
        if not self.publish or self._config.forwarding != "rtp":
            return None
        return Ingress.of(self.published["video"].transceiver.receiver.transport, self._counters)

    def _state_changed(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            for slot in self.slots:
                slot.connected()
        elif state in ("failed", "closed") and not self._closed and not self.dead:
            self._die(state)
        if self._on_state is not None:
            self._spawn(self._on_state(self.pc.connectionState))

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception:
                logger.exception("%s: background negotiation/state task failed", self)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _die(self, state: str) -> None:
        logger.info("%s: connection %s by the far end; waiting for a new one", self, state)
        self.dead = True
        self._pending = None
        # Nothing more is sent into a dead transport; the feeds keep running for the others.
        for slot in self.slots:
            if slot.feed is not None:
                slot.detach()

    def silence(self) -> None:
        """Stop reporting state: the participant lives on in a replacement connection."""
        self._on_state = None

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
        for slot in self.slots:
            if slot.feed is not None:
                slot.detach()
        if self.publish:
            ingress = Ingress.on(self.published["video"].transceiver.receiver.transport)
            if ingress is not None:
                ingress.close()
        await self.pc.close()
        # Let the final state callback ("closed") run; cancel anything still negotiating.
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2)
        for task in set(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def __repr__(self) -> str:
        return f"Peer({self.participant_id!r}, publish={self.publish})"
