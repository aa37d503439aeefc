"""What the relay changes on aioice's ICE connections: loopback candidates, and datagrams taken
before aioice's queue.

aioice 0.13 (under aiortc 1.16.0) has no public way to offer 127.0.0.1 as a candidate or to
see a connection's datagrams before they are queued for aiortc's DTLS loop. Both are adapted on
the one connection (and its protocols), never on aioice's classes; checked by
tests/media/aiortc/test_ice.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiortc import RTCDtlsTransport, RTCPeerConnection

from media.aiortc.version import check_version

DatagramHandler = Callable[[bytes, int], None]


def fresh_connections(pc: RTCPeerConnection, marker: str) -> Iterator[Any]:
    """The aioice connections of ``pc`` that have not started gathering and do not carry
    ``marker`` yet; each is marked as it is handed out, so an adaptation is made once."""
    transports = pc._RTCPeerConnection__iceTransports  # type: ignore[attr-defined]  # private
    for transport in transports:
        connection = transport.iceGatherer._connection
        if connection._local_candidates_start or getattr(connection, marker, False):
            continue
        setattr(connection, marker, True)
        yield connection


def add_loopback_candidates(pc: RTCPeerConnection) -> None:
    """Offer 127.0.0.1 as a host candidate on every ICE connection not yet gathering.

    aioice skips 127.0.0.1 when listing host addresses; on a host whose only interface is loopback
    (CI, the demo) nothing could connect. Done per connection, not by patching aioice globally.
    """
    for connection in fresh_connections(pc, "_tandem_loopback"):
        original = connection.get_component_candidates

        async def get_component_candidates(
            component: int,
            addresses: list[str],
            timeout: int = 5,  # noqa: ASYNC109  # aioice's own signature
            _original: Callable[..., Awaitable[Any]] = original,
        ) -> Any:
            if "127.0.0.1" not in addresses:
                addresses = [*addresses, "127.0.0.1"]
            return await _original(component=component, addresses=addresses, timeout=timeout)

        connection.get_component_candidates = get_component_candidates


def ice_connection(dtls: RTCDtlsTransport) -> Any:
    """The aioice ``Connection`` under a DTLS transport (created with the peer connection)."""
    return dtls.transport._connection


def selected_candidate_types(dtls: RTCDtlsTransport) -> tuple[str, str] | None:
    """The types (host, srflx, prflx, relay) of the local and remote candidates of the pair ICE
    nominated for the connection under ``dtls`` (None until one is)."""
    pair = ice_connection(dtls)._nominated.get(1)
    if pair is None:
        return None
    return pair.local_candidate.type, pair.remote_candidate.type


def datagram_protocols(dtls: RTCDtlsTransport) -> list[Any]:
    """The connection's UDP protocols (one per gathered local candidate; grows in place)."""
    protocols: list[Any] = ice_connection(dtls)._protocols
    return protocols


def intercept_datagrams(
    dtls: RTCDtlsTransport, make_handler: Callable[[DatagramHandler], DatagramHandler]
) -> None:
    """Put ``make_handler(stock)`` in front of aioice's queue for this connection's datagrams.

    aioice's protocols hand every non-STUN datagram to ``Connection.data_received(data,
    component)``, which queues it for ``RTCDtlsTransport``'s receive loop. The handler sees each
    datagram first and passes on what it does not take by calling ``stock``.

    Each of the connection's protocols also hands RTP and RTCP (RFC 7983: first byte 128-191,
    never STUN) straight to the handler: aioice would first try to parse them as STUN and give
    up with a ValueError (~6 % of the relay's CPU). The protocols appear when candidates are
    gathered, often after this is installed; they are looked for whenever a datagram comes the
    long way, which DTLS does before any SRTP.
    """
    check_version()
    connection = ice_connection(dtls)
    stock: DatagramHandler = connection.data_received
    handler = make_handler(stock)
    protocols = datagram_protocols(dtls)  # grows in place while gathering
    demultiplexed = 0

    def data_received(data: bytes, component: int) -> None:
        nonlocal demultiplexed
        if demultiplexed != len(protocols):
            for protocol in protocols[demultiplexed:]:
                _demultiplex(protocol, handler)
            demultiplexed = len(protocols)
        handler(data, component)

    connection.data_received = data_received


def _demultiplex(protocol: Any, handler: DatagramHandler) -> None:
    stock: Callable[[bytes, Any], None] = protocol.datagram_received
    component: int = protocol.local_candidate.component

    def datagram_received(data: bytes, addr: Any) -> None:
        if data and 127 < data[0] < 192:
            handler(data, component)
        else:
            stock(data, addr)

    protocol.datagram_received = datagram_received  # per instance: the transport looks it up
