"""20,000 mutated frames through the real session state machine and the real relay: every frame
gets an answer or a close, nothing raises, nothing is logged as an unhandled error."""

from __future__ import annotations

import json
import logging
import os
import random
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from fuzz_frames import frames, mutated_sdp
from signaling_fakes import SECRET, FakeConnection, MemoryBackend, join_link

from media import Relay, RelayConfig
from signaling.local_router import ConnectionLimits, LocalHandle, LocalRouter, SessionHostFactory
from signaling.ports import Identity, TherapistIdentity
from signaling.session import SessionConfig
from signaling.tokens import TokenSigner

FRAMES = 20_000
SEED = int(os.environ.get("TANDEM_FUZZ_SEED", "20261206"))
THERAPIST = TherapistIdentity("u1", "Dr. Tess")


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Actor:
    def __init__(self, role: str, identity: Identity = None) -> None:
        self.role = role
        self.identity = identity
        self.conn = FakeConnection()
        self.handle: LocalHandle | None = None
        self.client_id = f"fuzz-{role}-0001"
        self.rejoin: str | None = None

    def closed(self) -> bool:
        return self.handle is None or self.conn.closed is not None

    def last_offer(self) -> tuple[int, str] | None:
        offers = [m for m in self.conn.sent if m["type"] == "offer"]
        return (int(offers[-1]["revision"]), str(offers[-1]["sdp"])) if offers else None


async def real_answer(offer_sdp: str) -> str:
    """A real aiortc answer to the relay's offer: mutating near-valid SDP reaches deeper code."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)
    finally:
        await pc.close()


async def test_twenty_thousand_mutated_frames_break_nothing() -> None:
    rng = random.Random(SEED)
    backend = MemoryBackend()
    relay = Relay(RelayConfig())
    factory = SessionHostFactory(relay, backend, TokenSigner(SECRET), SessionConfig())
    # Generous limits: the fuzz should reach deep states, not be closed after five frames.
    limits = ConnectionLimits(rate=1e9, burst=1e9, max_strikes=10**9, max_refusals=10**9)
    router = LocalRouter(backend, factory, limits)
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    sessions = 0
    session_id = ""
    actors: list[Actor] = []
    outcomes: dict[str, int] = {}
    answers: dict[str, str] = {}

    async def new_session() -> None:
        nonlocal sessions, session_id, actors
        sessions += 1
        session_id = f"fuzz{sessions}"
        backend.add(session_id)
        actors = [Actor("therapist", THERAPIST), Actor("parent"), Actor("observer")]

    async def ensure_joined(actor: Actor) -> None:
        actor.conn = FakeConnection()
        actor.handle = await router.connect(session_id, actor.conn, actor.identity, "203.0.113.9")
        join: dict[str, Any] = {"type": "join", "v": 1, "client_id": actor.client_id}
        if actor.role != "therapist":
            join["token"] = join_link(session_id, actor.role)[0]
            if actor.rejoin:
                join["rejoin"] = actor.rejoin
        await actor.handle.receive(json.dumps(join))
        therapist = actors[0]
        welcome = [m for m in actor.conn.sent if m["type"] == "welcome"]
        if actor is not therapist and welcome and welcome[-1]["lobby"] and not therapist.closed():
            assert therapist.handle is not None
            admit = {"type": "admit", "participant_id": welcome[-1]["participant_id"]}
            await therapist.handle.receive(json.dumps(admit))
            admitted = [m for m in actor.conn.sent if m["type"] == "admitted"]
            if admitted:
                actor.rejoin = admitted[-1]["rejoin"]

    try:
        await new_session()
        for frame in frames(SEED, FRAMES):
            if any(m["type"] == "ended" for a in actors for m in a.conn.sent):
                await new_session()
            actor = rng.choice(actors)
            if actor.closed():
                await ensure_joined(actor)
                if actor.closed():
                    continue
            offer = actor.last_offer()
            if offer is not None and rng.random() < 0.05:
                revision, offer_sdp = offer
                if offer_sdp not in answers:
                    answers[offer_sdp] = await real_answer(offer_sdp)
                sdp = mutated_sdp(rng, answers[offer_sdp])
                revision += rng.choice([0, 0, 0, 1, -1])
                frame = json.dumps({"type": "answer", "sdp": sdp, "revision": max(revision, 0)})
            sent_before = len(actor.conn.sent)
            assert actor.handle is not None
            await actor.handle.receive(frame)
            replies = actor.conn.sent[sent_before:]
            reply = replies[-1]["type"] if replies else "none"
            if reply == "error":
                reply = "error:" + replies[-1]["code"]
            outcomes[reply] = outcomes.get(reply, 0) + 1
            # An "internal" error is a failure the server did not foresee: a bug.
            assert not [m for m in replies if m.get("code") == "internal"], (frame[:300], replies)
    finally:
        logging.getLogger().removeHandler(errors)
        await router.close()
        await relay.close()

    print(f"fuzz seed {SEED}: {FRAMES} frames over {sessions} sessions; replies {outcomes}")
    assert not errors.records, [r.getMessage() for r in errors.records[:5]]
    refused = sum(n for reply, n in outcomes.items() if reply.startswith("error:"))
    assert refused > FRAMES // 2  # most mutated frames are refused, visibly
    # The fuzz reached the relay's answer parsing, not only the JSON layer.
    assert outcomes.get("error:negotiation_failed", 0) > 100
