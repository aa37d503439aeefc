"""One simulated participant: the documented signaling protocol over a real WebSocket, and an
aiortc peer connection that sends the pre-encoded clip and receives without decoding, its
packets sent and taken at the RTP level (bench/rtp_media.py)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from bench.frames import Clip, ClipAudioTrack, ClipVideoTrack, SendLog
from bench.rtp_media import RtpPublisher, RtpReceiver, TransportSequence
from media import Counters
from media.aiortc import (
    add_loopback_candidates,
    make_passthrough_receiver,
    on_keyframe_request,
    parse_sdp,
)
from media.rtp import TRANSPORT_CC_URI

log = logging.getLogger(__name__)

# Frames a receiving track may hold before the oldest go; the reader keeps up, this is a bound.
_RECEIVE_QUEUE = 256


@dataclass
class Arrivals:
    """What one participant received from its peer, on the monotonic clock shared by processes."""

    video_at: list[float] = field(default_factory=list)
    audio_at: list[float] = field(default_factory=list)
    # Sequence number -> (send time, receive time) for video frames recognised by their bytes.
    matched: dict[int, tuple[float, float]] = field(default_factory=dict)
    unmatched: int = 0
    first_video_at: float | None = None


class Participant:
    def __init__(
        self,
        ws_url: str,
        origin: str,
        clip: Clip,
        *,
        cookie: str | None = None,
        token: str | None = None,
    ) -> None:
        self._ws_url = ws_url
        self._origin = origin
        self._cookie = cookie
        self._token = token
        self._frame_index = clip.video_index()
        self.ws: ClientConnection | None = None
        self.participant_id: str | None = None
        self.pc = RTCPeerConnection(
            # max-bundle: a second m-line of a kind in the first offer must not get its own,
            # later discarded, transport (docs/media.md).
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.pc.on("iceconnectionstatechange", self._ice_state)
        self.pc.on("connectionstatechange", self._connection_state)
        self.send_log = SendLog()
        self.video = ClipVideoTrack(clip, self.send_log)
        self.audio = ClipAudioTrack(clip)
        self._counters = {kind: Counters() for kind in ("audio", "video")}
        sending = {k: self.pc.addTransceiver(k, direction="sendonly") for k in ("audio", "video")}
        self._sequence = TransportSequence()
        self._publishers = [
            RtpPublisher(sending[track.kind], track, self._counters[track.kind], self._sequence)
            for track in (self.audio, self.video)
        ]
        video_sender = sending["video"].sender
        # A PLI from the relay restarts the clip at its keyframe (aiortc would ignore it for
        # packets it does not encode itself).
        on_keyframe_request(video_sender, self.video.request_keyframe)
        # Receiving transceivers are added just before an offer that needs them (see _answer).
        self.receiving: list[tuple[str, RTCRtpTransceiver]] = []
        self._receivers: list[RtpReceiver] = []
        self.peer_log: SendLog | None = None
        self.arrivals = Arrivals()
        self.waiting: list[str] = []
        self.admitted = asyncio.Event()
        self.welcomed = asyncio.Event()
        self.closed = asyncio.Event()
        self.errors: list[str] = []
        self.join_sent_at: float | None = None
        # When each step of joining first happened (monotonic): where a slow join spent its time.
        self.steps: dict[str, float] = {}
        self._admitted_ids: set[str] = set()
        self._reader: asyncio.Task[None] | None = None
        self.auto_admit = False
        # Accept every consent_request (docs/signaling.md, "Recording and consent").
        self.auto_consent = False
        self.recording = asyncio.Event()

    def step(self, name: str) -> None:
        self.steps.setdefault(name, time.monotonic())

    def _ice_state(self) -> None:
        if self.pc.iceConnectionState == "completed":
            self.step("ice_connected")

    def _connection_state(self) -> None:
        if self.pc.connectionState == "connected":
            self.step("connected")  # ICE and DTLS

    async def join(self) -> None:
        headers = {"Cookie": f"tandem_session={self._cookie}"} if self._cookie else {}
        self.ws = await connect(
            self._ws_url, origin=Origin(self._origin), additional_headers=headers,
            max_size=None, open_timeout=30,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read_signaling())
        message: dict[str, Any] = {"type": "join", "v": 1, "client_id": secrets.token_urlsafe(12)}
        if self._token:
            message["token"] = self._token
        self.join_sent_at = time.monotonic()
        await self._send(message)

    async def request_recording(self) -> None:
        """As the therapist: ask to record; ``recording`` is set once everyone consented."""
        await self._send({"type": "record", "action": "request"})

    async def _send(self, message: dict[str, Any]) -> None:
        if self.ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self.ws.send(json.dumps(message))

    async def _read_signaling(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                # Strictly in order, like a browser: an offer is answered before the next message.
                await self._handle(json.loads(raw))
        except ConnectionClosed:
            pass
        except Exception as exc:
            log.exception("participant %s: signaling failed", self.participant_id)
            self.errors.append(repr(exc))
        finally:
            self.closed.set()

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "welcome":
            self.step("welcome")
            self.participant_id = message["participant_id"]
            if not message["lobby"]:
                self.admitted.set()
            self.welcomed.set()
        elif kind == "admitted":
            self.step("admitted")
            self.admitted.set()
        elif kind == "lobby_update":
            self.waiting = [w["participant_id"] for w in message["waiting"]]
            if self.auto_admit:
                for waiter in self.waiting:
                    if waiter not in self._admitted_ids:
                        self._admitted_ids.add(waiter)
                        await self._send({"type": "admit", "participant_id": waiter})
        elif kind == "offer":
            self.step("offer")
            await self._answer(message["sdp"], message["revision"])
        elif kind == "consent_request":
            if self.auto_consent:
                await self._send(
                    {"type": "consent", "request_id": message["request_id"], "accept": True}
                )
        elif kind == "recording":
            if message["state"] == "recording":
                self.recording.set()
            else:
                self.recording.clear()
        elif kind == "error":
            self.errors.append(f"{message['code']}: {message['message']}")

    def _add_receivers(self, offer_sdp: str) -> None:
        """Give each m-line the relay sends on a receiver with a pass-through track, first.

        aiortc pairs a new m-line with the first transceiver of its kind that has no mid yet,
        and keeps a receiver's existing track: so these receivers hand on encoded frames and
        nothing is decoded here (the same per-receiver switch as the relay's own receivers).
        They are added right before the offer is applied because aiortc cannot answer with
        transceivers that no m-line was given to.
        """
        offered = parse_sdp(offer_sdp).media
        for kind in ("audio", "video"):
            wanted = sum(1 for m in offered if m.kind == kind and m.direction == "sendonly")
            have = sum(1 for k, _ in self.receiving if k == kind)
            for _ in range(wanted - have):
                transceiver = self.pc.addTransceiver(kind, direction="recvonly")
                # Packets are taken below aiortc (RtpReceiver); the pass-through track only
                # keeps aiortc from decoding a stray first packet, and is never read.
                make_passthrough_receiver(transceiver.receiver, kind, _RECEIVE_QUEUE, None)
                self.receiving.append((kind, transceiver))
                self._receivers.append(
                    RtpReceiver(
                        transceiver,
                        self._counters[kind],
                        functools.partial(self._on_frame, kind),
                        functools.partial(self.step, f"first_{kind}_packet"),
                    )
                )

    async def _answer(self, offer_sdp: str, revision: int) -> None:
        self._add_receivers(offer_sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        answer = await self.pc.createAnswer()
        # aioice never offers 127.0.0.1; the relay listens on loopback here.
        add_loopback_candidates(self.pc)
        await self.pc.setLocalDescription(answer)
        for publisher in self._publishers:
            publisher.start()
        answer_sdp = self._answer_transport_cc(offer_sdp, self.pc.localDescription.sdp)
        await self._send({"type": "answer", "sdp": answer_sdp, "revision": revision})
        self.step("answer_sent")

    def _answer_transport_cc(self, offer_sdp: str, answer_sdp: str) -> str:
        """Accept the relay's transport-cc where we send, as a browser does (aiortc's answer
        leaves out what aiortc does not know), and number our packets for it."""
        found = re.search(rf"^a=extmap:(\d+) {re.escape(TRANSPORT_CC_URI)}\r?$", offer_sdp, re.M)
        if found is None:
            return answer_sdp
        ext_id = int(found.group(1))
        self._sequence.ext_id = ext_id
        sections = re.split(r"(?=\r\nm=)", answer_sdp)
        for index, section in enumerate(sections):
            if "\r\na=sendonly" in section and "\r\na=mid:" in section:
                line = f"\r\na=extmap:{ext_id} {TRANSPORT_CC_URI}"
                sections[index] = section.replace("\r\na=mid:", line + "\r\na=mid:", 1)
        return "".join(sections)

    def _on_frame(self, kind: str, item: av.Packet[Any]) -> None:
        arrivals = self.arrivals
        now = time.monotonic()
        if kind == "audio":
            arrivals.audio_at.append(now)
            return
        arrivals.video_at.append(now)
        if arrivals.first_video_at is None:
            arrivals.first_video_at = now
            self.step("first_frame")
        index = self._frame_index.get(bytes(item))
        peer = self.peer_log
        if index is None or peer is None or index not in peer.last_seq_at:
            # A frame the relay changed (re-encoded, in transcode mode) cannot be matched.
            arrivals.unmatched += 1
            return
        seq = peer.last_seq_at[index]
        arrivals.matched.setdefault(seq, (peer.sent_at[seq], now))

    async def rtp_packets_received(self) -> dict[str, int]:
        """RTP packets received per kind (taken at the RTP level, RTX repairs included)."""
        return {
            kind: self._counters[kind].rtp_received_packets
            for kind in sorted({kind for kind, _ in self.receiving})
        }

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self._send({"type": "leave"})
                await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        for publisher in self._publishers:
            await publisher.close()
        for receiver in self._receivers:
            receiver.close()
        await self.pc.close()
