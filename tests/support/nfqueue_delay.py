"""Delay every packet of one netfilter queue by a fixed time: the test bed's stand-in for netem.

This machine's kernel has no sch_netem. iptables can hand packets to a userspace queue
(``-j NFQUEUE --queue-num N --queue-bypass``); this program takes them and releases each one
(verdict ACCEPT) ``delay`` milliseconds after it arrived, in arrival order. It speaks netlink
directly (NETLINK_NETFILTER), so it needs nothing but the standard library, and runs inside the
network namespace whose queue it serves (``ip netns exec NS python3 nfqueue_delay.py N MS``).

It prints ``ready`` once bound. A line ``delay MS`` on standard input changes the delay; the end
of standard input stops it (packets still held are then dropped by the kernel).
"""

from __future__ import annotations

import collections
import os
import select
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NF_ACCEPT = 1
# Enough for ~1 s of a few Mbit/s of small packets; a full queue would drop, not delay.
QUEUE_MAXLEN = 8192


def attribute(kind: int, payload: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def message(msg_type: int, queue: int, attributes: bytes, flags: int = NLM_F_REQUEST) -> bytes:
    # nfgenmsg: family, version, resource id (the queue number, big-endian).
    body = struct.pack("=BB", socket.AF_UNSPEC, 0) + struct.pack("!H", queue) + attributes
    header = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, 0, 0)
    return header + body


def split_messages(data: bytes) -> list[tuple[int, bytes]]:
    messages = []
    offset = 0
    while offset + 16 <= len(data):
        length, msg_type = struct.unpack_from("=IH", data, offset)
        if length < 16:
            break
        messages.append((msg_type, data[offset + 16 : offset + length]))
        offset += (length + 3) & ~3
    return messages


def packet_id(body: bytes) -> int | None:
    offset = 4  # past the nfgenmsg
    while offset + 4 <= len(body):
        length, kind = struct.unpack_from("=HH", body, offset)
        if length < 4:
            return None
        if kind & 0x7FFF == NFQA_PACKET_HDR:
            value: int = struct.unpack_from("!I", body, offset + 4)[0]
            return value
        offset += (length + 3) & ~3
    return None


def configure(sock: socket.socket, queue: int, msg_attributes: bytes) -> None:
    sock.send(message(NFQNL_MSG_CONFIG, queue, msg_attributes, NLM_F_REQUEST | NLM_F_ACK))
    for msg_type, body in split_messages(sock.recv(65536)):
        if msg_type == NLMSG_ERROR:
            error = struct.unpack_from("=i", body)[0]
            if error:
                raise OSError(-error, f"nfqueue config refused: {os.strerror(-error)}")


def serve(queue: int, delay_ms: float) -> None:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    # A burst larger than the socket's buffer would be dropped by the kernel, not delayed.
    sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE (we run as root)
    sock.bind((0, 0))
    configure(sock, queue, attribute(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0)))
    configure(sock, queue, attribute(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META)))
    configure(sock, queue, attribute(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", QUEUE_MAXLEN)))
    print("ready", flush=True)

    held: collections.deque[tuple[float, int]] = collections.deque()
    delay = delay_ms / 1000
    stdin = sys.stdin.fileno()
    while True:
        now = time.monotonic()
        while held and held[0][0] <= now:
            verdict = struct.pack("!II", NF_ACCEPT, held.popleft()[1])
            sock.send(message(NFQNL_MSG_VERDICT, queue, attribute(NFQA_VERDICT_HDR, verdict)))
        timeout = max(0.0, held[0][0] - now) if held else None
        readable, _, _ = select.select([sock, stdin], [], [], timeout)
        if sock in readable:
            arrived = time.monotonic()
            for msg_type, body in split_messages(sock.recv(1 << 20)):
                if msg_type != (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    continue
                pid = packet_id(body)
                if pid is None:
                    continue
                # Never before a packet that came earlier: a shorter new delay must not reorder.
                due = max(arrived + delay, held[-1][0] if held else 0.0)
                held.append((due, pid))
        if stdin in readable:
            line = sys.stdin.readline()
            if not line:
                return
            command, _, value = line.partition(" ")
            if command == "delay":
                delay = float(value) / 1000


if __name__ == "__main__":
    serve(int(sys.argv[1]), float(sys.argv[2]))
