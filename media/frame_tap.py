"""On-demand still images of a publisher's video, decoded from the forwarded packets.

The tap is one more sink on the publisher's video feed: it keeps the encoded frames since the
last keyframe (bounded) and, when asked, decodes them with PyAV's VP8 decoder on a worker
thread. The relay's receivers stay pass-through, so ``Relay.stats().decode_calls`` still
counts only forwarding-path decodes. When the buffer has no keyframe (just started, the
publisher reconnected, or the keyframe is older than ``max_frames``) the tap asks the publisher
for one and waits.
"""

from __future__ import annotations

import asyncio
import fractions
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import av

from media.feed import Feed
from media.room import Room

_ENCODERS = {"jpeg": ("mjpeg", "yuvj420p"), "png": ("png", "rgb24")}


@dataclass(frozen=True)
class Snapshot:
    data: bytes
    format: str
    width: int
    height: int
    # The frame's RTP timestamp (90 kHz) on the feed's pts line, and when it reached the relay.
    pts: int
    received_at: datetime


def _decode_last(packets: list[av.Packet[Any]]) -> av.VideoFrame | None:
    decoder = av.CodecContext.create("vp8", "r")
    last: av.VideoFrame | None = None
    for packet in packets:
        # A private copy: the forwarded packet is shared with subscribers and recorders.
        for frame in decoder.decode(av.Packet(bytes(packet))):
            assert isinstance(frame, av.VideoFrame)
            last = frame
    return last


def _encode_image(frame: av.VideoFrame, image_format: str) -> bytes:
    codec, pix_fmt = _ENCODERS[image_format]
    encoder = av.CodecContext.create(codec, "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height = frame.width, frame.height
    encoder.pix_fmt = pix_fmt
    encoder.time_base = fractions.Fraction(1, 30)
    image = frame.reformat(format=pix_fmt)
    image.pts = 0
    return b"".join(bytes(p) for p in [*encoder.encode(image), *encoder.encode(None)])


def _render(packets: list[av.Packet[Any]], image_format: str) -> tuple[bytes, int, int] | None:
    frame = _decode_last(packets)
    if frame is None:
        return None
    return _encode_image(frame, image_format), frame.width, frame.height


class FrameTap:
    """Stills of one publisher's video; ``start()`` to attach, ``close()`` to detach."""

    def __init__(self, room: Room, publisher_id: str, max_frames: int = 300) -> None:
        self.room = room
        self.publisher_id = publisher_id
        self._max_frames = max_frames
        self._feed: Feed | None = None
        self._buffer: list[tuple[av.Packet[Any], datetime]] = []
        self._source: object | None = None
        self._keyframe = asyncio.Event()
        self._unwatch: Any = None
        self.decodes = 0

    def start(self) -> None:
        self._unwatch = self.room.watch_feeds(self._feeds_created)
        feed = self.room.feeds(self.publisher_id).get("video")
        if feed is not None:
            self._attach(feed)

    def close(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
        if self._feed is not None:
            self._feed.remove_sink(self)
            self._feed = None
        self._buffer.clear()

    def _feeds_created(self, publisher_id: str, feeds: dict[str, Feed]) -> None:
        if publisher_id == self.publisher_id and "video" in feeds:
            self._attach(feeds["video"])

    def _attach(self, feed: Feed) -> None:
        if self._feed is not None:
            self._feed.remove_sink(self)
        self._feed = feed
        self._buffer.clear()
        feed.add_sink(self)

    def on_packet(self, packet: av.Packet[Any], source: object) -> None:
        # Forwarding path: one list append (or a reset on a keyframe).
        if source is not self._source:
            self._source = source
            self._buffer.clear()
        if packet.is_keyframe:
            self._buffer.clear()
            self._keyframe.set()
        elif not self._buffer:
            return  # nothing decodable until the next keyframe
        elif len(self._buffer) >= self._max_frames:
            # Decoding from an old keyframe gets slow and memory grows: wait for a fresh one.
            self._buffer.clear()
            return
        self._buffer.append((packet, datetime.now(UTC)))

    async def snapshot(self, image_format: str = "jpeg", within: float = 3.0) -> Snapshot:
        if image_format not in _ENCODERS:
            raise ValueError(f"unsupported image format {image_format!r}")
        async with asyncio.timeout(within):
            while not self._buffer:
                self._keyframe.clear()
                if self._feed is not None:
                    self._feed.request_keyframe()
                await self._keyframe.wait()
            packets = [packet for packet, _ in self._buffer]
            last, received_at = self._buffer[-1]
            self.decodes += len(packets)
            rendered = await asyncio.to_thread(_render, packets, image_format)
        if rendered is None:
            raise RuntimeError(f"no decodable frame from {self.publisher_id}")
        data, width, height = rendered
        assert last.pts is not None
        return Snapshot(data, image_format, width, height, int(last.pts), received_at)
