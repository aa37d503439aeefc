"""Pins what media/aiortc/negotiated.py relies on: where aiortc keeps a transceiver's codecs."""

from __future__ import annotations

import inspect

from aiortc import RTCPeerConnection

from media.aiortc import (
    negotiated_codec,
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
