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
    roster_verdict: Callable[[RejoinClaim], bool | None],
) -> JoinDecision:
    """Raises LinkInvalid / LinkGone when neither credential admits the client.

    ``roster_verdict`` is the host's own view of a rejoin credential's holder (None: the host
    has never seen them); without one, the server's records decide (``_admitted_before``)."""
    refused: str | None = None
    if msg.rejoin is not None:
        try:
            claim = signer.verify_rejoin(
                msg.rejoin, session_id=session_id, client_id=msg.client_id, now=now
            )
            verdict = roster_verdict(claim)
            if verdict is None:
                verdict = await _admitted_before(backend, session_id, claim)
            if not verdict:
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


async def _admitted_before(backend: SessionBackend, session_id: str, claim: RejoinClaim) -> bool:
    """A host without the participant (restarted, or taking the session over from a node that
    died): the credential's signature binds session, participant, link, device and role; the
    records say whether that participant was in the room, in that role, and not removed. The
    link itself (revoked, the licensure gate) is checked next, as for any join."""
    past = await backend.past_participant(session_id, claim.participant_id)
    return past is not None and not past.removed and past.role == claim.role


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
