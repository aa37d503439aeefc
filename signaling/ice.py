"""ICE server list for clients, with short-lived TURN credentials (TURN REST API scheme)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from signaling.protocol import IceServer


@dataclass(frozen=True)
class IceConfig:
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    # Shared with the TURN server (coturn: static-auth-secret with use-auth-secret).
    turn_secret: str | None = None
    turn_ttl: timedelta = timedelta(hours=6)


def turn_credentials(secret: str, user_id: str, expires_at: datetime) -> tuple[str, str]:
    username = f"{int(expires_at.timestamp())}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers(config: IceConfig, user_id: str, now: datetime) -> list[IceServer]:
    servers: list[IceServer] = []
    if config.stun_urls:
        servers.append(IceServer(urls=list(config.stun_urls)))
    if config.turn_urls and config.turn_secret:
        username, credential = turn_credentials(config.turn_secret, user_id, now + config.turn_ttl)
        servers.append(
            IceServer(urls=list(config.turn_urls), username=username, credential=credential)
        )
    return servers
