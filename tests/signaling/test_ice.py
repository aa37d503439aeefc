from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from signaling.ice import IceConfig, ice_servers, turn_credentials


def test_turn_rest_api_known_vector() -> None:
    # From openssl, not Python:
    #   printf %s 1700000000:p_42 | openssl dgst -sha1 -hmac north -binary | base64
    username, credential = turn_credentials(
        "north", "p_42", datetime.fromtimestamp(1_700_000_000, UTC)
    )
    assert username == "1700000000:p_42"
    assert credential == "BUyKIW4KmlSKWTKcBo4g+Jvaae4="
    expected = hmac.new(b"north", username.encode(), hashlib.sha1).digest()
    assert base64.b64decode(credential) == expected


def test_ice_server_list() -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    config = IceConfig(
        stun_urls=("stun:turn.example.org:3478",),
        turn_urls=("turn:turn.example.org:3478?transport=udp",),
        turn_secret="north",
        turn_ttl=timedelta(hours=1),
    )
    stun, turn = ice_servers(config, "p_1", now)
    assert stun.urls == ["stun:turn.example.org:3478"]
    assert stun.username is None
    assert turn.username == f"{int((now + timedelta(hours=1)).timestamp())}:p_1"
    assert turn.credential
    assert ice_servers(IceConfig(), "p_1", now) == []
