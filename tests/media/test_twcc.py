"""Transport feedback packets (media/rtp/twcc.py) read back by a decoder written from the draft.

The decoder below follows draft-holmer-rmcat-transport-wide-cc-extensions-01 section 3.1, not
the builder: it rebuilds, for every sequence number a packet reports, whether it arrived and
when (from the reference time and the receive deltas), so each test compares arrival times in,
arrival times out.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

import pytest

from media.rtp.twcc import (
    MAX_STATUSES,
    TransportFeedback,
    encode_chunks,
    transport_sequence,
)

SENDER, MEDIA = 0x11223344, 0x55667788


@dataclass
class Decoded:
    sender_ssrc: int
    media_ssrc: int
    base: int
    count: int
    reference_ms: int  # reference time, in ms
    feedback_count: int
    # sequence number (16 bits) -> arrival in ms on the reference time's clock, None if lost
    statuses: dict[int, float | None]


def decode(packet: bytes) -> Decoded:
    first, packet_type, length = struct.unpack_from("!BBH", packet)
    assert first >> 6 == 2, "version 2"
    assert first & 0x1F == 15, "FMT 15: transport-wide feedback"
    assert packet_type == 205, "RTPFB"
    assert (length + 1) * 4 == len(packet), "length in 32-bit words, minus one"
    end = len(packet) - (packet[-1] if first & 0x20 else 0)
    sender, media, base, count, word = struct.unpack_from("!IIHHI", packet, 4)
    reference, feedback_count = word >> 8, word & 0xFF
    if reference & 0x800000:
        reference -= 1 << 24  # signed 24 bits
    symbols: list[int] = []
    index = 20
    while len(symbols) < count:
        (chunk,) = struct.unpack_from("!H", packet, index)
        index += 2
        if not chunk & 0x8000:  # run length: status (2 bits), run (13 bits)
            symbols += [(chunk >> 13) & 0x03] * (chunk & 0x1FFF)
        elif not chunk & 0x4000:  # one-bit vector, 14 symbols
            symbols += [(chunk >> (13 - i)) & 0x01 for i in range(14)]
        else:  # two-bit vector, 7 symbols
            symbols += [(chunk >> (12 - 2 * i)) & 0x03 for i in range(7)]
    symbols = symbols[:count]
    assert 3 not in symbols, "status 3 is reserved"
    time_ms = reference * 64.0
    statuses: dict[int, float | None] = {}
    for offset, symbol in enumerate(symbols):
        seq = (base + offset) & 0xFFFF
        if symbol == 0:
            statuses[seq] = None
            continue
        if symbol == 1:
            delta = packet[index]
            index += 1
        else:
            (delta,) = struct.unpack_from("!h", packet, index)
            index += 2
        time_ms += delta * 0.25
        statuses[seq] = time_ms
    assert index <= end, "receive deltas run past the packet"
    assert end - index < 4, "nothing but padding after the deltas"
    return Decoded(sender, media, base, count, reference * 64, feedback_count, statuses)


def reported(feedback: TransportFeedback) -> tuple[list[Decoded], dict[int, float | None]]:
    decoded = [decode(p) for p in feedback.build(SENDER, MEDIA)]
    merged: dict[int, float | None] = {}
    for d in decoded:
        merged.update(d.statuses)
    return decoded, merged


def assert_arrivals(merged: dict[int, float | None], sent: dict[int, float | None]) -> None:
    """Every packet reported as sent: received within 0.125 ms (half a delta unit) of its
    arrival, or lost. The builder's reference clock is the arrival clock (seconds), in 64 ms."""
    assert set(merged) == set(sent)
    for seq, at in sent.items():
        out = merged[seq]
        if at is None:
            assert out is None, seq
        else:
            assert out is not None, seq
            assert abs(out - at * 1000) <= 0.125 + 1e-6, seq


def test_a_steady_stream_round_trips() -> None:
    feedback = TransportFeedback()
    sent = {seq: 100.0 + seq * 0.004 for seq in range(50)}
    for seq, at in sent.items():
        feedback.add(seq, at)
    decoded, merged = reported(feedback)
    assert len(decoded) == 1
    assert (decoded[0].sender_ssrc, decoded[0].media_ssrc) == (SENDER, MEDIA)
    assert decoded[0].base == 0
    assert decoded[0].count == 50
    assert_arrivals(merged, dict(sent))
    assert not feedback.pending
    assert feedback.build(SENDER, MEDIA) == []  # nothing new, nothing sent


def test_losses_bursts_and_long_gaps_are_reported() -> None:
    feedback = TransportFeedback()
    rng = random.Random(15)
    sent: dict[int, float | None] = {}
    at = 50.0
    for seq in range(300):
        # Bursts (0 ms apart), ordinary gaps, and a few long stalls (large deltas).
        at += rng.choice([0.0, 0.0, 0.001, 0.005, 0.02, 0.07, 0.5])
        # The first arrived (nothing before it is known), then random losses and a run of 20.
        lost = seq > 0 and (rng.random() < 0.1 or 120 <= seq < 140)
        sent[seq] = None if lost else at
        if not lost:
            feedback.add(seq, at)
    sent[299] = at  # the newest arrived (a feedback ends at a received packet)
    feedback.add(299, at)
    _, merged = reported(feedback)
    assert_arrivals(merged, sent)


def test_reordered_packets_get_negative_deltas() -> None:
    feedback = TransportFeedback()
    arrivals = {0: 10.000, 2: 10.010, 1: 10.012, 3: 10.020, 5: 10.021, 4: 10.030}
    for seq, at in arrivals.items():
        feedback.add(seq, at)
    decoded, merged = reported(feedback)
    assert_arrivals(merged, dict(sorted(arrivals.items())))
    assert decoded[0].count == 6


