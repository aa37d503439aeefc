"""Pins what media/aiortc/passthrough.py relies on, and checks its receivers work: frames
leave on the loop, video on its marker, audio on arrival, and other receivers still decode."""

from __future__ import annotations

import asyncio
import fractions
import inspect
import queue
import threading
from typing import Any

import av
import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver
from aiortc import rtcrtpreceiver as receiver_module
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpDecodingParameters,
    RTCRtpReceiveParameters,
)
from aiortc.rtp import RtpPacket
from mangled import mangled

from media.aiortc import install, is_installed, make_passthrough_receiver
from media.aiortc.passthrough import (
    DirectDelivery,
    PassthroughQueue,
    PassthroughTrack,
    is_vp8_keyframe,
)
from media.testing.pattern import decode_frame_number, pattern_frame

VP8_PT, OPUS_PT = 97, 96
VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=VP8_PT)
OPUS = RTCRtpCodecParameters(
    mimeType="audio/opus", clockRate=48000, channels=2, payloadType=OPUS_PT
)


def test_receiver_shapes() -> None:
    # The decoder thread is started with the module-level decoder_worker, the decoder queue and
    # the track's queue; a pass-through receiver's decoder queue is a DirectDelivery.
    receive = inspect.getsource(RTCRtpReceiver.receive)
    assert "target=decoder_worker" in receive
    assert "self.__decoder_queue," in receive
    assert "self._track._queue" in receive
    worker = inspect.signature(inspect.unwrap(receiver_module.decoder_worker))
    assert list(worker.parameters) == ["loop", "input_q", "output_q", "decode_error"]
    assert "self.__decoder_queue: queue.Queue = queue.Queue()" in inspect.getsource(
        RTCRtpReceiver.__init__
    )
    # Complete frames are put on the decoder queue from the event loop, one (codec, frame)
    # tuple each, while the thread object is set; stopping puts None and joins the thread.
    handle = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "if encoded_frame is not None and self.__decoder_thread:" in handle
    assert "self.__decoder_queue.put((codec, encoded_frame))" in handle
    stop = inspect.getsource(mangled(RTCRtpReceiver, RTCRtpReceiver, "stop_decoder"))
    assert "self.__decoder_queue.put(None)" in stop
    assert "self.__decoder_thread.join()" in stop
    # Pass-through receivers get their own jitter buffers in place of these two; frames come
    # out of add() (one at most per packet), after NACK bookkeeping and depayloading.
    init = inspect.getsource(RTCRtpReceiver.__init__)
    assert "self.__jitter_buffer = JitterBuffer(capacity=16, prefetch=4)" in init
    assert "self.__jitter_buffer = JitterBuffer(capacity=512, is_video=True)" in init
    add = handle.index("pli_flag, encoded_frame = self.__jitter_buffer.add(packet)")
    assert handle.index("self.__nack_generator.add(packet)") < add
    assert handle.index("packet._data = depayload(codec, packet.payload)") < add
    assert "return pli_flag, self._remove_frame(packet.sequence_number)" in inspect.getsource(
        JitterBuffer.add
    )
    assert list(inspect.signature(JitterBuffer._remove_frame).parameters) == [
        "self",
        "sequence_number",
    ]
    assert {"_origin", "_packets", "_capacity"} <= set(vars(JitterBuffer(capacity=16)))
    assert list(inspect.signature(JitterBuffer.remove).parameters) == ["self", "count"]
    # setRemoteDescription keeps a track that is already there.
    assert "not transceiver.receiver.track" in inspect.getsource(
        RTCPeerConnection.setRemoteDescription
    )
    # Encoded frames come with wrap-free timestamps from 0 (the packets' pts).
    assert "self.__timestamp_mapper.map" in handle


def test_install_is_idempotent_and_keeps_the_original() -> None:
    install()
    first = receiver_module.decoder_worker
    install()
    assert receiver_module.decoder_worker is first
    assert is_installed()
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


def _run_worker(input_q: object, output_q: object) -> None:
    thread = threading.Thread(
        target=receiver_module.decoder_worker,
        args=(asyncio.get_running_loop(), input_q, output_q, threading.Event()),
    )
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive()


