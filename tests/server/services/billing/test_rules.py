"""Place of service and modifiers for every combination of mode, where the client was, the
payer's telehealth rule (modifier and POS rule) and the modality."""

from __future__ import annotations

import itertools

import pytest

from server.services.billing.rules import (
    PRIVATE_PAY,
    PayerRule,
    PosRule,
    Visit,
    modifiers,
    place_of_service,
)


def expected_pos(mode: str, place: str, at_home: bool | None, pos_rule: PosRule) -> str:
    if mode == "in_person":
        return "12" if place == "home_visit" else "11"
    if pos_rule is PosRule.always_02:
        return "02"
    if pos_rule is PosRule.as_in_person:
        return "11"
    return "02" if at_home is False else "10"


VISITS = [
    *[("in_person", place, None, None) for place in ("clinic", "home_visit")],
    *[
        ("telehealth", "clinic", at_home, modality)
        for at_home, modality in itertools.product((True, False, None), ("video", "audio_only"))
    ],
]
RULES = [PayerRule(mod, pos) for mod, pos in itertools.product(("95", "GT", ""), PosRule)]


@pytest.mark.parametrize(("mode", "place", "at_home", "modality"), VISITS)
@pytest.mark.parametrize(
    "rule", RULES, ids=lambda r: f"{r.telehealth_modifier or 'none'}-{r.pos_rule}"
)
@pytest.mark.parametrize("discipline", ["ot", "pt", "slp"])
def test_place_of_service_and_modifiers(
    mode: str, place: str, at_home: bool | None, modality: str | None, rule: PayerRule,
    discipline: str,
) -> None:  # fmt: skip
    visit = Visit(mode, place, at_home, modality)
    assert place_of_service(visit, rule) == expected_pos(mode, place, at_home, rule.pos_rule)
    first = {"ot": "GO", "pt": "GP", "slp": "GN"}[discipline]
    if mode == "in_person":
        telehealth: list[str] = []
    elif modality == "audio_only":
        telehealth = ["93"]
    else:
        telehealth = [rule.telehealth_modifier] if rule.telehealth_modifier else []
    assert modifiers(visit, rule, discipline, kx=False) == [first, *telehealth]
    assert modifiers(visit, rule, discipline, kx=True) == [first, *telehealth, "KX"]


@pytest.mark.parametrize(
    ("visit", "pos", "mods"),
    [
        (Visit("telehealth", client_at_home=True, modality="video"), "10", ["GO", "95"]),
        (Visit("telehealth", client_at_home=False, modality="video"), "02", ["GO", "95"]),
        (Visit("in_person", "clinic"), "11", ["GO"]),
        (Visit("in_person", "home_visit"), "12", ["GO"]),
    ],
)
def test_private_pay_follows_cms(visit: Visit, pos: str, mods: list[str]) -> None:
    """A superbill goes to an out-of-network insurer: CMS's conventions are the safe default."""
    assert place_of_service(visit, PRIVATE_PAY) == pos
    assert modifiers(visit, PRIVATE_PAY, "ot", kx=False) == mods


def test_no_discipline_no_discipline_modifier() -> None:
    visit = Visit("telehealth", client_at_home=True, modality="video")
    assert modifiers(visit, PayerRule("GT", PosRule.cms), None, kx=False) == ["GT"]
