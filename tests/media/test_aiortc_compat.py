"""Fail loudly when the pinned aiortc moves: every internal media/aiortc_compat.py relies on."""

from __future__ import annotations

import asyncio
import fractions
import inspect
import queue
import threading

import aioice
import aiortc
import av
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, rtcpeerconnection
from aiortc import rtcrtpreceiver as receiver_module
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from media import aiortc_compat
from media.aiortc_compat import PassthroughQueue
from media.testing.pattern import decode_frame_number, pattern_frame

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)


def test_pinned_version() -> None:
    assert aiortc.__version__ == aiortc_compat.PINNED_AIORTC_VERSION == "1.16.0"
    aiortc_compat.check_version()


def test_receiver_shapes() -> None:
    # The decoder thread is started with the module-level decoder_worker and the track's queue.
    receive = inspect.getsource(RTCRtpReceiver.receive)
    assert "target=decoder_worker" in receive
    assert "self._track._queue" in receive
    worker = inspect.signature(inspect.unwrap(receiver_module.decoder_worker))
    assert list(worker.parameters) == ["loop", "input_q", "output_q", "decode_error"]
    # setRemoteDescription keeps a track that is already there.
    assert "not transceiver.receiver.track" in inspect.getsource(
        RTCPeerConnection.setRemoteDescription
    )
    for name in ("_send_rtcp_pli", "_handle_rtcp_packet", "getSynchronizationSources"):
        assert callable(getattr(RTCRtpReceiver, name))
    assert list(inspect.signature(RTCRtpReceiver._send_rtcp_pli).parameters) == [
        "self",
        "media_ssrc",
    ]
    # Encoded frames come with wrap-free timestamps from 0; recorders need the origin.
    assert "self.__timestamp_mapper.map" in inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    mapper = receiver_module.TimestampMapper()
    assert mapper._origin is None
    mapper.map(1234)
    assert mapper._origin == 1234
    assert "self.__timestamp_mapper = TimestampMapper()" in inspect.getsource(
        RTCRtpReceiver.__init__
    )


async def test_sender_shapes() -> None:
    source = inspect.getsource(RTCRtpSender._next_encoded_frame)
    assert "if self.__encoder is None:" in source
    assert "self.__encoder.pack(data)" in source
    assert "isinstance(data, Frame)" in source
    assert "_send_keyframe()" in inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    assert "MediaStreamError" in inspect.getsource(RTCRtpSender._run_rtp)
    assert "_RTCRtpSender__encoder" in vars(_sender())
    sender = _sender()
    assert {"_stream_id", "_track_id", "_ssrc"} <= set(vars(sender))
    media = inspect.getsource(rtcpeerconnection.create_media_description_for_transceiver)
    assert "transceiver.sender._stream_id" in media
    assert "transceiver.sender._track_id" in media


def test_offer_resets_codecs() -> None:
    # Why media/negotiation.py restores negotiated codecs after createOffer.
    source = inspect.getsource(RTCPeerConnection.createOffer)
    assert "transceiver._codecs = filter_preferred_codecs(" in source
    assert "transceiver._headerExtensions = HEADER_EXTENSIONS" in source


async def test_ice_shapes() -> None:
    pc = RTCPeerConnection()
    pc.addTransceiver("video")
    transports = pc._RTCPeerConnection__iceTransports  # type: ignore[attr-defined]
    (transport,) = transports
    connection = transport.iceGatherer._connection
    assert isinstance(connection, aioice.Connection)
    assert connection._local_candidates_start is False
    assert list(inspect.signature(connection.get_component_candidates).parameters) == [
        "component",
        "addresses",
        "timeout",
    ]
    aiortc_compat.add_loopback_candidates(pc)
    assert getattr(connection, "_tandem_loopback", False) is True
    await pc.close()


def _sender() -> RTCRtpSender:
    pc = RTCPeerConnection()
    return pc.addTransceiver("video").sender


def test_install_is_idempotent_and_keeps_the_original() -> None:
    aiortc_compat.install()
    first = receiver_module.decoder_worker
    aiortc_compat.install()
    assert receiver_module.decoder_worker is first
    assert aiortc_compat.is_installed()
    assert not getattr(inspect.unwrap(first), "_tandem_dispatcher", False)


def _encoded_frames(count: int) -> list[JitterFrame]:
    encoder = Vp8Encoder()
    frames = []
    for n in range(count):
        frame = pattern_frame(n)
        frame.pts = n * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        payloads, timestamp = encoder.encode(frame)
        data = b"".join(vp8_depayload(p) for p in payloads)
        frames.append(JitterFrame(data, timestamp))
    return frames


def _run_worker(output_q: object, frames: list[JitterFrame]) -> None:
    loop = asyncio.get_running_loop()
    input_q: queue.Queue[object] = queue.Queue()
    for frame in frames:
        input_q.put((VP8, frame))
    input_q.put(None)
    thread = threading.Thread(
        target=receiver_module.decoder_worker,
        args=(loop, input_q, output_q, threading.Event()),
    )
    thread.start()
    thread.join()


async def test_relay_receivers_get_packets() -> None:
    aiortc_compat.install()
    frames = _encoded_frames(3)
    output = PassthroughQueue(16)
    _run_worker(output, frames)
    await asyncio.sleep(0.05)  # deliveries are scheduled with call_soon_threadsafe
    packets = [await output.get() for _ in range(4)]
    assert packets[-1] is None
    first = packets[0]
    assert isinstance(first, av.Packet)
    assert bytes(first) == frames[0].data
    assert first.pts == frames[0].timestamp
    assert first.time_base == fractions.Fraction(1, 90000)
    assert [p.is_keyframe for p in packets[:3] if p is not None] == [True, False, False]


async def test_other_receivers_still_decode() -> None:
    aiortc_compat.install()
    output: asyncio.Queue[object] = asyncio.Queue()
    _run_worker(output, _encoded_frames(2))
    await asyncio.sleep(0.05)
    decoded = [await output.get() for _ in range(3)]
    assert decoded[-1] is None
    assert [decode_frame_number(f) for f in decoded[:2]] == [0, 1]  # type: ignore[arg-type]


async def test_counting_encoder_counts_real_encodes() -> None:
    calls: list[int] = []
    sender = _sender()
    aiortc_compat.install_counting_encoder(sender, VP8, lambda: calls.append(1))
    encoder = sender._RTCRtpSender__encoder  # type: ignore[attr-defined]
    frame = pattern_frame(0)
    frame.pts = 0
    frame.time_base = fractions.Fraction(1, 90000)
    payloads, _ = encoder.encode(frame, False)
    assert payloads
    assert calls == [1]
    packet = av.Packet(b"\x10\x02\x00")
    packet.pts = 3000
    packet.time_base = fractions.Fraction(1, 90000)
    assert encoder.pack(packet)[0]
    assert calls == [1]


def test_vp8_keyframe_bit() -> None:
    assert aiortc_compat.is_vp8_keyframe(b"\x10")
    assert not aiortc_compat.is_vp8_keyframe(b"\x11")
    assert not aiortc_compat.is_vp8_keyframe(b"")
