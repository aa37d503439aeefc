"""How a relay is set up (``RelayConfig``): ICE servers, queue bounds, keyframe pacing, and
which forwarding path it takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class IceServer:
    """A STUN or TURN server for the relay's own peer connections."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class RelayConfig:
    ice_servers: tuple[IceServer, ...] = ()
    # aioice never offers 127.0.0.1; tests and the one-machine demo need it.
    include_loopback: bool = True
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
