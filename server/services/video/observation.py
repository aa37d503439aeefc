"""The observation summary at the end of a session: tag and goal tallies, presence, recordings."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Annotation, Recording, RecordingSpan, VideoSession
from server.services.audit import Actor, add_audit

from .sessions import attendance

TRIAL_SUCCESS = "trial success"
TRIAL_FAIL = "trial fail"
# A duration goal is timed with a pair of tags: from each "start" to the next "stop".
TIMER_START = "start"
TIMER_STOP = "stop"
# A tag this soon after a cue card counts as the parent's strategy following the cue.
FOLLOW_MS = 60_000


@dataclass(frozen=True)
class GoalTally:
    goal_id: str
    successes: int
    trials: int
    # Every other tag on this goal (prompt levels: independent, verbal cue, ...).
    tags: tuple[tuple[str, int], ...]
    # Time between "start" and "stop" tags (a "start" never stopped counts nothing).
    timed_ms: int = 0

    @property
    def line(self) -> str:
        text = f"{self.goal_id}: {self.successes} of {self.trials} trials successful"
        if self.tags:
            text += " (" + ", ".join(f"{tag} {n}" for tag, n in self.tags) + ")"
        return text


@dataclass(frozen=True)
class Coaching:
    cues: tuple[tuple[str, int], ...]  # cue -> times given
    followed: int  # tags within FOLLOW_MS after a cue

    @property
    def given(self) -> int:
        return sum(n for _, n in self.cues)

    @property
    def line(self) -> str:
        if not self.given:
            return ""
        each = ", ".join(f"{cue} {n}" for cue, n in self.cues)
        return (
            f"Parent coaching: {self.given} cue(s) given ({each}); {self.followed} tag(s) of the"
            f" parent's strategy followed within {FOLLOW_MS // 1000} s of a cue."
        )


@dataclass(frozen=True)
class Presence:
    participant_id: str
    name: str
    role: str
    stretches: tuple[tuple[datetime, datetime | None], ...]
    present_ms: int


@dataclass(frozen=True)
class RecordedSpan:
    recording_id: str
    started_at: datetime
    ended_at: datetime | None
    duration_ms: int


@dataclass(frozen=True)
class ObservationSummary:
    tag_counts: tuple[tuple[str, int], ...]
    goals: tuple[GoalTally, ...]
    attendance: tuple[Presence, ...]
    recorded_spans: tuple[RecordedSpan, ...]
    recorded_ms: int
    notes: int
    drawings: int
    snapshots: int
    coaching: Coaching = Coaching((), 0)
    chat: int = 0

    @property
    def empty(self) -> bool:
        return not (self.tag_counts or self.attendance or self.recorded_spans or self.notes)


def _ms(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() * 1000))


def _sorted_counts(counter: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def undone_refs(annotations: list[Annotation]) -> set[tuple[str, str | None]]:
    """(author, client_ref) of every annotation its author took back with an `undo`."""
    return {
        (a.author_participant_id, str(a.payload.get("undoes")))
        for a in annotations
        if a.kind == "undo" and a.payload
    }


def tally(
    annotations: list[Annotation],
) -> tuple[tuple[tuple[str, int], ...], tuple[GoalTally, ...]]:
    tags: Counter[str] = Counter()
    per_goal: dict[str, Counter[str]] = defaultdict(Counter)
    timed: dict[str, int] = defaultdict(int)
    started: dict[str, int] = {}
    undone = undone_refs(annotations)
    for a in sorted(annotations, key=lambda a: a.session_ms):
        if a.kind != "tag" or not a.tag or (a.author_participant_id, a.client_ref) in undone:
            continue
        tags[a.tag] += 1
        if a.goal_id:
            per_goal[a.goal_id][a.tag] += 1
            if a.tag == TIMER_START:
                started.setdefault(a.goal_id, a.session_ms)
            elif a.tag == TIMER_STOP and a.goal_id in started:
                timed[a.goal_id] += a.session_ms - started.pop(a.goal_id)
    goals = []
    for goal_id in sorted(per_goal):
        counts = per_goal[goal_id]
        successes, fails = counts.pop(TRIAL_SUCCESS, 0), counts.pop(TRIAL_FAIL, 0)
        goals.append(
            GoalTally(goal_id, successes, successes + fails, _sorted_counts(counts), timed[goal_id])
        )
    return _sorted_counts(tags), tuple(goals)


def coaching(annotations: list[Annotation]) -> Coaching:
    """Cues given, and the (not undone) tags that followed one within FOLLOW_MS."""
    undone = undone_refs(annotations)
    cues = sorted(a.session_ms for a in annotations if a.kind == "cue")
    followed = sum(
        1
        for a in annotations
        if a.kind == "tag"
        and (a.author_participant_id, a.client_ref) not in undone
        and any(0 <= a.session_ms - at <= FOLLOW_MS for at in cues)
    )
    counts = Counter(a.tag or "" for a in annotations if a.kind == "cue")
    return Coaching(_sorted_counts(counts), followed)


async def observation_summary(
    session: AsyncSession, video: VideoSession, actor: Actor
) -> ObservationSummary:
    now = video.ended_at or utcnow()
    annotations = list(
        await session.scalars(select(Annotation).where(Annotation.session_id == video.id))
    )
    tag_counts, goals = tally(annotations)
    kinds = Counter(a.kind for a in annotations)

    stretches: dict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    who: dict[str, tuple[str, str]] = {}
    for row in await attendance(session, video):
        stretches[row.participant_id].append((row.joined_at, row.left_at))
        who.setdefault(row.participant_id, (row.display_name, row.role))
    presence = tuple(
        Presence(
            pid,
            who[pid][0],
            who[pid][1],
            tuple(spans),
            sum(_ms(joined, left or now) for joined, left in spans),
        )
        for pid, spans in stretches.items()
    )

    span_rows = await session.scalars(
        select(RecordingSpan)
        .join(Recording, Recording.id == RecordingSpan.recording_id)
        .where(Recording.session_id == video.id)
        .order_by(RecordingSpan.started_at)
    )
    spans = tuple(
        RecordedSpan(s.recording_id, s.started_at, s.ended_at, _ms(s.started_at, s.ended_at or now))
        for s in span_rows
    )
    add_audit(
        session, actor, "observation_summary.read", object_type="video_session", object_id=video.id
    )
    return ObservationSummary(
        tag_counts=tag_counts,
        goals=goals,
        attendance=presence,
        recorded_spans=spans,
        recorded_ms=sum(s.duration_ms for s in spans),
        notes=kinds["note"],
        drawings=kinds["drawing"],
        snapshots=kinds["snapshot"],
        coaching=coaching(annotations),
        chat=kinds["chat"],
    )
