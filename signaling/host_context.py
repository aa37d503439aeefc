"""What the session's helpers (consent, annotations) share with the session host."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from signaling.ports import Outcome, SessionBackend
from signaling.roster import Roster

log = logging.getLogger(__name__)

AuditFn = Callable[[str, str, Outcome, Mapping[str, str], str | None], Awaitable[None]]


@dataclass(frozen=True)
class HostContext:
    session_id: str
    roster: Roster
    backend: SessionBackend
    now: Callable[[], datetime]
    # The host's audit: (actor, action, outcome, detail, remote), never raises.
    audit: AuditFn
    # Milliseconds since the session went live (0 before): the clock annotations carry.
    session_ms: Callable[[], int]


def ms_between(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() * 1000))
