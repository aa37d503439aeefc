from __future__ import annotations

import asyncio
from typing import Any

from signaling_fakes import (
    WAIT_SECONDS,
    Client,
    FakeRelay,
    MemoryBackend,
    eventually,
    join_link,
    make_router,
)

from signaling.local_router import LocalRouter
from signaling.ports import TherapistIdentity

THERAPIST = TherapistIdentity(user_id="u1", display_name="Dr. Tess")


def setup(grace: float = 30.0) -> tuple[MemoryBackend, FakeRelay, LocalRouter]:
    backend = MemoryBackend()
    backend.add("s1")
    relay = FakeRelay()
    return backend, relay, make_router(backend, relay, grace)


async def live_pair(
    router: LocalRouter, session_id: str = "s1", role: str = "parent"
) -> tuple[Client, Client, str]:
    therapist = Client(router, session_id, THERAPIST)
    await therapist.join()
    token, _ = join_link(session_id, role)
    guest = Client(router, session_id)
    await guest.join(token=token)
    await therapist.send(type="admit", participant_id=guest.participant_id)
    return therapist, guest, token


def names(message: dict[str, Any]) -> list[str]:
    return sorted(p["name"] for p in message["participants"])


async def test_therapist_enters_directly_and_gets_an_offer() -> None:
    _, relay, router = setup()
    therapist = Client(router, "s1", THERAPIST)
    await therapist.join()
    welcome = therapist.conn.last("welcome")
    assert welcome["lobby"] is False
    assert welcome["role"] == "therapist"
    assert welcome["v"] == 1
    assert therapist.conn.last("offer")["sdp"].endswith(welcome["participant_id"])
    assert relay.rooms["s1"].joins == [welcome["participant_id"]]


async def test_parent_waits_in_lobby_until_admitted() -> None:
    backend, relay, router = setup()
    therapist = Client(router, "s1", THERAPIST)
    await therapist.join()
    token, _ = join_link("s1", name="Pat")
    parent = Client(router, "s1")
    await parent.join(token=token)
    assert parent.conn.last("welcome")["lobby"] is True
    assert "offer" not in parent.conn.types()
    assert [w["name"] for w in therapist.conn.last("lobby_update")["waiting"]] == ["Pat"]
    assert parent.participant_id not in relay.rooms["s1"].members

    await therapist.send(type="admit", participant_id=parent.participant_id)
    assert parent.conn.last("admitted")["rejoin"]
    assert parent.conn.last("offer")["revision"] >= 1
    assert therapist.conn.last("lobby_update")["waiting"] == []
    assert names(parent.conn.last("participants")) == ["Dr. Tess", "Pat"]
    assert names(therapist.conn.last("participants")) == ["Dr. Tess", "Pat"]
    assert ("s1", "live") in backend.states
    assert any(a.action == "session.admit" and a.outcome == "success" for a in backend.audits)


async def test_lobby_waiters_see_nobody() -> None:
    _, _, router = setup()
    therapist, _, _ = await live_pair(router)
    token, _ = join_link("s1", name="Other")
    other = Client(router, "s1")
    await other.join(token=token)
    assert "participants" not in other.conn.types()
    assert therapist.conn.closed is None


async def test_decline_closes_the_waiter() -> None:
    _, _, router = setup()
    therapist = Client(router, "s1", THERAPIST)
    await therapist.join()
    token, _ = join_link("s1")
    parent = Client(router, "s1")
    await parent.join(token=token)
    await therapist.send(type="decline", participant_id=parent.participant_id)
    assert "declined" in parent.conn.types()
    assert parent.conn.closed == (4003, "declined")
    assert therapist.conn.last("lobby_update")["waiting"] == []
    assert "admitted" not in parent.conn.types()


