"""What aiortc negotiated: SDP as aiortc parses it, and the codecs and header extensions it keeps
on each transceiver.

aiortc 1.16.0 keeps a transceiver's negotiated codecs and header extensions private
(``_codecs``, ``_headerExtensions``), and its SDP parser (``aiortc.sdp``) is not part of its
public API. The relay reads both, and writes the former back after every ``createOffer``,
which resets them (see ``restore_negotiated``). Per transceiver; checked by
tests/media/aiortc/test_negotiated.py.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from aiortc import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters, RTCRtpTransceiver
from aiortc.codecs import is_rtx
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
