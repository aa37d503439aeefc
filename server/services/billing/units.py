"""Units of timed codes by the 8-minute rule (CMS Pub. 100-04, chapter 5, section 20.2).

Timed codes are billed in 15-minute units, counted on the total of the day's timed minutes and
not code by code: 8 to 22 minutes are 1 unit, 23 to 37 are 2, 38 to 52 are 3, and so on (a
remainder of 8 minutes or more makes one more unit; fewer than 8 minutes in all bill nothing).

The units are then given to the codes: first each code's full 15-minute units, then the units
left go, one each, to the codes with the most minutes left over. That reproduces the manual's
examples: 24 min of 97112 and 23 min of 97110 are 47 minutes, 3 units, 97112 x2 and 97110 x1;
33 min of 97110 with 7 min of 97140 are 40 minutes, 3 units, 97110 x2 and 97140 x1 (its 7
minutes beat 97110's 3 left over); 7 + 7 + 7 minutes of three codes are 21 minutes, 1 unit.
"""

from __future__ import annotations

from dataclasses import dataclass

UNIT_MINUTES = 15
THRESHOLD = 8  # minutes past the last full unit that make one more


def total_units(minutes: int) -> int:
    """Units for a day's total timed minutes."""
    if minutes < 0:
        raise ValueError("minutes cannot be negative")
    full, rest = divmod(minutes, UNIT_MINUTES)
    return full + (1 if rest >= THRESHOLD else 0)


@dataclass(frozen=True)
class TimedUnits:
    total_minutes: int
    total_units: int
    by_code: dict[str, int]  # in the order the codes were given; codes with 0 units included


def assign_units(timed: list[tuple[str, int]]) -> TimedUnits:
    """Units per timed code, from (code, minutes) in the order they are on the note.

    Ties for a leftover unit go to the code with more minutes in all, then to the one listed
    first: the manual leaves equal cases to the therapist, and a fixed order keeps it stable.
    """
    minutes: dict[str, int] = {}
    for code, m in timed:
        if m < 0:
            raise ValueError(f"{code}: minutes cannot be negative")
        minutes[code] = minutes.get(code, 0) + m
    total = sum(minutes.values())
    units_left = total_units(total)
    by_code = {code: min(m // UNIT_MINUTES, units_left) for code, m in minutes.items()}
    units_left -= sum(by_code.values())
    order = list(minutes)
    leftovers = sorted(
        order,
        key=lambda c: (-(minutes[c] - by_code[c] * UNIT_MINUTES), -minutes[c], order.index(c)),
    )
    for code in leftovers:
        if units_left <= 0:
            break
        if minutes[code] - by_code[code] * UNIT_MINUTES > 0:
            by_code[code] += 1
            units_left -= 1
    return TimedUnits(total, total_units(total), by_code)
