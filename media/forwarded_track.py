"""Frame-level forwarding's subscriber side: an aiortc track that feeds one subscriber's
sender with a publisher's encoded frames (``RelayConfig.forwarding == "frames"``)."""

from __future__ import annotations

import fractions
from collections.abc import Callable
from typing import Any

import av
from aiortc import MediaStreamError, MediaStreamTrack

from media.bounded_queue import DropOldestQueue
from media.stats import Counters

# One frame's worth of RTP clock: where a replaced stream's timestamps continue from.
_FRAME_TICKS = {"video": 3000, "audio": 960}


class ForwardedTrack(MediaStreamTrack):
    """Feeds one subscriber's sender with a publisher's encoded frames (a ``PacketSink``).

    Lives as long as its transceiver: when the publisher reconnects, or the slot is reused for
    another publisher, only the source changes. Ending the track would end aiortc's sender loop
    for good, so it never ends on its own.
    """

    def __init__(
        self,
        kind: str,
        track_id: str,
        capacity: int,
        counters: Counters,
        request_keyframe: Callable[[], None],
    ) -> None:
        super().__init__()
        self.kind = kind
        self._id = track_id
        self._counters = counters
        self._queue: DropOldestQueue[av.Packet[Any]] = DropOldestQueue(
            capacity, counters.count_drop
        )
        self._request_keyframe = request_keyframe
        self._source: object | None = None
        # Video cannot be decoded from the middle of a stream: wait for a keyframe first.
        self._synced = kind != "video"
        self._offset = 0
        self._rebase = False
        self._last_pts: int | None = None

    @property
    def queue(self) -> DropOldestQueue[av.Packet[Any]]:
        return self._queue

    def set_id(self, track_id: str) -> None:
        self._id = track_id

    def set_keyframe_requester(self, request_keyframe: Callable[[], None]) -> None:
        self._request_keyframe = request_keyframe

    def on_packet(self, packet: av.Packet[Any], source: object) -> None:
        if source is not self._source:
            self._source = source
            self._rebase = True
            if self.kind == "video":
                self._synced = False
                self._queue.clear()
        if not self._synced:
            if not packet.is_keyframe:
                self._request_keyframe()
                return
            self._synced = True
        if self.kind == "video" and self._queue.full():
            # Dropping one video frame corrupts every frame after it until a keyframe:
            # drop the backlog instead and resynchronise.
            self._queue.clear()
            self._synced = False
            self._request_keyframe()
            if not packet.is_keyframe:
                return
            self._synced = True
        assert packet.pts is not None
        if self._rebase:
            # A new source restarts at pts 0; keep the subscriber's RTP timestamps increasing.
            if self._last_pts is not None:
                self._offset = self._last_pts + _FRAME_TICKS[self.kind] - packet.pts
            self._rebase = False
        pts = packet.pts + self._offset
        if self._offset:
            # The packet is shared with other sinks: never mutate it.
            shifted = av.Packet(bytes(packet))
            shifted.pts = pts
            shifted.time_base = packet.time_base or fractions.Fraction(1, 90000)
            shifted.is_keyframe = packet.is_keyframe
            packet = shifted
        self._last_pts = pts
        self._queue.put_nowait(packet)

    def detach(self) -> None:
        """The slot lost its publisher: forget the old stream, keep the timestamp line."""
        self._source = None
        self._queue.clear()
        self._synced = self.kind != "video"

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        self._counters.forwarded_packets += 1
        self._counters.forwarded_bytes += packet.size
        return packet
