"""Pass-through receivers: complete encoded frames out of aiortc's receiver, never decoded.

aiortc 1.16.0 has no public API for receiving encoded frames: a receiver's jitter buffer hands
each frame to a decoder thread. A pass-through receiver (``make_passthrough_receiver``) gets
complete encoded frames as ``av.Packet`` put straight on its track's queue by the jitter
buffer's caller, on the event loop: its decoder queue is replaced by ``DirectDelivery``, so no
frame crosses to a thread and back (that round trip was ~22 % of the relay's CPU,
docs/performance.md). Its jitter buffer releases a video frame on its RTP marker bit and an
audio frame on arrival, instead of waiting for the next frame (video, ~33 ms) or four more
(audio, ~80 ms); NACK, PLI and RTCP are aiortc's.

The only process-wide change in media/aiortc/ is ``install()``: it wraps
``aiortc.rtcrtpreceiver.decoder_worker`` with a dispatcher that returns at once for a
pass-through receiver (aiortc starts the thread unconditionally in ``receive()``; ours ends
before the first frame) and runs aiortc's own decoder for every other receiver, so a decoding
aiortc client (tests, the frame tap's users) can live in the same process as the relay.
Everything else adapts single objects (one receiver, one sender, one ICE connection).
Checked by tests/media/aiortc/test_passthrough.py.
"""

from __future__ import annotations

import asyncio
import fractions
import queue
import threading
from collections.abc import Callable
from typing import Any, cast

import av
from aiortc import RTCRtpReceiver
from aiortc import rtcrtpreceiver as _rtcrtpreceiver
from aiortc.jitterbuffer import MAX_MISORDER, JitterBuffer, JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

from media.aiortc.version import AiortcVersionError, check_version
from media.bounded_queue import DropOldestQueue

_Worker = Callable[[asyncio.AbstractEventLoop, queue.Queue[Any], Any, threading.Event], None]
_INSTALL_LOCK = threading.Lock()


class PassthroughQueue(DropOldestQueue["av.Packet[Any] | None"]):
    """Marks a receiver as forwarding-only; bounded, unlike aiortc's track queue.

    ``put_nowait`` always accepts ``None`` (aiortc's end-of-stream marker) so the track ends.
    """

    async def put(self, item: av.Packet[Any] | None) -> None:
        # aiortc's receiver code awaits ``put`` for its end-of-stream marker.
        self.put_nowait(item)


class PassthroughTrack(RemoteStreamTrack):
    """The relay side of a publisher's track: yields ``av.Packet`` (pts = RTP timestamp)."""

    def __init__(self, kind: str, capacity: int, on_drop: Callable[[], None] | None) -> None:
        super().__init__(kind=kind)
        # Duck-types the asyncio.Queue aiortc declares: only put()/get() are used on it.
        self._queue = PassthroughQueue(capacity, on_drop)  # type: ignore[assignment]

    @property
    def queue(self) -> PassthroughQueue:
        return cast(PassthroughQueue, self._queue)


def is_vp8_keyframe(data: bytes) -> bool:
    # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame.
    return len(data) > 0 and (data[0] & 0x01) == 0


def to_packet(codec: RTCRtpCodecParameters, frame: JitterFrame) -> av.Packet[Any]:
    """A complete encoded frame as the ``av.Packet`` the relay forwards (no decoding)."""
    packet = av.Packet(frame.data)
    # The receiver already maps RTP timestamps to a wrap-free count from 0.
    packet.pts = frame.timestamp
    packet.time_base = fractions.Fraction(1, codec.clockRate)
    if codec.mimeType.lower() == "video/vp8":
        packet.is_keyframe = is_vp8_keyframe(frame.data)
    else:
        packet.is_keyframe = True
    return packet


