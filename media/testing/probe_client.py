"""What the join page's connection check does, as an aiortc peer: a data-channel-only offer
carrying its candidates (no trickle), then the relay's answer and its one report."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from media.aiortc import local_candidates


class ProbeClient:
    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channel = self.pc.createDataChannel("probe")
        self.messages: asyncio.Queue[str] = asyncio.Queue()
        self.channel.on("message", self.messages.put_nowait)

    async def offer(self) -> str:
        """The offer, with its candidates (127.0.0.1 among them, as Chromium's loopback flag
        gives in the tests)."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        # The first offer made the transport; its candidates are gathered from the next one.
        local_candidates(self.pc, loopback=True)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sdp: str = self.pc.localDescription.sdp
        return sdp

    async def accept(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))

    async def report(self, within: float = 15) -> dict[str, Any]:
        """The relay's message once the data channel is open."""
        report: dict[str, Any] = json.loads(await asyncio.wait_for(self.messages.get(), within))
        return report

    async def close(self) -> None:
        await self.pc.close()