async def test_remove_kicks_and_invalidates_the_rejoin_credential() -> None:
    backend, relay, router = setup()
    therapist, parent, token = await live_pair(router)
    rejoin = parent.conn.last("admitted")["rejoin"]
    pid = parent.participant_id
    await therapist.send(type="remove", participant_id=pid)
    assert parent.conn.last("removed")["reason"] == "removed"
    assert parent.conn.closed is not None
    assert parent.conn.closed[0] == 4001
    assert pid not in relay.rooms["s1"].members
    assert ("s1", pid) in backend.left
    assert names(therapist.conn.last("participants")) == ["Dr. Tess"]

    again = Client(router, "s1", client_id=parent.client_id)
    await again.join(rejoin=rejoin)
    assert again.conn.last("error")["code"] == "link_invalid"
    assert again.conn.closed is not None
    assert again.conn.closed[0] == 4403
    # With the link as well, the removed parent may knock again, but waits in the lobby.
    knock = Client(router, "s1", client_id=parent.client_id)
    await knock.join(token=token, rejoin=rejoin)
    assert knock.conn.last("welcome")["lobby"] is True


async def test_end_closes_everyone_and_refuses_later_joins() -> None:
    backend, relay, router = setup()
    therapist, parent, token = await live_pair(router)
    token2, _ = join_link("s1")
    waiter = Client(router, "s1")
    await waiter.join(token=token2)
    room = relay.rooms["s1"]
    await therapist.send(type="end")
    for client in (therapist, parent, waiter):
        assert "ended" in client.conn.types()
        assert client.conn.closed is not None
        assert client.conn.closed[0] == 4002
    assert room.closed
    assert ("s1", "ended") in backend.states
    assert router.get_host("s1") is None

    late = Client(router, "s1")
    await late.join(token=token)
    assert late.conn.last("error")["code"] == "session_ended"
    assert late.conn.closed is not None
    assert late.conn.closed[0] == 4410
    late_therapist = Client(router, "s1", THERAPIST)
    await late_therapist.join()
    assert late_therapist.conn.closed is not None
    assert late_therapist.conn.closed[0] == 4410


async def test_only_the_therapist_admits_removes_and_ends() -> None:
    backend, relay, router = setup()
    therapist, observer, _ = await live_pair(router, role="observer")
    token, _ = join_link("s1")
    waiter = Client(router, "s1")
    await waiter.join(token=token)
    for message in (
        {"type": "admit", "participant_id": waiter.participant_id},
        {"type": "decline", "participant_id": waiter.participant_id},
        {"type": "remove", "participant_id": therapist.participant_id},
        {"type": "end"},
    ):
        observer.conn.sent.clear()
        await observer.send(**message)
        assert observer.conn.last("error")["code"] == "forbidden"
    denied = [a.action for a in backend.audits if a.outcome == "denied"]
    assert denied == ["session.admit", "session.decline", "session.remove", "session.end"]
    assert waiter.conn.last("welcome")["lobby"] is True
    assert "admitted" not in waiter.conn.types()
    assert therapist.conn.closed is None
    assert not relay.rooms["s1"].closed


async def test_observer_is_receive_only_and_visible() -> None:
    backend, relay, router = setup()
    therapist, observer, _ = await live_pair(router, role="observer")
    publish, _ = relay.rooms["s1"].members[observer.participant_id]
    assert publish is False
    roles = {p["role"] for p in therapist.conn.last("participants")["participants"]}
    assert roles == {"therapist", "observer"}

    await observer.send(type="media_state", audio=True, video=False)
    assert observer.conn.last("error")["code"] == "publish_not_allowed"
    await observer.send(type="answer", sdp="v=0 a=sendrecv", revision=1)
    assert observer.conn.sent[-1]["code"] == "publish_not_allowed"
    refused = [a.detail["via"] for a in backend.audits if a.action == "media.publish"]
    assert refused == ["media_state", "answer"]
    await observer.send(type="answer", sdp="v=0 a=recvonly", revision=1)
    assert relay.rooms["s1"].answers[-1][0] == observer.participant_id


async def test_answer_media_state_and_keyframe_reach_the_room() -> None:
    _, relay, router = setup()
    therapist, parent, _ = await live_pair(router)
    room = relay.rooms["s1"]
    await parent.send(type="answer", sdp="v=0 answer", revision=2)
    assert room.answers == [(parent.participant_id, "v=0 answer", 2)]
    await parent.send(type="answer", sdp="v=0 bad", revision=3)
    assert parent.conn.last("error")["code"] == "negotiation_failed"
    await parent.send(type="media_state", audio=True, video=False)
    mine = [
        p
        for p in therapist.conn.last("participants")["participants"]
        if p["participant_id"] == parent.participant_id
    ]
    assert (mine[0]["audio"], mine[0]["video"]) == (True, False)
    await parent.send(type="keyframe", publisher_id=therapist.participant_id)
    assert room.keyframes == [therapist.participant_id]


