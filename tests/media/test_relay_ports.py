"""The operator's settings on a real relay: its UDP port range, and the address it announces."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

import pytest

from media import PortRange, Relay, RelayConfig
from media.aiortc import datagram_protocols, parse_sdp
from media.testing.client import ClientPool, TestClient


def udp_ports_of_this_process() -> set[tuple[str, int]]:
    """(address, port) of every UDP socket this process holds, read from /proc as `ss` would:
    what the relay binds, whoever binds it, shows up here."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for table in ("udp", "udp6"):
        lines = Path(f"/proc/self/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            if fields[9] in inodes:
                address, port = fields[1].split(":")
                found.add((address, int(port, 16)))
    return found


def client_sockets(client: TestClient) -> set[int]:
    (transceiver, *_) = client.pc.getTransceivers()
    return {
        p.transport.get_extra_info("socket").getsockname()[1]
        for p in datagram_protocols(transceiver.sender.transport)
    }


def free_range(size: int) -> PortRange:
    """Ports below the kernel's ephemeral range, free on every address when the test starts."""
    for _ in range(50):
        first = random.randrange(20000, 30000, size)
        if all(_free(port) for port in range(first, first + size)):
            return PortRange(first, first + size - 1)
    pytest.fail("no free port range")


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("0.0.0.0", port))  # noqa: S104  # every address: free everywhere
        except OSError:
            return False
    return True


def offered_candidates(client: TestClient) -> list[tuple[str, int, str]]:
    """(address, port, type) of every candidate of every offer the relay sent ``client``."""
    found = []
    for offer_sdp, _ in client.offers:
        for media in parse_sdp(offer_sdp).media:
            assert media.ice_candidates, offer_sdp
            assert media.port in {c.port for c in media.ice_candidates}  # the m= line's
            found += [(c.ip, c.port, c.type) for c in media.ice_candidates]
    return found


def has_media(client: TestClient, publisher: str) -> bool:
    got = client.received.get(publisher)
    return got is not None and len(got.video_numbers) >= 20 and got.audio_frames >= 20


async def call(relay: Relay, clients: ClientPool) -> tuple[TestClient, TestClient]:
    """Alice and Bob in a room of ``relay``, each receiving the other's media."""
    room = relay.room("ports")
    alice = await clients.join(room, "alice", tone_hz=500.0)
    bob = await clients.join(room, "bob", tone_hz=1000.0)
    await alice.wait_for(lambda: has_media(alice, "bob"), 15, "bob's media at alice")
    await bob.wait_for(lambda: has_media(bob, "alice"), 15, "alice's media at bob")
    return alice, bob


async def test_a_relay_with_a_port_range_binds_and_offers_only_ports_in_it() -> None:
    ports = free_range(20)
    relay = Relay(RelayConfig(port_range=ports))
    clients = ClientPool()
    before = udp_ports_of_this_process()
    try:
        alice, bob = await call(relay, clients)
        # Every candidate of every offer the relay sent is in the range, the m= line's port too.
        for client in (alice, bob):
            assert all(port in ports for _, port, _ in offered_candidates(client))
        # And every UDP socket that appeared in this process is in the range, but the clients'.
        ours = client_sockets(alice) | client_sockets(bob)
        relay_sockets = {
            (a, p) for a, p in udp_ports_of_this_process() - before if p not in ours
        }  # fmt: skip
        assert relay_sockets, "the relay bound no socket?"
        assert all(port in ports for _, port in relay_sockets), sorted(relay_sockets)
    finally:
        await clients.close()
        await relay.close()


async def test_a_relay_announcing_an_address_is_reached_there() -> None:
    """Announcing 127.0.0.1 (loopback: no NAT on one machine) while bound to the wildcard: the
    client only knows the announced address, and media flows through it. The real 1:1 NAT is
    in tests/network/test_relay_settings.py."""
    ports = free_range(10)
    relay = Relay(
        RelayConfig(port_range=ports, announced_address="127.0.0.1", include_loopback=False)
    )
    clients = ClientPool()
    try:
        alice, bob = await call(relay, clients)
        for client in (alice, bob):
            candidates = offered_candidates(client)
            assert {(ip, kind) for ip, _, kind in candidates} == {("127.0.0.1", "host")}
            assert all(port in ports for _, port, _ in candidates)
    finally:
        await clients.close()
        await relay.close()
