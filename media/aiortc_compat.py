"""Every adaptation of aiortc internals the relay relies on, in one place.

aiortc 1.16.0 has no public API for receiving encoded frames, for reacting to a subscriber's
keyframe request on a sender that forwards packets, or for per-sender stream ids. The relay needs
all three, so this module reaches into aiortc. It is pinned to one version
(``PINNED_AIORTC_VERSION``) and tests/media/test_aiortc_compat.py fails loudly if the shapes used
here move.

Pass-through receivers (``make_passthrough_receiver``) get complete encoded frames as
``av.Packet`` put straight on their track's queue by the jitter buffer's caller, on the event
loop: their decoder queue is replaced by ``DirectDelivery``, so no frame crosses to a thread and
back (that round trip was ~22 % of the relay's CPU, docs/performance.md). Their jitter buffers
release a video frame on its RTP marker bit and an audio frame on arrival, instead of waiting
for the next frame (video, ~33 ms) or four more (audio, ~80 ms); NACK, PLI and RTCP are aiortc's.

The only process-wide change is ``install()``: it wraps
``aiortc.rtcrtpreceiver.decoder_worker`` with a dispatcher that returns at once for a
pass-through receiver (aiortc starts the thread unconditionally in ``receive()``; ours ends
before the first frame) and runs aiortc's own decoder for every other receiver, so a decoding
aiortc client (tests, the frame tap's users) can live in the same process as the relay.
Everything else here adapts single objects (one receiver, one sender, one ICE connection).
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any, cast

import aiortc
import av
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc import rtcrtpreceiver as _rtcrtpreceiver
from aiortc.codecs import get_encoder
from aiortc.jitterbuffer import MAX_MISORDER, JitterBuffer, JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtp import RtcpSrPacket, RtpPacket
from aiortc.utils import uint16_add

from media.bounded_queue import DropOldestQueue

PINNED_AIORTC_VERSION = "1.16.0"

logger = logging.getLogger(__name__)

_Worker = Callable[[asyncio.AbstractEventLoop, queue.Queue[Any], Any, threading.Event], None]
_INSTALL_LOCK = threading.Lock()


class AiortcVersionError(RuntimeError):
    pass


def check_version() -> None:
    if aiortc.__version__ != PINNED_AIORTC_VERSION:
        raise AiortcVersionError(
            f"media/aiortc_compat.py adapts aiortc {PINNED_AIORTC_VERSION} internals, "
            f"found {aiortc.__version__}: re-check every adaptation before changing the pin"
        )


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
    # tests/media/test_aiortc_compat.py.
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


def send_pli(receiver: RTCRtpReceiver) -> bool:
    """Ask the remote sender of ``receiver`` for a keyframe. Returns False if nothing to ask yet."""
    sources = receiver.getSynchronizationSources()
    if not sources:
        return False
    for source in sources:
        # A coroutine that only serializes and sends one RTCP packet.
        task = asyncio.ensure_future(receiver._send_rtcp_pli(source.source))
        task.add_done_callback(log_task_error)
    return True


def log_task_error(task: asyncio.Future[None]) -> None:
    """Done-callback for fire-and-forget RTCP sends: a failure is logged, never raised."""
    if not task.cancelled() and task.exception() is not None:
        logger.warning("RTCP send failed: %r", task.exception())


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Route a subscriber's PLI/FIR to ``callback``.

    aiortc's ``_send_keyframe`` only sets a flag read by its encoder, which forwarded packets never
    reach. Overriding it on this one sender instance leaves every other sender alone.
    """
    sender._send_keyframe = callback  # type: ignore[method-assign]  # per instance, on purpose


def on_sender_report(receiver: RTCRtpReceiver, callback: Callable[[RtcpSrPacket], None]) -> None:
    """Observe RTCP sender reports on one receiver (A/V sync for recorders) without changing it."""
    original: Callable[[Any], Awaitable[None]] = receiver._handle_rtcp_packet

    async def handle(packet: Any) -> None:
        if isinstance(packet, RtcpSrPacket):
            callback(packet)
        await original(packet)

    receiver._handle_rtcp_packet = handle  # type: ignore[method-assign]  # per instance, on purpose


def rtp_timestamp_origin(receiver: RTCRtpReceiver) -> int | None:
    """The raw RTP timestamp the receiver's packet pts count from (None before any media)."""
    mapper = receiver._RTCRtpReceiver__timestamp_mapper  # type: ignore[attr-defined]
    origin: int | None = mapper._origin
    return None if origin is None else origin & 0xFFFFFFFF


def set_sender_ids(sender: RTCRtpSender, stream_id: str, track_id: str) -> None:
    """Per-sender msid: aiortc gives every sender of a connection the same stream id."""
    sender._stream_id = stream_id
    sender._track_id = track_id


class CountingEncoder:
    """Stands in for a sender's encoder: packs forwarded packets, counts any real encode."""

    def __init__(self, codec_factory: Callable[[], Any], on_encode: Callable[[], None]) -> None:
        self._factory = codec_factory
        self._inner: Any = None
        self._on_encode = on_encode
        # aiortc stores a subscriber's REMB here (bits/s); the RTP-level path passes it on to
        # the publisher (media/rtp/instream.py). Nothing encodes with it.
        self.target_bitrate: int | None = None

    def _codec(self) -> Any:
        if self._inner is None:
            self._inner = self._factory()
        return self._inner

    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        self._on_encode()
        result: tuple[list[bytes], int] = self._codec().encode(frame, force_keyframe)
        return result

    def pack(self, packet: av.Packet[Any]) -> tuple[list[bytes], int]:
        result: tuple[list[bytes], int] = self._codec().pack(packet)
        return result


def install_counting_encoder(
    sender: RTCRtpSender, codec: RTCRtpCodecParameters, on_encode: Callable[[], None]
) -> None:
    """Pre-set the sender's lazily created encoder so encodes on the relay are measurable."""
    # Name-mangled private: checked by tests/media/test_aiortc_compat.py.
    encoder = CountingEncoder(lambda: get_encoder(codec), on_encode)
    sender._RTCRtpSender__encoder = encoder  # type: ignore[attr-defined]


def add_loopback_candidates(pc: RTCPeerConnection) -> None:
    """Offer 127.0.0.1 as a host candidate on every ICE connection not yet gathering.

    aioice skips 127.0.0.1 when listing host addresses; on a host whose only interface is loopback
    (CI, the demo) nothing could connect. Done per connection, not by patching aioice globally.
    """
    transports = pc._RTCPeerConnection__iceTransports  # type: ignore[attr-defined]  # private
    for transport in transports:
        connection = transport.iceGatherer._connection
        if connection._local_candidates_start or getattr(connection, "_tandem_loopback", False):
            continue
        original = connection.get_component_candidates

        async def get_component_candidates(
            component: int,
            addresses: list[str],
            timeout: int = 5,  # noqa: ASYNC109  # aioice's own signature
            _original: Callable[..., Awaitable[Any]] = original,
        ) -> Any:
            if "127.0.0.1" not in addresses:
                addresses = [*addresses, "127.0.0.1"]
            return await _original(component=component, addresses=addresses, timeout=timeout)

        connection.get_component_candidates = get_component_candidates
        connection._tandem_loopback = True
