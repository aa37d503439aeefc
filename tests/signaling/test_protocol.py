from __future__ import annotations

import asyncio
import json

import pytest
from signaling_fakes import (
    Client,
    FakeConnection,
    FakeRelay,
    MemoryBackend,
    admit,
    join_link,
    make_router,
)

from signaling.local_router import ConnectionLimits, LocalRouter
from signaling.ports import TherapistIdentity
from signaling.protocol import (
    Answer,
    Join,
    Offer,
    ProtocolError,
    encode,
    parse_client_message,
    parse_server_message,
)

THERAPIST = TherapistIdentity(user_id="u1", display_name="Dr. Tess")


def parse_error(raw: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse_client_message(raw)
    return info.value


def test_parses_a_join() -> None:
    msg = parse_client_message('{"type":"join","v":1,"client_id":"abcdefgh12","token":"t"}')
    assert isinstance(msg, Join)
    assert msg.token == "t"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "invalid_message"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"no_type": 1}', "unknown_type"),
        ('{"type": "answer", "sdp": "x"}', "invalid_message"),
        ('{"type": "answer", "sdp": "x", "revision": -1}', "invalid_message"),
        ('{"type": "ping", "extra": 1}', "invalid_message"),
        ('{"type": "admit", "participant_id": "../etc"}', "invalid_message"),
        ('{"type": "join", "v": 1, "client_id": "short"}', "invalid_message"),
    ],
)
def test_rejects_bad_frames_with_a_code(raw: str, code: str) -> None:
    error = parse_error(raw)
    assert error.code == code
    assert error.close_code is None


def test_oversized_frame_carries_1009() -> None:
    error = parse_error(json.dumps({"type": "ping", "pad": "x" * 70_000}))
    assert (error.code, error.close_code) == ("too_large", 1009)
    # Multi-byte characters count in bytes: 30k characters of 3 bytes each exceed 64 KiB.
    error = parse_error(json.dumps({"type": "ping", "pad": "\u20ac" * 30_000}, ensure_ascii=False))
    assert error.close_code == 1009


def test_sdp_and_token_lengths_are_bounded() -> None:
    long_sdp = json.dumps({"type": "answer", "sdp": "a" * (61 * 1024), "revision": 1})
    assert parse_error(long_sdp).code == "invalid_message"
    ok = parse_client_message(json.dumps({"type": "answer", "sdp": "a" * 60_000, "revision": 1}))
    assert isinstance(ok, Answer)
    long_token = json.dumps({"type": "join", "v": 1, "client_id": "abcdefgh", "token": "t" * 3000})
    assert parse_error(long_token).code == "invalid_message"


@pytest.mark.parametrize("depth", [9, 1000, 20_000])
def test_deep_nesting_is_refused_without_recursing(depth: int) -> None:
    # Objects cost 5 bytes a level: 9,000 levels still fit in one 64 KiB frame.
    levels = min(depth, 9000)
    for raw in (
        '{"type": "ping", "x": ' + "[" * depth + "]" * depth + "}",
        '{"type": "ping", "x": ' + '{"a":' * levels + "1" + "}" * levels + "}",
    ):
        error = parse_error(raw)
        assert error.code == "invalid_message"
        assert "nested" in error.message


def test_the_deepest_valid_message_still_parses() -> None:
    draw = {
        "type": "draw",
        "client_ref": "c1",
        "target": "p_1",
        "show_to": ["t_1"],
        "color": "#ff0000",
        "shapes": [{"kind": "stroke", "points": [[0.1, 0.2], [0.3, 0.4]]}],
    }
    assert parse_client_message(json.dumps(draw)).type == "draw"


def test_server_messages_round_trip() -> None:
    text = encode(Offer(sdp="v=0", revision=3))
    assert json.loads(text) == {"type": "offer", "sdp": "v=0", "revision": 3}
    assert parse_server_message(text) == Offer(sdp="v=0", revision=3)


# --- abuse on one connection, while another session keeps working ---------------------------


def two_sessions() -> tuple[LocalRouter, MemoryBackend]:
    backend = MemoryBackend()
    backend.add("noisy")
    backend.add("calm")
    return make_router(backend, FakeRelay()), backend


async def calm_session_still_works(router: LocalRouter) -> None:
    therapist = Client(router, "calm", THERAPIST)
    await therapist.join()
    token, _ = join_link("calm")
    parent = Client(router, "calm")
    await parent.join(token=token)
    await therapist.send(type="admit", participant_id=parent.participant_id)
    assert "admitted" in parent.conn.types()
    assert parent.conn.closed is None


async def noisy_member(router: LocalRouter) -> tuple[Client, Client]:
    therapist = Client(router, "noisy", THERAPIST)
    await therapist.join()
    token, _ = join_link("noisy")
    parent = Client(router, "noisy")
    await parent.join(token=token)
    await therapist.send(type="admit", participant_id=parent.participant_id)
    return therapist, parent


