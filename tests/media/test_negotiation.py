from __future__ import annotations

import asyncio
import re

import pytest
from aiortc import sdp

from media import NegotiationError, Relay
from media.rtp.twcc import TRANSPORT_CC_URI
from media.testing.client import ClientPool


async def test_answer_errors(relay: Relay, clients: ClientPool) -> None:
    room = relay.room("session")
    offers: list[tuple[str, int]] = []

    async def keep(offer: str, revision: int) -> None:
        offers.append((offer, revision))

    await room.join("alice", publish=True, on_offer=keep)
    assert [revision for _, revision in offers] == [1]
    with pytest.raises(NegotiationError):
        await room.answer("nobody", "v=0", 1)
    with pytest.raises(NegotiationError):
        await room.answer("alice", "this is not sdp", 1)
    with pytest.raises(NegotiationError):
        await room.answer("alice", offers[0][0].replace("a=recvonly", "a=sendonly"), 2)
    # An "answer" whose m-lines do not match the offer.
    with pytest.raises(NegotiationError):
        await room.answer("alice", offers[0][0].split("m=video")[0], 1)
    with pytest.raises(ValueError, match="token"):
        await room.join("has space", publish=True, on_offer=keep)


async def test_changes_while_waiting_are_coalesced(relay: Relay, clients: ClientPool) -> None:
    room = relay.room("session")
    alice = await clients.join(room, "alice")
    await alice.wait_idle()
    alice.answering.clear()  # alice is slow to answer from now on
    await clients.join(room, "bob")
    await clients.join(room, "carol")
    await clients.join(room, "observer", publish=False)
    await alice.wait_for(lambda: len(alice.offers) >= 2, 5, "offer 2")
    await asyncio.sleep(0.3)
    peer = room.peer("alice")
    assert peer is not None
    assert peer.awaiting_answer
    assert len(alice.offers) == 2, "one outstanding offer at a time"

    alice.answering.set()
    await alice.wait_for(lambda: len(alice.offers) == 3 and not peer.awaiting_answer, 10)
    await alice.wait_idle()
    assert [revision for _, revision in alice.offers] == [1, 2, 3]
    final = sdp.SessionDescription.parse(alice.offers[-1][0])
    streams = {m.msid.split(" ")[0] for m in final.media if m.direction == "sendonly" and m.msid}
    assert streams == {"bob", "carol"}
    await alice.wait_for(
        lambda: all(
            p in alice.received and len(alice.received[p].video_numbers) > 5
            for p in ("bob", "carol")
        ),
        10,
        "bob and carol at alice",
    )


def _renumber_vp8(answer: str) -> str:
    # Give VP8 payload type 120 in the answer (aiortc accepts an answerer's own numbers).
    answer = re.sub(r"^(m=video \d+ \S+) 97 98", r"\1 120 98", answer, flags=re.M)
    return (
        answer.replace("a=rtpmap:97 ", "a=rtpmap:120 ")
        .replace("a=rtcp-fb:97 ", "a=rtcp-fb:120 ")
        .replace("apt=97", "apt=120")
    )


async def test_negotiated_payload_types_survive_renegotiation(
    relay: Relay, clients: ClientPool
) -> None:
    room = relay.room("session")
    alice = await clients.join(room, "alice", answer_transform=_renumber_vp8)
    await alice.wait_idle()
    await clients.join(room, "bob")
    await alice.wait_for(lambda: len(alice.offers) >= 2, 10, "the re-offer")
    reoffer = sdp.SessionDescription.parse(alice.offers[1][0])
    video = next(m for m in reoffer.media if m.rtp.muxId == "1")
    assert [c.payloadType for c in video.rtp.codecs if c.name == "VP8"] == [120]
    # New m-lines get aiortc's defaults; only negotiated ones are kept.
    new_video = [m for m in reoffer.media if m.kind == "video" and m.rtp.muxId != "1"]
    assert [c.payloadType for c in new_video[0].rtp.codecs if c.name == "VP8"] == [97]
    extmaps = {m.rtp.muxId: [(e.id, e.uri) for e in m.rtp.headerExtensions] for m in reoffer.media}
    first = sdp.SessionDescription.parse(alice.answers[0])
    for media in first.media:
        # aiortc does not answer transport-cc (the relay offers it where it receives: below).
        kept = [pair for pair in extmaps[media.rtp.muxId] if pair[1] != TRANSPORT_CC_URI]
        assert kept == [(e.id, e.uri) for e in media.rtp.headerExtensions]
    # The transport-wide sequence number keeps its id on every offer, where the relay receives.
    offered = [
        {(m.rtp.muxId, e.id) for m in sdp.SessionDescription.parse(offer).media
         for e in m.rtp.headerExtensions if e.uri == TRANSPORT_CC_URI}
        for offer, _ in alice.offers[:2]
    ]  # fmt: skip
    assert offered[0] == offered[1]
    assert {mid for mid, _ in offered[0]} == {"0", "1"}
