"""RTP-level forwarding (media/rtp/) between real aiortc peers: loss repair in both directions,
receiver reports and bandwidth estimates to the publisher, and refused packets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aioice import stun
from aiortc import RTCPeerConnection, RTCRtpReceiver
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, unpack_remb_fci

from media import Relay
from media.aiortc import datagram_protocols, ice_connection, negotiated_codec, receive_codecs
from media.feed import Feed
from media.rtp import instream
from media.rtp.congestion import START_CAP
from media.rtp.ingress import Ingress
from media.rtp.instream import InStream, InStreamEvents
from media.rtp.outstream import OutStream
from media.rtp.wire import FIXED_HEADER, header_length, rtp_ssrc
from media.stats import Counters
from media.testing.client import ClientPool, TestClient


def video_stream(relay: Relay, room_id: str, publisher: str) -> InStream:
    room = relay.get_room(room_id)
    assert room is not None
    feed: Feed = room.feeds(publisher)["video"]
    stream = feed.stream
    assert stream is not None
    return stream


def video_out(relay: Relay, room_id: str, subscriber: str) -> OutStream:
    room = relay.get_room(room_id)
    assert room is not None
    peer = room.peer(subscriber)
    assert peer is not None
    outs = [slot.out for slot in peer.slots if slot.kind == "video" and slot.out is not None]
    assert len(outs) == 1
    return outs[0]


async def call(relay: Relay, clients: ClientPool) -> tuple[TestClient, TestClient]:
    room = relay.room("session")
    alice = await clients.join(room, "alice")
    bob = await clients.join(room, "bob")
    await bob.wait_for(lambda: len(bob.stream("alice").video_numbers) >= 15, 10, "video")
    return alice, bob


async def call_with_alice_video(
    relay: Relay, clients: ClientPool
) -> tuple[TestClient, InStream, int]:
    """A running call; bob, and alice's video stream at the relay with its SSRC."""
    _, bob = await call(relay, clients)
    stream = video_stream(relay, "session", "alice")
    assert stream.media_ssrc is not None
    return bob, stream, stream.media_ssrc


async def test_packets_lost_before_the_relay_are_nacked_and_forwarded_from_rtx(
    relay: Relay, clients: ClientPool
) -> None:
    await call(relay, clients)
    stream = video_stream(relay, "session", "alice")
    out = video_out(relay, "session", "bob")
    dropped: set[int] = set()
    forwarded: list[int] = []
    take = stream.on_rtp
    forward = out.forward

    def lossy(packet: bytes, rtx: bool) -> None:
        seq = int.from_bytes(packet[2:4], "big")
        if not rtx and seq % 10 == 0 and len(dropped) < 5 and seq not in dropped:
            dropped.add(seq)  # lost on the way in, the first time only
            return
        take(packet, rtx)

    def record(source: object, packet: bytes, *args: Any) -> None:
        forwarded.append(args[1])  # the publisher's sequence number
        forward(source, packet, *args)

    stream.on_rtp = lossy  # type: ignore[method-assign]
    out.forward = record  # type: ignore[method-assign]
    nacks_before = relay.stats().rtp_nacks_sent
    for _ in range(100):
        await asyncio.sleep(0.05)
        if len(dropped) == 5 and dropped <= set(forwarded):
            break
    assert len(dropped) == 5
    assert relay.stats().rtp_nacks_sent > nacks_before
    # Each lost packet came back from the publisher over RTX and went on to the subscriber.
    assert dropped <= set(forwarded), (sorted(dropped), forwarded[-20:])


