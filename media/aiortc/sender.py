"""What the relay changes on, reads from and writes to an aiortc ``RTCRtpSender``.

aiortc 1.16.0 has no public API for reacting to a subscriber's keyframe request or NACK on a
sender whose packets it does not produce, for per-sender stream ids, or for what a sender
negotiated. A relay sender forwards packets instead of encoding frames, so each of these is
adapted on the one sender instance (never on the class); checked by
tests/media/aiortc/test_sender.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
from aiortc import RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import get_encoder, is_rtx
from aiortc.rtcrtpparameters import RTCRtpCodecParameters


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Route a subscriber's PLI/FIR to ``callback``.

    aiortc's ``_send_keyframe`` only sets a flag read by its encoder, which forwarded packets never
    reach. Overriding it on this one sender instance leaves every other sender alone.
    """
    sender._send_keyframe = callback  # type: ignore[method-assign]  # per instance, on purpose


def on_retransmit_request(sender: RTCRtpSender, callback: Callable[[int], None]) -> None:
    """Route a subscriber's NACKed sequence numbers to ``callback`` (per sender instance).

    aiortc's ``_retransmit`` looks in a history its own send loop fills; packets forwarded at the
    RTP level never enter it.
    """

    async def retransmit(sequence_number: int) -> None:
        callback(sequence_number)

    sender._retransmit = retransmit  # type: ignore[method-assign]  # per instance, on purpose


def set_sender_ids(sender: RTCRtpSender, stream_id: str, track_id: str) -> None:
    """Per-sender msid: aiortc gives every sender of a connection the same stream id."""
    sender._stream_id = stream_id
    sender._track_id = track_id


class CountingEncoder:
    """Stands in for a sender's encoder: packs forwarded packets, counts any real encode."""

    def __init__(self, codec_factory: Callable[[], Any], on_encode: Callable[[], None]) -> None:
        self._factory = codec_factory
        self._inner: Any = None
        self._on_encode = on_encode
        self._target_bitrate: int | None = None
        self.on_target_bitrate: Callable[[int], None] | None = None

    # aiortc stores a subscriber's REMB here (bits/s) as it arrives; the RTP-level path
    # passes it on to the publisher (media/rtp/congestion.py). Nothing encodes with it.
    @property
    def target_bitrate(self) -> int | None:
        return self._target_bitrate

    @target_bitrate.setter
    def target_bitrate(self, value: int) -> None:
        self._target_bitrate = value
        if self.on_target_bitrate is not None:
            self.on_target_bitrate(value)

    def _codec(self) -> Any:
        if self._inner is None:
            self._inner = self._factory()
        return self._inner

    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        self._on_encode()
        result: tuple[list[bytes], int] = self._codec().encode(frame, force_keyframe)
        return result

    def pack(self, packet: av.Packet[Any]) -> tuple[list[bytes], int]:
        result: tuple[list[bytes], int] = self._codec().pack(packet)
        return result


def install_counting_encoder(
    sender: RTCRtpSender, codec: RTCRtpCodecParameters, on_encode: Callable[[], None]
) -> None:
    """Pre-set the sender's lazily created encoder so encodes on the relay are measurable."""
    # Name-mangled private: checked by tests/media/aiortc/test_sender.py.
    encoder = CountingEncoder(lambda: get_encoder(codec), on_encode)
    sender._RTCRtpSender__encoder = encoder  # type: ignore[attr-defined]


def packetizer(codec: RTCRtpCodecParameters) -> Any:
    """aiortc's encoder for ``codec``, used only for ``pack(packet) -> (payloads, timestamp)``:
    an encoded frame split into RTP payloads the way aiortc's senders do (a load generator's
    publishers; aiortc has no public packetizer)."""
    return get_encoder(codec)


@dataclass(frozen=True)
class SendParameters:
    """What a subscriber's m-line negotiated for the relay's sender."""

    ssrc: int
    payload_type: int
    mid: str | None
    mid_id: int | None
    abs_send_time_id: int | None
    rtx_payload_type: int | None
    rtx_ssrc: int


_MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
_ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


def send_parameters(transceiver: RTCRtpTransceiver) -> SendParameters | None:
    """None before the m-line is negotiated (aiortc fills ``_codecs`` from the answer)."""
    if not transceiver._codecs or transceiver._codecs[0].payloadType is None:
        return None
    extensions = {ext.uri: ext.id for ext in transceiver._headerExtensions}
    sender = transceiver.sender
    media = transceiver._codecs[0].payloadType
    # As RTCRtpSender.send picks it (read here: send() may not have run yet).
    rtx = next(
        (
            codec.payloadType
            for codec in transceiver._codecs
            if is_rtx(codec) and codec.parameters.get("apt") == media
        ),
        None,
    )
    return SendParameters(
        ssrc=sender._ssrc,
        payload_type=int(transceiver._codecs[0].payloadType),
        mid=transceiver.mid,
        mid_id=extensions.get(_MID_URI),
        abs_send_time_id=extensions.get(_ABS_SEND_TIME_URI),
        rtx_payload_type=rtx,
        rtx_ssrc=sender._rtx_ssrc,
    )


def record_sent(
    sender: RTCRtpSender, ntp: int, rtp_timestamp: int, packets: int, octets: int
) -> None:
    """Feed the sender's RTCP sender reports (``_run_rtcp``) with what was sent around it.

    The receiver lines audio up with video through these (NTP time <-> RTP timestamp).
    """
    sender._RTCRtpSender__ntp_timestamp = ntp  # type: ignore[attr-defined]
    sender._RTCRtpSender__rtp_timestamp = rtp_timestamp  # type: ignore[attr-defined]
    sender._RTCRtpSender__packet_count = packets  # type: ignore[attr-defined]
    sender._RTCRtpSender__octet_count = octets  # type: ignore[attr-defined]


def on_bandwidth_estimate(sender: RTCRtpSender, callback: Callable[[int], None]) -> bool:
    """Call ``callback(bits_per_second)`` on each REMB the subscriber sends for this sender
    (the sender's ``CountingEncoder`` must be installed); False if it is not."""
    encoder = sender._RTCRtpSender__encoder  # type: ignore[attr-defined]
    if not isinstance(encoder, CountingEncoder):
        return False
    encoder.on_target_bitrate = callback
    return True
