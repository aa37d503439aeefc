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


def rtp_ssrc(data: bytes) -> int | None:
    """The SSRC of an RTP packet (readable before SRTP unprotect: the header is authenticated,
    not encrypted); None if not RTP: version 2 and not RTCP (RFC 5761 section 4: RTCP packet
    types 192-223 in byte 1)."""
    if len(data) >= 12 and 127 < data[0] < 192 and not 191 < data[1] < 224:
        return (data[8] << 24) | (data[9] << 16) | (data[10] << 8) | data[11]
    return None


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


class HeaderWriter:
    """The header a subscriber's packets carry: its m-line's SSRC and payload type, and a
    header extension block with the m-line's mid and abs-send-time (what a receiver's bandwidth
    estimate uses).

    The publisher's own extensions are not copied: their mid names the publisher's m-line, and
    a receiver that demultiplexes by mid would take the packet for another track.
    """

    def __init__(
        self,
        ssrc: int,
        payload_type: int,
        mid: str | None,
        mid_id: int | None,
        abs_send_time_id: int | None,
    ) -> None:
        elements = b""
        if mid is not None and mid_id is not None and 0 < len(mid.encode()) <= 16:
            encoded = mid.encode()
            elements = bytes([(mid_id << 4) | (len(encoded) - 1)]) + encoded
        self._with_time = abs_send_time_id is not None
        size = len(elements) + (4 if self._with_time else 0)
        words = (size + 3) // 4
        padded = elements + b"\x00" * (words * 4 - size)
        # One struct.pack a packet: fixed header, extension header (0xBEDE, length), then
        # abs-send-time's element as one word (id and length, 24-bit time) and the rest.
        self._first = 0x90 if size else 0x80
        self._payload_type = payload_type
        self._ssrc = ssrc
        self._extension = (0xBEDE << 16) | words
        self._time_element = ((abs_send_time_id or 0) << 28) | (2 << 24)
        self._rest = padded
        if self._with_time:
            layout = struct.Struct(f"!BBHIIII{len(padded)}s")
        elif size:
            layout = struct.Struct(f"!BBHIII{len(padded)}s")
        else:
            layout = FIXED_HEADER
        self._pack = layout.pack
        self.size = layout.size

    def rewrite(self, packet: bytes, header_end: int, seq: int, ts: int, now: float) -> bytes:
        """``packet``'s payload (``packet[header_end:]``, padding included) behind this header;
        the marker and padding bits are the packet's."""
        first = self._first | (packet[0] & 0x20)
        second = (packet[1] & 0x80) | self._payload_type
        if self._with_time:
            # abs-send-time: 6.18 fixed-point seconds, 24 bits.
            stamp = int((now + NTP_EPOCH_OFFSET) * 262_144) & 0xFFFFFF
            header = self._pack(
                first, second, seq, ts, self._ssrc, self._extension,
                self._time_element | stamp, self._rest,
            )  # fmt: skip
        elif first & 0x10:  # mid only
            header = self._pack(first, second, seq, ts, self._ssrc, self._extension, self._rest)
        else:
            header = self._pack(first, second, seq, ts, self._ssrc)
        return header + packet[header_end:]


def ntp_now(now: float | None = None) -> int:
    """64-bit NTP timestamp for an RTCP sender report."""
    return int(((time.time() if now is None else now) + NTP_EPOCH_OFFSET) * (1 << 32))
