"""What a publisher may send: its own uplink, capped by what its subscribers can take.

The publisher measures its uplink itself, from the relay's transport feedback
(media/rtp/twcc.py). Each subscriber's browser estimates its own downlink and says so in REMB;
the relay passes the lowest of those on to the publisher as REMB, which Chromium takes as an
upper bound beside its own estimate. So in a two-party call the publisher sends what the lower
of its uplink and the other party's downlink carries.

- **Observers do not count**: an observer's weak link must not pull the parent's picture
  down for the therapist. An observer whose estimate stays below the stream's rate gets the
  audio only (``ObserverGate``) and tries video again later.
- **A new subscriber starts conservatively**: until its first estimate arrives it counts as
  ``START_CAP``, so a narrow downlink is not flooded in the first seconds; its estimate then
  takes over, and the publisher's probing and the subscriber's estimate ramp it up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

# What a subscriber is assumed to take until it says (bits/s): with audio (~40 kbit/s) and
# headers, still under a 300 kbit/s home link. Chromium's own start, 300 kbit/s, overflowed
# such a link in the first seconds (4 s frozen of the first 15 in one run).
START_CAP = 200_000
# A subscriber that sent no estimate this long after its video started sends none (aiortc
# peers): it stops counting.
START_WINDOW = 5.0
# Sent when no subscriber limits the publisher: above anything a camera sends, so only the
# publisher's own estimate counts (a cap once sent stays until the next REMB replaces it).
NO_CAP = 20_000_000
# REMB goes out when the cap moves by more than this share, and at least this often.
CHANGE = 0.05
RESEND_SECONDS = 1.0
# A subscriber is congested when its estimate falls below this share of the stream's rate
# (Chromium's estimator then says 0.85 x what it receives) or below its previous estimate by
# more than DROP. Its ceiling is then its estimate (never below FLOOR), held for
# HOLD_SECONDS, then grown by CONGESTED_GROWTH a second. Until a subscriber's link has shown
# congestion (and again after CALM_SECONDS without), the ceiling grows by GROWTH a second.
# Why the relay ramps at all: Chromium's estimate grows ~8 % a second from what it receives,
# too slowly for a publisher that started at START_CAP to reach a good link's rate within a
# call's first minute; and following it alone spiralled down on a busy machine (an encoder
# sending under its cap lowers the estimate, which lowers the cap: 30 kbit/s on an
# unimpaired link). Growing by GROWTH after congestion overflowed a 300 kbit/s link every few
# seconds; by CONGESTED_GROWTH the overshoot fits the link's queue.
CONGESTED_SHARE = 0.9
DROP = 0.95
HOLD_SECONDS = 5.0
CALM_SECONDS = 30.0
GROWTH = 1.5
CONGESTED_GROWTH = 1.15
# Below this a subscriber's estimate does not cap a publisher: video under ~120 kbit/s is of
# no use (Chromium's own estimate may still take it lower, for the publisher's own uplink).
FLOOR = 120_000


class Ceiling:
    """What one subscriber lets a publisher send (bits/s), from its estimates (REMB).

    Starts at ``START_CAP``; follows the estimate down at once when the subscriber is
    congested (to ``FLOOR`` at most), holds, then grows slowly; grows fast while the
    subscriber's link has not shown congestion: the relay's own ramp on top of the
    subscriber's slow one.
    """

    def __init__(self, now: float) -> None:
        self.value = float(START_CAP)
        self.estimated = False
        self._last_estimate: int | None = None
        self._congested_at: float | None = None
        self._updated = now

    def estimate(self, estimate: int, rate: float, now: float) -> None:
        self.current(now)
        last = self._last_estimate
        congested = estimate < CONGESTED_SHARE * rate or (
            last is not None and estimate < DROP * last
        )
        if congested:
            self.value = float(max(estimate, FLOOR))
            self._congested_at = now
        else:
            self.value = max(self.value, float(estimate))
        self._last_estimate = estimate
        self.estimated = True

    def current(self, now: float) -> float:
        if self.estimated:
            value, since = self.value, self._updated
            congested_at = self._congested_at
            if congested_at is not None:
                # Held, then growing slowly until the link has been calm long enough.
                start = max(since, congested_at + HOLD_SECONDS)
                end = min(now, congested_at + CALM_SECONDS)
                if end > start:
                    value *= CONGESTED_GROWTH ** (end - start)
                since = max(since, congested_at + CALM_SECONDS)
            if now > since:
                value *= GROWTH ** (now - since)
            self.value = min(float(NO_CAP), value)
        self._updated = now
        return self.value


class Subscriber(Protocol):
    """What the policy reads of a subscriber's copy of a stream (an ``OutStream``)."""

    @property
    def limits_publisher(self) -> bool: ...

    @property
    def video_since(self) -> float | None: ...

    @property
    def ceiling(self) -> Ceiling: ...


def publisher_cap(subscribers: Iterable[Subscriber], now: float) -> int:
    """The REMB for a publisher: the lowest of its (non-observer) subscribers' ceilings."""
    values = []
    for subscriber in subscribers:
        if not subscriber.limits_publisher:
            continue
        ceiling = subscriber.ceiling
        if ceiling.estimated:
            values.append(ceiling.current(now))
        elif subscriber.video_since is None or now - subscriber.video_since < START_WINDOW:
            values.append(float(START_CAP))
    return int(min(values, default=NO_CAP))


class CapSender:
    """When a cap is worth sending: it moved, or a while has passed."""

    def __init__(self) -> None:
        self._sent: int | None = None
        self._sent_at = 0.0

    def due(self, cap: int, now: float) -> bool:
        sent = self._sent
        if sent is None and cap == NO_CAP:
            return False  # nothing to lift (and aiortc's encoder restarts on a REMB)
        if sent is None or abs(cap - sent) > CHANGE * sent or now - self._sent_at >= RESEND_SECONDS:
            self._sent, self._sent_at = cap, now
            return True
        return False


# An observer's estimate below this share of the stream's rate, for this long, stops its video.
LOW_SHARE = 0.8
LOW_SECONDS = 2.0
# Then video is tried again after this long, doubling each time it is stopped again soon after
# (up to the maximum); staying on for ``SETTLED_SECONDS`` forgives the past.
FIRST_BACKOFF = 10.0
MAX_BACKOFF = 80.0
SETTLED_SECONDS = 30.0


@dataclass
class ObserverGate:
    """Whether an observer gets a publisher's video: off while its link cannot carry it."""

    video: bool = True
    since: float = 0.0  # when ``video`` last changed
    low_since: float | None = None
    backoff: float = FIRST_BACKOFF
    retried: bool = False  # video is on again after being stopped

    def update(self, estimate: int | None, estimated_at: float, rate: float, now: float) -> bool:
        """The new state from the observer's latest estimate (ignored if older than the last
        change: a stopped stream gets no new estimates) and the stream's rate (bits/s)."""
        if not self.video:
            if now - self.since >= self.backoff:
                self._switch(True, now)
            return self.video
        fresh = estimate is not None and estimated_at >= self.since
        if fresh and estimate is not None and rate > 0 and estimate < LOW_SHARE * rate:
            if self.low_since is None:
                self.low_since = now
            elif now - self.low_since >= LOW_SECONDS:
                if self.retried and now - self.since < SETTLED_SECONDS:
                    self.backoff = min(self.backoff * 2, MAX_BACKOFF)
                else:
                    self.backoff = FIRST_BACKOFF
                self._switch(False, now)
        else:
            self.low_since = None
        return self.video

    def _switch(self, video: bool, now: float) -> None:
        self.video, self.since, self.low_since = video, now, None
        self.retried = video
