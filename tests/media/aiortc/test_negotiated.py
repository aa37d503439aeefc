"""Pins what media/aiortc/negotiated.py relies on: where aiortc keeps a transceiver's codecs."""

from __future__ import annotations

import inspect

from aiortc import RTCPeerConnection

from media.aiortc import (
    answered_transport_cc,
    negotiated_codec,
    offer_transport_cc,
    parse_sdp,
    receive_codecs,
    remember_negotiated,
    restore_negotiated,
)


def test_offer_resets_codecs() -> None:
    # Why restore_negotiated puts the negotiated codecs back after createOffer.
    source = inspect.getsource(RTCPeerConnection.createOffer)
    assert "transceiver._codecs = filter_preferred_codecs(" in source
    assert "transceiver._headerExtensions = HEADER_EXTENSIONS" in source


async def test_codecs_are_kept_on_the_transceiver() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        assert transceiver._codecs == []
        assert negotiated_codec(transceiver) is None
        offer = await pc.createOffer()
        codec = negotiated_codec(transceiver)
        assert codec is not None
        assert codec.mimeType == "video/VP8"
        codecs = receive_codecs(transceiver)
        assert codec.payloadType in codecs.media
        assert codec.payloadType in codecs.rtx.values()
        (media,) = parse_sdp(offer.sdp).media
        assert [c.payloadType for c in media.rtp.codecs] == [
            c.payloadType for c in transceiver._codecs
        ]
    finally:
        await pc.close()


async def test_a_re_offer_keeps_what_was_negotiated() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())  # gives the m-line its mid
        kept = remember_negotiated(pc.getTransceivers())
        assert transceiver.mid is not None
        assert set(kept) == {transceiver.mid}
        vp8_only = [c for c in transceiver._codecs if c.mimeType in ("video/VP8", "video/rtx")]
        transceiver._codecs = vp8_only[:2]  # as an answer narrows them
        kept = remember_negotiated(pc.getTransceivers())
        offer = await pc.createOffer()  # resets the transceiver's codecs
        assert len(transceiver._codecs) > 2
        restored = restore_negotiated(offer.sdp, pc.getTransceivers(), kept)
        assert transceiver._codecs == vp8_only[:2]
        (media,) = parse_sdp(restored).media
        assert media.fmt == [c.payloadType for c in vp8_only[:2]]
    finally:
        await pc.close()


URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"


async def test_transport_cc_is_offered_where_the_relay_receives_with_a_free_stable_id() -> None:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("video", direction="sendonly")
        offer = (await pc.createOffer()).sdp
        sdp, ext_id = offer_transport_cc(offer, URI, "transport-cc", None)
        media = parse_sdp(sdp).media
        others = {e.id for m in media for e in m.rtp.headerExtensions if e.uri != URI}
        assert ext_id is not None
        assert ext_id not in others  # BUNDLE: one id, one extension, on every m-line
        for m in media:
            ids = [e.id for e in m.rtp.headerExtensions if e.uri == URI]
            feedback = {f.type for c in m.rtp.codecs if c.name != "rtx" for f in c.rtcpFeedback}
            if m.direction == "recvonly":
                assert ids == [ext_id]
                assert "transport-cc" in feedback
            else:
                assert ids == []
                assert "transport-cc" not in feedback
        # Offered again (a renegotiation): the same id, once.
        again, same = offer_transport_cc(sdp, URI, "transport-cc", ext_id)
        assert same == ext_id
        assert again.count(URI) == 2
        # An answer that sends with it says which id it took.
        answer = sdp.replace("a=recvonly", "a=sendonly")
        assert answered_transport_cc(parse_sdp(answer), URI) == ext_id
        assert (
            answered_transport_cc(parse_sdp(offer.replace("a=recvonly", "a=sendonly")), URI) is None
        )
    finally:
        await pc.close()
