"""Which credential lets a link holder in: a rejoin credential (no lobby) or a join link (lobby)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from signaling.ports import LinkInfo, SessionBackend
from signaling.protocol import Join
from signaling.tokens import JoinLinkClaim, LinkGone, LinkInvalid, RejoinClaim, TokenSigner


@dataclass(frozen=True)
class JoinDecision:
    rejoin: RejoinClaim | None = None
    knock: JoinLinkClaim | None = None
    # The link as the server's records have it (its name, the confirmed location).
    link: LinkInfo | None = None
    # Why a presented rejoin credential was not honoured, for the audit trail.
    rejoin_refused: str | None = None


async def decide_join(
    msg: Join,
    *,
    session_id: str,
    signer: TokenSigner,
    backend: SessionBackend,
    now: datetime,
    can_rejoin: Callable[[RejoinClaim], bool],
) -> JoinDecision:
    """Raises LinkInvalid / LinkGone when neither credential admits the client."""
    refused: str | None = None
    if msg.rejoin is not None:
        try:
            claim = signer.verify_rejoin(
                msg.rejoin, session_id=session_id, client_id=msg.client_id, now=now
            )
            # The host forgets removed participants' credentials; so does a restarted host.
            if not can_rejoin(claim):
                raise LinkInvalid("credential no longer valid")
            info = await _require_active(backend, session_id, claim.link_id)
            return JoinDecision(rejoin=claim, link=info)
        except (LinkInvalid, LinkGone) as exc:
            if msg.token is None:
                raise
            refused = str(exc)
    if msg.token is None:
        raise LinkInvalid("a join link is required")
    link = signer.verify_join_link(msg.token, session_id=session_id, now=now)
    info = await _require_active(backend, session_id, link.link_id)
    return JoinDecision(knock=link, link=info, rejoin_refused=refused)


class LocationRequired(Exception):
    """A parent of a telehealth visit knocked without a confirmed, licensed location."""


async def _require_active(backend: SessionBackend, session_id: str, link_id: str) -> LinkInfo:
    info = await backend.link_info(session_id, link_id)
    if info is None:
        raise LinkInvalid("unknown link")
    if info.status == "revoked":
        raise LinkGone("link revoked")
    if info.status == "location_required":
        raise LocationRequired("confirm your location on the check page first")
    return info
