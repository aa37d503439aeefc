"""Signed join links and rejoin credentials.

Both are signed over ids only (session, participant, link, device, role, expiry): links end up
in email, browser history and proxy logs, and the payload of a signed token is readable base64.
Who the holder is (the name the therapist gave the link) is read from the server's records.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from itsdangerous import BadData, URLSafeSerializer

LinkRole = Literal["parent", "observer"]

# 16 random bytes: the link id alone must be unguessable (>= 128 bits).
LINK_ID_BYTES = 16


class LinkInvalid(Exception):
    """Tampered, garbage, or meant for another session or device (HTTP 403)."""


class LinkGone(Exception):
    """Expired, revoked, or its session has ended (HTTP 410)."""


@dataclass(frozen=True)
class JoinLinkClaim:
    session_id: str
    role: LinkRole
    link_id: str
    expires_at: datetime


@dataclass(frozen=True)
class RejoinClaim:
    session_id: str
    participant_id: str
    link_id: str
    client_id: str
    role: LinkRole
    expires_at: datetime


def new_link_id() -> str:
    return secrets.token_urlsafe(LINK_ID_BYTES)


def new_join_link_claim(session_id: str, role: LinkRole, expires_at: datetime) -> JoinLinkClaim:
    return JoinLinkClaim(session_id, role, new_link_id(), expires_at)


def _ts(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    return int(moment.timestamp())


def _role(value: Any) -> LinkRole:
    if value == "parent":
        return "parent"
    if value == "observer":
        return "observer"
    raise LinkInvalid("bad role")


class TokenSigner:
    """Signs and verifies tokens with the caller's secret; separate salts keep kinds apart."""

    def __init__(self, secret: str | bytes) -> None:
        # HMAC-SHA256 rather than itsdangerous' SHA-1 default.
        sha256 = {"digest_method": hashlib.sha256}
        self._links = URLSafeSerializer(secret, salt="tandem.join-link.v1", signer_kwargs=sha256)
        self._rejoin = URLSafeSerializer(secret, salt="tandem.rejoin.v1", signer_kwargs=sha256)

    def issue_join_link(self, claim: JoinLinkClaim) -> str:
        payload = {
            "s": claim.session_id,
            "r": claim.role,
            "l": claim.link_id,
            "e": _ts(claim.expires_at),
        }
        return str(self._links.dumps(payload))

    def verify_join_link(self, token: str, *, session_id: str, now: datetime) -> JoinLinkClaim:
        # Links issued before names left the token still carry "n": it is ignored.
        data = _load(self._links, token, ("s", "r", "l", "e"))
        claim = JoinLinkClaim(
            session_id=_str(data["s"]),
            role=_role(data["r"]),
            link_id=_str(data["l"]),
            expires_at=_when(data["e"]),
        )
        if claim.session_id != session_id:
            raise LinkInvalid("link is for another session")
        if claim.expires_at <= now:
            raise LinkGone("link expired")
        return claim

    def issue_rejoin(self, claim: RejoinClaim) -> str:
        payload = {
            "s": claim.session_id,
            "p": claim.participant_id,
            "l": claim.link_id,
            "c": claim.client_id,
            "r": claim.role,
            "e": _ts(claim.expires_at),
        }
        return str(self._rejoin.dumps(payload))

    def verify_rejoin(
        self, token: str, *, session_id: str, client_id: str, now: datetime
    ) -> RejoinClaim:
        data = _load(self._rejoin, token, ("s", "p", "l", "c", "r", "e"))
        claim = RejoinClaim(
            session_id=_str(data["s"]),
            participant_id=_str(data["p"]),
            link_id=_str(data["l"]),
            client_id=_str(data["c"]),
            role=_role(data["r"]),
            expires_at=_when(data["e"]),
        )
        if claim.session_id != session_id:
            raise LinkInvalid("credential is for another session")
        # Bound to the admitted device: a copied credential on another device must go to the lobby.
        if not secrets.compare_digest(claim.client_id, client_id):
            raise LinkInvalid("credential is for another device")
        if claim.expires_at <= now:
            raise LinkGone("credential expired")
        return claim


def _load(serializer: URLSafeSerializer, token: str, keys: tuple[str, ...]) -> dict[str, Any]:
    try:
        data: Any = serializer.loads(token)
    except (BadData, ValueError, UnicodeError):
        raise LinkInvalid("bad signature") from None
    if not isinstance(data, dict) or not all(k in data for k in keys):
        raise LinkInvalid("malformed token")
    return data


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise LinkInvalid("malformed token")
    return value


def _when(value: Any) -> datetime:
    if not isinstance(value, int) or isinstance(value, bool):
        raise LinkInvalid("malformed token")
    return datetime.fromtimestamp(value, UTC)
