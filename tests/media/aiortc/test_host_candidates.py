"""Pins what media/aiortc/host_candidates.py replaces in aioice, and checks where it binds."""

from __future__ import annotations

import inspect
import ipaddress
import random
import secrets
import socket
from collections.abc import Iterator

import pytest
from aioice import ice
from aiortc import RTCPeerConnection

from media.aiortc import PortRangeExhausted, ice_connection, local_candidates, parse_sdp
from media.config import PortRange


def test_aioice_binds_host_candidates_in_the_method_replaced_per_connection() -> None:
    source = inspect.getsource(ice.Connection.get_component_candidates)
    # Host sockets: one per address, at a port the kernel picks; nothing else binds for them.
    assert "for address in addresses:" in source
    assert "local_addr=(address, 0)" in source
    assert source.count("create_datagram_endpoint") == 1
    # Server-reflexive candidates come only from the host protocols bound there; TURN does not
    # depend on them, so aioice's method with no addresses still gathers relayed candidates.
    assert "for protocol in host_protocols:" in source
    assert "if self.turn_server:" in source
    assert list(inspect.signature(ice.server_reflexive_candidate).parameters) == [
        "protocol",
        "stun_server",
    ]
    assert list(inspect.signature(ice.StunProtocol).parameters) == ["receiver"]
    # The relay-only policy gathers with no addresses at all.
    assert "addresses = []" in inspect.getsource(ice.Connection.gather_candidates)


async def test_aioice_with_no_addresses_binds_nothing() -> None:
    connection = ice.Connection(ice_controlling=True)
    assert await connection.get_component_candidates(component=1, addresses=[]) == []
    assert connection._protocols == []


@pytest.fixture
def free_range() -> Iterator[PortRange]:
    """Ten ports below the kernel's ephemeral range (nothing else is handed them at random),
    free on loopback when the test starts."""
    for _ in range(50):
        first = random.randrange(20000, 30000, 10)
        ports = PortRange(first, first + 9)
        if all(_free("127.0.0.1", port) for port in range(first, first + 10)):
            yield ports
            return
    pytest.fail("no free range of ten ports")


def _free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


async def shaped_offer(
    pc: RTCPeerConnection, *, loopback: bool, ports: PortRange | None = None,
    announced: str | None = None,
) -> str:  # fmt: skip
    pc.addTransceiver("audio")
    local_candidates(pc, loopback=loopback, ports=ports, announced=announced)
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    return sdp


def bound_ports(pc: RTCPeerConnection) -> list[tuple[str, int]]:
    (transceiver,) = pc.getTransceivers()
    connection = ice_connection(transceiver.sender.transport)
    return [p.transport.get_extra_info("socket").getsockname()[:2] for p in connection._protocols]


async def test_host_candidates_bind_and_are_offered_inside_the_range(
    free_range: PortRange,
) -> None:
    pc = RTCPeerConnection()
    try:
        sdp = await shaped_offer(pc, loopback=True, ports=free_range)
        (media,) = parse_sdp(sdp).media
        hosts = {c.ip for c in media.ice_candidates}
        assert "127.0.0.1" in hosts
        assert all(c.port in free_range for c in media.ice_candidates), sdp
        bound = bound_ports(pc)
        assert len(bound) == len(media.ice_candidates)
        assert all(port in free_range for _, port in bound), bound
        assert media.port in free_range  # the m= line's port, from the first candidate
    finally:
        await pc.close()


async def test_a_taken_port_is_skipped_and_a_full_range_fails_clearly(
    free_range: PortRange, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = free_range.first, free_range.first + 1
    two = PortRange(first, second)
    monkeypatch.setattr(secrets, "randbelow", lambda _n: 0)  # always try `first` first
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", first))
    pc = RTCPeerConnection()
    crowded = RTCPeerConnection()
    try:
        sdp = await shaped_offer(pc, loopback=True, ports=two)
        (media,) = parse_sdp(sdp).media
        loopback = [c.port for c in media.ice_candidates if c.ip == "127.0.0.1"]
        assert loopback == [second]  # EADDRINUSE on `first`: the next port
        # Both ports of the range are now taken on loopback: the next connection fails, saying so.
        with pytest.raises(
            PortRangeExhausted, match=rf"{first}-{second} is in use on 127\.0\.0\.1"
        ):
            await shaped_offer(crowded, loopback=True, ports=two)
    finally:
        taken.close()
        await pc.close()
        await crowded.close()


async def test_an_announced_address_replaces_every_local_address(free_range: PortRange) -> None:
    pc = RTCPeerConnection()
    try:
        sdp = await shaped_offer(pc, loopback=True, ports=free_range, announced="203.0.113.10")
        (media,) = parse_sdp(sdp).media
        assert [(c.ip, c.type) for c in media.ice_candidates] == [("203.0.113.10", "host")]
        assert media.host == "203.0.113.10"  # c= line
        assert "c=IN IP4 203.0.113.10" in sdp
        # One socket, on every interface (the NAT delivers on whichever it uses), in the range.
        ((address, port),) = bound_ports(pc)
        assert address == "0.0.0.0"  # noqa: S104  # the wildcard is what is checked
        assert port in free_range
        assert media.ice_candidates[0].port == port
        for other in ("127.0.0.1", *local_addresses()):
            assert other not in sdp
    finally:
        await pc.close()


async def test_without_a_range_or_an_address_aioice_binds_as_before() -> None:
    pc = RTCPeerConnection()
    try:
        sdp = await shaped_offer(pc, loopback=False)
        (transceiver,) = pc.getTransceivers()
        connection = ice_connection(transceiver.sender.transport)
        assert not getattr(connection, "_tandem_host_binding", False)
        assert "127.0.0.1" not in sdp
    finally:
        await pc.close()


def local_addresses() -> list[str]:
    return [a for a in ice.get_host_addresses(use_ipv4=True, use_ipv6=True)
            if not ipaddress.ip_address(a).is_loopback]  # fmt: skip
