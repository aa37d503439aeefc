"""Traffic tools run inside a test bed's namespaces (``ip netns exec NS python netprobe.py``).

Each prints one JSON line with what it saw; a server prints ``ready`` first. Standard library only.

    udp-sink ADDR PORT SECONDS            count packets (numbered) and bytes until SECONDS pass,
                                          or 0.7 s pass without one after the first
    udp-send ADDR PORT KBIT SECONDS SIZE  numbered packets of SIZE bytes, paced at KBIT of payload
    echo ADDR PORT SECONDS                echo UDP datagrams and TCP lines until SECONDS pass
    udp-rtt ADDR PORT COUNT               COUNT round trips to an echo (0.5 s timeout each)
    tcp-rtt ADDR PORT                     connect to an echo and time one round trip
    wait-tcp ADDR PORT SECONDS            exit 0 once ADDR:PORT accepts a connection
    http-ok URL                           exit 0 when URL answers 200
"""

from __future__ import annotations

import json
import selectors
import socket
import struct
import sys
import time
import urllib.request


def udp_sink(addr: str, port: int, seconds: float) -> dict[str, object]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((addr, port))
    print("ready", flush=True)
    end = time.monotonic() + seconds
    seen: set[int] = set()
    size = 0
    first = last = 0.0
    while (left := end - time.monotonic()) > 0:
        # 0.7 s: longer than the rate limiter's queue holds a packet, so a pause means the end.
        sock.settimeout(min(left, 0.7) if first else left)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        last = time.monotonic()
        first = first or last
        seen.add(struct.unpack_from("!I", data)[0])
        size += len(data)
    return {"packets": len(seen), "bytes": size, "seconds": last - first}


def udp_send(addr: str, port: int, kbit: float, seconds: float, size: int) -> dict[str, object]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    interval = size * 8 / (kbit * 1000)
    start = time.monotonic()
    sent = errors = 0
    while (now := time.monotonic()) - start < seconds:
        try:
            sock.sendto(struct.pack("!I", sent).ljust(size, b"\0"), (addr, port))
        except OSError:
            errors += 1
        sent += 1
        time.sleep(max(0.0, start + sent * interval - now))
    return {"packets": sent, "errors": errors}


def echo(addr: str, port: int, seconds: float) -> dict[str, object]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((addr, port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((addr, port))
    tcp.listen()
    selector = selectors.DefaultSelector()
    selector.register(udp, selectors.EVENT_READ)
    selector.register(tcp, selectors.EVENT_READ)
    print("ready", flush=True)
    end = time.monotonic() + seconds
    answered = 0
    while (left := end - time.monotonic()) > 0:
        for key, _ in selector.select(left):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if sock is udp:
                data, peer = udp.recvfrom(65536)
                udp.sendto(data, peer)
            elif sock is tcp:
                conn, _ = tcp.accept()
                selector.register(conn, selectors.EVENT_READ)
                continue
            else:
                data = sock.recv(65536)
                if data:
                    sock.sendall(data)
                else:
                    selector.unregister(sock)
                    sock.close()
                    continue
            answered += 1
    return {"answered": answered}


def udp_rtt(addr: str, port: int, count: int) -> dict[str, object]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.5)
    rtts: list[float] = []
    lost = 0
    for i in range(count):
        start = time.monotonic()
        try:
            sock.sendto(struct.pack("!I", i), (addr, port))
            while struct.unpack_from("!I", sock.recv(64))[0] != i:
                pass  # a late answer to an earlier probe
            rtts.append((time.monotonic() - start) * 1000)
        except OSError:  # a timeout, or the link is down
            lost += 1
            time.sleep(max(0.0, start + 0.5 - time.monotonic()))
    return {"rtts_ms": rtts, "lost": lost}


def tcp_rtt(addr: str, port: int) -> dict[str, object]:
    try:
        with socket.create_connection((addr, port), timeout=3) as sock:
            start = time.monotonic()
            sock.sendall(b"ping\n")
            data = sock.recv(64)
            return {"ok": data == b"ping\n", "rtt_ms": (time.monotonic() - start) * 1000}
    except OSError as exc:
        return {"ok": False, "error": str(exc)}


def wait_tcp(addr: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection((addr, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (a test URL)
            return bool(response.status == 200)
    except OSError:
        return False


def main(argv: list[str]) -> int:
    command, args = argv[0], argv[1:]
    if command == "http-ok":
        return 0 if http_ok(args[0]) else 1
    if command == "wait-tcp":
        return 0 if wait_tcp(args[0], int(args[1]), float(args[2])) else 1
    if command == "udp-sink":
        result = udp_sink(args[0], int(args[1]), float(args[2]))
    elif command == "udp-send":
        result = udp_send(args[0], int(args[1]), float(args[2]), float(args[3]), int(args[4]))
    elif command == "echo":
        result = echo(args[0], int(args[1]), float(args[2]))
    elif command == "udp-rtt":
        result = udp_rtt(args[0], int(args[1]), int(args[2]))
    elif command == "tcp-rtt":
        result = tcp_rtt(args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