async def test_packets_lost_after_the_relay_are_resent_over_rtx(
    relay: Relay, clients: ClientPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await call(relay, clients)
    out = video_out(relay, "session", "bob")
    params = out.parameters
    assert params is not None
    assert params.rtx_payload_type is not None
    dropped: set[int] = set()
    resent: set[int] = set()
    transmit = out.transmit

    def lossy(packet: bytes) -> bool:
        seq = int.from_bytes(packet[2:4], "big")
        if packet[1] & 0x7F == params.rtx_payload_type:
            start = header_length(packet)
            resent.add(int.from_bytes(packet[start : start + 2], "big"))
        elif seq % 10 == 0 and len(dropped) < 5 and seq not in dropped:
            dropped.add(seq)
            return True  # "sent", lost on the way to the subscriber
        return transmit(packet)

    monkeypatch.setattr(out, "transmit", lossy)  # lost between the relay and bob
    for _ in range(100):
        await asyncio.sleep(0.05)
        if len(dropped) == 5 and dropped <= resent:
            break
    assert len(dropped) == 5
    # The subscriber NACKed them; the relay answered each from its history, over RTX.
    assert dropped <= resent, (sorted(dropped), sorted(resent))
    assert relay.stats().rtp_retransmitted_packets >= 5


async def test_publisher_gets_receiver_reports_and_the_subscribers_estimate(
    relay: Relay, clients: ClientPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, _ = await call(relay, clients)
    stream = video_stream(relay, "session", "alice")
    out = video_out(relay, "session", "bob")
    sent: list[Any] = []
    # Each REMB sent, with the subscriber's own estimate at that moment.
    caps: list[tuple[int, int | None]] = []
    send_rtcp = instream.send_rtcp

    async def capture(receiver: RTCRtpReceiver, packet: Any) -> None:
        if receiver is stream.receiver:
            sent.append(packet)
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
                assert ssrcs == [stream.media_ssrc]
                caps.append((bitrate, out.estimate()))
        await send_rtcp(receiver, packet)

    monkeypatch.setattr(instream, "send_rtcp", capture)
    # The cap passed on comes from the subscriber's estimate once it has sent one (until then
    # the relay's start cap): never below it (media/rtp/congestion.py, tested there).
    await alice.wait_for(
        lambda: any(estimate is not None for _, estimate in caps), 10, "REMB after bob's estimate"
    )
    assert caps[0][0] == START_CAP
    assert all(bitrate >= 0.95 * estimate for bitrate, estimate in caps if estimate is not None)
    # Alice's sender learnt how its video arrives from the relay's receiver reports.
    video_sender = next(t.sender for t in alice.pc.getTransceivers() if t.kind == "video")
    report = await video_sender.getStats()
    remote = [s for s in report.values() if s.type == "remote-inbound-rtp"]
    assert remote
    assert remote[0].packetsReceived > 0


async def test_forged_packets_are_refused_and_the_call_goes_on(
    relay: Relay, clients: ClientPool
) -> None:
    bob, stream, ssrc = await call_with_alice_video(relay, clients)
    connection = ice_connection(stream.receiver.transport)
    # SRTP with alice's SSRC but no valid authentication tag, then a truncated header: as if
    # someone on the path injected them.
    forged = bytes([0x80, 0x60]) + b"\x00\x01" + b"\x00" * 4 + ssrc.to_bytes(4, "big") + b"x" * 40
    connection.data_received(forged, 1)
    connection.data_received(forged[:13], 1)
    assert relay.stats().rtp_unprotect_failures >= 2
    before = len(bob.stream("alice").video_numbers)
    await bob.wait_for(
        lambda: len(bob.stream("alice").video_numbers) >= before + 15, 10, "video after forgery"
    )


async def test_publisher_rtp_skips_aioices_stun_parser(
    relay: Relay, clients: ClientPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    bob, stream, ssrc = await call_with_alice_video(relay, clients)
    protocols = datagram_protocols(stream.receiver.transport)
    assert protocols
    assert all("datagram_received" in vars(protocol) for protocol in protocols)
    parsed: list[bytes] = []
    parse = stun.parse_message

    def record(data: bytes) -> stun.Message:
        if rtp_ssrc(data) == ssrc:
            parsed.append(data)
        return parse(data)

    monkeypatch.setattr(stun, "parse_message", record)
    before = len(bob.stream("alice").video_numbers)
    await bob.wait_for(lambda: len(bob.stream("alice").video_numbers) >= before + 15, 10, "video")
    assert parsed == []


async def test_a_new_subscriber_starts_from_the_last_keyframe_without_asking(
    relay: Relay, clients: ClientPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No REMB to alice here: aiortc's encoder starts over with a keyframe when its target
    # bitrate moves, which would hide whether bob got the replayed one.
    monkeypatch.setattr(instream.InStream, "regulate", lambda self: None)
    room = relay.room("session")
    alice = await clients.join(room, "alice")
    stream = video_stream(relay, "session", "alice")
    await alice.wait_for(lambda: stream.media_ssrc is not None, 10, "alice's video at the relay")
    await asyncio.sleep(0.3)  # a few frames after alice's first (and only) keyframe
    requests = relay.stats().keyframe_requests
    bob = await clients.join(room, "bob")
    await bob.wait_for(lambda: len(bob.stream("alice").video_numbers) >= 15, 10, "video")
    got = bob.stream("alice")
    # Bob's stream began at alice's keyframe, replayed from the relay: every frame decodes, in
    # order, from the start of alice's video, and alice was never asked for another keyframe.
    assert got.video_unreadable == 0
    assert got.video_numbers[0] <= 2
    assert got.video_numbers == sorted(got.video_numbers)
    assert relay.stats().keyframe_requests == requests


async def test_an_ssrc_seen_before_aiortc_registered_it_is_taken_over_later(
    relay: Relay, clients: ClientPool
) -> None:
    bob, stream, ssrc = await call_with_alice_video(relay, clients)
    ingress = Ingress.on(stream.receiver.transport)
    assert ingress is not None
    # As if alice's first packet had come before aiortc's receiver knew her SSRC: the route
    # is missing and the SSRC was just looked for in vain.
    ingress.forget(ssrc)
    assert ingress.route(ssrc) is None
    before = len(bob.stream("alice").video_numbers)
    await bob.wait_for(
        lambda: len(bob.stream("alice").video_numbers) >= before + 30, 10, "video taken over"
    )
    assert ingress.route(ssrc) is stream


async def test_a_retransmission_before_any_media_does_not_become_the_streams_ssrc() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        await pc.createOffer()  # gives the m-line its payload types
        codec = negotiated_codec(transceiver)
        assert codec is not None
        media_type = codec.payloadType
        (rtx_type,) = [
            rtx for rtx, media in receive_codecs(transceiver).rtx.items() if media == media_type
        ]
        events = InStreamEvents(_nothing, _nothing, lambda _: None, _nothing)
        stream = InStream("video", transceiver, Counters(), events)
        rtx = FIXED_HEADER.pack(0x80, rtx_type, 7, 3000, 2222) + (41).to_bytes(2, "big") + b"\x10x"
        stream.on_rtp(rtx, True)
        assert stream.media_ssrc is None
        media = FIXED_HEADER.pack(0x80, media_type, 42, 3000, 1111) + b"\x10x"
        stream.on_rtp(media, False)
        assert stream.media_ssrc == 1111
        stream.close()
    finally:
        await pc.close()


def _nothing() -> None:
    return None
