"""A network test bed: network namespaces joined by veth pairs, impaired per direction.

A bed is made by one test and removed by it: its namespaces are named ``tnb<pid>x<token>-<role>``
(the pytest process's id and a random token), so two runs never collide, and a later run removes
what a crashed run left behind (its process id is gone). Each link is a veth pair with a /30
from 198.18.0.0/15, the range set aside for benchmarking (RFC 2544), so it can never be confused
with a network the host is on. Nothing here touches the host's own interfaces or firewall: every
command runs inside a namespace the bed made, and the namespaces have no route out.

Impairments act on the *receiving* end of a link, on its ingress, so the sender's socket never sees
a local drop (as with a real bottleneck): the rate with tbf on an ifb device that the veth's ingress
is redirected to, random loss with iptables ``statistic``, delay with an NFQUEUE program
(nfqueue_delay.py; this kernel has no sch_netem). All of them can be changed while traffic flows.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

PREFIX = "tnb"
DELAY_PROGRAM = Path(__file__).with_name("nfqueue_delay.py")
PROBE_PROGRAM = Path(__file__).with_name("netprobe.py")
# Ethernet + IPv4 + UDP headers: what tbf counts on top of a UDP payload.
UDP_OVERHEAD = 14 + 20 + 8


def bed_missing() -> str | None:
    """Why no bed can be made here (None when one can)."""
    if os.geteuid() != 0:
        return "root (network namespaces)"
    for tool in ("ip", "tc", "iptables"):
        if shutil.which(tool) is None:
            return f"the {tool} command"
    return None


def run(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result


@dataclass(frozen=True)
class Impairment:
    """What one direction of a link does to the packets it carries."""

    rate_kbit: int | None = None  # None: as fast as the veth goes
    delay_ms: float = 0.0
    loss: float = 0.0  # fraction of packets dropped at random
    # How long the rate limiter's queue may hold a packet before dropping (a home router's buffer).
    queue_ms: int = 400


class Namespace:
    def __init__(self, bed: NetBed, role: str) -> None:
        self.bed = bed
        self.role = role
        self.name = f"{bed.prefix}-{role}"

    def command(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def run(
        self, *args: str, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return run(*self.command(*args), check=check, timeout=timeout)

    def popen(
        self, *args: str, stdin: int | None = None, stdout: int | IO[str] | None = None,
        stderr: int | IO[str] | None = None,
    ) -> subprocess.Popen[str]:  # fmt: skip
        """Start a process inside the namespace; the bed stops it when it closes."""
        process = subprocess.Popen(
            self.command(*args), text=True, stdin=stdin, stdout=stdout, stderr=stderr
        )
        self.bed.processes.append(process)
        return process

    def probe(self, *args: str, timeout: float = 30) -> dict[str, Any]:
        """Run a netprobe.py command here and return what it printed."""
        result = self.run(sys.executable, str(PROBE_PROGRAM), *args, timeout=timeout)
        parsed: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
        return parsed

    def probe_ok(self, *args: str, timeout: float = 30) -> bool:
        """Run a netprobe.py check here (http-ok, wait-tcp): did it pass?"""
        command = (sys.executable, str(PROBE_PROGRAM), *args)
        return self.run(*command, check=False, timeout=timeout).returncode == 0

    def start_probe(self, *args: str) -> subprocess.Popen[str]:
        """Start a netprobe.py server here; returns once it listens (see finish_probe)."""
        process = self.popen(sys.executable, str(PROBE_PROGRAM), *args, stdout=subprocess.PIPE)
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"netprobe {args[0]} did not start (exit {process.wait(5)})")
        return process

    @staticmethod
    def finish_probe(process: subprocess.Popen[str], timeout: float = 30) -> dict[str, Any]:
        out, _ = process.communicate(timeout=timeout)
        parsed: dict[str, Any] = json.loads(out.splitlines()[-1])
        return parsed

    def iptables(self, *args: str, check: bool = True) -> None:
        self.run("iptables", "-w", *args, check=check)

    def route(self, destination: str, *, via: str | None = None, device: str | None = None) -> None:
        """Reach ``destination`` (an address no link has, e.g. a NAT's public one) through the
        gateway ``via`` or straight out of ``device``."""
        where = ("via", via) if via is not None else ("dev", str(device))
        run("ip", "-n", self.name, "route", "add", destination, *where)

    def one_to_one_nat(self, public: str, private: str, out_device: str) -> None:
        """Translate ``public`` to ``private`` for UDP, as a cloud's 1:1 NAT does for a VM:
        what arrives for ``public`` (from a link, or from this namespace itself) goes to
        ``private``, and what ``private`` starts sending out of ``out_device`` leaves as
        ``public``. No interface here has ``public``."""
        to_private = ("-d", public, "-p", "udp", "-j", "DNAT", "--to-destination", private)
        self.iptables("-t", "nat", "-A", "PREROUTING", *to_private)
        self.iptables("-t", "nat", "-A", "OUTPUT", *to_private)
        self.iptables("-t", "nat", "-A", "POSTROUTING", "-s", private, "-o", out_device,
                      "-p", "udp", "-j", "SNAT", "--to-source", public)  # fmt: skip

    def executable(self, program: str, folder: Path) -> Path:
        """A wrapper that runs ``program`` inside this namespace (for Playwright's executable_path:
        the browser it launches, with its pipes, lives in the namespace)."""
        path = folder / f"{self.name}-{Path(program).name}"
        path.write_text(f'#!/bin/sh\nexec ip netns exec {self.name} {program} "$@"\n')
        path.chmod(0o755)
        return path


class End:
    """One end of a link: a veth in a namespace, and the impairment of what arrives on it."""

    def __init__(self, ns: Namespace, device: str, address: str, queue: int) -> None:
        self.ns = ns
        self.device = device
        self.address = address
        self.impairment = Impairment()
        self.udp_blocked = False
        self._queue = queue  # this end's NFQUEUE number (unique in the bed)
        self._ifb: str | None = None
        self._delay: subprocess.Popen[str] | None = None
        self._chain = f"in-{device}"
        ns.iptables("-N", self._chain)
        ns.iptables("-A", "INPUT", "-i", device, "-j", self._chain)

    def impair(self, impairment: Impairment) -> None:
        self._set_rate(impairment)
        if impairment.delay_ms:
            self._set_delay(impairment.delay_ms)
        self.impairment = impairment
        self._write_rules()

    def block_udp(self, blocked: bool) -> None:
        self.udp_blocked = blocked
        self._write_rules()

    def _set_rate(self, impairment: Impairment) -> None:
        ns = self.ns.name
        if impairment.rate_kbit is None:
            if self._ifb:
                run("tc", "-n", ns, "qdisc", "del", "dev", self.device, "ingress")
                run("ip", "-n", ns, "link", "del", self._ifb)
                self._ifb = None
            return
        if self._ifb is None:
            ifb = f"i-{self.device}"[:15]
            run("ip", "-n", ns, "link", "add", ifb, "type", "ifb")
            run("ip", "-n", ns, "link", "set", ifb, "up")
            run("tc", "-n", ns, "qdisc", "add", "dev", self.device, "handle", "ffff:", "ingress")
            # u32 matching everything: this kernel has no matchall classifier.
            run("tc", "-n", ns, "filter", "add", "dev", self.device, "parent", "ffff:",
                "protocol", "all", "u32", "match", "u32", "0", "0",
                "action", "mirred", "egress", "redirect", "dev", ifb)  # fmt: skip
            self._ifb = ifb
        # A burst of two full frames or 10 ms at the rate: a small bucket, like a real uplink.
        burst = max(2 * 1514, impairment.rate_kbit * 1000 // 8 // 100)
        run("tc", "-n", ns, "qdisc", "replace", "dev", self._ifb, "root", "tbf",
            "rate", f"{impairment.rate_kbit}kbit", "burst", str(burst),
            "latency", f"{impairment.queue_ms}ms")  # fmt: skip

    def _set_delay(self, delay_ms: float) -> None:
        if self._delay is not None and self._delay.poll() is None:
            assert self._delay.stdin is not None
            self._delay.stdin.write(f"delay {delay_ms}\n")
            self._delay.stdin.flush()
            return
        process = self.ns.popen(
            sys.executable, str(DELAY_PROGRAM), str(self._queue), str(delay_ms),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the delay program did not start (exit {process.wait(5)})")
        self._delay = process

    def _write_rules(self) -> None:
        """Rebuild this end's chain from its settings (order: block, loss, then delay)."""
        self.ns.iptables("-F", self._chain)
        if self.udp_blocked:
            self.ns.iptables("-A", self._chain, "-p", "udp", "-j", "DROP")
        if self.impairment.loss:
            loss = f"{self.impairment.loss:.4f}"
            self.ns.iptables("-A", self._chain, "-m", "statistic", "--mode", "random",
                             "--probability", loss, "-j", "DROP")  # fmt: skip
        if self.impairment.delay_ms:
            # --queue-bypass: should the program die, packets pass undelayed rather than vanish.
            self.ns.iptables("-A", self._chain, "-j", "NFQUEUE", "--queue-num",
                             str(self._queue), "--queue-bypass")  # fmt: skip

    def close(self) -> None:
        if self._delay is not None and self._delay.poll() is None:
            assert self._delay.stdin is not None
            with contextlib.suppress(OSError):
                self._delay.stdin.close()


class Link:
    """A veth pair between two namespaces, with an address on each end."""

    def __init__(self, bed: NetBed, a: Namespace, b: Namespace, index: int) -> None:
        # 198.18.<index*4 / 256>.<...>: one /30 per link.
        base = index * 4
        net = f"198.{18 + base // 65536}.{base // 256 % 256}"
        dev_a, dev_b = f"v-{b.role}"[:15], f"v-{a.role}"[:15]
        run("ip", "link", "add", dev_a, "netns", a.name, "type", "veth",
            "peer", "name", dev_b, "netns", b.name)  # fmt: skip
        self.ends: dict[str, End] = {}
        for ns, device, host in ((a, dev_a, 1), (b, dev_b, 2)):
            address = f"{net}.{base % 256 + host}"
            run("ip", "-n", ns.name, "addr", "add", f"{address}/30", "dev", device)
            run("ip", "-n", ns.name, "link", "set", device, "up")
            self.ends[ns.role] = End(ns, device, address, queue=bed.next_queue())

    def end(self, ns: Namespace) -> End:
        return self.ends[ns.role]

    def address(self, ns: Namespace) -> str:
        """The address of ``ns`` on this link."""
        return self.end(ns).address

    def impair(self, into: Namespace, impairment: Impairment) -> None:
        """Impair what this link carries *into* ``into`` (replacing what was set before)."""
        self.end(into).impair(impairment)

    def block_udp(self, blocked: bool = True) -> None:
        """Drop every UDP packet on the link, both ways, silently (a firewall in between)."""
        for end in self.ends.values():
            end.block_udp(blocked)

    def down(self, ns: Namespace) -> None:
        """Take ``ns``'s end down (its Wi-Fi drops); the other end loses carrier."""
        end = self.end(ns)
        run("ip", "-n", ns.name, "link", "set", end.device, "down")

    def up(self, ns: Namespace) -> None:
        end = self.end(ns)
        run("ip", "-n", ns.name, "link", "set", end.device, "up")

    def black_hole(self, on: bool = True) -> None:
        """Everything on the link vanishes, both ways, while both ends stay up (the home
        router lost its uplink; nothing on the parent's side notices but the silence)."""
        for end in self.ends.values():
            end.ns.iptables("-I" if on else "-D", "INPUT", "-i", end.device, "-j", "DROP")

    def readdress(self, ns: Namespace, address: str) -> None:
        """Give ``ns``'s end a new address (Wi-Fi to cellular): the old one disappears, the new
        one (outside the link's /30, from 198.18.0.0/15) reaches the other end on-link."""
        end = self.end(ns)
        other = next(e for e in self.ends.values() if e is not end)
        run("ip", "-n", ns.name, "addr", "del", f"{end.address}/30", "dev", end.device)
        run("ip", "-n", ns.name, "addr", "add", f"{address}/32", "dev", end.device)
        run("ip", "-n", ns.name, "route", "add", f"{other.address}/32", "dev", end.device,
            "src", address)  # fmt: skip
        run("ip", "-n", other.ns.name, "route", "add", f"{address}/32", "dev", other.device)
        end.address = address

    def close(self) -> None:
        for end in self.ends.values():
            end.close()


def _remove_namespace(name: str) -> None:
    """Stop whatever still runs inside (it can only be the bed's) and delete the namespace."""
    pids = run("ip", "netns", "pids", name, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    run("ip", "netns", "delete", name, check=False)


def remove_leftovers() -> list[str]:
    """Delete the namespaces of beds whose test process is gone (a crashed or killed run)."""
    removed = []
    for line in run("ip", "netns", "list").stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        owner = name.removeprefix(PREFIX).partition("x")[0]
        if not name.startswith(PREFIX) or not owner.isdigit():
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            _remove_namespace(name)
            removed.append(name)
    return removed


class NetBed:
    """Namespaces and links made on demand, all removed by close() (use it as a context)."""

    def __init__(self) -> None:
        self.prefix = f"{PREFIX}{os.getpid()}x{secrets.token_hex(3)}"
        self.namespaces: dict[str, Namespace] = {}
        self.links: list[Link] = []
        self.processes: list[subprocess.Popen[str]] = []
        self._queues = itertools.count(1)
        remove_leftovers()

    def next_queue(self) -> int:
        return next(self._queues)

    def namespace(self, role: str) -> Namespace:
        if role not in self.namespaces:
            ns = Namespace(self, role)
            run("ip", "netns", "add", ns.name)
            self.namespaces[role] = ns
            run("ip", "-n", ns.name, "link", "set", "lo", "up")
        return self.namespaces[role]

    def link(self, a: Namespace, b: Namespace) -> Link:
        link = Link(self, a, b, len(self.links))
        self.links.append(link)
        return link

    def close(self) -> None:
        for link in self.links:
            link.close()
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 5
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for ns in self.namespaces.values():
            _remove_namespace(ns.name)
        self.namespaces.clear()

    def __enter__(self) -> NetBed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Sites:
    """The usual shape: the server's network and a parent's home network, joined by one link."""

    bed: NetBed
    server: Namespace
    parent: Namespace
    link: Link

    @classmethod
    def make(cls, bed: NetBed) -> Sites:
        server, parent = bed.namespace("server"), bed.namespace("parent")
        return cls(bed, server, parent, bed.link(server, parent))