def _rtp_packets(frames: list[JitterFrame], size: int = 40) -> list[list[RtpPacket]]:
    """The RTP packets of each frame (VP8 payload descriptors, marker on each frame's last)."""
    result: list[list[RtpPacket]] = []
    sequence = 100
    for frame in frames:
        payloads = vp8_payloads(frame.data, size)
        packets = []
        for index, payload in enumerate(payloads):
            packets.append(
                RtpPacket(
                    payload_type=VP8_PT,
                    marker=int(index == len(payloads) - 1),
                    sequence_number=sequence,
                    timestamp=frame.timestamp,
                    ssrc=1234,
                    payload=payload,
                )
            )
            sequence += 1
        result.append(packets)
    return result


def vp8_payloads(data: bytes, size: int) -> list[bytes]:
    # RFC 7741 payload descriptor without extensions: S bit on the first packet, partition 0.
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    return [(b"\x10" if i == 0 else b"\x00") + chunk for i, chunk in enumerate(chunks)]


async def _passthrough_receiver(
    kind: str = "video",
) -> tuple[RTCPeerConnection, RTCRtpReceiver, PassthroughTrack]:
    codec, payload_type = (VP8, VP8_PT) if kind == "video" else (OPUS, OPUS_PT)
    pc = RTCPeerConnection()
    receiver = pc.addTransceiver(kind, direction="recvonly").receiver
    track = make_passthrough_receiver(receiver, kind, 64, None)
    await receiver.receive(
        RTCRtpReceiveParameters(
            codecs=[codec],
            encodings=[RTCRtpDecodingParameters(ssrc=1234, payloadType=payload_type)],
        )
    )
    return pc, receiver, track


def _queued(track: PassthroughTrack) -> list[av.Packet[Any] | None]:
    return [track.queue.get_nowait() for _ in range(track.queue.qsize())]


async def test_video_frame_leaves_on_its_marker_not_on_the_next_frame() -> None:
    frames = _encoded_frames(2)
    first, second = _rtp_packets(frames)
    assert len(first) > 1
    pc, receiver, track = await _passthrough_receiver()
    for packet in first[:-1]:
        await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
        assert track.queue.qsize() == 0  # incomplete: no marker yet
    await receiver._handle_rtp_packet(first[-1], arrival_time_ms=0)
    # Released before any packet of the next frame arrived (aiortc's buffer waits for one).
    (released,) = _queued(track)
    assert released is not None
    assert bytes(released) == frames[0].data
    for rtp in second:
        await receiver._handle_rtp_packet(rtp, arrival_time_ms=0)
    (released,) = _queued(track)  # the first frame is not released twice
    assert released is not None
    assert bytes(released) == frames[1].data
    await pc.close()