class SlowBackend(MemoryBackend):
    """Holds the session going live (a database write made under the session's lock)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def session_state_changed(self, session_id: str, state: Any) -> None:
        await self.gate.wait()
        await super().session_state_changed(session_id, state)


async def test_an_answer_does_not_wait_for_the_database_writes_of_an_admission() -> None:
    backend = SlowBackend()
    backend.add("s1")
    relay = FakeRelay()
    router = make_router(backend, relay)
    therapist = Client(router, "s1", THERAPIST)
    await therapist.join()
    token, _ = join_link("s1")
    parent = Client(router, "s1")
    await parent.join(token=token)
    admitting = asyncio.create_task(
        therapist.send(type="admit", participant_id=parent.participant_id)
    )
    offer = await parent.conn.wait_for("offer")
    # The admission still holds the session (the session going live is being written).
    async with asyncio.timeout(WAIT_SECONDS):
        await parent.send(type="answer", sdp="v=0 answer", revision=offer["revision"])
    assert relay.rooms["s1"].answers == [(parent.participant_id, "v=0 answer", offer["revision"])]
    assert not admitting.done()
    backend.gate.set()
    await admitting
    assert ("s1", "live") in backend.states


async def test_lobby_waiter_cannot_use_media() -> None:
    _, relay, router = setup()
    therapist = Client(router, "s1", THERAPIST)
    await therapist.join()
    token, _ = join_link("s1")
    parent = Client(router, "s1")
    await parent.join(token=token)
    await parent.send(type="answer", sdp="v=0", revision=1)
    assert parent.conn.last("error")["code"] == "not_admitted"
    assert relay.rooms["s1"].answers == []


async def test_rejoin_credential_skips_the_lobby_on_the_same_device() -> None:
    backend, relay, router = setup()
    therapist, parent, _ = await live_pair(router)
    pid = parent.participant_id
    rejoin = parent.conn.last("admitted")["rejoin"]
    # The old socket is still open when the device reconnects (network switch).
    again = Client(router, "s1", client_id=parent.client_id)
    await again.join(rejoin=rejoin)
    welcome = again.conn.last("welcome")
    assert welcome["lobby"] is False
    assert welcome["participant_id"] == pid
    assert "offer" in again.conn.types()
    assert parent.conn.closed is not None
    assert parent.conn.closed[0] == 4004
    assert relay.rooms["s1"].joins.count(pid) == 2
    assert backend.joined.count(("s1", pid)) == 1
    assert "admitted" not in again.conn.types()
    # The replaced connection's late messages and disconnect change nothing.
    await parent.handle.disconnected()
    statuses = {p["status"] for p in therapist.conn.last("participants")["participants"]}
    assert statuses == {"present"}


async def test_same_link_on_another_device_goes_to_the_lobby() -> None:
    _, _, router = setup()
    _, parent, token = await live_pair(router)
    rejoin = parent.conn.last("admitted")["rejoin"]
    other = Client(router, "s1")
    await other.join(token=token, rejoin=rejoin)
    assert other.conn.last("welcome")["lobby"] is True
    assert other.participant_id != parent.participant_id
    assert parent.conn.closed is None
    copied = Client(router, "s1")
    await copied.join(rejoin=rejoin)
    assert copied.conn.last("error")["code"] == "link_invalid"


async def test_drop_then_rejoin_within_grace_keeps_the_participant() -> None:
    backend, _, router = setup(grace=30.0)
    therapist, parent, _ = await live_pair(router)
    pid = parent.participant_id
    rejoin = parent.conn.last("admitted")["rejoin"]
    await parent.drop()
    status = {
        p["participant_id"]: p["status"]
        for p in therapist.conn.last("participants")["participants"]
    }
    assert status[pid] == "reconnecting"
    again = Client(router, "s1", client_id=parent.client_id)
    await again.join(rejoin=rejoin)
    status = {
        p["participant_id"]: p["status"]
        for p in therapist.conn.last("participants")["participants"]
    }
    assert status[pid] == "present"
    assert ("s1", pid) not in backend.left
    await router.close()


async def test_a_rejoin_keeps_a_peer_connection_the_relay_still_has_up() -> None:
    _, relay, router = setup()
    therapist, parent, _ = await live_pair(router)
    pid = parent.participant_id
    rejoin = parent.conn.last("admitted")["rejoin"]
    room = relay.rooms["s1"]
    joins = room.joins.count(pid)

    # The link came back while the relay's side of the connection never went down: kept.
    room.connected.add(pid)
    await parent.drop()
    again = Client(router, "s1", client_id=parent.client_id)
    await again.join(rejoin=rejoin, resume_media=True)
    assert again.conn.last("welcome")["media_resumed"] is True
    assert "offer" not in again.conn.types()
    assert room.joins.count(pid) == joins
    # Renegotiations reach the new socket.
    await therapist.send(type="media_state", audio=False, video=True)
    assert again.conn.last("participants")["participants"]

    # The relay's side is gone (or the client did not ask): a fresh connection, as before.
    room.connected.discard(pid)
    await again.drop()
    third = Client(router, "s1", client_id=parent.client_id)
    await third.join(rejoin=rejoin, resume_media=True)
    assert third.conn.last("welcome")["media_resumed"] is False
    assert third.conn.last("offer")["sdp"].endswith(pid)
    assert room.joins.count(pid) == joins + 1
    await router.close()


async def test_grace_expiry_counts_as_left() -> None:
    backend, relay, router = setup(grace=0.05)
    therapist, parent, _ = await live_pair(router)
    pid = parent.participant_id
    rejoin = parent.conn.last("admitted")["rejoin"]
    await parent.drop()

    async def gone() -> bool:
        return ("s1", pid) in backend.left

    await eventually(gone)
    assert pid not in relay.rooms["s1"].members
    assert names(therapist.conn.last("participants")) == ["Dr. Tess"]
    # Left (not removed): the same device still rejoins without the lobby.
    again = Client(router, "s1", client_id=parent.client_id)
    await again.join(rejoin=rejoin)
    assert again.conn.last("welcome")["lobby"] is False


async def test_revoked_link_drops_its_holder_and_refuses_new_knocks() -> None:
    backend, _, router = setup()
    _, parent, _ = await live_pair(router)
    link_token, link_id = join_link("s1")
    waiter = Client(router, "s1")
    await waiter.join(token=link_token)
    backend.revoked.add(link_id)
    await router.revoke_link("s1", link_id)
    assert waiter.conn.last("removed")["reason"] == "link_revoked"
    assert parent.conn.closed is None
    again = Client(router, "s1")
    await again.join(token=link_token)
    assert again.conn.last("error")["code"] == "link_gone"
    assert again.conn.closed is not None
    assert again.conn.closed[0] == 4410


async def test_other_therapist_and_unknown_session_are_refused() -> None:
    _, _, router = setup()
    intruder = Client(router, "s1", TherapistIdentity(user_id="u2", display_name="Dr. Other"))
    await intruder.join()
    assert intruder.conn.last("error")["code"] == "forbidden"
    assert intruder.conn.closed is not None
    assert intruder.conn.closed[0] == 4403
    token, _ = join_link("nope")
    lost = Client(router, "nope")
    await lost.join(token=token)
    assert lost.conn.closed is not None
    assert lost.conn.closed[0] == 4404
    wrong = Client(router, "s1")
    await wrong.join(token=token)
    assert wrong.conn.last("error")["code"] == "link_invalid"


async def test_leave_and_empty_session_releases_the_room() -> None:
    backend, relay, router = setup()
    therapist, parent, _ = await live_pair(router)
    await parent.send(type="leave")
    assert parent.conn.closed == (1000, "left")
    assert names(therapist.conn.last("participants")) == ["Dr. Tess"]
    await therapist.send(type="leave")
    assert "s1" in relay.closed_rooms
    assert router.get_host("s1") is None
    assert backend.sessions["s1"].state == "live"


async def test_a_participant_is_told_when_the_relay_sends_it_audio_only() -> None:
    _, relay, router = setup()
    _, observer, _ = await live_pair(router, role="observer")
    switch = relay.rooms["s1"].audio_only[observer.participant_id]
    await switch(True)
    assert observer.conn.last("reception") == {"type": "reception", "audio_only": True}
    await switch(False)
    assert observer.conn.last("reception")["audio_only"] is False
