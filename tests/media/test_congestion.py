"""The congestion policy (media/rtp/congestion.py): what a publisher may send, and when an
observer gets audio only."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from media.rtp.congestion import (
    CALM_SECONDS,
    CONGESTED_GROWTH,
    FIRST_BACKOFF,
    FLOOR,
    GROWTH,
    HOLD_SECONDS,
    LOW_SECONDS,
    NO_CAP,
    START_CAP,
    START_WINDOW,
    CapSender,
    Ceiling,
    ObserverGate,
    publisher_cap,
)


@dataclass
class Sub:
    limits_publisher: bool = True
    video_since: float | None = None
    ceiling: Ceiling = field(default_factory=lambda: Ceiling(0.0))


def test_a_new_subscriber_counts_as_the_start_cap_until_it_estimates() -> None:
    sub = Sub(video_since=10.0)
    assert publisher_cap([sub], 10.5) == START_CAP
    # A peer that never estimates (aiortc) stops counting after the start window.
    assert publisher_cap([sub], 10.0 + START_WINDOW + 0.1) == NO_CAP
    assert publisher_cap([], 0.0) == NO_CAP


def test_observers_never_cap_the_publisher() -> None:
    observer = Sub(limits_publisher=False)
    observer.ceiling.estimate(100_000, rate=1_500_000, now=1.0)
    therapist = Sub()
    therapist.ceiling.estimate(1_200_000, rate=1_000_000, now=1.0)
    assert publisher_cap([observer, therapist], 1.0) == 1_200_000
    assert publisher_cap([observer], 1.0) == NO_CAP


def test_the_lowest_subscriber_limits() -> None:
    fast, slow = Sub(), Sub()
    fast.ceiling.estimate(2_000_000, rate=900_000, now=1.0)
    slow.ceiling.estimate(250_000, rate=900_000, now=1.0)  # congested: below 0.9 x rate
    assert publisher_cap([fast, slow], 1.0) == 250_000


def test_a_congested_subscriber_holds_then_grows_slowly() -> None:
    ceiling = Ceiling(0.0)
    ceiling.estimate(200_000, rate=300_000, now=1.0)  # below the stream's rate: congested
    assert ceiling.current(1.0 + HOLD_SECONDS) == 200_000
    assert ceiling.current(2.0 + HOLD_SECONDS) == pytest.approx(200_000 * CONGESTED_GROWTH)
    # A drop of the estimate is congestion too, whatever the rate; never below the floor.
    ceiling.estimate(50_000, rate=10_000, now=10.0)
    assert ceiling.current(11.0) == FLOOR
    # Calm for long enough: the fast ramp again.
    calm = 10.0 + CALM_SECONDS
    before = ceiling.current(calm)
    assert ceiling.current(calm + 0.5) == pytest.approx(before * GROWTH**0.5)


def test_an_uncongested_subscriber_grows_faster_than_its_own_estimate() -> None:
    ceiling = Ceiling(0.0)
    ceiling.estimate(180_000, rate=150_000, now=1.0)  # keeping up with what it gets
    assert ceiling.current(1.0) == START_CAP  # never below the start cap it was given
    assert ceiling.current(4.0) == pytest.approx(START_CAP * GROWTH**3)
    assert ceiling.current(1000.0) == NO_CAP


def test_caps_are_sent_when_they_move_or_once_a_second() -> None:
    sender = CapSender()
    assert not sender.due(NO_CAP, 0.0)  # nothing sent yet, nothing to lift
    assert sender.due(START_CAP, 0.0)
    assert not sender.due(START_CAP + 1000, 0.5)
    assert sender.due(START_CAP * 2, 0.6)
    assert sender.due(START_CAP * 2, 1.7)
    assert sender.due(NO_CAP, 1.8)  # lifting a cap that was sent


def test_an_observer_on_a_weak_link_gets_audio_only_then_tries_again() -> None:
    gate = ObserverGate(since=0.0)
    rate = 1_500_000
    assert gate.update(1_600_000, 1.0, rate, 1.0)
    assert gate.update(300_000, 2.0, rate, 2.0)  # low, but not for long yet
    assert not gate.update(300_000, 2.5, rate, 2.0 + LOW_SECONDS)
    # Off: an estimate from before the switch says nothing (no video, no new estimates).
    assert not gate.update(300_000, 2.5, rate, 5.0)
    back = 2.0 + LOW_SECONDS + FIRST_BACKOFF
    assert gate.update(None, 0.0, rate, back)
    # Too slow again soon after: off again, for twice as long.
    assert gate.update(250_000, back + 1, rate, back + 1)
    assert not gate.update(250_000, back + 1, rate, back + 1 + LOW_SECONDS)
    assert not gate.update(None, 0.0, rate, back + 1 + LOW_SECONDS + FIRST_BACKOFF)
    assert gate.update(None, 0.0, rate, back + 1 + LOW_SECONDS + 2 * FIRST_BACKOFF)


def test_an_observer_that_keeps_up_keeps_its_video() -> None:
    gate = ObserverGate(since=0.0)
    for second in range(1, 30):
        assert gate.update(1_400_000, float(second), 1_500_000, float(second))
