"""RTP on the wire, as bytes: the few header fields the forwarding path reads and writes.

RFC 3550 section 5.1 (fixed header), RFC 8285 (one-byte header extensions), RFC 7741 section
4.2-4.3 (VP8 payload descriptor and header), RFC 4588 section 4 (RTX payload). No aiortc
objects: building one ``RtpPacket`` per packet is what this path exists to avoid.
"""

from __future__ import annotations

import struct
import time

FIXED_HEADER = struct.Struct("!BBHII")
# Seconds from the NTP epoch (1900) to the Unix epoch (1970).
NTP_EPOCH_OFFSET = 2_208_988_800


def is_rtp(data: bytes) -> bool:
    """Version 2 and not RTCP (RFC 5761 section 4: RTCP packet types 192-223 in byte 1)."""
    return len(data) >= 12 and 127 < data[0] < 192 and not 191 < data[1] < 224


def ssrc_of(data: bytes) -> int:
    # Readable before SRTP unprotect: the header is authenticated, not encrypted.
    return int.from_bytes(data[8:12], "big")


def header_length(packet: bytes) -> int:
    """Bytes before the payload (fixed header, CSRCs, extension); ValueError if truncated."""
    first = packet[0]
    length = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        if len(packet) < length + 4:
            raise ValueError("truncated RTP header extension")
        length += 4 + 4 * int.from_bytes(packet[length + 2 : length + 4], "big")
    if len(packet) < length:
        raise ValueError("truncated RTP header")
    return length


def payload_end(packet: bytes) -> int:
    """Where the payload ends: before the padding when the P bit is set."""
    if packet[0] & 0x20:
        return len(packet) - packet[-1]
    return len(packet)


def vp8_descriptor_end(packet: bytes, start: int, end: int) -> int:
    """Where the VP8 bitstream starts in a payload at ``packet[start:end]`` (after the payload
    descriptor); ValueError if the descriptor is truncated."""
    if start >= end:
        raise ValueError("empty VP8 payload")
    first = packet[start]
    index = start + 1
    if first & 0x80:
        if index >= end:
            raise ValueError("truncated VP8 payload descriptor")
        extension = packet[index]
        index += 1
        if extension & 0x80:  # I: picture id, 7 or 15 bits
            if index >= end:
                raise ValueError("truncated VP8 payload descriptor")
            index += 2 if packet[index] & 0x80 else 1
        if extension & 0x40:  # L: TL0PICIDX
            index += 1
        if extension & 0x30:  # T or K: TID/KEYIDX
            index += 1
    if index > end:
        raise ValueError("truncated VP8 payload descriptor")
    return index


def vp8_frame_start(packet: bytes, start: int, end: int) -> bool | None:
    """None if the payload at ``packet[start:end]`` does not start a VP8 frame, else whether
    that frame is a keyframe."""
    if start >= end:
        return None
    first = packet[start]
    if not first & 0x10 or first & 0x07:
        return None  # S bit not set, or not partition 0: the middle of a frame
    try:
        index = vp8_descriptor_end(packet, start, end)
    except ValueError:
        return None
    if index >= end:
        return None
    # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a keyframe.
    return not packet[index] & 0x01


class ExtensionWriter:
    """The header extension block a subscriber's packets carry: its m-line's mid, and
    abs-send-time (what a receiver's bandwidth estimate uses).

    The publisher's own extensions are not copied: their mid names the publisher's m-line, and
    a receiver that demultiplexes by mid would take the packet for another track.
    """

    def __init__(self, mid: str | None, mid_id: int | None, abs_send_time_id: int | None):
        elements = b""
        self._with_time = abs_send_time_id is not None
        if mid is not None and mid_id is not None and 0 < len(mid.encode()) <= 16:
            encoded = mid.encode()
            elements = bytes([(mid_id << 4) | (len(encoded) - 1)]) + encoded
        size = len(elements) + (4 if self._with_time else 0)
        words = (size + 3) // 4
        tail = elements + b"\x00" * (words * 4 - size)
        head = b"\xbe\xde" + words.to_bytes(2, "big")
        if self._with_time:
            assert abs_send_time_id is not None
            self._head = head + bytes([(abs_send_time_id << 4) | 2])
        else:
            self._head = head + tail
        self._tail = tail
        self.present = size > 0

    def block(self, now: float) -> bytes:
        if not self._with_time:
            return self._head
        # abs-send-time: 6.18 fixed-point seconds, 24 bits.
        stamp = int((now + NTP_EPOCH_OFFSET) * 262_144) & 0xFFFFFF
        return self._head + stamp.to_bytes(3, "big") + self._tail


def ntp_now(now: float | None = None) -> int:
    """64-bit NTP timestamp for an RTCP sender report."""
    return int(((time.time() if now is None else now) + NTP_EPOCH_OFFSET) * (1 << 32))
