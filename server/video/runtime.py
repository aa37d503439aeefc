"""The video runtime: relay, token signer and router, owned by the app's lifespan."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from media import IceServer, PortRange, Prober, Relay, RelayConfig
from server.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from server.state import AppState
from server.video.backend import DatabaseSessionBackend
from server.video.liveness import NodeLiveness, node_id_of
from server.video.metrics import RelayCollector
from server.video.recording import Recorders, mark_interrupted_recordings, recover_recordings
from server.video.store import RecordingStore, recording_store
from signaling.ice import IceConfig
from signaling.local_router import LocalRouter, SessionHostFactory
from signaling.media_adapter import as_relay_port
from signaling.node_registry import NodeDown
from signaling.placement import NodeGauge
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
    # This node's load and limits; `draining` once `tandem drain` reached it.
    gauge: NodeGauge | None = None
    # Where finished recordings are read from (any host's).
    store: RecordingStore | None = None

    @property
    def draining(self) -> bool:
        return self.gauge is not None and self.gauge.draining


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
            include_loopback=settings.relay_offers_loopback,
        )
    )
    node_id = node_id_of()
    backend = DatabaseSessionBackend(state.db, node_id, state.audit, state.metrics)
    signer = TokenSigner(settings.secret_key)
    settings.storage_dir.mkdir(parents=True, exist_ok=True)
    store = recording_store(settings)
    recorders = Recorders(relay, state.db, settings.storage_dir, store)
    factory = SessionHostFactory(
        as_relay_port(relay),
        backend,
        signer,
        SessionConfig(ice=ice),
        taps=recorders.taps,
    )
    local = LocalRouter(backend, factory)
    gauge = NodeGauge(
        lambda: len(local.hosted_sessions()),
        cpu_limit=settings.node_cpu_limit,
        max_sessions=settings.node_max_sessions,
    )
    local.has_room = gauge.has_room
    router: Router = local
    redis_router: RedisRouter | None = None
    liveness = NodeLiveness(state.db, node_id)
    if state.redis is not None:
        redis_router = RedisRouter(
            local,
            state.redis,
            node_id,
            prefix=settings.redis_prefix,
            gauge=gauge,
            host=settings.host_name,
        )

        async def end_stretches() -> None:
            await liveness.end_stretches()

        async def exit_after_drain() -> None:
            _exit_after_drain()

        # The attendance here ends as the participants move, not after the linger.
        redis_router.add_drained_listener(end_stretches, when_empty=True)
        redis_router.add_drained_listener(exit_after_drain)
        await redis_router.start()
        router = redis_router
    hosted_elsewhere = None
    alive = None
    if redis_router is not None:
        rr = redis_router

        async def hosted_elsewhere_fn(session_id: str) -> bool:
            owner = await rr.owner_of(session_id, claim=False)
            return owner is not None and owner != rr.node_id

        async def alive_fn() -> list[str]:
            return (await rr.registry.census())[0]

        async def node_down(down: NodeDown) -> None:
            await liveness.node_died(down.node_id)
            dead_sessions = set(down.sessions)

            async def not_the_dead_nodes(session_id: str) -> bool:
                return session_id not in dead_sessions

            await _stop_recordings(
                state, recorders, store, not_the_dead_nodes, started_before=down.declared_at
            )

        hosted_elsewhere, alive = hosted_elsewhere_fn, alive_fn
        rr.add_node_down_listener(node_down)
    # Attendance first: a participant rejoining after a restart opens a new stretch.
    await liveness.start(alive)
    await _stop_recordings(state, recorders, store, hosted_elsewhere)
    # A link or an address gets a few checks a minute, however many processes and hosts
    # answer them (with Redis, one window for all; the probes themselves are per process).
    prober = Prober(relay.config)
    probe_limiter: Limiter
    if state.redis is not None:
        probe_limiter = RedisLimiter(
            state.redis, settings.redis_prefix, PROBES_PER_MINUTE, 60, namespace="probe"
        )
    else:
        probe_limiter = MemoryLimiter(PROBES_PER_MINUTE, 60)
    state.extras["video"] = VideoRuntime(
        relay, router, signer, ice, local, node_id, prober, probe_limiter, gauge, store
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
        await liveness.stop()
        await prober.close()
        await relay.close()


def _exit_after_drain() -> None:
    """Drained: stop as at any graceful stop (uvicorn's SIGTERM handling runs the lifespan's
    end: recordings finalized, the node leaves the registry)."""
    log.warning("node drained: stopping")
    os.kill(os.getpid(), signal.SIGTERM)


async def _stop_recordings(
    state: AppState,
    recorders: Recorders,
    store: RecordingStore,
    hosted_elsewhere: Callable[[str], Awaitable[bool]] | None,
    started_before: datetime | None = None,
) -> None:
    """Recordings a dead process left running are stopped (a host never inherits one) and
    their files built from the journals, in the background (child processes at nice 10): the
    sessions that start meanwhile do not wait for them."""
    storage = state.settings.storage_dir
    interrupted = await mark_interrupted_recordings(
        state.db, hosted_elsewhere, storage, started_before
    )
    if interrupted:
        log.warning("interrupted recordings marked incomplete", extra={"files": len(interrupted)})
        recorders.spawn(recover_recordings(state.db, storage, interrupted, store))