async def test_video_frame_still_waits_for_a_retransmission(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = _encoded_frames(1)
    (packets,) = _rtp_packets(frames)
    assert len(packets) >= 3
    pc, receiver, track = await _passthrough_receiver()
    nacks: list[list[int]] = []

    async def send_nack(media_ssrc: int, lost: list[int]) -> None:
        nacks.append(lost)

    monkeypatch.setattr(receiver, "_send_rtcp_nack", send_nack)  # spy on this instance
    missing = packets[1]
    for packet in packets:
        if packet is not missing:
            await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
    assert nacks == [[missing.sequence_number]]  # NACK is aiortc's, before the buffer
    assert track.queue.qsize() == 0  # marker in, but a packet missing: not complete
    await receiver._handle_rtp_packet(missing, arrival_time_ms=0)
    (released,) = _queued(track)
    assert released is not None
    assert bytes(released) == frames[0].data
    await pc.close()


async def test_audio_frame_leaves_on_arrival() -> None:
    pc, receiver, track = await _passthrough_receiver("audio")
    payloads = [bytes([0xFC, n]) for n in range(6)]

    def rtp(n: int) -> RtpPacket:
        return RtpPacket(
            payload_type=OPUS_PT,
            sequence_number=(65533 + n) & 0xFFFF,  # wraps
            timestamp=960 * n,
            ssrc=1234,
            payload=payloads[n],
        )

    for n in (0, 1, 2):
        await receiver._handle_rtp_packet(rtp(n), arrival_time_ms=0)
        # Each one before the next arrives (aiortc's buffer holds four more first).
        (packet,) = _queued(track)
        assert packet is not None
        assert bytes(packet) == payloads[n]
        assert packet.pts == 960 * n
    await receiver._handle_rtp_packet(rtp(4), arrival_time_ms=0)  # 3 lost: not waited for
    await receiver._handle_rtp_packet(rtp(3), arrival_time_ms=0)  # too late: dropped
    await receiver._handle_rtp_packet(rtp(4), arrival_time_ms=0)  # duplicate: dropped
    await receiver._handle_rtp_packet(rtp(5), arrival_time_ms=0)
    assert [bytes(p) for p in _queued(track) if p is not None] == [payloads[4], payloads[5]]
    await pc.close()


async def test_relay_receivers_get_packets_on_the_loop() -> None:
    frames = _encoded_frames(3)
    pc, receiver, track = await _passthrough_receiver()
    assert isinstance(mangled(receiver, RTCRtpReceiver, "decoder_queue"), DirectDelivery)
    # The thread aiortc starts in receive() ends by itself, with no frame and no stop().
    thread = mangled(receiver, RTCRtpReceiver, "decoder_thread")
    thread.join(timeout=5)
    assert not thread.is_alive()
    for packets in _rtp_packets(frames):
        for packet in packets:
            await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
    # Delivered synchronously by _handle_rtp_packet: nothing to wait for, no thread involved.
    queued = _queued(track)
    assert len(queued) == 3  # the last one too: released on its marker bit
    first = queued[0]
    assert isinstance(first, av.Packet)
    assert bytes(first) == frames[0].data
    assert first.pts == 0  # the receiver's timestamp mapper counts from the first frame
    assert first.time_base == fractions.Fraction(1, 90000)
    assert [p.is_keyframe for p in queued if p is not None] == [True, False, False]
    await receiver.stop()
    assert track.queue.get_nowait() is None  # end of stream, also without a thread
    await pc.close()


async def test_direct_delivery_and_dispatcher() -> None:
    install()
    output = PassthroughQueue(16)
    delivery = DirectDelivery(output)
    _run_worker(delivery, output)  # returns at once, delivers nothing
    assert output.qsize() == 0
    (frame,) = _encoded_frames(1)
    delivery.put((VP8, JitterFrame(b"", 0)))  # padding only: nothing to forward
    delivery.put((VP8, frame))
    delivery.put(None)
    packet = output.get_nowait()
    assert isinstance(packet, av.Packet)
    assert bytes(packet) == frame.data
    assert packet.pts == frame.timestamp
    assert output.get_nowait() is None


async def test_other_receivers_still_decode() -> None:
    install()
    pc = RTCPeerConnection()
    receiver = pc.addTransceiver("video", direction="recvonly").receiver
    assert type(mangled(receiver, RTCRtpReceiver, "decoder_queue")) is queue.Queue
    assert type(mangled(receiver, RTCRtpReceiver, "jitter_buffer")) is JitterBuffer
    await pc.close()
    input_q: queue.Queue[object] = queue.Queue()
    for frame in _encoded_frames(2):
        input_q.put((VP8, frame))
    input_q.put(None)
    output: asyncio.Queue[object] = asyncio.Queue()
    _run_worker(input_q, output)
    await asyncio.sleep(0.05)  # aiortc's worker delivers with run_coroutine_threadsafe
    first, second, end = [await output.get() for _ in range(3)]
    assert end is None
    assert isinstance(first, av.VideoFrame)
    assert isinstance(second, av.VideoFrame)
    assert [decode_frame_number(first), decode_frame_number(second)] == [0, 1]


def test_vp8_keyframe_bit() -> None:
    assert is_vp8_keyframe(b"\x10")
    assert not is_vp8_keyframe(b"\x11")
    assert not is_vp8_keyframe(b"")
