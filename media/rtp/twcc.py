"""Transport-wide congestion control feedback: what the relay tells a publisher about its uplink.

The publisher numbers every RTP packet of its connection (audio, video, retransmissions,
probes) in one header extension (draft-holmer-rmcat-transport-wide-cc-extensions-01); the relay
notes when each arrived and sends the arrivals back as RTCP transport feedback (RTPFB, PT 205,
FMT 15). The publisher's own congestion controller (Chromium's GoogCC) reads the queueing
delay and loss of its uplink from them. Bytes only, no aiortc objects: this runs per packet.
"""

from __future__ import annotations

import itertools
import struct

TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
TRANSPORT_CC_FEEDBACK = "transport-cc"

RTPFB = 205
FMT_TRANSPORT_FEEDBACK = 15
# Receive deltas count in 250 us, the reference time in 64 ms (24 bits, wrapping).
DELTA_UNIT = 0.000_25
REFERENCE_UNIT = 0.064
# Packet statuses (two bits in a chunk).
NOT_RECEIVED, SMALL_DELTA, LARGE_DELTA = 0, 1, 2
# A chunk holds a run of up to 8191 equal statuses, or a vector of 14 one-bit or 7 two-bit ones.
MAX_RUN = 0x1FFF
ONE_BIT_CAPACITY = 14
TWO_BIT_CAPACITY = 7
# Statuses one feedback packet reports at most (a packet stays well under the path's MTU).
MAX_STATUSES = 1000
# Arrivals kept behind the newest reported one, for packets that arrive late (reordered).
KEEP_SECONDS = 0.5
# Arrivals looked at (oldest first) each time old ones are dropped: more than arrive between two
# reports at any camera's rate, so the kept ones stay bounded.
FORGET_BATCH = 512


def transport_sequence(packet: bytes, ext_id: int) -> int | None:
    """The transport-wide sequence number in an RTP packet's header extension, if there is one.

    One-byte (RFC 8285 section 4.2, profile 0xBEDE) and two-byte (0x100x) extension blocks.
    """
    first = packet[0]
    if not first & 0x10:
        return None
    index = 12 + 4 * (first & 0x0F)
    if len(packet) < index + 4:
        return None
    profile = (packet[index] << 8) | packet[index + 1]
    end = index + 4 + 4 * ((packet[index + 2] << 8) | packet[index + 3])
    index += 4
    if end > len(packet):
        return None
    if profile == 0xBEDE:
        while index < end:
            byte = packet[index]
            if byte == 0:  # padding between elements
                index += 1
                continue
            element, size = byte >> 4, (byte & 0x0F) + 1
            if element == 15:
                return None  # reserved: stop reading (RFC 8285)
            if element == ext_id:
                if size != 2 or index + 3 > end:
                    return None
                return (packet[index + 1] << 8) | packet[index + 2]
            index += 1 + size
    elif profile & 0xFFF0 == 0x1000:
        while index + 1 < end:
            element = packet[index]
            if element == 0:
                index += 1
                continue
            size = packet[index + 1]
            if element == ext_id:
                if size != 2 or index + 4 > end:
                    return None
                return (packet[index + 2] << 8) | packet[index + 3]
            index += 2 + size
    return None


