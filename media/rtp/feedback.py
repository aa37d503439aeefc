"""What the relay tells a publisher about its stream: reception reports and NACKs.

aiortc's receiver keeps these figures for packets that go through it; packets forwarded at the
RTP level do not, so the forwarding path keeps its own (RFC 3550 appendix A.3 and A.8).
"""

from __future__ import annotations

from dataclasses import dataclass

# A jump this far ahead is a restarted stream, not a loss worth NACKing.
MAX_NACK_GAP = 256
# Missing packets older than this (behind the newest) are no longer asked for.
NACK_HORIZON = 256


@dataclass(frozen=True)
class Reception:
    fraction_lost: int
    packets_lost: int
    highest_sequence: int
    jitter: int


class ReceptionStats:
    def __init__(self, clock_rate: int) -> None:
        self._clock_rate = clock_rate
        self._base: int | None = None
        self._max = 0
        self._cycles = 0
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._jitter = 0.0
        self._transit: int | None = None

    def add(self, seq: int, timestamp: int, now: float) -> None:
        if self._base is None:
            self._base = seq
            self._max = seq
        else:
            delta = (seq - self._max) & 0xFFFF
            if 0 < delta < 0x8000:
                if seq < self._max:
                    self._cycles += 0x10000
                self._max = seq
        self._received += 1
        transit = int(now * self._clock_rate) - timestamp
        if self._transit is not None:
            # Differences of 32-bit timestamps: take the short way round a wrap.
            d = ((transit - self._transit + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            self._jitter += (abs(d) - self._jitter) / 16
        self._transit = transit

    def report(self) -> Reception | None:
        """The figures of an RTCP report block; each call starts a new interval."""
        if self._base is None:
            return None
        highest = self._cycles + self._max
        expected = highest - self._base + 1
        lost = max(-0x800000, min(expected - self._received, 0x7FFFFF))
        expected_interval = expected - self._expected_prior
        lost_interval = expected_interval - (self._received - self._received_prior)
        self._expected_prior = expected
        self._received_prior = self._received
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        return Reception(fraction, lost, highest & 0xFFFFFFFF, int(self._jitter))


class NackList:
    """Sequence numbers seen missing and not yet arrived (late, or retransmitted)."""

    def __init__(self) -> None:
        self._newest: int | None = None
        self.missing: set[int] = set()

    def add(self, seq: int) -> bool:
        """Record an arrival; True when it revealed new missing packets (time to NACK)."""
        if self._newest is None:
            self._newest = seq
            return False
        delta = (seq - self._newest) & 0xFFFF
        if delta == 0:
            return False
        if delta >= 0x8000:
            self.missing.discard(seq)  # late or retransmitted
            return False
        newest = self._newest
        self._newest = seq
        if delta == 1:
            return False
        if delta > MAX_NACK_GAP:
            self.missing.clear()
            return False
        self.missing.update((newest + step) & 0xFFFF for step in range(1, delta))
        self.missing = {s for s in self.missing if (seq - s) & 0xFFFF <= NACK_HORIZON}
        return True
