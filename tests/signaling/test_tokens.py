from __future__ import annotations

import base64
import hashlib
import json
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeSerializer

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
    return new_join_link_claim(session_id, "parent", LATER)


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


def payload_of(token: str) -> dict[str, object]:
    """What anyone who sees the link can read: the payload, zlib-compressed when marked so."""
    compressed = token.startswith(".")
    body = token.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    decoded: dict[str, object] = json.loads(zlib.decompress(raw) if compressed else raw)
    return decoded


def test_tokens_carry_ids_only() -> None:
    # Links end up in email, history and proxy logs: their readable payload names nobody.
    link = payload_of(signer.issue_join_link(claim()))
    assert set(link) == {"s", "r", "l", "e"}
    rejoin = RejoinClaim("s1", "p_1", new_link_id(), "device-a", "parent", LATER)
    assert set(payload_of(signer.issue_rejoin(rejoin))) == {"s", "p", "l", "c", "r", "e"}


def test_links_issued_with_a_name_still_verify_and_drop_it() -> None:
    # Links issued before names left the token keep working until they expire.
    old_format = URLSafeSerializer(
        "s3cret", salt="tandem.join-link.v1", signer_kwargs={"digest_method": hashlib.sha256}
    )
    link_id = new_link_id()
    payload = {"s": "s1", "r": "parent", "n": "Ada Okafor", "l": link_id, "e": LATER.timestamp()}
    payload["e"] = int(LATER.timestamp())
    token = str(old_format.dumps(payload))
    assert payload_of(token)["n"] == "Ada Okafor"
    verified = signer.verify_join_link(token, session_id="s1", now=NOW)
    assert verified.link_id == link_id
    assert "Ada" not in repr(verified)


def test_link_kinds_do_not_mix() -> None:
    join = signer.issue_join_link(claim())
    with pytest.raises(LinkInvalid):
        signer.verify_rejoin(join, session_id="s1", client_id="dev", now=NOW)


def test_rejoin_bound_to_device_session_and_expiry() -> None:
    rejoin = RejoinClaim("s1", "p_1", new_link_id(), "device-a", "parent", LATER)
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
    naive = JoinLinkClaim("s1", "parent", new_link_id(), datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        signer.issue_join_link(naive)
