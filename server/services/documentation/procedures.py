"""Procedures on a note: the CPT codes a therapist performed, with minutes for the timed ones.

The catalog is the outpatient therapy codes a pediatric OT, PT or speech practice uses. Timed
codes are billed in 15-minute units (the 8-minute rule, server/services/billing/units.py);
untimed ones (evaluations, speech treatment) are one unit per visit whatever the minutes.
Evaluations are chosen by complexity (PT, OT) or by type (speech): the code says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .common import ValidationFailed


@dataclass(frozen=True)
class Procedure:
    code: str
    label: str
    timed: bool
    disciplines: tuple[str, ...]  # ot | pt | slp
    evaluation: bool = False


_ALL = ("ot", "pt", "slp")
CATALOG: dict[str, Procedure] = {
    p.code: p
    for p in (
        Procedure("97161", "PT evaluation, low complexity", False, ("pt",), True),
        Procedure("97162", "PT evaluation, moderate complexity", False, ("pt",), True),
        Procedure("97163", "PT evaluation, high complexity", False, ("pt",), True),
        Procedure("97164", "PT re-evaluation", False, ("pt",), True),
        Procedure("97165", "OT evaluation, low complexity", False, ("ot",), True),
        Procedure("97166", "OT evaluation, moderate complexity", False, ("ot",), True),
        Procedure("97167", "OT evaluation, high complexity", False, ("ot",), True),
        Procedure("97168", "OT re-evaluation", False, ("ot",), True),
        Procedure("92521", "Evaluation of speech fluency", False, ("slp",), True),
        Procedure("92522", "Evaluation of speech sound production", False, ("slp",), True),
        Procedure(
            "92523", "Evaluation of speech sound production and language", False, ("slp",), True
        ),
        Procedure("92524", "Behavioral and qualitative analysis of voice", False, ("slp",), True),
        Procedure(
            "92610", "Evaluation of oral and pharyngeal swallowing", False, ("slp", "ot"), True
        ),
        Procedure("92507", "Speech, language, voice, communication treatment", False, ("slp",)),
        Procedure(
            "92526",
            "Treatment of swallowing dysfunction / oral function for feeding",
            False,
            ("slp", "ot"),
        ),
        Procedure("97110", "Therapeutic exercise", True, _ALL),
        Procedure("97112", "Neuromuscular re-education", True, _ALL),
        Procedure("97116", "Gait training", True, ("pt",)),
        Procedure("97140", "Manual therapy", True, ("pt", "ot")),
        Procedure("97530", "Therapeutic activities", True, _ALL),
        Procedure("97533", "Sensory integrative techniques", True, ("ot", "pt")),
        Procedure("97535", "Self-care / home management training", True, _ALL),
    )
}
MAX_PROCEDURES = 8
MAX_MINUTES = 240


def codes_for(discipline: str | None) -> list[Procedure]:
    """The catalog a form offers for a discipline (every code when it is not known)."""
    return [p for p in CATALOG.values() if discipline is None or discipline in p.disciplines]


def parse_procedures(rows: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """(code, minutes) pairs from a form into the note's ``procedures``: [{code, minutes}].

    Timed codes need their minutes (they decide the units); untimed ones may carry minutes (the
    treatment time), but do not need them. Blank rows are skipped; a code twice is summed."""
    errors: dict[str, str] = {}
    merged: dict[str, int | None] = {}
    for i, (raw_code, raw_minutes) in enumerate(rows):
        code, text = raw_code.strip(), raw_minutes.strip()
        if not code and not text:
            continue
        proc = CATALOG.get(code)
        if proc is None:
            errors[f"proc-code-{i}"] = "Choose a procedure code from the list."
            continue
        minutes: int | None = None
        if text:
            try:
                minutes = int(text)
            except ValueError:
                minutes = -1
            if not 0 < minutes <= MAX_MINUTES:
                errors[f"proc-minutes-{i}"] = f"Enter whole minutes from 1 to {MAX_MINUTES}."
                continue
        elif proc.timed:
            errors[f"proc-minutes-{i}"] = "A timed code needs its minutes (8-minute rule)."
            continue
        before = merged.get(code)
        merged[code] = minutes if before is None else before + (minutes or 0)
    if len(merged) > MAX_PROCEDURES:
        errors["procedures"] = f"At most {MAX_PROCEDURES} procedures on one note."
    if errors:
        raise ValidationFailed(errors)
    return [{"code": code, "minutes": minutes} for code, minutes in merged.items()]


def parse_code_list(raw: str) -> list[str]:
    """Codes a plan of care covers, typed as a list ("97530, 97110 97535")."""
    codes = [c for c in raw.replace(",", " ").split() if c]
    unknown = [c for c in codes if c not in CATALOG]
    if unknown:
        raise ValidationFailed(
            {"procedure_codes": f"Not therapy codes Tandem knows: {', '.join(unknown)}."}
        )
    return list(dict.fromkeys(codes))
