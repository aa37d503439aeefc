"""SDP rules the relay enforces on top of aiortc: forced codecs, and answers checked before aiortc
applies them (payload types kept across re-offers: ``media.aiortc.restore_negotiated``)."""

from __future__ import annotations

from aiortc import (
    RTCRtpCodecCapability,
    RTCRtpCodecParameters,
    RTCRtpSender,
    RTCRtpTransceiver,
)

from media.aiortc import SessionDescription, parse_sdp
from media.errors import NegotiationError, PublishNotAllowed

# Everyone gets VP8 + Opus: a forwarding relay cannot translate between codecs.
FORCED_MIME_TYPES = {"video": "video/VP8", "audio": "audio/opus"}
FORCED_CLOCK_RATES = {"video": 90000, "audio": 48000}
_SENDING = ("sendrecv", "sendonly")


def forced_codec(kind: str) -> RTCRtpCodecParameters:
    return RTCRtpCodecParameters(
        mimeType=FORCED_MIME_TYPES[kind],
        clockRate=FORCED_CLOCK_RATES[kind],
        channels=2 if kind == "audio" else None,
    )


def force_codecs(transceiver: RTCRtpTransceiver) -> None:
    wanted = FORCED_MIME_TYPES[transceiver.kind].lower()
    preferences: list[RTCRtpCodecCapability] = [
        codec
        for codec in RTCRtpSender.getCapabilities(transceiver.kind).codecs
        # RTX keeps NACK retransmissions on their own SSRC, as browsers expect.
        if codec.mimeType.lower() in (wanted, f"{transceiver.kind}/rtx")
    ]
    transceiver.setCodecPreferences(preferences)


def parse_answer(answer_sdp: str, offer_sdp: str) -> SessionDescription:
    """Parse and check an answer against our offer before aiortc applies it."""
    try:
        answer = parse_sdp(answer_sdp)
    except Exception as exc:  # aiortc's parser raises whatever the bad line provokes
        raise NegotiationError(f"unparseable answer: {exc}") from exc
    offer = parse_sdp(offer_sdp)
    if [(m.kind, m.rtp.muxId) for m in answer.media] != [
        (m.kind, m.rtp.muxId) for m in offer.media
    ]:
        raise NegotiationError("answer media sections do not match the offer")
    for offered, answered in zip(offer.media, answer.media, strict=True):
        if offered.direction == "sendonly" and answered.direction in _SENDING:
            raise PublishNotAllowed(
                f"m-line {answered.rtp.muxId} is receive-only for this participant "
                f"but the answer says {answered.direction}"
            )
        if answered.kind in FORCED_MIME_TYPES and answered.direction != "inactive":
            names = {c.mimeType.lower() for c in answered.rtp.codecs}
            if FORCED_MIME_TYPES[answered.kind].lower() not in names:
                raise NegotiationError(
                    f"m-line {answered.rtp.muxId} must use {FORCED_MIME_TYPES[answered.kind]}"
                )
    return answer