class DirectDelivery:
    """Stands in for a pass-through receiver's decoder queue (a ``queue.Queue`` in aiortc).

    aiortc calls ``put((codec, frame))`` from ``_handle_rtp_packet`` (on the event loop) for each
    complete frame, and ``put(None)`` when it stops the receiver (``stop()``, disconnect, RTCP
    BYE; also on the loop). Both go straight to the track's queue: no thread, no wake-up.
    """

    def __init__(self, output: PassthroughQueue) -> None:
        self._output = output

    def put(self, task: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        if task is None:
            self._output.put_nowait(None)
            return
        codec, frame = task
        if not frame.data:
            # Padding-only packets after a marker-released frame form an empty "frame" (the
            # stock buffer appended them to the frame before): nothing to forward.
            return
        self._output.put_nowait(to_packet(codec, frame))


class MarkerJitterBuffer(JitterBuffer):
    """Video: a frame leaves when its marker packet and every packet before it are in.

    aiortc's buffer releases a frame only when the next frame's first packet arrives (~33 ms at
    30 fps). Completeness is unchanged: packets from the frame's first (the buffer's origin,
    right after the previous frame) to the marker must all be there, so a frame still waits for
    NACKed retransmissions. A frame that ended without a marker goes the stock way.
    """

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        assert self._origin is not None  # add() sets it before calling here
        packets: list[RtpPacket] = []
        for count in range(self._capacity):
            packet = self._packets[(self._origin + count) % self._capacity]
            if packet is None:
                return None  # a gap: nothing complete (the stock scan stops here too)
            if packets and packet.timestamp != packets[0].timestamp:
                return super()._remove_frame(sequence_number)
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                data = b"".join(p._data for p in packets)  # type: ignore[attr-defined]
                return JitterFrame(data=data, timestamp=packet.timestamp)
        return None


class ArrivalAudioBuffer(JitterBuffer):
    """Audio: every packet is one Opus frame; it leaves on arrival.

    aiortc holds four more frames first (``prefetch=4``, ~80 ms), and after a lost packet
    (audio is not NACKed) waits for 16. Forwarding needs neither: the subscriber's own jitter
    buffer absorbs jitter. A packet older than one already sent (reordered, duplicate) is
    dropped, so pts only grow; one far behind (> ``MAX_MISORDER``) is a restarted sequence.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._last: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        last = self._last
        if last is not None and uint16_add(last, -packet.sequence_number) < MAX_MISORDER:
            return False, None
        self._last = packet.sequence_number
        data: bytes = packet._data  # type: ignore[attr-defined]
        return False, JitterFrame(data=data, timestamp=packet.timestamp)


def _make_dispatcher(original: _Worker) -> _Worker:
    def decoder_worker(
        loop: asyncio.AbstractEventLoop,
        input_q: Any,
        output_q: Any,
        decode_error: threading.Event,
    ) -> None:
        if isinstance(input_q, DirectDelivery):
            # Frames never come through here: the thread aiortc started ends at once.
            return
        original(loop, input_q, output_q, decode_error)

    decoder_worker.__wrapped__ = original  # type: ignore[attr-defined]
    decoder_worker._tandem_dispatcher = True  # type: ignore[attr-defined]
    return decoder_worker


def install() -> None:
    """Install the per-receiver pass-through switch. Idempotent; safe from any thread."""
    check_version()
    with _INSTALL_LOCK:
        current = _rtcrtpreceiver.decoder_worker
        if getattr(current, "_tandem_dispatcher", False):
            return
        # The one deliberate module-level change (see the module docstring).
        _rtcrtpreceiver.decoder_worker = _make_dispatcher(current)  # type: ignore[assignment]


def is_installed() -> bool:
    return bool(getattr(_rtcrtpreceiver.decoder_worker, "_tandem_dispatcher", False))


def make_passthrough_receiver(
    receiver: RTCRtpReceiver, kind: str, capacity: int, on_drop: Callable[[], None] | None
) -> PassthroughTrack:
    """Give a receiver its track before negotiation, so aiortc never creates a decoding one.

    ``setRemoteDescription`` only creates a ``RemoteStreamTrack`` when the receiver has none.
    The receiver's decoder queue becomes a ``DirectDelivery`` to the track's queue; ``receive()``
    hands that queue to ``decoder_worker``, whose dispatcher (``install()``) then starts no work.
    """
    if receiver._track is not None:
        raise AiortcVersionError("receiver already has a track: set it up before negotiating")
    install()  # without the dispatcher aiortc's own worker would wait on the DirectDelivery
    track = PassthroughTrack(kind, capacity, on_drop)
    receiver._track = track
    # Name-mangled private, read by _handle_rtp_packet and __stop_decoder: checked by
    # tests/media/aiortc/test_passthrough.py.
    delivery = DirectDelivery(track.queue)
    receiver._RTCRtpReceiver__decoder_queue = delivery  # type: ignore[attr-defined]
    stock: JitterBuffer = receiver._RTCRtpReceiver__jitter_buffer  # type: ignore[attr-defined]
    buffer: JitterBuffer
    if kind == "video":
        buffer = MarkerJitterBuffer(capacity=stock.capacity, is_video=True)
    else:
        buffer = ArrivalAudioBuffer(capacity=stock.capacity)
    receiver._RTCRtpReceiver__jitter_buffer = buffer  # type: ignore[attr-defined]
    return track
