"""Goal progress: each goal's measured values across visits, and its chart drawn as SVG.

Values come from notes (signed ones, and drafts marked as such), following the goal's lineage
across plan versions. The chart geometry is computed here; the template only draws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Goal, Note

WIDTH, HEIGHT, PAD = 420, 160, 28


@dataclass(frozen=True)
class Point:
    on: date
    value: float
    signed: bool
    note_id: str
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True)
class GoalChart:
    goal: Goal
    points: tuple[Point, ...]
    width: int
    height: int
    baseline_y: float
    target_y: float
    top: float  # the value at the top of the chart

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


def goal_values(goal: Goal, client_notes: list[Note]) -> list[Point]:
    lineage = str(goal.lineage_id)
    points = []
    for note in sorted(client_notes, key=lambda n: (n.service_date, n.created_at)):
        for m in note.measures:
            if m.get("value") is None:
                continue
            if m.get("lineage_id") == lineage or m.get("goal_id") == str(goal.id):
                points.append(
                    Point(note.service_date, float(m["value"]), note.is_signed, str(note.id))
                )
    return points


def chart(goal: Goal, points: list[Point]) -> GoalChart:
    top = max([goal.target, goal.baseline, *(p.value for p in points), 1.0])
    if goal.measure == "percent_trials":
        top = max(top, 100.0)

    def y(value: float) -> float:
        return round(HEIGHT - PAD - (HEIGHT - 2 * PAD) * value / top, 1)

    n = len(points)
    span = WIDTH - 2 * PAD
    placed = tuple(
        Point(
            p.on,
            p.value,
            p.signed,
            p.note_id,
            round(PAD + (span * i / (n - 1) if n > 1 else span / 2), 1),
            y(p.value),
        )
        for i, p in enumerate(points)
    )
    return GoalChart(goal, placed, WIDTH, HEIGHT, y(goal.baseline), y(goal.target), top)


def goal_charts(goals: list[Goal], notes: list[Note]) -> list[GoalChart]:
    return [chart(g, goal_values(g, notes)) for g in goals]


async def notes_with_measures(session: AsyncSession, client_id: object) -> list[Note]:
    rows = await session.scalars(select(Note).where(Note.client_id == client_id))
    return [n for n in rows if n.measures]
