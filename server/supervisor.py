"""`tandem serve --workers N`: uvicorn's supervisor, which also tells the other workers the
moment one of them dies.

uvicorn's parent process checks its workers every 0.5 s and starts a new one for each that
died; the dead worker was a node hosting whole sessions. Published on the Redis events channel
(`node_exited`), the news reaches the live workers at once, one of them declares the node dead
(signaling/node_registry.py) and the sessions move: faster than any sign the dead node itself
can give. Built on `uvicorn.supervisors.Multiprocess` (its `processes` list and its
`keep_subprocess_alive` round): tests/server/test_workers.py fails if uvicorn changes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from socket import socket

import redis
from uvicorn import Config
from uvicorn.supervisors import Multiprocess

from server.video.liveness import node_id_of
from signaling.node_registry import events_channel, exit_notice

log = logging.getLogger(__name__)


class WorkerSupervisor(Multiprocess):
    def __init__(self, config: Config, sockets: list[socket], notice: Callable[[int], None]):
        super().__init__(config, sockets)
        self._notice = notice

    def keep_subprocess_alive(self) -> None:
        before = {p.pid for p in self.processes}
        super().keep_subprocess_alive()
        for pid in before - {p.pid for p in self.processes}:
            if pid is not None:
                self._notice(pid)


def exit_notifier(redis_url: str, prefix: str) -> Callable[[int], None]:
    client = redis.Redis.from_url(redis_url)
    channel = events_channel(prefix)

    def notice(pid: int) -> None:
        node_id = node_id_of(pid)
        log.warning("worker %s died; telling the other workers", node_id)
        try:
            client.publish(channel, exit_notice(node_id))
        except redis.RedisError:
            # The other workers still find out (an empty channel, a stale heartbeat).
            log.exception("could not announce the death of worker %s", node_id)

    return notice


def run_workers(config: Config, redis_url: str, prefix: str) -> None:
    sock = config.bind_socket()
    WorkerSupervisor(config, [sock], exit_notifier(redis_url, prefix)).run()
