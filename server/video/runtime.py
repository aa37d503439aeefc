"""The video runtime: relay, token signer and router, owned by the app's lifespan."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from media import IceServer, PortRange, Prober, Relay, RelayConfig
from server.ratelimit import Limiter, MemoryLimiter
from server.state import AppState
from server.video.backend import DatabaseSessionBackend
from server.video.metrics import RelayCollector
from server.video.recording import Recorders, mark_interrupted_recordings, recover_recordings
from signaling.ice import IceConfig
from signaling.local_router import LocalRouter, SessionHostFactory
from signaling.media_adapter import as_relay_port
from signaling.redis_router import RedisRouter
from signaling.router import Router
from signaling.session import SessionConfig
from signaling.tokens import TokenSigner

log = logging.getLogger(__name__)

PROBES_PER_MINUTE = 10


@dataclass
class VideoRuntime:
    relay: Relay
    router: Router
    signer: TokenSigner
    ice: IceConfig
    local: LocalRouter
    node_id: str
    # The join page's connection checks (server/http/pages_join_probe.py); None: not offered.
    prober: Prober | None = None
    probe_limiter: Limiter | None = None


def video_runtime(state: AppState) -> VideoRuntime:
    runtime: VideoRuntime = state.extras["video"]
    return runtime


def _relay_ice(ice: IceConfig) -> tuple[IceServer, ...]:
    servers: list[IceServer] = []
    if ice.stun_urls:
        servers.append(IceServer(urls=ice.stun_urls))
    # The relay is a host with a public address in production; TURN is for the browsers' side.
    return tuple(servers)


@contextlib.asynccontextmanager
async def video_extension(state: AppState) -> AsyncIterator[None]:
    settings = state.settings
    ice = IceConfig(
        stun_urls=settings.stun_urls,
        turn_urls=settings.turn_urls,
        turn_secret=settings.turn_secret,
        turn_ttl=timedelta(seconds=settings.turn_ttl_seconds),
    )
    forwarding: Literal["rtp", "frames"] = (
        "frames" if settings.relay_forwarding == "frames" else "rtp"
    )
    ports = settings.relay_ports
    relay = Relay(
        RelayConfig(
            ice_servers=_relay_ice(ice),
            forwarding=forwarding,
            port_range=PortRange(*ports) if ports is not None else None,
            announced_address=settings.relay_announced_address,
        )
    )
    backend = DatabaseSessionBackend(state.db, state.audit)
    signer = TokenSigner(settings.secret_key)
    settings.storage_dir.mkdir(parents=True, exist_ok=True)
    recorders = Recorders(relay, state.db, settings.storage_dir)
    factory = SessionHostFactory(
        as_relay_port(relay),
        backend,
        signer,
        SessionConfig(ice=ice),
        taps=recorders.taps,
    )
    local = LocalRouter(backend, factory)
    node_id = f"{socket.gethostname()}-{os.getpid()}"
    router: Router = local
    redis_router: RedisRouter | None = None
    if state.redis is not None:
        redis_router = RedisRouter(local, state.redis, node_id, prefix=settings.redis_prefix)
        await redis_router.start()
        router = redis_router
    hosted_elsewhere = None
    if redis_router is not None:
        rr = redis_router

        async def hosted_elsewhere_fn(session_id: str) -> bool:
            owner = await rr.owner_of(session_id, claim=False)
            return owner is not None and owner != rr.node_id

        hosted_elsewhere = hosted_elsewhere_fn
    interrupted = await mark_interrupted_recordings(
        state.db, hosted_elsewhere, settings.storage_dir
    )
    if interrupted:
        log.warning("interrupted recordings marked incomplete", extra={"files": len(interrupted)})
        # Built from their journals in the background (child processes at nice 10): start-up
        # and the sessions that start meanwhile do not wait for them.
        recorders.spawn(recover_recordings(state.db, settings.storage_dir, interrupted))
    # Per process, like the probes it admits: a link or an address gets a few checks a minute.
    prober = Prober(relay.config)
    probe_limiter = MemoryLimiter(PROBES_PER_MINUTE, 60)
    state.extras["video"] = VideoRuntime(
        relay, router, signer, ice, local, node_id, prober, probe_limiter
    )
    collector = RelayCollector(relay, local)
    state.metrics.registry.register(collector)
    log.info("video runtime started", extra={"node": node_id, "redis": bool(redis_router)})
    try:
        yield
    finally:
        state.metrics.registry.unregister(collector)
        # Recordings first, while their media is still flowing: finalize, then close sessions.
        await recorders.shutdown()
        await router.close()
        await prober.close()
        await relay.close()
