"""How a relay is set up (``RelayConfig``): ICE servers, the UDP ports and address its
connections offer, queue bounds, keyframe pacing, and which forwarding path it takes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class IceServer:
    """A STUN or TURN server for the relay's own peer connections."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class PortRange:
    """The UDP ports the relay's connections bind, ``first`` to ``last`` inclusive."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if not 1 <= self.first <= self.last <= 65535:
            raise ValueError(f"not a port range: {self.first}-{self.last}")

    def __len__(self) -> int:
        return self.last - self.first + 1

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.first <= port <= self.last

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


@dataclass(frozen=True)
class RelayConfig:
    ice_servers: tuple[IceServer, ...] = ()
    # aioice never offers 127.0.0.1; tests and the one-machine demo need it, a production relay
    # must not offer it (the server decides: server/config.py Settings.relay_offers_loopback).
    include_loopback: bool = True
    # Host candidates bind only here (None: wherever the kernel picks), so a firewall can open
    # exactly this range (media/aiortc/host_candidates.py).
    port_range: PortRange | None = None
    # The one address the relay's candidates carry, for a host behind 1:1 NAT (a cloud VM):
    # its sockets then bind the wildcard address and no local address is offered.
    announced_address: str | None = None
    # Encoded frames buffered per receiving or forwarded track before the oldest is dropped.
    # ~2 s of 30 fps video: enough to ride out a slow answer, bounded if nobody reads.
    queue_capacity: int = 64
    # At most one keyframe request (PLI) per publisher per interval; browsers answer each PLI
    # with a large keyframe, so several subscribers joining at once must not multiply them.
    keyframe_interval: float = 0.5
    # "rtp": forward each RTP packet as it arrives, below aiortc's per-packet objects
    # (media/rtp/); "frames": through aiortc's receivers and senders, one encoded frame at a
    # time (the previous path, kept to compare against; docs/performance.md).
    forwarding: Literal["rtp", "frames"] = "rtp"

    def __post_init__(self) -> None:
        if self.announced_address is not None:
            ipaddress.ip_address(self.announced_address)  # raises ValueError: an IP, not a name
