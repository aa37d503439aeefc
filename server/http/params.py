"""Query values parsed in one place: a value that is present but makes no sense is a 400 with a
clear message, never a 500 from a ValueError or an OverflowError deep in a page."""

from __future__ import annotations

import math
from datetime import date

from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException

# Outside these years a calendar date is a typo or a probe, and date arithmetic near
# date.min/date.max overflows (week=0001-01-01 did).
FIRST_YEAR = 1900
LAST_YEAR = 2200


def bounded_date(raw: str) -> date | None:
    try:
        parsed = date.fromisoformat(raw.strip()[:10])
    except ValueError:
        return None
    return parsed if FIRST_YEAR <= parsed.year <= LAST_YEAR else None


def query_date(params: QueryParams, name: str) -> date | None:
    raw = params.get(name)
    if not raw:
        return None
    parsed = bounded_date(raw)
    if parsed is None:
        raise HTTPException(400, f"'{name}' must be a date like 2026-11-30.")
    return parsed


def query_float(
    params: QueryParams, name: str, default: float, minimum: float, maximum: float
) -> float:
    raw = params.get(name)
    if not raw:
        return default
    try:
        value = float(raw[:32])
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise HTTPException(400, f"'{name}' must be a number from {minimum:g} to {maximum:g}.")
    return value
