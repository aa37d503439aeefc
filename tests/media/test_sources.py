"""A publish-only source (a shared screen, a second camera): forwarded to everyone, sent nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from media import Relay


async def test_a_source_is_subscribed_to_nobody_and_everyone_gets_its_feeds(relay: Relay) -> None:
    room = relay.room("session")
    offers: dict[str, str] = {}

    def sink(pid: str) -> Callable[[str, int], Awaitable[None]]:
        async def on_offer(sdp: str, revision: int) -> None:
            offers[pid] = sdp

        return on_offer

    await room.join("therapist", publish=True, on_offer=sink("therapist"))
    await room.join("parent", publish=True, on_offer=sink("parent"))
    await room.join("therapist-screen", publish=True, receive=False, on_offer=sink("screen"))
    screen = room.peer("therapist-screen")
    parent = room.peer("parent")
    assert screen is not None
    assert parent is not None
    assert screen.slots == []  # it receives nothing, not even later publishers
    carried = {s.feed.publisher_id for s in parent.slots if s.feed is not None}
    assert carried == {"therapist", "therapist-screen"}
    assert "a=sendonly" not in offers["screen"]
    await room.join("observer", publish=False, on_offer=sink("observer"))
    assert screen.slots == []
    observer = room.peer("observer")
    assert observer is not None
    assert {s.feed.publisher_id for s in observer.slots if s.feed is not None} == {
        "therapist", "parent", "therapist-screen",
    }  # fmt: skip
    await room.leave("therapist-screen")
    assert {s.feed.publisher_id for s in parent.slots if s.feed is not None} == {"therapist"}
