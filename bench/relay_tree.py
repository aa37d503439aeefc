"""The relay as a tree of processes: each one's CPU, memory and run-queue wait over a window,
and each worker's own /metrics.

`tandem serve --workers N` is uvicorn's supervisor with N worker processes (and
multiprocessing's resource tracker); every worker is a full node with its own relay. Its CPU is
the sum over the tree. /metrics is served by whichever worker accepts the connection, so its
counters are per worker: each connection's server end is traced to the worker that holds it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.relay_proc import (
    RelayProcess,
    cpu_seconds,
    metrics,
    parse_metrics,
    process_tree,
    rss_bytes,
    runqueue_wait_seconds,
)

_COUNTERS = (
    "tandem_relay_forwarded_frames_total",
    "tandem_relay_dropped_frames_total",
    "tandem_relay_keyframe_requests_total",
    "tandem_relay_decodes_total",
    "tandem_relay_encodes_total",
    "tandem_relay_rtp_received_packets_total",
    "tandem_relay_rtp_forwarded_packets_total",
    "tandem_relay_rtp_retransmitted_packets_total",
    # Transport feedback to publishers: the load generator negotiates transport-cc.
    "tandem_relay_rtp_feedback_packets_total",
    # With --record: how much of the relay's CPU went to the journal writer thread.
    "tandem_recording_journal_cpu_seconds_total",
)
# server/video/metrics.py: the sessions whose state lives on the answering process.
_SESSIONS_HOSTED = "tandem_video_sessions_hosted"


@dataclass(frozen=True)
class ProcStat:
    cpu_s: float
    wait_s: float
    rss: int


def sample(pids: Iterable[int]) -> dict[int, ProcStat]:
    found: dict[int, ProcStat] = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            found[pid] = ProcStat(cpu_seconds(pid), runqueue_wait_seconds(pid), rss_bytes(pid))
    return found


def _hex_endpoint(host: str, port: int) -> str:
    # /proc/net/tcp prints the IPv4 address as the kernel's u32, in host byte order.
    address = int.from_bytes(socket.inet_aton(host), sys.byteorder)
    return f"{address:08X}:{port:04X}"


def _socket_inode(server: tuple[str, int], client: tuple[str, int]) -> str | None:
    local, remote = _hex_endpoint(*server), _hex_endpoint(*client)
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return fields[9]
    return None


def _holder(inode: str, pids: Iterable[int]) -> int | None:
    target = f"socket:[{inode}]"
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        return pid
    return None


def _scrape_once(base_url: str, workers: Sequence[int]) -> tuple[int | None, dict[str, float]]:
    """One /metrics request on a fresh connection, and the worker that answered it."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.connect()
        assert conn.sock is not None  # connect() sets it
        client = conn.sock.getsockname()
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        # Still open (keep-alive): the answering worker holds the server end of it.
        inode = _socket_inode((host, port), (client[0], client[1]))
        return (_holder(inode, workers) if inode else None), parse_metrics(text)
    finally:
        conn.close()


def metrics_by_worker(
    base_url: str, workers: Sequence[int], attempts: int = 40
) -> dict[int, dict[str, float]]:
    """Each worker's /metrics; a worker not reached in ``attempts`` connections is left out."""
    if len(workers) == 1:
        with contextlib.suppress(OSError):
            return {workers[0]: metrics(base_url)}
        return {}
    found: dict[int, dict[str, float]] = {}
    for _ in range(attempts):
        if len(found) == len(workers):
            break
        with contextlib.suppress(OSError, http.client.HTTPException):
            pid, figures = _scrape_once(base_url, workers)
            if pid is not None:
                found.setdefault(pid, figures)
    return found


def _counters(found: dict[str, float]) -> dict[str, float]:
    return {
        name.removeprefix("tandem_relay_").removeprefix("tandem_"): found[name]
        for name in _COUNTERS
        if name in found
    }


def _deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: value - before.get(name, 0.0) for name, value in after.items()}


class RelayWindow:
    """The relay's processes over one measured window: opened at its start, closed at its end.

    CPU and run-queue wait count for the processes that exist at both ends (the tree as it was
    at the start and at the end); /metrics is read per worker at both ends.
    """

    def __init__(self, relay: RelayProcess) -> None:
        self._relay = relay
        self._pids = process_tree(relay.pid)
        self._start = sample(self._pids)
        self._end: dict[int, ProcStat] = {}
        self._metrics: list[dict[int, dict[str, float]]] = []
        # (seconds into the window, resident bytes of the whole tree)
        self.rss: list[tuple[float, int]] = []

    def read_metrics(self) -> None:
        self._metrics.append(metrics_by_worker(self._relay.base_url, self._relay.workers))

    def tick(self, at: float) -> float:
        """Records the tree's RSS; returns its CPU seconds since the start of the window."""
        now = sample(self._pids)
        self.rss.append((at, sum(stat.rss for stat in now.values())))
        return sum(now[pid].cpu_s - self._start[pid].cpu_s for pid in now.keys() & self._start)

    def close(self) -> float:
        """Samples the tree at the end of the window; its CPU seconds over the window."""
        self._end = sample(process_tree(self._relay.pid))
        return sum(self._end[pid].cpu_s - self._start[pid].cpu_s for pid in self._both())

    def _both(self) -> list[int]:
        return sorted(self._end.keys() & self._start.keys())

    def _worker_deltas(self) -> dict[int, dict[str, float]]:
        first, last = self._metrics[0], self._metrics[-1]
        both = first.keys() & last.keys()
        return {pid: _deltas(_counters(first[pid]), _counters(last[pid])) for pid in both}

    def figures(self, window_s: float) -> dict[str, Any]:
        deltas = self._worker_deltas()
        total: dict[str, float] = {}
        for worker in deltas.values():
            for name, value in worker.items():
                total[name] = total.get(name, 0.0) + value
        processes = [self._process(pid, window_s, deltas) for pid in self._both()]
        return {
            "relay_processes": len(processes),
            "relay_cpu_by_process": processes,
            # The busiest event loop's share of the window spent waiting for a core.
            "relay_runqueue_wait_share": max(
                (p["runqueue_wait_share"] for p in processes), default=0.0
            ),
            # Summed over the workers whose /metrics were read at both ends of the window.
            "relay_counters": total,
            "relay_counters_workers": len(deltas),
        }

    def _role(self, pid: int) -> str:
        if pid in self._relay.workers:
            return "worker"
        return "supervisor" if pid == self._relay.pid else "helper"

    def _process(
        self, pid: int, window_s: float, deltas: dict[int, dict[str, float]]
    ) -> dict[str, Any]:
        start, end = self._start[pid], self._end[pid]
        hosted = self._metrics[-1].get(pid, {}).get(_SESSIONS_HOSTED)
        return {
            "pid": pid,
            "role": self._role(pid),
            "cpu_cores": round((end.cpu_s - start.cpu_s) / window_s, 4),
            "runqueue_wait_share": round((end.wait_s - start.wait_s) / window_s, 4),
            "rss_mb_end": round(end.rss / 2**20, 1),
            "sessions_hosted": None if hosted is None else int(hosted),
            "relay_counters": deltas.get(pid),
        }
