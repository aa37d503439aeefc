"""What the billing modules share: errors, id parsing, money and identifier checks."""

from __future__ import annotations

import re

from server.models import ChargeLocked
from server.services.errors import Conflict, NotFound, Refused, ValidationFailed, as_uuid

__all__ = [
    "NO_CHARGE",
    "ChargeConfirmed",
    "NotFound",
    "NotYours",
    "ValidationFailed",
    "as_uuid",
    "dollars",
    "npi_is_valid",
]

NO_CHARGE = "No such charge."
NO_PAYER = "No such payer in your practice."
# An NPI's check digit is a Luhn digit computed over the number prefixed with 80840 (the
# health-industry prefix of ISO 7812): the constant 24 stands for those prefix digits.
NPI_PREFIX_SUM = 24
NPI = re.compile(r"^[12][0-9]{9}$")
TAX_ID = re.compile(r"^[0-9]{9}$")
CPT = re.compile(r"^[0-9]{4}[0-9A-Z]$")


class NotYours(Refused):
    """Only the practice's therapist reviews, confirms or corrects its charges."""


class ChargeConfirmed(Conflict, ChargeLocked):
    """A confirmed charge refuses the change: corrections reverse and replace it."""


def npi_is_valid(npi: str) -> bool:
    """Ten digits whose last is the Luhn check digit of 80840 + the first nine."""
    if not NPI.match(npi):
        return False
    total = NPI_PREFIX_SUM
    for i, ch in enumerate(reversed(npi[:9])):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


def npi_with_check_digit(first_nine: str) -> str:
    """A ten-digit NPI from its first nine digits (for synthetic demo and test identifiers)."""
    for digit in "0123456789":
        if npi_is_valid(first_nine + digit):
            return first_nine + digit
    raise ValueError(f"{first_nine!r} cannot start an NPI")


def dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{part:02d}"


def parse_cents(raw: str) -> int | None:
    text = raw.strip().lstrip("$").replace(",", "")
    try:
        value = round(float(text) * 100)
    except ValueError:
        return None
    return value if 0 <= value <= 100_000_00 else None
