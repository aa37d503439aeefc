"""The operator's relay settings across the bed: a firewall open for the relay's UDP port range
only, and the relay behind a real 1:1 NAT, announcing the public address the parent reaches."""

from __future__ import annotations

import pytest
from e2e_flows import start_call_with_parent, wait_frames_growing, wait_until
from netcall import NetCall, selected_pair

pytestmark = [pytest.mark.network, pytest.mark.browser]

# An address of the bed's benchmarking range that no link uses: the VM's public address.
PUBLIC = "198.19.255.10"
FIRST, LAST = 41000, 41049

REMOTE_CANDIDATES_JS = """() => {
  const pc = window.tandemCall && window.tandemCall.peer && window.tandemCall.peer.pc;
  const sdp = pc && pc.remoteDescription ? pc.remoteDescription.sdp : "";
  return sdp.split(/\\r?\\n/).filter((l) => l.startsWith("a=candidate:") || l.startsWith("c="));
}"""


def test_relay_behind_one_to_one_nat_is_reached_at_its_announced_address(call: NetCall) -> None:
    sites = call.sites
    server, parent = sites.server, sites.parent
    private = sites.link.address(server)
    device = sites.link.end(server).device
    # The cloud's NAT: PUBLIC <-> the relay's private address; nothing in the server's
    # namespace has PUBLIC, and the parent's network knows only the way to it.
    server.one_to_one_nat(PUBLIC, private, out_device=device)
    parent.route(PUBLIC, via=private)
    # The therapist's browser beside the relay reaches it there too (the NAT turns it back).
    server.route(PUBLIC, device=device)
    # The firewall in front of the relay opens the relay's range and nothing else for UDP.
    server.iptables("-A", "INPUT", "-i", device, "-p", "udp", "--dport", f"{FIRST}:{LAST}",
                    "-j", "ACCEPT")  # fmt: skip
    server.iptables("-A", "INPUT", "-i", device, "-p", "udp", "-j", "DROP")
    # The parent cannot send UDP to the private address, should it ever learn it.
    parent.iptables("-A", "OUTPUT", "-d", private, "-p", "udp", "-j", "DROP")

    live = call.serve(TANDEM_RELAY_PORTS=f"{FIRST}-{LAST}", TANDEM_RELAY_ANNOUNCED_ADDRESS=PUBLIC)
    therapist, person, ids = start_call_with_parent(live, call.launch, "Behind 1:1 NAT")
    wait_frames_growing(therapist, ids["parent_id"], timeout=20)
    wait_frames_growing(person, ids["therapist_id"], timeout=20)

    # What the relay offered: the public address only, at ports of the range.
    lines = person.page.evaluate(REMOTE_CANDIDATES_JS)
    candidates = [line for line in lines if line.startswith("a=candidate:")]
    assert candidates, lines
    for line in candidates:
        address, port = line.split()[4], int(line.split()[5])
        assert address == PUBLIC, lines
        assert FIRST <= port <= LAST, lines
    assert f"c=IN IP4 {PUBLIC}" in lines, lines
    assert not any(private in line for line in lines), lines
    # And the parent's media goes there, straight over UDP: through the NAT, into the range.
    pair = wait_until(lambda: selected_pair(person), 10, "the parent has no candidate pair")
    assert pair["remote"]["address"] == PUBLIC, pair
    assert FIRST <= pair["remote"]["port"] <= LAST, pair
    assert pair["local"]["protocol"] == "udp", pair
    assert pair["local"]["address"] == sites.link.address(parent), pair
