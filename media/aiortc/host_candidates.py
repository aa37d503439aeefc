"""Where the relay's host candidates bind, and the address they announce.

aioice 0.13 (under aiortc 1.16.0) binds one socket per local address for each ICE connection,
on a port the kernel picks (``local_addr=(address, 0)`` in
``Connection.get_component_candidates``), and offers the address it bound. An operator needs
two things it cannot say: a UDP port range to open in a firewall, and, for a host behind 1:1
NAT (a cloud VM), the public address to offer instead of the private one. So the one
connection's ``get_component_candidates`` is replaced, never aioice's class: host candidates are
bound here (inside the range, the next port on EADDRINUSE), aioice's own method then runs with no
addresses for what is left (TURN), and server-reflexive candidates are asked for here as aioice
would. Checked by tests/media/aiortc/test_host_candidates.py.

With an announced address the connection binds one wildcard socket (0.0.0.0 or ::) and offers
it as ``announced:port``, and nothing else: behind 1:1 NAT the private addresses reach nobody
outside, and the translated traffic arrives on whichever interface the NAT uses (mediasoup's
``announcedIp`` on ``0.0.0.0``, LiveKit's ``node_ip``).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import secrets
import socket
from typing import Any

from aioice.candidate import Candidate, candidate_foundation, candidate_priority
from aioice.ice import StunProtocol, server_reflexive_candidate
from aioice.turn import UDP_SOCKET_BUFFER_SIZE
from aiortc import RTCPeerConnection

from media.aiortc.ice import add_loopback_candidates, fresh_connections
from media.config import PortRange

logger = logging.getLogger(__name__)


class PortRangeExhausted(OSError):
    """Every port of the relay's range is taken on an address: the range is too small."""


def local_candidates(
    pc: RTCPeerConnection,
    *,
    loopback: bool,
    ports: PortRange | None = None,
    announced: str | None = None,
) -> None:
    """Shape the host candidates of every ICE connection of ``pc`` that is not gathering yet.

    Call it before each ``setLocalDescription``: a renegotiation may add a transport.
    ``loopback`` adds 127.0.0.1 (media/aiortc/ice.py) unless an address is announced.
    """
    if ports is not None or announced is not None:
        for connection in fresh_connections(pc, "_tandem_host_binding"):
            _bind_host_candidates(connection, ports, announced)
    if loopback:
        add_loopback_candidates(pc)


def _bind_host_candidates(connection: Any, ports: PortRange | None, announced: str | None) -> None:
    original = connection.get_component_candidates

    async def get_component_candidates(
        component: int,
        addresses: list[str],
        timeout: int = 5,  # noqa: ASYNC109  # aioice's own signature
    ) -> list[Candidate]:
        # No addresses means the relay-only policy: no host candidates, announced or not.
        if announced is not None and addresses:
            # The wildcard on purpose: behind 1:1 NAT the translated traffic may come in on
            # any interface (module docstring).
            wildcard = "::" if ipaddress.ip_address(announced).version == 6 else "0.0.0.0"  # noqa: S104
            addresses = [wildcard]
        deadline = asyncio.get_running_loop().time() + timeout
        protocols = []
        for address in addresses:
            sock = _bind(address, ports)
            if sock is not None:
                protocols.append(await _host_protocol(connection, sock, component, announced))
        connection._protocols += protocols  # in place: intercept_datagrams follows the list
        candidates: list[Candidate] = [p.local_candidate for p in protocols]
        # The announced address is the public one already; a STUN answer would only repeat it.
        reflexive = [
            asyncio.create_task(server_reflexive_candidate(p, connection.stun_server))
            for p in protocols
            if connection.stun_server
            and announced is None
            and ipaddress.ip_address(p.local_candidate.host).version == 4
        ]
        rest: list[Candidate] = await original(component=component, addresses=[], timeout=timeout)
        if reflexive:
            left = max(0.0, deadline - asyncio.get_running_loop().time())
            done, pending = await asyncio.wait(reflexive, timeout=left)
            candidates += [t.result()[0] for t in done if t.exception() is None]
            for task in pending:
                task.cancel()
        return candidates + rest

    connection.get_component_candidates = get_component_candidates


def _bind(address: str, ports: PortRange | None) -> socket.socket | None:
    """A UDP socket bound to ``address`` at a port of the range (None: the address is unusable,
    which aioice logs and skips too)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    if ports is None:
        order = [0]
    else:
        # From a random place in the range: concurrent connections do not all race for its
        # first ports, and the next port is not guessable.
        start = secrets.randbelow(len(ports))
        order = [ports.first + (start + i) % len(ports) for i in range(len(ports))]
    for port in order:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if address == "::":
                # IPv6 only: IPv4 peers would appear as ::ffff:a.b.c.d, which no candidate has.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((address, port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE and ports is not None:
                continue
            logger.info("could not bind to %s - %s", address, exc)
            return None
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_SOCKET_BUFFER_SIZE)
        return sock
    raise PortRangeExhausted(
        errno.EADDRINUSE,
        f"every UDP port of the relay's range {ports} is in use on {address}: widen the range",
    )


async def _host_protocol(
    connection: Any, sock: socket.socket, component: int, announced: str | None
) -> Any:
    loop = asyncio.get_running_loop()
    try:
        _, protocol = await loop.create_datagram_endpoint(
            lambda: StunProtocol(connection), sock=sock
        )
    except BaseException:
        sock.close()
        raise
    bound_host, port = sock.getsockname()[:2]
    host = announced if announced is not None else bound_host
    protocol.local_candidate = Candidate(
        foundation=candidate_foundation("host", "udp", host),
        component=component,
        transport="udp",
        priority=candidate_priority(component, "host"),
        host=host,
        port=port,
        type="host",
    )
    return protocol
