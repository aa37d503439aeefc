"""Call quality as the clients report it: on the record, and a hint to the therapist when a
publishing participant's own reports say their link is weak (docs/signaling.md, "Call
quality")."""

from __future__ import annotations

from signaling.participant import Participant
from signaling.protocol import LinkHint, Quality
from signaling.roster import Roster

# A report is "weak" past any of these (a link a therapist should hear about, not a blip).
WEAK_LOSS = 0.05
WEAK_RTT_MS = 400
WEAK_FROZEN_MS = 1000


def weakness(report: Quality) -> str | None:
    """Why this report shows a weak link, in the therapist's words; None when it does not."""
    if report.frozen_ms >= WEAK_FROZEN_MS:
        return f"video froze {report.frozen_ms / 1000:.1f} s"
    if report.loss >= WEAK_LOSS:
        return f"{report.loss:.0%} of packets lost"
    if report.rtt_ms is not None and report.rtt_ms >= WEAK_RTT_MS:
        return f"{report.rtt_ms} ms round trip"
    return None


def is_hinted(who: Participant) -> bool:
    """Whose weak link the therapist hears of: those whose media the therapist receives, i.e.
    the publishers other than the therapist (a parent, a parent's second camera). An observer
    only receives: its weak link troubles no one else's picture, and a hint about it would read
    as if the parent were struggling. (Its own page still shows its own poor state.)"""
    return who.role == "parent"


class LinkHints:
    """Tells the therapist when someone's link turns weak and when it is fine again (on change
    only: a report every few seconds must not become a message every few seconds)."""

    def __init__(self, roster: Roster) -> None:
        self._roster = roster
        self._weak: set[str] = set()

    async def reported(self, who: Participant, report: Quality) -> None:
        if not is_hinted(who):
            return
        reason = weakness(report)
        weak = reason is not None
        if weak == (who.participant_id in self._weak):
            return
        if weak:
            self._weak.add(who.participant_id)
        else:
            self._weak.discard(who.participant_id)
        hint = LinkHint(participant_id=who.participant_id, weak=weak, reason=reason)
        await self._roster.send_to_therapist(hint)

    def forget(self, who: Participant) -> None:
        self._weak.discard(who.participant_id)
