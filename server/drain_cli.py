"""`tandem drain`: take this host's nodes out of service without cutting the calls on them.

Each node gets a `drain` op on its Redis channel (signaling/redis_router.py): it takes no new
session, /healthz answers 503 (the load balancer stops sending it connections), its sessions'
clients reconnect and land on other nodes without a second admission, and it exits when empty
or at the deadline. This command waits until the nodes have left the registry.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from server.config import Settings

# Past the nodes' own deadline: time for their graceful stop (recordings finalized).
_EXIT_GRACE_SECONDS = 45.0


def add_drain_parser(sub: Any) -> None:
    p = sub.add_parser(
        "drain",
        help="move this host's calls to other nodes, then stop its nodes (rolling deploys)",
    )
    p.add_argument(
        "--node",
        action="append",
        default=[],
        help="a node id to drain (repeatable); default: every node of this host",
    )
    p.add_argument(
        "--host", default=None, help="drain the nodes of this host (default: TANDEM_HOST_NAME)"
    )
    p.add_argument(
        "--deadline",
        type=float,
        default=600.0,
        help="seconds a node waits for its calls to move before it stops anyway",
    )
    p.add_argument("--no-wait", action="store_true", help="ask, and do not wait for the exit")


def run_drain(settings: Settings, args: argparse.Namespace) -> int:
    import redis

    from signaling.node_registry import drain_request, text

    if not settings.redis_url:
        print(
            "tandem: drain needs TANDEM_REDIS_URL: with a single node there is no other node"
            " for the calls to move to (a restart already brings the clients back).",
            file=sys.stderr,
        )
        return 2
    client = redis.Redis.from_url(settings.redis_url)
    nodes_key = f"{settings.redis_prefix}nodes"
    try:
        nodes = {text(k): json.loads(text(v)) for k, v in client.hgetall(nodes_key).items()}
        host = args.host or settings.host_name
        targets = list(args.node) or [n for n, info in nodes.items() if info.get("host") == host]
        unknown = [n for n in targets if n not in nodes]
        if unknown or not targets:
            known = ", ".join(f"{n} (host {i.get('host')})" for n, i in nodes.items()) or "none"
            what = f"unknown nodes {unknown}" if unknown else f"no node of host {host!r}"
            print(f"tandem: {what}; registered: {known}", file=sys.stderr)
            return 1
        for node in targets:
            channel = f"{settings.redis_prefix}node:{node}"
            heard = int(client.publish(channel, drain_request(args.deadline)))
            print(
                f"tandem: draining {node}" + ("" if heard else " (it did not answer)"), flush=True
            )
        if args.no_wait:
            return 0
        until = time.monotonic() + args.deadline + _EXIT_GRACE_SECONDS
        left = set(targets)
        while left and time.monotonic() < until:
            time.sleep(0.5)
            for node in sorted(left):
                if not client.hexists(nodes_key, node):
                    left.discard(node)
                    print(f"tandem: {node} drained and stopped")
        if left:
            print(f"tandem: still running after the deadline: {sorted(left)}", file=sys.stderr)
            return 1
        return 0
    finally:
        client.close()
