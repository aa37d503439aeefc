"""Place of service and modifiers for a visit: from its mode, where the client was, the payer's
telehealth rule and the discipline. Pure functions, so every combination is cheap to test.

Place of service (CMS POS codes):
- in person at a clinic: 11 (office); in person at the client's home: 12 (home);
- telehealth, payer rule "cms" (Medicare since 2024, most plans following it): 10 when the
  client is at home, 02 anywhere else (school, daycare, another clinic);
- telehealth, payer rule "always_02": 02 wherever the client is;
- telehealth, payer rule "as_in_person": the POS the visit would have had in person (11), as
  CMS asked during the public-health emergency and some plans still do; modifier 95 says it
  was telehealth.
Modifiers, in the order they go on a line (at most four):
- the discipline of the plan of care: GO (OT), GP (PT), GN (speech);
- telehealth: the payer's modifier, 95 or GT (or none); an audio-only visit takes 93 instead;
- KX once the client's year-to-date total passes the practice's threshold, for payers that
  apply it (Medicare's therapy threshold: PT and speech counted together, OT on its own).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PosRule(enum.StrEnum):
    cms = "cms"
    always_02 = "always_02"
    as_in_person = "as_in_person"

    @property
    def label(self) -> str:
        return POS_RULE_LABELS[self]


POS_RULE_LABELS = {
    PosRule.cms: "POS 10 at home, 02 elsewhere (CMS)",
    PosRule.always_02: "POS 02 wherever the client is",
    PosRule.as_in_person: "POS of the in-person visit (11) with the modifier",
}
TELEHEALTH_MODIFIERS = {"95": "95", "GT": "GT", "": "none"}
DISCIPLINE_MODIFIERS = {"ot": "GO", "pt": "GP", "slp": "GN"}
AUDIO_ONLY_MODIFIER = "93"
KX = "KX"
MAX_MODIFIERS = 4

POS_LABELS = {
    "02": "Telehealth, client not at home",
    "10": "Telehealth, client at home",
    "11": "Office",
    "12": "Home",
}


@dataclass(frozen=True)
class PayerRule:
    """How a payer wants telehealth: which modifier, which place of service."""

    telehealth_modifier: str = "95"  # "95" | "GT" | ""
    pos_rule: PosRule = PosRule.cms


# Private pay: the superbill follows CMS, which is what an out-of-network insurer expects.
PRIVATE_PAY = PayerRule()


@dataclass(frozen=True)
class Visit:
    mode: str  # in_person | telehealth
    # In person: "clinic" or "home_visit" (the appointment's location). Telehealth: whether the
    # client was at home (True), elsewhere (False), or not recorded (None: taken as home, the
    # usual case, and flagged by the charge's checks).
    place: str = "clinic"
    client_at_home: bool | None = None
    modality: str | None = None  # video | audio_only (telehealth)


def place_of_service(visit: Visit, rule: PayerRule) -> str:
    in_person_pos = "12" if visit.place == "home_visit" else "11"
    if visit.mode != "telehealth":
        return in_person_pos
    if rule.pos_rule is PosRule.always_02:
        return "02"
    if rule.pos_rule is PosRule.as_in_person:
        return "11"
    return "02" if visit.client_at_home is False else "10"


def modifiers(visit: Visit, rule: PayerRule, discipline: str | None, *, kx: bool) -> list[str]:
    found: list[str] = []
    if discipline in DISCIPLINE_MODIFIERS:
        found.append(DISCIPLINE_MODIFIERS[discipline])
    if visit.mode == "telehealth":
        if visit.modality == "audio_only":
            found.append(AUDIO_ONLY_MODIFIER)
        elif rule.telehealth_modifier:
            found.append(rule.telehealth_modifier)
    if kx:
        found.append(KX)
    return found[:MAX_MODIFIERS]
