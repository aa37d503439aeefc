"""Connection checks before a call: peers that only complete ICE, DTLS and one data channel.

The join page offers a data-channel-only connection; the relay answers from a probe peer set up
as a call's peers are (its STUN servers, port range, announced address: ``RelayConfig``), so the
path a probe finds is the path the call will find. When the browser's data channel opens (ICE,
DTLS and SCTP all done) the probe sends one message, the candidate types of the pair the relay
sees, and closes as soon as the browser does, or shortly after. No media, no room, nothing
kept: a probe that never connects is closed after ``lifetime``.

Whoever holds a join link can make the relay do this, so it is bounded: offers are size- and
shape-checked before aiortc parses them for real, at most ``max_concurrent`` probes run at once
(the caller rate-limits who asks), and each lives seconds. The connectivity checks a probe sends
go only to the candidates of its offer, at most ``max_candidates`` of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)

from media.aiortc import local_candidates, parse_sdp, selected_candidate_types
from media.config import RelayConfig

logger = logging.getLogger(__name__)

_DATA_CHANNEL_PROFILES = ("UDP/DTLS/SCTP", "DTLS/SCTP")


@dataclass(frozen=True)
class ProbeLimits:
    max_concurrent: int = 16
    # Seconds a probe may take to connect; the browser gives up a little earlier.
    lifetime: float = 20.0
    # A browser's data-channel offer is ~1-3 KB with its candidates.
    max_sdp_bytes: int = 16 * 1024
    max_candidates: int = 24
    # After the report is sent: time for it to arrive before the relay closes.
    linger: float = 2.0


class ProbeRefused(Exception):
    """The offer is not a data-channel-only offer the relay will answer."""


class ProbeBusy(Exception):
    """As many probes run as the limits allow (or the prober is closed): try again shortly."""


def check_offer(offer_sdp: str, limits: ProbeLimits) -> None:
    """Refuse anything but a small offer of one data channel, before aiortc acts on it."""
    if len(offer_sdp.encode("utf-8", "replace")) > limits.max_sdp_bytes:
        raise ProbeRefused(f"the offer is larger than {limits.max_sdp_bytes} bytes")
    try:
        description = parse_sdp(offer_sdp)
    except Exception as exc:  # aiortc's parser raises whatever the bad line provokes
        raise ProbeRefused(f"unparseable offer: {exc}") from None
    if len(description.media) != 1 or description.media[0].kind != "application":
        raise ProbeRefused("a probe offers one data channel and no media")
    (media,) = description.media
    if media.profile not in _DATA_CHANNEL_PROFILES:
        raise ProbeRefused(f"not a data channel: {media.profile}")
    if len(media.ice_candidates) > limits.max_candidates:
        raise ProbeRefused(f"more than {limits.max_candidates} candidates")


class Prober:
    """Answers connection probes; the application holds one per process (closed with it)."""

    def __init__(self, config: RelayConfig, limits: ProbeLimits | None = None) -> None:
        self._config = config
        self.limits = limits if limits is not None else ProbeLimits()
        self._running: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def running(self) -> int:
        return len(self._running)

    async def answer(self, offer_sdp: str) -> str:
        """The relay's answer to a probe's offer; the probe then runs on its own until it
        connects and reports, or its lifetime ends. Raises ProbeRefused, ProbeBusy."""
        check_offer(offer_sdp, self.limits)
        # No await between the check and the add: the bound holds under concurrent requests.
        if self._closed or len(self._running) >= self.limits.max_concurrent:
            raise ProbeBusy(f"{len(self._running)} connection checks are running")
        answered: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._run(offer_sdp, answered), name="connection-probe")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        # The probe outlives a caller that goes away: it still closes at the end of its lifetime.
        return await asyncio.shield(answered)

    async def _run(self, offer_sdp: str, answered: asyncio.Future[str]) -> None:
        pc = RTCPeerConnection(
            RTCConfiguration(
                iceServers=[
                    RTCIceServer(list(s.urls), s.username, s.credential)
                    for s in self._config.ice_servers
                ]
            )
        )
        opened: asyncio.Future[RTCDataChannel] = asyncio.get_running_loop().create_future()

        def on_datachannel(channel: RTCDataChannel) -> None:
            if not opened.done():
                opened.set_result(channel)

        pc.on("datachannel", on_datachannel)
        outcome = "refused"
        try:
            try:
                await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
                answer = await pc.createAnswer()
                local_candidates(
                    pc,
                    loopback=self._config.include_loopback,
                    ports=self._config.port_range,
                    announced=self._config.announced_address,
                )
                await pc.setLocalDescription(answer)
            except OSError as exc:  # no port to bind (PortRangeExhausted): the relay's trouble
                answered.set_exception(ProbeBusy(str(exc)))
                outcome = f"failed: {exc}"
                return
            except Exception as exc:  # aiortc raises ValueError, InvalidStateError, ...
                answered.set_exception(ProbeRefused(f"offer not answerable: {exc}"))
                return
            answered.set_result(pc.localDescription.sdp)
            outcome = "timed out"
            try:
                channel = await asyncio.wait_for(opened, self.limits.lifetime)
            except TimeoutError:
                return
            outcome = await self._report(pc, channel)
        finally:
            if not answered.done():  # cancelled before answering (the prober closed)
                answered.set_exception(ProbeBusy("the relay is shutting down"))
            await pc.close()
            logger.info("connection probe %s", outcome)

    async def _report(self, pc: RTCPeerConnection, channel: RTCDataChannel) -> str:
        """Tell the browser the pair the relay sees, then wait (briefly) for it to close."""
        sctp = pc.sctp
        types = selected_candidate_types(sctp.transport) if sctp is not None else None
        local, remote = types if types is not None else ("unknown", "unknown")
        closed = asyncio.Event()
        channel.on("close", closed.set)
        channel.send(json.dumps({"connected": True, "local": local, "remote": remote}))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closed.wait(), self.limits.linger)
        return f"connected ({local} -> {remote})"

    async def close(self) -> None:
        self._closed = True
        for task in set(self._running):
            task.cancel()
        for task in set(self._running):
            with contextlib.suppress(asyncio.CancelledError):
                await task
