"""Annotations made during a session: notes, one-tap tags, live drawings, snapshots.

Checks, clocks and the live relay of a drawing happen under the session lock (`prepare`); the
database write and the ack happen after it (`Save`), so a slow database delays only the author's
own connection (whose messages are handled in order anyway), never the session.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from signaling.coaching import (
    CHAT_HISTORY,
    DEFAULT_CUES,
    ChatHistory,
    may_send,
    relay_chat,
    relay_cue,
)
from signaling.consent import RecordingControl
from signaling.host_context import HostContext
from signaling.participant import Participant
from signaling.ports import AnnotationDraft, AnnotationKind, SnapshotPort, TagOption
from signaling.protocol import (
    AnnotationFailed,
    AnnotationHistory,
    AnnotationMessage,
    AnnotationSaved,
    AnnotationSettings,
    Chat,
    Cue,
    Draw,
    Drawing,
    Error,
    GoalInfo,
    Note,
    ObserverAnnotations,
    Snapshot,
    Tag,
    TaggedInfo,
    TagOptionInfo,
    Undo,
)

log = logging.getLogger(__name__)

Save = Callable[[], Awaitable[None]]
# Tags and undos kept for a therapist's page that reloads (the record keeps all of them).
TAG_HISTORY = 2000


class Annotations:
    def __init__(
        self, ctx: HostContext, recording: RecordingControl, snapshots: SnapshotPort
    ) -> None:
        self._ctx = ctx
        self._recording = recording
        self._snapshots = snapshots
        self.observers_may_annotate = False
        self._tags: Sequence[TagOption] | None = None
        self._cues: Sequence[str] | None = None
        self.chat = ChatHistory()
        self._tagged: list[TaggedInfo] = []
        # The chat and tags an earlier host of this session saw, read from the record once.
        self._history_loaded = False

    # --- settings -----------------------------------------------------------------------------

    async def _settings(self) -> AnnotationSettings:
        if self._tags is None or self._cues is None:
            try:
                self._tags = list(await self._ctx.backend.annotation_tags(self._ctx.session_id))
                self._cues = list(await self._ctx.backend.coaching_cues(self._ctx.session_id))
            except Exception:
                log.exception("loading tags failed in session %s", self._ctx.session_id)
                return AnnotationSettings(
                    observers_may_annotate=self.observers_may_annotate,
                    tags=[],
                    cues=list(DEFAULT_CUES),
                )
        goals = {t.goal_id: t.goal_name for t in self._tags if t.goal_id and t.goal_name}
        return AnnotationSettings(
            observers_may_annotate=self.observers_may_annotate,
            tags=[TagOptionInfo(label=t.label, goal_id=t.goal_id) for t in self._tags],
            goals=[GoalInfo(goal_id=gid, name=name) for gid, name in goals.items()],
            cues=list(self._cues) or list(DEFAULT_CUES),
        )

    async def entered(self, who: Participant) -> None:
        await self._load_history()
        await who.send(await self._settings())
        if who.role == "therapist" and who.source_of is None and self._tagged:
            await who.send(AnnotationHistory(items=list(self._tagged)))
        await self.chat.replay(who)

    async def _load_history(self) -> None:
        """At the first entry (under the session lock, so before anyone here can chat or tag):
        what the record holds, so that a replay after a restart or a move to another node is
        the one the earlier host would have sent."""
        if self._history_loaded:
            return
        try:
            earlier = await self._ctx.backend.call_history(
                self._ctx.session_id, CHAT_HISTORY, TAG_HISTORY
            )
        except Exception:
            # Tried again at the next entry; what this host sees meanwhile is kept.
            log.exception("loading the call history failed in session %s", self._ctx.session_id)
            return
        self._history_loaded = True
        self.chat.restore(earlier.chat)
        stored = {t.client_ref for t in earlier.tagged}
        since = [t for t in self._tagged if t.client_ref not in stored]
        self._tagged = [*earlier.tagged, *since][-TAG_HISTORY:]

    async def set_observers(self, who: Participant, msg: ObserverAnnotations) -> None:
        detail = {"allowed": "yes" if msg.allowed else "no"}
        if who.role != "therapist":
            await self._ctx.audit(who.actor, "annotation.observers", "denied", detail, who.remote)
            await who.send(Error(code="forbidden", message="only the therapist can allow that"))
            return
        await self._ctx.audit(who.actor, "annotation.observers", "success", detail, who.remote)
        self.observers_may_annotate = msg.allowed
        settings = await self._settings()
        for p in self._ctx.roster.in_room():
            await p.send(settings)

    # --- making one ---------------------------------------------------------------------------

    async def prepare(self, who: Participant, msg: AnnotationMessage) -> Save | None:
        """Under the session lock: refuse, or relay what is live and return the save to run."""
        if who.phase != "present":
            await who.send(Error(code="not_admitted", message="wait for the therapist"))
            return None
        if not await self._allowed(who, msg):
            return None
        target_id = None if isinstance(msg, Undo | Cue | Chat) else msg.target
        if target_id is not None and not self._is_target(target_id, publisher=_needs_video(msg)):
            await who.send(Error(code="unknown_participant", message="no such participant"))
            return None
        session_ms = self._ctx.session_ms()
        at = self._ctx.now()
        recording_ms = self._recording.recording_ms()
        fields: dict[str, Any] = {}
        kind: AnnotationKind
        if isinstance(msg, Note):
            kind, fields["text"], fields["goal_id"] = "note", msg.text, msg.goal_id
        elif isinstance(msg, Tag):
            kind, fields["tag"], fields["goal_id"] = "tag", msg.tag, msg.goal_id
        elif isinstance(msg, Undo):
            kind, fields["payload"] = "undo", {"undoes": msg.undo_ref}
        elif isinstance(msg, Cue):
            kind, fields["tag"], fields["text"] = "cue", msg.cue, msg.text
            await relay_cue(self._ctx, who, msg, session_ms)
        elif isinstance(msg, Chat):
            kind, fields["text"] = "chat", msg.text
            await relay_chat(self._ctx, self.chat, who, msg, session_ms, at)
        elif isinstance(msg, Draw):
            kind = "drawing"
            if not await self._relay_drawing(who, msg, session_ms):
                return None
            fields["payload"] = {
                "color": msg.color,
                "shapes": [s.model_dump(mode="json") for s in msg.shapes],
                "show_to": list(dict.fromkeys(msg.show_to)),
                "fade_ms": msg.fade_ms,
            }
        else:
            kind = "snapshot"
        draft = AnnotationDraft(
            author_participant_id=who.participant_id,
            author_role=who.role,
            author_user_id=who.user_id,
            author_link_id=who.link_id,
            kind=kind,
            session_ms=session_ms,
            recording_ms=recording_ms,
            recording_id=self._recording.recording_id if recording_ms is not None else None,
            at=at,
            target_participant_id=target_id,
            client_ref=msg.client_ref,
            **fields,
        )
        return lambda: self._save(who, msg.client_ref, draft)

    async def _allowed(self, who: Participant, msg: AnnotationMessage) -> bool:
        if isinstance(msg, Cue | Chat) and may_send(who, msg):
            return True
        if who.role == "therapist":
            return True
        # Snapshots are clinical images of a child: only the therapist takes them.
        may = who.role == "observer" and self.observers_may_annotate
        if may and not isinstance(msg, Snapshot | Cue):
            return True
        await self._ctx.audit(who.actor, f"annotation.{msg.type}", "denied", {}, who.remote)
        await who.send(Error(code="forbidden", message="annotations are not allowed for you"))
        return False

    def _is_target(self, participant_id: str, *, publisher: bool) -> bool:
        target = self._ctx.roster.get(participant_id)
        in_room = target is not None and target in self._ctx.roster.in_room()
        return in_room and not (publisher and target is not None and target.role == "observer")

    async def _relay_drawing(self, who: Participant, msg: Draw, session_ms: int) -> bool:
        viewers = [self._ctx.roster.get(pid) for pid in dict.fromkeys(msg.show_to)]
        present = self._ctx.roster.in_room()
        if any(v is None or v not in present for v in viewers):
            await who.send(
                Error(code="unknown_participant", message="show_to: no such participant")
            )
            return False
        # An observer's drawing stays among the clinicians: it is never put on a parent's screen.
        if who.role == "observer" and any(v is not None and v.role == "parent" for v in viewers):
            await self._ctx.audit(who.actor, "annotation.draw", "denied", {}, who.remote)
            await who.send(Error(code="forbidden", message="observers cannot draw for parents"))
            return False
        shown = Drawing(
            author_id=who.participant_id,
            target=msg.target,
            color=msg.color,
            shapes=msg.shapes,
            fade_ms=msg.fade_ms,
            session_ms=session_ms,
        )
        for viewer in viewers:
            if viewer is not None:
                await viewer.send(shown)
        return True

    async def _save(self, who: Participant, client_ref: str, draft: AnnotationDraft) -> None:
        """After the lock: the ack goes out only once the backend says the row is committed."""
        if draft.kind == "snapshot":
            assert draft.target_participant_id is not None
            image = await self._grab(draft.target_participant_id)
            if image is None:
                await who.send(AnnotationFailed(client_ref=client_ref, reason="no_frame"))
                return
            draft = replace(draft, image=image)
        try:
            saved = await self._ctx.backend.save_annotation(self._ctx.session_id, draft)
        except Exception:
            log.exception("saving an annotation failed in session %s", self._ctx.session_id)
            await who.send(AnnotationFailed(client_ref=client_ref, reason="not_saved"))
            return
        self._remember(draft, saved.session_ms)
        await who.send(
            AnnotationSaved(
                client_ref=client_ref,
                annotation_id=saved.annotation_id,
                session_ms=saved.session_ms,
                recording_ms=saved.recording_ms,
            )
        )

    def _remember(self, draft: AnnotationDraft, session_ms: int) -> None:
        if draft.kind not in ("tag", "undo") or draft.client_ref is None:
            return
        if any(t.client_ref == draft.client_ref for t in self._tagged[-50:]):
            return  # a resend after a lost ack
        undoes = draft.payload.get("undoes") if draft.payload else None
        self._tagged.append(
            TaggedInfo(
                client_ref=draft.client_ref,
                kind=draft.kind,
                tag=draft.tag,
                goal_id=draft.goal_id,
                undo_ref=str(undoes) if undoes else None,
                session_ms=session_ms,
            )
        )
        del self._tagged[:-TAG_HISTORY]

    async def _grab(self, participant_id: str) -> bytes | None:
        try:
            return await self._snapshots.snapshot(participant_id)
        except Exception:
            log.exception("snapshot failed in session %s", self._ctx.session_id)
            return None


def _needs_video(msg: AnnotationMessage) -> bool:
    return isinstance(msg, Draw | Snapshot)
