"""The transcoding baseline: Tandem's app with aiortc's stock ``MediaRelay`` in place of the
forwarding relay. Each publisher's frames are decoded once and re-encoded for every subscriber.

Kept only to measure what forwarding saves (`tandem bench relay --mode transcode`). It speaks
the same signaling protocol through the same app, router and session code; only the media
rooms differ. It skips what the bench does not exercise: no renegotiation on leave, no
keyframe requests (aiortc's encoders make their own keyframes).

Run as ``python -m bench.transcode --host H --port P`` (settings from the environment).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator

from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay

from media import NegotiationError, Relay, force_codecs
from media.aiortc import (
    Negotiated,
    add_loopback_candidates,
    remember_negotiated,
    restore_negotiated,
    set_sender_ids,
)
from server.state import AppState
from server.video.backend import DatabaseSessionBackend
from server.video.runtime import VideoRuntime
from signaling.ice import IceConfig
from signaling.local_router import LocalRouter, SessionHostFactory
from signaling.ports import OnAudioOnly, OnOffer, OnState
from signaling.session import SessionConfig
from signaling.tokens import TokenSigner

KINDS = ("audio", "video")


class _Peer:
    def __init__(self, participant_id: str, publish: bool, on_offer: OnOffer) -> None:
        self.participant_id = participant_id
        self.publish = publish
        self._on_offer = on_offer
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.receiving: dict[str, RTCRtpTransceiver] = {}
        if publish:
            for kind in KINDS:
                self.receiving[kind] = self.pc.addTransceiver(kind, direction="recvonly")
                force_codecs(self.receiving[kind])
        self.subscribed: set[str] = set()
        self.announced = False
        self._lock = asyncio.Lock()
        self._revision = 0
        self._pending: int | None = None
        self._dirty = False
        self._negotiated: dict[str, Negotiated] = {}

    def tracks(self) -> dict[str, MediaStreamTrack]:
        """The publisher's decoded tracks, once an answer created them."""
        return {kind: t.receiver.track for kind, t in self.receiving.items() if t.receiver.track}

    def subscribe(
        self, publisher_id: str, tracks: dict[str, MediaStreamTrack], relay: MediaRelay
    ) -> None:
        if publisher_id in self.subscribed:
            return
        self.subscribed.add(publisher_id)
        for kind, track in tracks.items():
            transceiver = self.pc.addTransceiver(kind, direction="sendonly")
            force_codecs(transceiver)
            # The stock relay: every subscriber's sender encodes the decoded frames itself.
            transceiver.sender.replaceTrack(relay.subscribe(track))
            set_sender_ids(transceiver.sender, publisher_id, f"{publisher_id}-{kind}")

    async def negotiate(self) -> None:
        # Same offer/answer discipline as media.Peer: one outstanding offer, changes folded.
        async with self._lock:
            if self._pending is not None:
                self._dirty = True
                return
            offer = await self.pc.createOffer()
            sdp = restore_negotiated(offer.sdp, self.pc.getTransceivers(), self._negotiated)
            add_loopback_candidates(self.pc)
            await self.pc.setLocalDescription(RTCSessionDescription(sdp, "offer"))
            self._revision += 1
            self._pending = revision = self._revision
            local = self.pc.localDescription.sdp
        await self._on_offer(local, revision)

    async def apply_answer(self, sdp: str, revision: int) -> None:
        async with self._lock:
            if revision != self._pending:
                raise NegotiationError(f"stale answer {revision}")
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
            self._negotiated = remember_negotiated(self.pc.getTransceivers())
            self._pending = None
            follow_up, self._dirty = self._dirty, False
        if follow_up:
            await self.negotiate()


class TranscodingRoom:
    def __init__(self, relay: MediaRelay) -> None:
        self._relay = relay
        self._peers: dict[str, _Peer] = {}

    async def join(
        self,
        participant_id: str,
        *,
        publish: bool,
        on_offer: OnOffer,
        on_state: OnState | None = None,
        on_audio_only: OnAudioOnly | None = None,
        receive: bool = True,  # the baseline has no publish-only sources; accepted and ignored
    ) -> None:
        old = self._peers.pop(participant_id, None)
        if old is not None:
            await old.pc.close()
        peer = _Peer(participant_id, publish, on_offer)
        self._peers[participant_id] = peer
        for other in self._peers.values():
            if other is not peer and other.announced:
                peer.subscribe(other.participant_id, other.tracks(), self._relay)
        await peer.negotiate()

    async def answer(self, participant_id: str, sdp: str, revision: int) -> None:
        peer = self._peers.get(participant_id)
        if peer is None:
            raise NegotiationError(f"unknown participant {participant_id!r}")
        await peer.apply_answer(sdp, revision)
        if peer.publish and not peer.announced and peer.tracks():
            # The publisher's tracks exist now: forward (re-encode) them to everyone else.
            peer.announced = True
            others = [p for p in self._peers.values() if p is not peer]
            for other in others:
                other.subscribe(participant_id, peer.tracks(), self._relay)
            await asyncio.gather(*(o.negotiate() for o in others), return_exceptions=True)

    async def leave(self, participant_id: str) -> None:
        peer = self._peers.pop(participant_id, None)
        if peer is not None:
            await peer.pc.close()

    async def request_keyframe(self, publisher_id: str) -> None:
        return None  # aiortc's encoders decide their keyframes themselves

    def resumable(self, participant_id: str) -> bool:
        return False  # the baseline always starts a reconnect afresh

    def participants(self) -> list[str]:
        return list(self._peers)

    async def close(self) -> None:
        while self._peers:
            _, peer = self._peers.popitem()
            await peer.pc.close()


class TranscodingRelay:
    def __init__(self) -> None:
        self._relay = MediaRelay()
        self._rooms: dict[str, TranscodingRoom] = {}

    def room(self, room_id: str) -> TranscodingRoom:
        return self._rooms.setdefault(room_id, TranscodingRoom(self._relay))

    async def close_room(self, room_id: str) -> None:
        room = self._rooms.pop(room_id, None)
        if room is not None:
            await room.close()

    async def close(self) -> None:
        for room_id in list(self._rooms):
            await self.close_room(room_id)


@contextlib.asynccontextmanager
async def transcoding_video_extension(state: AppState) -> AsyncIterator[None]:
    """server.video.runtime.video_extension, minus Redis, with the transcoding rooms."""
    settings = state.settings
    ice = IceConfig()  # loopback only: no STUN, no TURN
    rooms = TranscodingRelay()
    backend = DatabaseSessionBackend(state.db)
    signer = TokenSigner(settings.secret_key)
    factory = SessionHostFactory(rooms, backend, signer, SessionConfig(ice=ice))
    local = LocalRouter(backend, factory)
    # VideoRuntime names a media.Relay; an idle one stands in (nothing routes media to it).
    idle = Relay()
    state.extras["video"] = VideoRuntime(
        idle, local, signer, ice, local, f"{socket.gethostname()}-{os.getpid()}"
    )
    try:
        yield
    finally:
        await local.close()
        await rooms.close()
        await idle.close()


def main() -> int:
    import uvicorn

    from server.app import create_app
    from server.config import load_settings
    from server.http import pages_video, ws

    parser = argparse.ArgumentParser(prog="python -m bench.transcode")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    settings = load_settings()
    app = create_app(
        settings,
        extra_routes=[*pages_video.routes, *ws.routes],
        extensions=[transcoding_video_extension],
    )
    uvicorn.Server(
        uvicorn.Config(app, host=args.host, port=args.port, log_config=None, lifespan="on")
    ).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
