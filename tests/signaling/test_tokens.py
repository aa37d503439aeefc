from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from signaling.tokens import (
    JoinLinkClaim,
    LinkGone,
    LinkInvalid,
    RejoinClaim,
    TokenSigner,
    new_join_link_claim,
    new_link_id,
)

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)
signer = TokenSigner("s3cret")


def claim(session_id: str = "s1") -> JoinLinkClaim:
    return new_join_link_claim(session_id, "parent", "Pat", LATER)


def test_round_trip() -> None:
    original = claim()
    token = signer.issue_join_link(original)
    assert signer.verify_join_link(token, session_id="s1", now=NOW) == original


def test_tampered_or_garbage_is_invalid() -> None:
    token = signer.issue_join_link(claim())
    payload, _, signature = token.rpartition(".")
    # A middle character: every bit of it is significant (the last one may carry padding bits).
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    tampered_payload = token.replace(payload, payload[:-2] + ("A" if payload[-2] != "A" else "B"))
    for bad in (payload + "." + flipped, tampered_payload, "garbage", "", token + "x"):
        with pytest.raises(LinkInvalid):
            signer.verify_join_link(bad, session_id="s1", now=NOW)
    with pytest.raises(LinkInvalid):
        TokenSigner("other").verify_join_link(token, session_id="s1", now=NOW)


def test_wrong_session_is_invalid_and_expired_is_gone() -> None:
    token = signer.issue_join_link(claim())
    with pytest.raises(LinkInvalid):
        signer.verify_join_link(token, session_id="s2", now=NOW)
    with pytest.raises(LinkGone):
        signer.verify_join_link(token, session_id="s1", now=LATER + timedelta(seconds=1))


def test_link_kinds_do_not_mix() -> None:
    join = signer.issue_join_link(claim())
    with pytest.raises(LinkInvalid):
        signer.verify_rejoin(join, session_id="s1", client_id="dev", now=NOW)


def test_rejoin_bound_to_device_session_and_expiry() -> None:
    rejoin = RejoinClaim("s1", "p_1", new_link_id(), "device-a", "parent", "Pat", LATER)
    token = signer.issue_rejoin(rejoin)
    assert signer.verify_rejoin(token, session_id="s1", client_id="device-a", now=NOW) == rejoin
    with pytest.raises(LinkInvalid):
        signer.verify_rejoin(token, session_id="s1", client_id="device-b", now=NOW)
    with pytest.raises(LinkInvalid):
        signer.verify_rejoin(token, session_id="s2", client_id="device-a", now=NOW)
    with pytest.raises(LinkGone):
        signer.verify_rejoin(token, session_id="s1", client_id="device-a", now=LATER)


def test_link_ids_carry_at_least_128_bits() -> None:
    ids = {new_link_id() for _ in range(1000)}
    assert len(ids) == 1000
    for link_id in ids:
        raw = base64.urlsafe_b64decode(link_id + "=" * (-len(link_id) % 4))
        assert len(raw) * 8 >= 128
    # 128 bits of entropy spread over distinct values: no sampled byte position is constant.
    samples = [base64.urlsafe_b64decode(i + "==") for i in list(ids)[:200]]
    for position in range(16):
        assert len({s[position] for s in samples}) > 1


def test_naive_expiry_is_refused() -> None:
    naive = JoinLinkClaim("s1", "parent", "Pat", new_link_id(), datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        signer.issue_join_link(naive)