async def test_garbage_gets_error_codes_then_1008() -> None:
    router, _ = two_sessions()
    therapist, parent = await noisy_member(router)
    await parent.handle.receive("{oops")
    assert parent.conn.last("error")["code"] == "bad_json"
    await parent.handle.receive('{"type": "fly"}')
    assert parent.conn.last("error")["code"] == "unknown_type"
    assert parent.conn.closed is None
    for _ in range(3):
        await parent.handle.receive('{"type": "answer"}')
    assert parent.conn.closed is not None
    assert parent.conn.closed[0] == 1008
    assert therapist.conn.closed is None
    await calm_session_still_works(router)


async def test_oversized_frame_closes_1009() -> None:
    router, _ = two_sessions()
    therapist, parent = await noisy_member(router)
    await parent.handle.receive("x" * (64 * 1024 + 1))
    assert parent.conn.last("error")["code"] == "too_large"
    assert parent.conn.closed is not None
    assert parent.conn.closed[0] == 1009
    statuses = [p["status"] for p in therapist.conn.last("participants")["participants"]]
    assert "reconnecting" in statuses
    await calm_session_still_works(router)
    await router.close()


async def test_flood_closes_1008() -> None:
    router, _ = two_sessions()
    _, parent = await noisy_member(router)
    for _ in range(500):
        await parent.send(type="ping")
        if parent.conn.closed is not None:
            break
    assert parent.conn.closed is not None
    assert parent.conn.closed[0] == 1008
    assert parent.conn.last("error")["code"] == "rate_limited"
    await calm_session_still_works(router)
    await router.close()


async def test_wrong_role_is_forbidden_and_others_continue() -> None:
    router, backend = two_sessions()
    therapist, parent = await noisy_member(router)
    await parent.send(type="end")
    assert parent.conn.last("error")["code"] == "forbidden"
    assert parent.conn.closed is None
    assert therapist.conn.closed is None
    assert [a.action for a in backend.audits if a.outcome == "denied"] == ["session.end"]
    await calm_session_still_works(router)


async def test_repeated_forbidden_messages_close_the_socket() -> None:
    router, _ = two_sessions()
    therapist = Client(router, "noisy", THERAPIST)
    await therapist.join()
    token, _ = join_link("noisy")
    waiter = Client(router, "noisy")
    await waiter.join(token=token)
    for _ in range(50):
        await waiter.send(type="end")
        if waiter.conn.closed is not None:
            break
    assert waiter.conn.closed is not None
    assert waiter.conn.closed[0] == 1008
    assert len([m for m in waiter.conn.sent if m["type"] == "error"]) == 10
    # The waiter left the lobby with its socket; the therapist's session goes on.
    assert therapist.conn.last("lobby_update")["waiting"] == []
    assert therapist.conn.closed is None
    await calm_session_still_works(router)


async def test_a_full_session_refuses_new_knocks_but_not_rejoins() -> None:
    router, backend = two_sessions()
    therapist = Client(router, "noisy", THERAPIST)
    await therapist.join()
    guests = [await admit(therapist, name=f"Guest {i}") for i in range(7)]
    token, _ = join_link("noisy")
    late = Client(router, "noisy")
    await late.join(token=token)
    assert late.conn.last("error")["code"] == "session_full"
    assert late.conn.closed is not None
    assert late.conn.closed[0] == 4029
    assert any(a.detail.get("why") == "session_full" for a in backend.audits)
    # Someone already in keeps their place across a reconnect.
    first = guests[0]
    rejoin = first.conn.last("admitted")["rejoin"]
    await first.drop()
    back = Client(router, "noisy", client_id=first.client_id)
    await back.join(rejoin=rejoin)
    assert back.conn.last("welcome")["lobby"] is False
    await calm_session_still_works(router)


async def test_messages_before_join_and_bad_version() -> None:
    router, _ = two_sessions()
    early = Client(router, "noisy")
    await early.open()
    await early.send(type="admit", participant_id="p_x")
    assert early.conn.last("error")["code"] == "not_joined"
    old = Client(router, "noisy")
    await old.open()
    await old.send(type="join", v=99, client_id=old.client_id, token=join_link("noisy")[0])
    assert old.conn.last("error")["code"] == "unsupported_version"
    assert old.conn.closed is not None
    assert old.conn.closed[0] == 4426
    await calm_session_still_works(router)


class StuckConnection(FakeConnection):
    """A client that stopped reading: every send blocks."""

    async def send(self, message_json: str) -> None:
        if self.sent:
            await asyncio.Event().wait()
        await super().send(message_json)


async def test_a_client_that_stops_reading_is_cut_off() -> None:
    backend = MemoryBackend()
    backend.add("noisy")
    backend.add("calm")
    router = make_router(backend, FakeRelay(), limits=ConnectionLimits(send_timeout=0.05))
    therapist = Client(router, "noisy", THERAPIST)
    await therapist.join()
    token, _ = join_link("noisy")
    stuck = Client(router, "noisy")
    stuck.conn = StuckConnection()
    stuck.handle = await router.connect("noisy", stuck.conn, None, None)
    await stuck.join(token=token)
    async with asyncio.timeout(5):  # without the send timeout this would hang: fail instead
        await therapist.send(type="admit", participant_id=stuck.participant_id)
    assert stuck.conn.closed is not None
    assert stuck.conn.closed[0] == 1008
    assert therapist.conn.closed is None
    await calm_session_still_works(router)
    await router.close()
