"""A/V sync from RTCP sender reports: each track's RTP timestamps on the publisher's wallclock.

Audio and video of one publisher have unrelated RTP timestamp lines (random offsets, different
clock rates, and the relay counts each from its own first packet). A sender report pairs one
RTP timestamp of a track with the publisher's NTP wallclock, so both tracks can be placed on
that one clock. ``SourceSync`` then maps the publisher's clock onto the relay's own
(``time.time()``), with one offset per publisher stream, estimated from packet arrivals.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

# Seconds between the NTP epoch (1900) and the Unix epoch (1970).
_NTP_UNIX_OFFSET = 2_208_988_800
# Sender reports a track's clock is estimated from (~8-10 s of them).
_REPORTS_KEPT = 8


def ntp_to_unix(ntp_timestamp: int) -> float:
    """A 64-bit NTP timestamp (32.32 fixed point) as Unix seconds."""
    return (ntp_timestamp >> 32) - _NTP_UNIX_OFFSET + (ntp_timestamp & 0xFFFFFFFF) / 2**32


def report_pts(rtp_timestamp: int, rtp_origin: int) -> int:
    """A sender report's RTP timestamp on the packets' pts line (which counts from 0)."""
    delta = (rtp_timestamp - rtp_origin) & 0xFFFFFFFF
    # A report can describe a packet sent just before the first one the relay kept.
    return delta - 2**32 if delta >= 2**31 else delta


@dataclass
class TrackClock:
    """One track's pts -> publisher wallclock (Unix seconds), from its recent sender reports.

    A report pairs the RTP timestamp of the last packet sent with the wallclock *when it was
    sent* (aiortc; browsers extrapolate from capture time). Sending lags capture by a varying
    encode/queue delay (tens of ms on a busy sender), never less than zero: the report with
    the smallest lag gives the earliest, truest wallclock for pts 0. Keeping only recent
    reports lets the estimate follow a sender clock that drifts (sound cards do).
    """

    clock_rate: int
    _bases: deque[float] = field(default_factory=lambda: deque(maxlen=_REPORTS_KEPT))
    # min(_bases), kept with them: wallclock() runs for every packet.
    _base: float | None = None

    @property
    def has_reports(self) -> bool:
        return self._base is not None

    def update(self, pts: int, wallclock: float) -> None:
        self._bases.append(wallclock - pts / self.clock_rate)
        self._base = min(self._bases)

    def wallclock(self, pts: int) -> float | None:
        if self._base is None:
            return None
        return self._base + pts / self.clock_rate


@dataclass
class _Pending:
    kind: str
    pts: int
    arrival: float
    item: object


@dataclass
class SourceSync:
    """Times the packets of one publisher stream (one ``source``) on the relay's clock.

    Before the first sender reports arrive (aiortc sends one every 0.5-1.5 s, browsers about
    every second) packets are *held* for up to ``wait`` seconds, because a sender report maps
    earlier packets just as well as later ones: held packets get exact times once it comes.
    A track still without a report when the wait is over is timed by arrival at the relay
    (no worse than a recorder without RTCP), and switches to its reports when they come.
    """

    clock_rates: dict[str, int]
    wait: float
    clocks: dict[str, TrackClock] = field(default_factory=dict)
    # Relay clock minus publisher clock; None until a report and a packet were seen.
    offset: float | None = None
    released: bool = False
    _pending: list[_Pending] = field(default_factory=list)
    _first_arrival: float | None = None

    def __post_init__(self) -> None:
        self.clocks = {kind: TrackClock(rate) for kind, rate in self.clock_rates.items()}

    def on_report(self, kind: str, pts: int, wallclock: float) -> None:
        self.clocks[kind].update(pts, wallclock)

    def time_of(self, kind: str, pts: int, arrival: float) -> float:
        """The packet's time on the relay clock (only once released)."""
        wallclock = self.clocks[kind].wallclock(pts)
        if wallclock is None:
            return arrival
        if self.offset is None:
            # The first report came after the wait: estimate the offset from this packet.
            self.offset = arrival - wallclock
        return wallclock + self.offset

    def hold(self, kind: str, pts: int, arrival: float, item: object) -> list[tuple[object, float]]:
        """Queue a packet; returns every packet that can now be timed, with its time."""
        if self.released:
            return [(item, self.time_of(kind, pts, arrival))]
        if self._first_arrival is None:
            self._first_arrival = arrival
        self._pending.append(_Pending(kind, pts, arrival, item))
        kinds = {p.kind for p in self._pending}
        reported = all(self.clocks[k].has_reports for k in kinds)
        if not reported and arrival - self._first_arrival < self.wait:
            return []
        return self.release()

    def release(self) -> list[tuple[object, float]]:
        """Time every held packet now (the wait is over, or the stream ended)."""
        delays = [
            p.arrival - wallclock
            for p in self._pending
            if (wallclock := self.clocks[p.kind].wallclock(p.pts)) is not None
        ]
        # The smallest delay is the closest to pure clock offset (least network/jitter delay).
        if delays:
            self.offset = min(delays)
        self.released = True
        timed = [(p.item, self.time_of(p.kind, p.pts, p.arrival)) for p in self._pending]
        self._pending.clear()
        return timed
