"""The load generator's media at the RTP level, with the relay's own RTP code (media/rtp/).

A participant's connection is negotiated by aiortc as before (ICE, DTLS, SRTP, RTCP), but its
packets do not go through aiortc's per-packet path: the clip's frames are packetized once with
aiortc's packetizer and sent through an ``OutStream`` (header, SRTP, RTX history, sender-report
figures), and received packets are taken by an ``InStream`` (receiver reports, NACKs, RTX) that
assembles frames for the frame-identity check. That cuts the load generator's CPU per session to
about the relay's, so one machine can drive more sessions. The path is interoperable: the same
code talks to aiortc and Chromium peers in tests/media and tests/e2e.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from typing import Any

import av
from aiortc import MediaStreamError, RTCRtpCodecParameters, RTCRtpTransceiver

from bench.frames import ClipAudioTrack, ClipVideoTrack
from media import Counters, ForwardedTrack
from media.aiortc import negotiated_codec, packetizer
from media.rtp import FIXED_HEADER, Ingress, InStream, InStreamEvents, OutStream, vp8_frame_start

Track = ClipVideoTrack | ClipAudioTrack

# How often a receiver may ask for a keyframe while it waits for one.
_PLI_INTERVAL = 0.5


class TransportSequence:
    """A connection's transport-wide sequence numbers (transport-cc), shared by its publishers
    once the answer negotiated the extension (``ext_id``): the relay then sends transport
    feedback, which the load generator ignores, as the relay's CPU must include making it."""

    def __init__(self) -> None:
        self.ext_id: int | None = None
        self._next = 0

    def stamp(self, packet: bytes) -> bytes:
        """``packet`` with a one-byte extension element carrying the next number, appended to
        its extension block (the relay's header writer always makes one: mid, abs-send-time)."""
        if self.ext_id is None or not packet[0] & 0x10:
            return packet
        start = 12 + 4 * (packet[0] & 0x0F)
        words = int.from_bytes(packet[start + 2 : start + 4], "big")
        end = start + 4 + 4 * words
        number = self._next
        self._next = (number + 1) & 0xFFFF
        element = bytes([(self.ext_id << 4) | 1, number >> 8, number & 0xFF, 0])
        length = (words + 1).to_bytes(2, "big")
        return packet[: start + 2] + length + packet[start + 4 : end] + element + packet[end:]


class _StampingOutStream(OutStream):
    def __init__(self, *args: Any, sequence: TransportSequence, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sequence = sequence

    def transmit(self, packet: bytes) -> bool:
        return super().transmit(self._sequence.stamp(packet))


class RtpPublisher:
    """Sends a paced clip track on a ``sendonly`` m-line, one ``OutStream`` per track."""

    def __init__(
        self,
        transceiver: RTCRtpTransceiver,
        track: Track,
        counters: Counters,
        sequence: TransportSequence,
    ) -> None:
        self.kind = track.kind
        self._transceiver = transceiver
        self._track = track
        restart = track.request_keyframe if isinstance(track, ClipVideoTrack) else _nothing
        # aiortc's own send loop waits on a track that is never fed: it sends nothing.
        idle = ForwardedTrack(track.kind, track.id, 1, counters, _nothing)
        transceiver.sender.replaceTrack(idle)
        self._out = _StampingOutStream(
            track.kind, transceiver, counters, restart, sequence=sequence
        )
        self._source = object()
        self._packer: Any = None
        self._seq = secrets.randbelow(1 << 16)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Once the m-line is negotiated; until then there is nowhere to send the clip to (and
        pacing it for nothing would cost the load generator CPU while sessions join)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"bench-publisher:{self.kind}")

    async def _run(self) -> None:
        while True:
            try:
                packet = await self._track.recv()
            except MediaStreamError:
                return
            codec = negotiated_codec(self._transceiver)
            if codec is not None:
                self._send(packet, codec)

    def _send(self, packet: av.Packet[Any], codec: RTCRtpCodecParameters) -> None:
        if self._packer is None:
            self._packer = packetizer(codec)
        payloads, timestamp = self._packer.pack(packet)
        now = time.time()
        last = len(payloads) - 1
        for i, payload in enumerate(payloads):
            second = 0x80 if i == last else 0  # marker on a frame's last packet
            rtp = FIXED_HEADER.pack(0x80, second, self._seq, timestamp, 0) + payload
            start: bool | None = True
            if self.kind == "video":
                start = vp8_frame_start(rtp, 12, len(rtp))
            self._out.forward(self._source, rtp, 12, self._seq, timestamp, start, now)
            self._seq = (self._seq + 1) & 0xFFFF

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class RtpReceiver:
    """Takes the packets of a ``recvonly`` m-line and hands complete frames to ``on_frame``."""

    def __init__(
        self,
        transceiver: RTCRtpTransceiver,
        counters: Counters,
        on_frame: Callable[[av.Packet[Any]], None],
        on_first_packet: Callable[[], None],
    ) -> None:
        self._last_pli = 0.0
        events = InStreamEvents(
            first_packet=on_first_packet,
            keyframe=_nothing,
            frame=on_frame,
            request_keyframe=self._pli,
        )
        self.stream = InStream(transceiver.kind, transceiver, counters, events)
        self.stream.want_frames(True)
        Ingress.of(transceiver.receiver.transport, counters).register(self.stream)

    def _pli(self) -> None:
        now = time.monotonic()
        if now - self._last_pli >= _PLI_INTERVAL and self.stream.send_pli():
            self._last_pli = now

    def close(self) -> None:
        self.stream.close()


def _nothing() -> None:
    return None
