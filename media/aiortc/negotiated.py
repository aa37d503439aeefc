"""What aiortc negotiated: SDP as aiortc parses it, and the codecs and header extensions it keeps
on each transceiver.

aiortc 1.16.0 keeps a transceiver's negotiated codecs and header extensions private
(``_codecs``, ``_headerExtensions``), and its SDP parser (``aiortc.sdp``) is not part of its
public API. The relay reads both, and writes the former back after every ``createOffer``,
which resets them (see ``restore_negotiated``). aiortc knows nothing of transport-wide
congestion control: the relay adds it to its offers itself (``offer_transport_cc``) and reads
it from the answer (``answered_transport_cc``); aiortc drops it from what it keeps, harmlessly,
as the relay handles those packets below it. Per transceiver; checked by
tests/media/aiortc/test_negotiated.py.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from aiortc import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import RTCRtcpFeedback
from aiortc.sdp import SessionDescription

# The m-lines whose numbering is kept across offers: the media ones.
_MEDIA_KINDS = ("audio", "video")


def parse_sdp(text: str) -> SessionDescription:
    """aiortc's parse of a session description (raises whatever a bad line provokes)."""
    return SessionDescription.parse(text)


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
    description = SessionDescription.parse(offer_sdp)
    description.type = "offer"
    for media in description.media:
        kept = negotiated.get(media.rtp.muxId) if media.kind in _MEDIA_KINDS else None
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


def offer_transport_cc(
    offer_sdp: str, uri: str, feedback: str, preferred_id: int | None
) -> tuple[str, int | None]:
    """Offer the transport-wide sequence number extension (``uri``) and its RTCP feedback
    (``feedback``) on the m-lines where the relay receives (``recvonly``).

    The id is ``preferred_id`` (the one offered before: kept across renegotiation, like the
    others) if no other extension holds it, else the lowest id no m-line uses for anything
    else (with BUNDLE, an id means one extension on every m-line). Returns the offer and the id
    (None when no m-line receives media).
    """
    description = SessionDescription.parse(offer_sdp)
    receiving = [
        m for m in description.media if m.kind in _MEDIA_KINDS and m.direction == "recvonly"
    ]
    if not receiving:
        return offer_sdp, None
    taken = {
        ext.id
        for m in description.media
        for ext in m.rtp.headerExtensions
        if ext.uri != uri and ext.id is not None
    }
    ext_id = preferred_id
    if ext_id is None or ext_id in taken:
        ext_id = next(i for i in range(1, 15) if i not in taken)
    for media in receiving:
        media.rtp.headerExtensions = [e for e in media.rtp.headerExtensions if e.uri != uri]
        media.rtp.headerExtensions.append(RTCRtpHeaderExtensionParameters(id=ext_id, uri=uri))
        for codec in media.rtp.codecs:
            if not is_rtx(codec) and all(f.type != feedback for f in codec.rtcpFeedback):
                codec.rtcpFeedback.append(RTCRtcpFeedback(type=feedback))
    return str(description), ext_id


def answered_transport_cc(answer: SessionDescription, uri: str) -> int | None:
    """The id the answer gave extension ``uri`` on the m-lines where the remote side sends."""
    for media in answer.media:
        if media.kind in _MEDIA_KINDS and media.direction in ("sendonly", "sendrecv"):
            for ext in media.rtp.headerExtensions:
                if ext.uri == uri:
                    return int(ext.id)
    return None


def negotiated_codec(transceiver: RTCRtpTransceiver) -> RTCRtpCodecParameters | None:
    """The codec the m-line sends with (its first negotiated one); None before negotiation."""
    return transceiver._codecs[0] if transceiver._codecs else None


@dataclass(frozen=True)
class ReceiveCodecs:
    """Payload types a publisher's m-line negotiated: media, and RTX -> its media type."""

    media: frozenset[int]
    rtx: dict[int, int]


def receive_codecs(transceiver: RTCRtpTransceiver) -> ReceiveCodecs:
    media: set[int] = set()
    rtx: dict[int, int] = {}
    for codec in transceiver._codecs:
        apt = codec.parameters.get("apt")
        if codec.payloadType is None:
            continue
        if is_rtx(codec) and isinstance(apt, int):
            rtx[codec.payloadType] = apt
        else:
            media.add(codec.payloadType)
    return ReceiveCodecs(frozenset(media), rtx)
