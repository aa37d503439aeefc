"""SDP rules the relay enforces on top of aiortc: forced codecs, stable payload types, answers."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from aiortc import RTCRtpSender, RTCRtpTransceiver, sdp
from aiortc.rtcrtpparameters import (
    RTCRtpCodecCapability,
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
)

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


@dataclass(frozen=True)
class Negotiated:
    codecs: list[RTCRtpCodecParameters]
    header_extensions: list[RTCRtpHeaderExtensionParameters]


def remember_negotiated(transceivers: list[RTCRtpTransceiver]) -> dict[str, Negotiated]:
    return {
        t.mid: Negotiated(copy.deepcopy(t._codecs), copy.deepcopy(t._headerExtensions))
        for t in transceivers
        if t.mid is not None and t._codecs
    }


def restore_negotiated(
    offer_sdp: str, transceivers: list[RTCRtpTransceiver], negotiated: dict[str, Negotiated]
) -> str:
    """Undo aiortc's ``createOffer`` reset of payload types and header extension ids.

    A receiver reads its codecs once, when it starts: if a re-offer renumbered them, packets of
    an already running stream would arrive with a payload type it does not know.
    """
    description = sdp.SessionDescription.parse(offer_sdp)
    description.type = "offer"
    for media in description.media:
        kept = negotiated.get(media.rtp.muxId) if media.kind in FORCED_MIME_TYPES else None
        if kept is None:
            continue
        media.rtp.codecs = copy.deepcopy(kept.codecs)
        media.fmt = [codec.payloadType for codec in kept.codecs]
        media.rtp.headerExtensions = copy.deepcopy(kept.header_extensions)
    for transceiver in transceivers:
        if transceiver.mid in negotiated:
            kept = negotiated[transceiver.mid]
            transceiver._codecs = copy.deepcopy(kept.codecs)
            transceiver._headerExtensions = copy.deepcopy(kept.header_extensions)
    return str(description)


def parse_answer(answer_sdp: str, offer_sdp: str) -> sdp.SessionDescription:
    """Parse and check an answer against our offer before aiortc applies it."""
    try:
        answer = sdp.SessionDescription.parse(answer_sdp)
    except Exception as exc:  # aiortc's parser raises whatever the bad line provokes
        raise NegotiationError(f"unparseable answer: {exc}") from exc
    offer = sdp.SessionDescription.parse(offer_sdp)
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
