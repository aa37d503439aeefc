"""Pins what media/aiortc/ice.py relies on in aioice, and checks its datagram interception."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aioice
import pytest
import uvloop
from aioice import ice, stun
from aioice.candidate import Candidate
from aiortc import RTCPeerConnection
from mangled import mangled

from media.aiortc import DatagramHandler, add_loopback_candidates, intercept_datagrams
from media.rtp.wire import FIXED_HEADER


async def test_ice_shapes() -> None:
    pc = RTCPeerConnection()
    pc.addTransceiver("video")
    transports = mangled(pc, RTCPeerConnection, "iceTransports")
    (transport,) = transports
    connection = transport.iceGatherer._connection
    assert isinstance(connection, aioice.Connection)
    assert connection._local_candidates_start is False
    assert list(inspect.signature(connection.get_component_candidates).parameters) == [
        "component",
        "addresses",
        "timeout",
    ]
    add_loopback_candidates(pc)
    assert getattr(connection, "_tandem_loopback", False) is True
    await pc.close()


def test_aioice_hands_non_stun_datagrams_to_the_connection() -> None:
    source = inspect.getsource(ice.StunProtocol.datagram_received)
    assert "self.receiver.data_received(data, self.local_candidate.component)" in source
    assert "self._queue.put_nowait((data, component))" in inspect.getsource(
        ice.Connection.data_received
    )
    sendto = inspect.getsource(ice.Connection.sendto)
    assert "self._nominated.get(component)" in sendto
    assert "active_pair.protocol.send_data(data, active_pair.remote_addr)" in sendto
    assert "self.transport.sendto(data, addr)" in inspect.getsource(ice.StunProtocol.send_data)


def test_aioice_changes_protocols_and_nominated_pairs_in_place() -> None:
    # intercept_datagrams follows _protocols as it grows; rtp_transmitter holds _nominated.
    source = inspect.getsource(ice.Connection)
    assert "self._protocols: list[StunProtocol] = []" in source
    assert "self._protocols += host_protocols" in source
    assert "self._protocols.append(relay_protocol)" in source
    assert "self._protocols =" not in source
    assert "self._nominated: dict[int, CandidatePair] = {}" in source
    # selected_candidate_types reads a nominated pair's candidates.
    pair = inspect.getsource(ice.CandidatePair)
    assert "def local_candidate(self) -> Candidate:" in pair
    assert "self.remote_candidate = remote_candidate" in pair
    assert "self._nominated =" not in source
    # Each protocol parses every datagram as STUN first; only what fails goes on.
    received = inspect.getsource(ice.StunProtocol.datagram_received)
    assert received.index("stun.parse_message(data)") < received.index("except ValueError:")


@pytest.mark.parametrize("new_loop", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_datagram_transports_look_up_the_protocols_handler_per_datagram(
    new_loop: Callable[[], asyncio.AbstractEventLoop], monkeypatch: pytest.MonkeyPatch
) -> None:
    """intercept_datagrams replaces ``datagram_received`` on protocols already connected."""

    class Protocol(asyncio.DatagramProtocol):  # with a __dict__, like aioice's
        pass

    async def run() -> bytes:
        loop = asyncio.get_running_loop()
        received: asyncio.Future[bytes] = loop.create_future()
        transport, protocol = await loop.create_datagram_endpoint(
            Protocol, local_addr=("127.0.0.1", 0)
        )
        monkeypatch.setattr(
            protocol, "datagram_received", lambda data, addr: received.set_result(data)
        )
        sender, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=transport.get_extra_info("sockname")
        )
        try:
            sender.sendto(b"\x80rtp")
            return await asyncio.wait_for(received, 5)
        finally:
            sender.close()
            transport.close()
            await asyncio.sleep(0)

    loop = new_loop()
    try:
        assert loop.run_until_complete(run()) == b"\x80rtp"
    finally:
        loop.close()


def stun_protocol(connection: ice.Connection, port: int) -> ice.StunProtocol:
    protocol = ice.StunProtocol(connection)
    protocol.local_candidate = Candidate(
        foundation="1", component=1, transport="udp", priority=1, host="127.0.0.1", port=port,
        type="host",
    )  # fmt: skip
    return protocol


async def test_rtp_and_rtcp_skip_aioice_stun_parsing_and_the_rest_goes_aiortcs_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection = ice.Connection(ice_controlling=True)
    first = stun_protocol(connection, 1000)
    connection._protocols.append(first)
    parsed: list[bytes] = []
    parse = stun.parse_message

    def counting_parse(data: bytes) -> stun.Message:
        parsed.append(data)
        return parse(data)

    monkeypatch.setattr(stun, "parse_message", counting_parse)
    requests: list[stun.Message] = []
    monkeypatch.setattr(connection, "request_received", lambda m, *_: requests.append(m))
    taken: list[bytes] = []

    def make_handler(stock: DatagramHandler) -> DatagramHandler:
        def handler(data: bytes, component: int) -> None:
            if data[1:2] == b"\x60":  # "RTP" (payload type 96): taken, the rest passed on
                taken.append(data)
            else:
                stock(data, component)

        return handler

    dtls: Any = SimpleNamespace(transport=SimpleNamespace(_connection=connection))
    intercept_datagrams(dtls, make_handler)
    addr = ("127.0.0.1", 2000)
    rtp = FIXED_HEADER.pack(0x80, 96, 1, 2, 3)
    rtcp = bytes([0x80, 200, 0, 1]) + bytes(4)
    dtls_record = bytes([22, 0xFE, 0xFD]) + bytes(20)
    binding = bytes(stun.Message(stun.Method.BINDING, stun.Class.REQUEST))

    first.datagram_received(dtls_record, addr)  # the long way: aioice then the handler
    assert connection._queue.get_nowait() == (dtls_record, 1)
    second = stun_protocol(connection, 1001)  # gathered later
    connection._protocols.append(second)
    second.datagram_received(rtp, addr)  # the long way once, and the new protocol is found
    assert taken == [rtp]
    parsed.clear()
    for protocol in (first, second):
        protocol.datagram_received(rtp, addr)
        protocol.datagram_received(rtcp, addr)
        assert connection._queue.get_nowait() == (rtcp, 1)
    assert taken == [rtp] * 3
    assert parsed == []  # RTP and RTCP never went through aioice's STUN parser
    first.datagram_received(binding, addr)
    first.datagram_received(b"", addr)  # neither STUN nor anything else: aioice queues it
    assert [m.message_method for m in requests] == [stun.Method.BINDING]
    assert connection._queue.get_nowait() == (b"", 1)