class TransportFeedback:
    """Arrivals of one connection's packets, turned into feedback packets on demand.

    ``add`` is called for every packet (cheap: unwrap the 16-bit number, keep the first arrival
    of each); ``build`` reports everything from the oldest packet not yet reported up to the
    newest arrival, received or not. A packet that arrives after its number was reported as
    lost moves the start back, so it is reported again, now received, as libwebrtc's receiver
    does; a sender takes the latest word about each packet.
    """

    def __init__(self) -> None:
        self._arrivals: dict[int, float] = {}
        self._newest: int | None = None
        # The first number the next feedback reports from.
        self._start: int | None = None
        # Numbers below this were reported and forgotten: a straggler from there is ignored.
        self._floor = 0
        self._count = 0  # feedback packet count, 8 bits on the wire

    @property
    def pending(self) -> bool:
        """Whether a feedback packet has something to say."""
        return self._start is not None and self._newest is not None and self._start <= self._newest

    def add(self, seq: int, arrival: float) -> None:
        newest = self._newest
        if newest is None:
            unwrapped = seq
        else:
            # The unwrapped number closest to the newest one: within 32768 either way.
            unwrapped = newest + ((seq - newest + 0x8000) & 0xFFFF) - 0x8000
            if unwrapped < self._floor:
                return  # too late to matter, or before the first packet: ignored
        if unwrapped in self._arrivals:
            return  # a duplicate: the first arrival counts
        self._arrivals[unwrapped] = arrival
        if newest is None or unwrapped > newest:
            self._newest = unwrapped
        if self._start is None or unwrapped < self._start:
            self._start = unwrapped

    def build(self, sender_ssrc: int, media_ssrc: int) -> list[bytes]:
        """Feedback packets for the packets not yet reported (none when nothing is new)."""
        packets: list[bytes] = []
        newest, start = self._newest, self._start
        if newest is None or start is None:
            return packets
        while start <= newest:
            packet, start = self._one(start, newest, sender_ssrc, media_ssrc)
            packets.append(packet)
        self._start = start
        self._forget(newest)
        return packets

    def _one(self, base: int, newest: int, sender_ssrc: int, media_ssrc: int) -> tuple[bytes, int]:
        """One feedback packet from ``base`` (received or not) on; returns it and where the
        next one starts. ``newest`` was received, so there is a received packet to end at."""
        arrivals = self._arrivals
        first = base
        while first not in arrivals:
            first += 1
        if first - base >= MAX_STATUSES:
            base = first  # a jump in the numbers, not a loss worth reporting packet by packet
        # The reference time is the first received packet's, rounded down to 64 ms; its delta
        # is counted from there.
        reference = int(arrivals[first] // REFERENCE_UNIT)
        previous = reference * REFERENCE_UNIT
        statuses: list[int] = []
        deltas = bytearray()
        seq = base
        end = base  # one past the last received packet included
        while seq <= newest and seq - base < MAX_STATUSES:
            arrival = arrivals.get(seq)
            if arrival is None:
                statuses.append(NOT_RECEIVED)
            else:
                delta = round((arrival - previous) / DELTA_UNIT)
                if 0 <= delta <= 0xFF:
                    statuses.append(SMALL_DELTA)
                    deltas.append(delta)
                elif -0x8000 <= delta <= 0x7FFF:
                    statuses.append(LARGE_DELTA)
                    deltas += struct.pack("!h", delta)
                else:
                    break  # too far from the previous one: the next packet starts here
                previous += delta * DELTA_UNIT
                end = seq + 1
            seq += 1
        # End at a received packet: losses after it are reported with what follows them.
        del statuses[end - base :]
        body = struct.pack(
            "!IIHHI",
            sender_ssrc,
            media_ssrc,
            base & 0xFFFF,
            len(statuses),
            ((reference & 0xFFFFFF) << 8) | (self._count & 0xFF),
        )
        self._count += 1
        payload = body + encode_chunks(statuses) + bytes(deltas)
        padding = -len(payload) % 4
        if padding:
            payload += b"\x00" * (padding - 1) + bytes([padding])
        header = struct.pack(
            "!BBH",
            0x80 | (0x20 if padding else 0) | FMT_TRANSPORT_FEEDBACK,
            RTPFB,
            (len(payload) + 4) // 4 - 1,
        )
        return header + payload, end

    def _forget(self, reported_to: int) -> None:
        """Drop arrivals older than ``KEEP_SECONDS`` before the newest one reported (they are
        in arrival order: the oldest first)."""
        arrivals = self._arrivals
        newest_time = arrivals.get(reported_to)
        if newest_time is None:
            return
        horizon = newest_time - KEEP_SECONDS
        for seq, at in list(itertools.islice(arrivals.items(), FORGET_BATCH)):
            if at >= horizon:
                break
            del arrivals[seq]
            if seq >= self._floor:
                self._floor = seq + 1


def encode_chunks(statuses: list[int]) -> bytes:
    """Packet status chunks for ``statuses``: run-length chunks where a status repeats, status
    vectors elsewhere (draft section 3.1.3-3.1.4), greedily as libwebrtc writes them."""
    chunks = bytearray()
    index, count = 0, len(statuses)
    while index < count:
        status = statuses[index]
        run = 1
        while index + run < count and statuses[index + run] == status and run < MAX_RUN:
            run += 1
        if run >= TWO_BIT_CAPACITY or index + run == count:
            # A run-length chunk: 0, status (2 bits), length (13 bits).
            chunks += struct.pack("!H", (status << 13) | run)
            index += run
            continue
        window = statuses[index : index + ONE_BIT_CAPACITY]
        if LARGE_DELTA not in window and len(window) == ONE_BIT_CAPACITY:
            # A one-bit vector: 1, 0, 14 symbols (received or not).
            word = 0x8000
            for position, symbol in enumerate(window):
                word |= symbol << (13 - position)
            chunks += struct.pack("!H", word)
            index += ONE_BIT_CAPACITY
        else:
            # A two-bit vector: 1, 1, 7 symbols (the last chunk may hold fewer).
            window = statuses[index : index + TWO_BIT_CAPACITY]
            word = 0xC000
            for position, symbol in enumerate(window):
                word |= symbol << (12 - 2 * position)
            chunks += struct.pack("!H", word)
            index += len(window)
    return bytes(chunks)
