from __future__ import annotations

import pytest
from aiortc import sdp

from media import PublishNotAllowed, Relay
from media.rtp import InStream
from media.testing.client import ClientPool, TestClient


def video_count(client: TestClient, publisher: str) -> int:
    got = client.received.get(publisher)
    return len(got.video_numbers) if got else 0


def audio_count(client: TestClient, publisher: str) -> int:
    got = client.received.get(publisher)
    return got.audio_frames if got else 0


async def test_late_observer_receives_both_publishers_promptly(
    any_relay: Relay, clients: ClientPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = any_relay
    # No REMB to the publishers: aiortc's encoder starts over with a keyframe whenever its
    # target bitrate moves, which would hide whether the observer got the replayed one.
    monkeypatch.setattr(InStream, "regulate", lambda self: None)
    room = relay.room("session")
    therapist = await clients.join(room, "therapist", tone_hz=500.0)
    parent = await clients.join(room, "parent", tone_hz=1000.0)
    # Let the publishers' first keyframes pass: aiortc's VP8 encoder then sends the next one
    # only after 3,000 frames, so the observer depends on the relay's keyframe requests.
    await therapist.wait_for(lambda: video_count(therapist, "parent") >= 30, 15, "call running")
    await parent.wait_for(lambda: video_count(parent, "therapist") >= 30, 15, "call running")
    requests_before = relay.stats().keyframe_requests

    observer = await clients.join(room, "observer", publish=False)
    for publisher in ("therapist", "parent"):

        def arrived(p: str = publisher) -> bool:
            return video_count(observer, p) >= 10 and audio_count(observer, p) >= 10

        await observer.wait_for(arrived, 5, f"{publisher}'s media at the observer")
        numbers = observer.received[publisher].video_numbers
        assert numbers == sorted(numbers)
        if relay.config.forwarding == "rtp":
            # The relay kept the packets since each publisher's keyframe (~1 s of them):
            # the observer starts there at once.
            assert numbers[0] <= 2, "replayed from the publisher's keyframe"
        else:
            assert numbers[0] >= 30, "the observer joined mid-stream"
    if relay.config.forwarding == "rtp":
        assert relay.stats().keyframe_requests == requests_before
    else:
        assert relay.stats().keyframe_requests > requests_before

    # The observer sends nothing: every m-line of its answer is receive-only.
    answer = sdp.SessionDescription.parse(observer.answers[-1])
    assert {m.direction for m in answer.media} == {"recvonly"}
    relay_side = room.peer("observer")
    assert relay_side is not None
    assert relay_side.published == {}
    assert room.feeds("observer") == {}
    assert sorted(room.participants()) == ["observer", "parent", "therapist"]
    assert relay.stats().decode_calls == 0
    assert relay.stats().encode_calls == 0


async def test_observer_answer_that_sends_is_refused(relay: Relay, clients: ClientPool) -> None:
    room = relay.room("session")
    await clients.join(room, "therapist")
    sneaky = await clients.join(
        room,
        "observer",
        publish=False,
        answer_transform=lambda s: s.replace("a=recvonly", "a=sendrecv"),
    )
    await sneaky.wait_for(lambda: bool(sneaky.errors), 10, "the answer to be refused")
    assert isinstance(sneaky.errors[0], PublishNotAllowed)
    peer = room.peer("observer")
    assert peer is not None
    assert peer.awaiting_answer, "a refused answer is not applied"
