"""A note's time in and time out as the therapist reads and types them: wall-clock times in
the therapist's zone, stored as UTC.

Two wall-clock times need care around daylight-saving changes. In the spring gap (2:30 AM on
the day clocks jump to 3:00) the time does not exist: it is refused. In the autumn overlap
(1:30 AM happens twice) the time is ambiguous: the stored instant is kept when it reads the
same on the wall (so saving a form again never moves a time by an hour); otherwise the first
occurrence, unless that puts time out before time in and the second does not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

INPUT_FORMAT = "%Y-%m-%dT%H:%M"


def form_value(value: datetime | None, zone: str) -> str:
    """What a `datetime-local` field shows: the wall-clock time in the zone, to the minute."""
    return value.astimezone(ZoneInfo(zone)).strftime(INPUT_FORMAT) if value else ""


def _candidates(wall: datetime, tz: ZoneInfo) -> list[datetime]:
    """The instants a naive wall-clock time can name in a zone: none (gap), one, or two."""
    found = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        # A real wall time reads back as itself; a gap time comes back shifted by the jump.
        if instant.astimezone(tz).replace(tzinfo=None) == wall and instant not in found:
            found.append(instant)
    return found


def parse_wall_time(
    raw: str,
    zone: str,
    *,
    current: datetime | None = None,
    not_before: datetime | None = None,
) -> datetime:
    """A time typed in the therapist's zone (or with an explicit offset) as an aware UTC instant.

    Raises ValueError with the sentence to show when the text is not a time or names no instant.
    """
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError("Enter a date and time.") from None
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    wall = value.replace(second=0, microsecond=0)
    options = _candidates(wall, ZoneInfo(zone))
    if not options:
        raise ValueError("That time does not exist on this day: the clocks moved forward.")
    if current is not None and current.astimezone(UTC) in options:
        return current.astimezone(UTC)
    if not_before is not None:
        fitting = [o for o in options if o >= not_before]
        if fitting:
            return fitting[0]
    return options[0]
