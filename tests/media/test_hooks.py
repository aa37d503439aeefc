from __future__ import annotations

import asyncio
import itertools

from media import Relay
from media.hooks import (
    HookDispatcher,
    KeyframeReceived,
    MediaEvent,
    ParticipantJoined,
    ParticipantLeft,
    TrackPublished,
)
from media.testing.client import ClientPool, TestClient


class Collect:
    def __init__(self) -> None:
        self.events: list[MediaEvent] = []

    async def on_event(self, event: MediaEvent) -> None:
        self.events.append(event)


class SlowAndFailing:
    """A hook that takes a second per event and then raises."""

    def __init__(self) -> None:
        self.calls = 0

    async def on_event(self, event: MediaEvent) -> None:
        self.calls += 1
        await asyncio.sleep(1)
        raise RuntimeError("database is down")


def keyframes_from(events: list[MediaEvent]) -> set[str]:
    return {e.publisher_id for e in events if isinstance(e, KeyframeReceived)}


async def test_events_arrive_in_order(clients: ClientPool) -> None:
    hooks = Collect()
    relay = Relay(hooks=hooks)
    try:
        room = relay.room("session")
        alice = await clients.join(room, "alice")
        bob = await clients.join(room, "bob")
        await alice.wait_for(lambda: bool(alice.received.get("bob")), 10, "bob's media")
        await bob.wait_for(
            lambda: (
                len(keyframes_from(hooks.events)) == 2
                and sum(isinstance(e, TrackPublished) for e in hooks.events) == 4
            ),
            10,
            "tracks and keyframes from both",
        )
        await room.leave("bob")
        await asyncio.sleep(0.1)
    finally:
        await relay.close()

    membership = [
        (type(e).__name__, e.participant_id)
        for e in hooks.events
        if isinstance(e, ParticipantJoined | ParticipantLeft)
    ]
    assert membership == [
        ("ParticipantJoined", "alice"),
        ("ParticipantJoined", "bob"),
        ("ParticipantLeft", "bob"),
    ]
    published = [e for e in hooks.events if isinstance(e, TrackPublished)]
    assert {(e.participant_id, e.kind, e.codec) for e in published} == {
        ("alice", "audio", "opus"),
        ("alice", "video", "VP8"),
        ("bob", "audio", "opus"),
        ("bob", "video", "VP8"),
    }
    # Each publisher's track is published after they joined; timestamps never go back.
    index = {id(e): i for i, e in enumerate(hooks.events)}
    joined = {
        e.participant_id: index[id(e)] for e in hooks.events if isinstance(e, ParticipantJoined)
    }
    assert all(index[id(e)] > joined[e.participant_id] for e in published)
    assert [e.at for e in hooks.events] == sorted(e.at for e in hooks.events)
    assert keyframes_from(hooks.events) == {"alice", "bob"}
    assert all(e.room_id == "session" for e in hooks.events)


def missing_frames(client: TestClient, publisher: TestClient) -> int:
    assert publisher.video is not None
    got = client.received.get(publisher.participant_id)
    numbers = got.video_numbers if got else []
    return publisher.video.frames_sent - len(numbers)


async def test_slow_and_failing_hooks_do_not_disturb_the_call(clients: ClientPool) -> None:
    hooks = SlowAndFailing()
    relay = Relay(hooks=hooks)
    try:
        room = relay.room("session")
        alice = await clients.join(room, "alice")
        bob = await clients.join(room, "bob")
        await alice.wait_for(lambda: bool(alice.received.get("bob")), 10, "bob's media")
        await bob.wait_for(lambda: bool(bob.received.get("alice")), 10, "alice's media")
        await asyncio.sleep(3)
        # The hook is busy (or raising) the whole time, yet every frame made so far has
        # arrived, bar the ones still in flight and those before the first keyframe.
        assert missing_frames(alice, bob) <= 20
        assert missing_frames(bob, alice) <= 20
        for client, other in ((alice, bob), (bob, alice)):
            assert other.audio is not None
            got = client.received[other.participant_id]
            assert got.video_numbers == sorted(got.video_numbers)
            assert max(b - a for a, b in itertools.pairwise(got.video_numbers)) <= 2
            assert other.audio.frames_sent - got.audio_frames <= 25
        assert hooks.calls >= 2
        assert relay.hooks.failed >= 2
        assert relay.hooks.delivered == 0
        assert relay.stats().decode_calls == 0
    finally:
        await relay.close()


async def test_a_full_queue_drops_new_events_and_counts_them() -> None:
    hooks = Collect()
    dispatcher = HookDispatcher(hooks, capacity=2)
    for participant in ("a", "b", "c", "d"):
        dispatcher.emit(ParticipantJoined("room", participant, publish=True, reconnect=False))
    assert dispatcher.dropped == 2
    await dispatcher.close()
    assert [e.participant_id for e in hooks.events if isinstance(e, ParticipantJoined)] == [
        "a",
        "b",
    ]
    assert dispatcher.delivered == 2
