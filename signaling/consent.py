"""Recording only with everyone's consent: requests, decisions, and driving the recorder.

The rule: the recorder runs only while the therapist wants it running and every participant in
the room has accepted the current request. Everything else follows from re-checking that rule
(`_sync`) after each change: a request, a decision, someone entering or leaving, a pause.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from signaling.host_context import HostContext, ms_between
from signaling.participant import Participant
from signaling.ports import ConsentDecision, ConsentText, RecorderPort, RecordingUpdate
from signaling.protocol import (
    Consent,
    ConsentRequest,
    DeclinedBy,
    Error,
    Record,
    Recording,
    RecordingState,
)

log = logging.getLogger(__name__)


class RecordingControl:
    def __init__(
        self, ctx: HostContext, recorder: RecorderPort, recorded_before: bool = False
    ) -> None:
        self._ctx = ctx
        self._recorder = recorder
        # A recording of an earlier host of this session (before a restart): it is stopped,
        # whatever the pages that saw it last believe, until a new request (with new consent).
        self._stopped_before = recorded_before
        self._reset()

    def _reset(self) -> None:
        """Per recording: a new request after a stop starts from nothing."""
        self.recording_id: str | None = None
        self._request_id: str | None = None
        self._text: ConsentText | None = None
        self._requested_by = ""
        self._stopped = False
        # The therapist's pause; consent pauses are derived from `blockers()`.
        self._held = False
        self._accepted: set[str] = set()
        self._declined: dict[str, str] = {}
        self._started = False
        self._running = False
        self._in_recorder: set[str] = set()
        self._recorded_ms = 0
        self._running_since: datetime | None = None
        self.started_at: datetime | None = None
        self._stop_stored = False

    # --- views --------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.recording_id is not None and not self._stopped

    @property
    def state(self) -> RecordingState:
        if self.recording_id is None:
            return "stopped" if self._stopped_before else "off"
        if self._stopped:
            return "stopped"
        if self._running:
            return "recording"
        if self._held or not self.blockers():
            return "paused"
        return "awaiting_consent"

    def pending(self) -> list[Participant]:
        # A source (screen, second camera) is covered by its owner's consent.
        return [
            p
            for p in self._ctx.roster.in_room()
            if p.participant_id not in self._accepted
            and p.participant_id not in self._declined
            and p.source_of is None
        ]

    def blockers(self) -> list[Participant]:
        """Everyone in the room who has not accepted (pending or declined)."""
        return [
            p
            for p in self._ctx.roster.in_room()
            if p.participant_id not in self._accepted and p.source_of is None
        ]

    def offset_ms(self) -> int:
        """Recorded time so far, pauses excluded: where "now" falls in the recording."""
        if self._running and self._running_since is not None:
            return self._recorded_ms + ms_between(self._running_since, self._ctx.now())
        return self._recorded_ms

    def recording_ms(self) -> int | None:
        return self.offset_ms() if self._running else None

    def status(self, for_therapist: bool) -> Recording:
        # Who declined is for the therapist only: the others are not put on the spot.
        declined = [
            DeclinedBy(participant_id=p.participant_id, name=p.name)
            for p in self._ctx.roster.in_room()
            if p.participant_id in self._declined
        ]
        return Recording(
            state=self.state,
            pending=[p.participant_id for p in self.pending()] if self.active else [],
            declined=declined if for_therapist else [],
            started_at=self.started_at,
            offset_ms=self.offset_ms(),
            request_id=self._request_id if self.active else None,
            held=self._held,
        )

    # --- messages -----------------------------------------------------------------------------

    async def command(self, who: Participant, msg: Record) -> None:
        action = f"recording.{msg.action}"
        if who.role != "therapist":
            await self._ctx.audit(who.actor, action, "denied", {}, who.remote)
            await who.send(Error(code="forbidden", message="only the therapist controls recording"))
            return
        if msg.action == "request":
            if not await self._request(who):
                return
        elif not self.active:
            await who.send(Error(code="bad_state", message="nothing is being recorded"))
            return
        elif msg.action == "pause":
            self._held = True
        elif msg.action == "resume":
            self._held = False
        else:
            self._stopped = True
        await self._ctx.audit(
            who.actor, action, "success", {"recording_id": self.recording_id or ""}, who.remote
        )
        await self.sync()
        await self.broadcast()

    async def _request(self, who: Participant) -> bool:
        try:
            text = await self._ctx.backend.consent_text(self._ctx.session_id)
        except Exception:
            log.exception("no consent text for session %s", self._ctx.session_id)
            await who.send(Error(code="internal", message="consent text unavailable"))
            return False
        new = not self.active
        if new:
            # A new recording: nobody's earlier consent carries over to it.
            self._reset()
            self.recording_id = f"r_{secrets.token_urlsafe(9)}"
            self._requested_by = who.actor
        # Asking again (e.g. after someone declined) re-prompts everyone who has not accepted.
        self._text = text
        self._request_id = f"c_{secrets.token_urlsafe(9)}"
        self._declined.clear()
        # Asking is the therapist's own consent; it is stored like everyone else's.
        if not await self._store(who, accepted=True):
            if new:
                self._reset()
            await who.send(Error(code="internal", message="request not saved; try again"))
            return False
        self._accepted.add(who.participant_id)
        for p in self.pending():
            await self._prompt(p)
        return True

    async def consent(self, who: Participant, msg: Consent) -> None:
        if not self.active or msg.request_id != self._request_id:
            await who.send(Error(code="stale_request", message="no such consent request"))
            return
        if not await self._store(who, accepted=msg.accept):
            await who.send(Error(code="internal", message="consent not saved; try again"))
            return
        pid = who.participant_id
        if msg.accept:
            self._accepted.add(pid)
            self._declined.pop(pid, None)
        else:
            self._accepted.discard(pid)
            self._declined[pid] = who.name
        await self.sync()
        await self.broadcast()

    async def _store(self, who: Participant, *, accepted: bool) -> bool:
        """A decision counts only once stored: never record on a consent we cannot show later."""
        assert self.recording_id is not None
        assert self._request_id is not None
        assert self._text is not None
        decision = ConsentDecision(
            recording_id=self.recording_id,
            request_id=self._request_id,
            participant_id=who.participant_id,
            role=who.role,
            name=who.name,
            user_id=who.user_id,
            link_id=who.link_id,
            accepted=accepted,
            text=self._text.text,
            version=self._text.version,
            at=self._ctx.now(),
        )
        try:
            await self._ctx.backend.consent_recorded(self._ctx.session_id, decision)
        except Exception:
            log.exception("storing consent failed in session %s", self._ctx.session_id)
            return False
        return True

    async def _prompt(self, who: Participant) -> None:
        if self._request_id is not None and self._text is not None:
            await who.send(
                ConsentRequest(
                    request_id=self._request_id, text=self._text.text, version=self._text.version
                )
            )

    # --- membership ---------------------------------------------------------------------------

    async def entering(self) -> None:
        """Before a newcomer's media flows: pause if they have not consented."""
        await self.sync()

    async def entered(self, who: Participant) -> None:
        if self.active and who.participant_id not in self._accepted:
            await self._prompt(who)
        if self.recording_id is None:
            # Nothing recorded by this host: said to whoever enters, so that a page that saw
            # a recording running before a restart (or on a node that died) stops showing it.
            await self.send_status(who)
        else:
            await self.broadcast()

    async def left(self, who: Participant) -> None:
        # An acceptance stays (a reconnect is the same person); a refusal leaves with them.
        self._declined.pop(who.participant_id, None)
        if who.participant_id in self._in_recorder:
            self._in_recorder.discard(who.participant_id)
            await self._call("remove_participant", who.participant_id)
        await self.sync()
        await self.broadcast()

    async def close(self) -> None:
        """The session ends or its host goes away: the recording stops for good."""
        if self.active:
            self._stopped = True
            await self.sync()

    # --- the rule -----------------------------------------------------------------------------

    async def sync(self) -> None:
        if not self.active:
            await self._halt()
            return
        want = not self._held and not self.blockers()
        if want and not self._running:
            await self._run()
        elif want:
            await self._add_newcomers()
        elif not want and self._running:
            self._stop_clock()
            await self._call("pause")
            await self._persist()

    async def _run(self) -> None:
        present = [p.participant_id for p in self._ctx.roster.in_room()]
        try:
            if not self._started:
                await self._recorder.start(present)
                self._started = True
                self.started_at = self._ctx.now()
                self._in_recorder = set(present)
            else:
                for pid in present:
                    if pid not in self._in_recorder:
                        await self._recorder.add_participant(pid)
                        self._in_recorder.add(pid)
                await self._recorder.resume()
        except Exception:
            # Never claim to record when the recorder refused: show it paused, let them retry.
            log.exception("recorder failed to run in session %s", self._ctx.session_id)
            self._held = True
            await self._ctx.roster.send_to_therapist(
                Error(code="internal", message="the recorder failed; press resume to retry")
            )
            return
        self._running = True
        self._running_since = self._ctx.now()
        await self._persist()

    async def _add_newcomers(self) -> None:
        """While recording: someone needing no consent of their own (a source) joined."""
        for who in self._ctx.roster.in_room():
            if who.participant_id not in self._in_recorder:
                await self._call("add_participant", who.participant_id)
                self._in_recorder.add(who.participant_id)
                await self._persist()

    async def _halt(self) -> None:
        self._stop_clock()
        if self._started:
            self._started = False
            await self._call("stop")
        if self.recording_id is not None and not self._stop_stored:
            self._stop_stored = True
            await self._persist()

    def _stop_clock(self) -> None:
        if self._running and self._running_since is not None:
            self._recorded_ms += ms_between(self._running_since, self._ctx.now())
        self._running = False
        self._running_since = None

    async def _call(self, method: str, *args: str) -> None:
        try:
            await getattr(self._recorder, method)(*args)
        except Exception:
            log.exception("recorder.%s failed in session %s", method, self._ctx.session_id)

    async def _persist(self) -> None:
        assert self.recording_id is not None
        update = RecordingUpdate(
            recording_id=self.recording_id,
            state=self.state,
            at=self._ctx.now(),
            offset_ms=self.offset_ms(),
            requested_by=self._requested_by,
            participant_ids=tuple(sorted(self._in_recorder)),
        )
        try:
            await self._ctx.backend.recording_changed(self._ctx.session_id, update)
        except Exception:
            log.exception("storing recording state failed in session %s", self._ctx.session_id)

    async def broadcast(self) -> None:
        if self.recording_id is None:
            return
        everyone, therapist = self.status(False), self.status(True)
        for who in self._ctx.roster.in_room():
            await who.send(therapist if who.role == "therapist" else everyone)

    async def send_status(self, who: Participant) -> None:
        await who.send(self.status(who.role == "therapist"))
