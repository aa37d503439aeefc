"""The 8-minute rule against the examples of CMS Pub. 100-04, chapter 5, section 20.2."""

from __future__ import annotations

import pytest

from server.services.billing.units import assign_units, total_units


@pytest.mark.parametrize(
    ("minutes", "units"),
    [(0, 0), (7, 0), (8, 1), (22, 1), (23, 2), (33, 2), (37, 2), (38, 3), (52, 3), (53, 4),
     (67, 4), (68, 5)],
)  # fmt: skip
def test_total_units_follow_the_cms_table(minutes: int, units: int) -> None:
    assert total_units(minutes) == units


def test_33_minutes_of_one_timed_code_are_2_units() -> None:
    result = assign_units([("97110", 33)])
    assert (result.total_minutes, result.total_units, result.by_code) == (33, 2, {"97110": 2})


def test_7_plus_7_plus_7_minutes_of_three_codes_are_1_unit() -> None:
    """Each alone is under 8 minutes; their 21 minutes together make one unit."""
    result = assign_units([("97110", 7), ("97140", 7), ("97530", 7)])
    assert result.total_units == 1
    assert sum(result.by_code.values()) == 1
    assert result.by_code == {"97110": 1, "97140": 0, "97530": 0}  # a tie: the first listed


def test_24_min_97110_and_23_min_97530_are_3_units_2_and_1() -> None:
    """47 minutes are 3 units: each code's full unit, then the leftover unit to the code with
    more minutes left over (9 against 8)."""
    result = assign_units([("97110", 24), ("97530", 23)])
    assert result.total_units == 3
    assert result.by_code == {"97110": 2, "97530": 1}
    # The order on the note does not decide it.
    assert assign_units([("97530", 23), ("97110", 24)]).by_code == {"97530": 1, "97110": 2}


def test_the_leftover_minutes_decide_not_the_totals() -> None:
    """CMS: 33 min of 97110 and 7 min of 97140 are 3 units; 97110's 3 minutes past its two
    units lose to 97140's 7, so 97140 gets the third unit."""
    result = assign_units([("97110", 33), ("97140", 7)])
    assert (result.total_units, result.by_code) == (3, {"97110": 2, "97140": 1})


def test_three_codes_share_the_units_by_what_is_left() -> None:
    """CMS: 18 min 97110, 13 min 97140, 10 min 97035: 41 minutes, 3 units, one each."""
    result = assign_units([("97110", 18), ("97140", 13), ("97035", 10)])
    assert (result.total_units, result.by_code) == (3, {"97110": 1, "97140": 1, "97035": 1})


def test_a_code_listed_twice_counts_once_with_its_minutes_summed() -> None:
    assert assign_units([("97530", 10), ("97530", 15)]).by_code == {"97530": 2}


def test_negative_minutes_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        assign_units([("97110", -1)])
