"""The session driving the real relay with real aiortc peers (no browser): media flows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from signaling_fakes import SECRET, MemoryBackend, join_link

from media import Relay, RelayConfig
from media.testing.client import TestClient
from signaling.local_router import LocalHandle, LocalRouter, SessionHostFactory
from signaling.ports import Identity, TherapistIdentity
from signaling.session import SessionConfig
from signaling.tokens import TokenSigner


class PeerConnection:
    """A Connection whose far end is an aiortc client: offers go to it, its answers come back."""

    def __init__(self, peer: TestClient) -> None:
        self.peer = peer
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, message_json: str) -> None:
        message = json.loads(message_json)
        self.sent.append(message)
        if message["type"] == "offer":
            await self.peer.on_offer(message["sdp"], message["revision"])

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def last(self, kind: str) -> dict[str, Any]:
        return next(m for m in reversed(self.sent) if m["type"] == kind)


class Party:
    def __init__(self, router: LocalRouter, identity: Identity, publish: bool) -> None:
        self.router = router
        self.identity = identity
        self.peer = TestClient("pending", publish=publish)
        self.conn = PeerConnection(self.peer)
        self.handle: LocalHandle | None = None

    async def join(self, token: str | None = None) -> str:
        self.handle = await self.router.connect("s1", self.conn, self.identity, None)
        handle = self.handle

        async def answer(sdp: str, revision: int) -> None:
            await handle.receive(json.dumps({"type": "answer", "sdp": sdp, "revision": revision}))

        self.peer.answer_with(answer)
        message: dict[str, Any] = {"type": "join", "v": 1, "client_id": "device-0001"}
        if token:
            message["token"] = token
        await handle.receive(json.dumps(message))
        return str(self.conn.last("welcome")["participant_id"])

    async def send(self, **message: Any) -> None:
        assert self.handle is not None
        await self.handle.receive(json.dumps(message))


@pytest.fixture
async def router() -> AsyncIterator[LocalRouter]:
    backend = MemoryBackend()
    backend.add("s1")
    relay = Relay(RelayConfig())
    factory = SessionHostFactory(relay, backend, TokenSigner(SECRET), SessionConfig())
    router = LocalRouter(backend, factory)
    yield router
    await router.close()
    await relay.close()


async def test_therapist_parent_and_observer_through_the_relay(router: LocalRouter) -> None:
    therapist = Party(router, TherapistIdentity("u1", "Dr. Tess"), publish=True)
    parent = Party(router, None, publish=True)
    observer = Party(router, None, publish=False)
    parties = (therapist, parent, observer)
    try:
        therapist_id = await therapist.join()
        parent_id = await parent.join(join_link("s1")[0])
        observer_id = await observer.join(join_link("s1", "observer")[0])
        await therapist.send(type="admit", participant_id=parent_id)
        await therapist.send(type="admit", participant_id=observer_id)

        def frames(party: Party, publisher: str) -> bool:
            return len(party.peer.stream(publisher).video_numbers) >= 3

        await therapist.peer.wait_for(lambda: frames(therapist, parent_id), 20, "parent video")
        await parent.peer.wait_for(lambda: frames(parent, therapist_id), 20, "therapist video")
        await observer.peer.wait_for(lambda: frames(observer, therapist_id), 20, "at observer")
        await observer.peer.wait_for(lambda: frames(observer, parent_id), 20, "at observer")
        assert observer_id not in therapist.peer.received
        for party in parties:
            assert "error" not in [m["type"] for m in party.conn.sent]
    finally:
        for party in parties:
            await party.peer.close()


async def test_a_participant_whose_connection_died_does_not_break_later_admissions(
    router: LocalRouter,
) -> None:
    therapist = Party(router, TherapistIdentity("u1", "Dr. Tess"), publish=True)
    parent = Party(router, None, publish=True)
    second = Party(router, None, publish=True)  # e.g. the other parent, joining later
    parties = (therapist, parent, second)
    try:
        therapist_id = await therapist.join()
        parent_id = await parent.join(join_link("s1")[0])
        await therapist.send(type="admit", participant_id=parent_id)

        def frames(party: Party, publisher: str) -> bool:
            return len(party.peer.stream(publisher).video_numbers) >= 3

        await therapist.peer.wait_for(lambda: frames(therapist, parent_id), 20, "parent video")
        # The parent's browser closes its peer connection and keeps its socket.
        await parent.peer.pc.close()
        second_id = await second.join(join_link("s1", name="Sam Parent")[0])
        await therapist.send(type="admit", participant_id=second_id)
        await second.peer.wait_for(lambda: frames(second, therapist_id), 20, "therapist at 2nd")
        await therapist.peer.wait_for(lambda: frames(therapist, second_id), 20, "2nd at therapist")
        for party in (therapist, second):
            assert [m for m in party.conn.sent if m["type"] == "error"] == []
    finally:
        for party in parties:
            await party.peer.close()