def test_duplicates_count_once_with_the_first_arrival() -> None:
    feedback = TransportFeedback()
    for seq, at in ((0, 1.0), (1, 1.01), (1, 1.5), (2, 1.02)):
        feedback.add(seq, at)
    _, merged = reported(feedback)
    assert_arrivals(merged, {0: 1.0, 1: 1.01, 2: 1.02})


def test_sequence_numbers_wrap() -> None:
    feedback = TransportFeedback()
    sent: dict[int, float | None] = {}
    for i, seq in enumerate(range(65530, 65546)):
        sent[seq & 0xFFFF] = 7.0 + i * 0.003
        feedback.add(seq & 0xFFFF, 7.0 + i * 0.003)
    decoded, merged = reported(feedback)
    assert decoded[0].base == 65530
    assert decoded[0].count == 16
    assert_arrivals(merged, sent)
    # And the next report starts after the wrap.
    feedback.add(10, 8.0)
    decoded, _ = reported(feedback)
    assert decoded[0].base == 10


def test_each_report_starts_where_the_last_ended_and_carries_the_losses_between() -> None:
    feedback = TransportFeedback()
    feedback.add(0, 1.0)
    feedback.add(1, 1.01)
    first, _ = reported(feedback)
    feedback.add(4, 1.05)  # 2 and 3 lost
    second, merged = reported(feedback)
    assert second[0].base == 2
    assert merged == {2: None, 3: None, 4: pytest.approx(merged[4])}
    assert second[0].feedback_count == (first[0].feedback_count + 1) & 0xFF


def test_a_late_packet_is_reported_again_as_received() -> None:
    feedback = TransportFeedback()
    for seq, at in ((0, 1.0), (2, 1.02), (3, 1.03)):
        feedback.add(seq, at)
    _, merged = reported(feedback)
    assert merged[1] is None
    feedback.add(1, 1.04)  # it came after all
    _, merged = reported(feedback)
    assert merged[1] is not None


def test_a_stall_longer_than_a_large_delta_starts_a_new_packet() -> None:
    feedback = TransportFeedback()
    feedback.add(0, 1.0)
    feedback.add(1, 1.0 + 9.0)  # 9 s: past the 16-bit delta's 8.19 s
    feedback.add(2, 1.0 + 9.01)
    decoded, merged = reported(feedback)
    assert [d.base for d in decoded] == [0, 1]
    assert_arrivals(merged, {0: 1.0, 1: 10.0, 2: 10.01})


def test_many_packets_split_into_bounded_reports() -> None:
    feedback = TransportFeedback()
    sent: dict[int, float | None] = {}
    for seq in range(2500):
        at = 3.0 + seq * 0.0002
        sent[seq] = at
        feedback.add(seq, at)
    decoded, merged = reported(feedback)
    assert len(decoded) == 3
    assert all(d.count <= MAX_STATUSES for d in decoded)
    assert_arrivals(merged, sent)
    assert all(len(p) <= 1200 for p in feedback.build(SENDER, MEDIA))


@pytest.mark.parametrize(
    "statuses",
    [
        [1] * 20000,  # longer than one run
        [0, 1] * 30,  # alternating: one-bit vectors
        [2, 1, 0, 1, 2, 2, 1, 0],  # large deltas: two-bit vectors
        [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1],  # short run, long run, one
        [2],
    ],
)
def test_status_chunks_decode_to_what_was_encoded(statuses: list[int]) -> None:
    data = encode_chunks(statuses)
    symbols: list[int] = []
    for (chunk,) in struct.iter_unpack("!H", data):
        if not chunk & 0x8000:
            symbols += [(chunk >> 13) & 0x03] * (chunk & 0x1FFF)
        elif not chunk & 0x4000:
            symbols += [(chunk >> (13 - i)) & 0x01 for i in range(14)]
        else:
            symbols += [(chunk >> (12 - 2 * i)) & 0x03 for i in range(7)]
    assert symbols[: len(statuses)] == statuses
    assert len(symbols) - len(statuses) < 14  # only a last vector's unused symbols


def _rtp(extension: bytes, profile: int = 0xBEDE, csrcs: int = 0) -> bytes:
    header = struct.pack("!BBHII", 0x90 | csrcs, 96, 1, 2, 3) + b"\x00\x00\x00\x01" * csrcs
    padded = extension + b"\x00" * (-len(extension) % 4)
    return header + struct.pack("!HH", profile, len(padded) // 4) + padded + b"payload"


def test_the_sequence_number_is_read_from_one_and_two_byte_extensions() -> None:
    mid, twcc, abs_send = b"\x10\x30", b"\x31\x12\x34", b"\x42\x01\x02\x03"
    assert transport_sequence(_rtp(mid + twcc + abs_send), 3) == 0x1234
    assert transport_sequence(_rtp(abs_send + b"\x00\x00" + twcc), 3) == 0x1234
    assert transport_sequence(_rtp(twcc, csrcs=2), 3) == 0x1234
    assert transport_sequence(_rtp(mid + abs_send), 3) is None
    assert transport_sequence(_rtp(b"\x03\x02\xab\xcd", profile=0x1000), 3) == 0xABCD
    assert transport_sequence(struct.pack("!BBHII", 0x80, 96, 1, 2, 3) + b"x", 3) is None
    truncated = _rtp(twcc)[:-9]  # the block says one word, the packet ends inside it
    assert transport_sequence(truncated, 3) is None
