"""HAProxy in front of Tandem nodes, configured as docs/operations.md shows it."""

from __future__ import annotations

CONFIG = """
global
  maxconn 256
defaults
  mode http
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  # A WebSocket, once upgraded, is a tunnel.
  timeout tunnel 1h
  # A node that refuses the connection (dead, not yet marked down): try the other one.
  retries 2
  option redispatch 1
frontend tandem
  bind {bind}
  default_backend nodes
backend nodes
  balance roundrobin
  # A draining or unhealthy node answers 503: no new connection goes to it.
  option httpchk GET /healthz
  http-check expect status 200
  default-server inter 1s fall 2 rise 2
{servers}
"""


def haproxy_config(bind: str, servers: dict[str, str]) -> str:
    """``bind``: address:port; ``servers``: name -> address:port of each node."""
    lines = "\n".join(f"  server {name} {where} check" for name, where in servers.items())
    return CONFIG.format(bind=bind, servers=lines)
