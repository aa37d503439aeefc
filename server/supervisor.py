"""`tandem serve --workers N`: uvicorn's supervisor, which also tells the other workers the
moment one of them dies.

uvicorn's parent process checks its workers every 0.5 s and starts a new one for each that
died; the dead worker was a node hosting whole sessions. Published on the Redis events channel
(`node_exited`), the news reaches the live workers at once, one of them declares the node dead
(signaling/node_registry.py) and the sessions move: faster than any sign the dead node itself
can give. Built on `uvicorn.supervisors.Multiprocess` (its `processes` list and its
`keep_subprocess_alive` round): tests/server/test_workers.py fails if uvicorn changes them.

A worker that ends after `tandem drain` (its node id in the `{prefix}drained` set) is not
started again: the host is being taken out of service. When every worker has drained, the
supervisor stops too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from socket import socket

import redis
from uvicorn import Config
from uvicorn.supervisors import Multiprocess

from server.video.liveness import node_id_of
from signaling.node_registry import drained_key, events_channel, exit_notice

log = logging.getLogger(__name__)


class WorkerSupervisor(Multiprocess):
    def __init__(
        self,
        config: Config,
        sockets: list[socket],
        notice: Callable[[int], None],
        drained: Callable[[int], bool] = lambda pid: False,
    ):
        super().__init__(config, sockets)
        self._notice = notice
        self._drained = drained

    def keep_subprocess_alive(self) -> None:
        for process in list(self.processes):
            pid = process.pid
            if pid is not None and process.exitcode is not None and self._drained(pid):
                log.warning("worker %s drained and stopped; not starting it again", pid)
                process.join()
                self.processes.remove(process)
        if not self.processes:
            log.warning("every worker drained: stopping")
            self.should_exit.set()
            return
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


def drained_checker(redis_url: str, prefix: str) -> Callable[[int], bool]:
    client = redis.Redis.from_url(redis_url)
    key = drained_key(prefix)

    def drained(pid: int) -> bool:
        try:
            return bool(client.srem(key, node_id_of(pid)))
        except redis.RedisError:
            log.exception("could not tell whether worker %s drained; starting it again", pid)
            return False

    return drained


def run_workers(config: Config, redis_url: str, prefix: str) -> None:
    sock = config.bind_socket()
    notice, drained = exit_notifier(redis_url, prefix), drained_checker(redis_url, prefix)
    WorkerSupervisor(config, [sock], notice, drained).run()
