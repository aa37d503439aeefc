"""Plans of care and goals. Revising writes a new version; nothing already written is changed
except the old plan's status (active -> superseded), which is bookkeeping, not content."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Client, Goal, PlanOfCare, User
from server.services.audit import Actor, add_audit
from server.services.errors import not_found_for, owned_id

from .common import ValidationFailed
from .procedures import parse_code_list

MEASURES = {
    "percent_trials": "%",
    "frequency": "times",
    "duration": "seconds",
    "assistance": "level",
}
# Level of assistance as a number, so it can be charted: higher is more independent.
ASSISTANCE_LEVELS = {
    0: "dependent",
    1: "maximal assist",
    2: "moderate assist",
    3: "minimal assist",
    4: "contact guard",
    5: "supervision",
    6: "independent",
}
DISCIPLINES = {"ot": "Occupational therapy", "pt": "Physical therapy", "slp": "Speech therapy"}
GOAL_STATUSES = ("active", "met", "not_met", "discontinued")
MAX_GOALS = 12
MAX_CUES = 8
NO_PLAN = "No such plan of care."


@dataclass
class GoalInput:
    term: str = "short"
    label: str = ""
    description: str = ""
    measure: str = "percent_trials"
    baseline: str = ""
    target: str = ""
    target_date: str = ""
    status: str = "active"
    lineage_id: str = ""  # set when revising: which earlier goal this continues

    @property
    def is_blank(self) -> bool:
        return not (self.label or self.description or self.baseline or self.target)


@dataclass
class PlanInput:
    discipline: str = "ot"
    assessment: str = ""
    visits_per_week: str = "1"
    visit_minutes: str = "60"
    cert_start: str = ""
    cert_end: str = ""
    reason: str = ""
    goals: list[GoalInput] = field(default_factory=list)
    procedure_codes: str = ""  # the CPT codes the plan covers, as typed ("97530 97110")
    coaching_cues: str = ""  # one cue a line, as typed


def _number(raw: str, key: str, errors: dict[str, str], low: float, high: float) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        errors[key] = "Enter a number."
        return 0.0
    if not low <= value <= high:
        errors[key] = f"Enter a number from {low:g} to {high:g}."
    return value


def _date(raw: str, key: str, errors: dict[str, str]) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        errors[key] = "Enter a date as YYYY-MM-DD."
        return date.min


def _goals(data: PlanInput, cert_end: date, errors: dict[str, str]) -> list[Goal]:
    goals = [g for g in data.goals if not g.is_blank]
    if not goals:
        errors["goals"] = "A plan of care needs at least one measurable goal."
    if len(goals) > MAX_GOALS:
        errors["goals"] = f"At most {MAX_GOALS} goals."
    rows = []
    for i, g in enumerate(goals):
        key = f"goals.{i}"
        if g.term not in ("long", "short"):
            errors[f"{key}.term"] = "Choose long- or short-term."
        label, description = " ".join(g.label.split())[:60], g.description.strip()[:2000]
        if not label:
            errors[f"{key}.label"] = "Give the goal a short name (e.g. grasp)."
        if not description:
            errors[f"{key}.description"] = "Describe the goal."
        if g.measure not in MEASURES:
            errors[f"{key}.measure"] = "Choose what is measured."
        high = 100.0 if g.measure == "percent_trials" else 6.0 if g.measure == "assistance" else 1e6
        baseline = _number(g.baseline, f"{key}.baseline", errors, 0, high)
        target = _number(g.target, f"{key}.target", errors, 0, high)
        target_date = _date(g.target_date, f"{key}.target_date", errors)
        if target_date != date.min and cert_end != date.min and target_date > cert_end:
            errors[f"{key}.target_date"] = "The target date falls after the certification ends."
        if g.status not in GOAL_STATUSES:
            errors[f"{key}.status"] = "Unknown goal status."
        try:
            lineage = uuid.UUID(g.lineage_id) if g.lineage_id else uuid.uuid4()
        except ValueError:
            lineage = uuid.uuid4()
        rows.append(
            Goal(
                lineage_id=lineage,
                number=i + 1,
                term=g.term,
                label=label,
                description=description,
                measure=g.measure,
                unit=MEASURES.get(g.measure, ""),
                baseline=baseline,
                target=target,
                target_date=target_date,
                status=g.status,
            )
        )
    return rows


def _validate(data: PlanInput) -> tuple[dict[str, object], list[Goal]]:
    errors: dict[str, str] = {}
    if data.discipline not in DISCIPLINES:
        errors["discipline"] = "Choose OT, PT or speech."
    per_week = _number(data.visits_per_week, "visits_per_week", errors, 1, 7)
    minutes = _number(data.visit_minutes, "visit_minutes", errors, 15, 240)
    start = _date(data.cert_start, "cert_start", errors)
    end = _date(data.cert_end, "cert_end", errors)
    if start != date.min and end != date.min and end <= start:
        errors["cert_end"] = "The certification must end after it starts."
    goals = _goals(data, end, errors)
    codes: list[str] = []
    try:
        codes = parse_code_list(data.procedure_codes)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    cues = list(dict.fromkeys(" ".join(c.split()) for c in data.coaching_cues.splitlines()))
    cues = [c for c in cues if c]
    if len(cues) > MAX_CUES or any(len(c) > 40 for c in cues):
        errors["coaching_cues"] = f"At most {MAX_CUES} cues of up to 40 characters each."
    if errors:
        raise ValidationFailed(errors)
    fields: dict[str, object] = {
        "coaching_cues": cues,
        "discipline": data.discipline,
        "assessment": data.assessment.strip()[:10000],
        "visits_per_week": int(per_week),
        "visit_minutes": int(minutes),
        "cert_start": start,
        "cert_end": end,
        "reason": data.reason.strip()[:300],
        "procedure_codes": codes,
    }
    return fields, goals


async def active_plan(session: AsyncSession, client_id: uuid.UUID) -> PlanOfCare | None:
    plan: PlanOfCare | None = await session.scalar(
        select(PlanOfCare).where(PlanOfCare.client_id == client_id, PlanOfCare.status == "active")
    )
    return plan


async def plan_history(session: AsyncSession, client_id: uuid.UUID) -> list[PlanOfCare]:
    rows = await session.scalars(
        select(PlanOfCare)
        .where(PlanOfCare.client_id == client_id)
        .order_by(PlanOfCare.version.desc())
    )
    return list(rows)


async def create_plan(
    session: AsyncSession, user: User, client: Client, data: PlanInput, actor: Actor
) -> PlanOfCare:
    """The first plan (evaluation) or a new version (re-evaluation) superseding the active one."""
    fields, goals = _validate(data)
    previous = await active_plan(session, client.id)
    if previous is not None:
        previous.status = "superseded"
        await session.flush()
    plan = PlanOfCare(
        client_id=client.id,
        therapist_id=client.therapist_id,
        version=(previous.version + 1) if previous else 1,
        supersedes_id=previous.id if previous else None,
        status="active",
        created_by_id=user.id,
        goals=[],
        **fields,
    )
    session.add(plan)
    await session.flush()
    for goal in goals:
        goal.plan_id = plan.id
        session.add(goal)
    await session.flush()
    await session.refresh(plan, ["goals"])
    add_audit(
        session,
        actor,
        "plan_of_care.revise" if previous else "plan_of_care.create",
        object_type="plan_of_care",
        object_id=plan.id,
        detail={"client_id": str(client.id), "version": plan.version, "goals": len(goals)},
    )
    return plan


async def get_plan_for(
    session: AsyncSession, user: User, plan_id: object, actor: Actor
) -> PlanOfCare:
    pid = owned_id(plan_id, NO_PLAN, actor, "plan_of_care.read", "plan_of_care")
    plan = await session.get(PlanOfCare, pid)
    if plan is None or (plan.therapist_id != user.id and not user.is_admin):
        exists = plan is not None
        raise not_found_for(NO_PLAN, actor, "plan_of_care.read", "plan_of_care", pid, exists=exists)
    add_audit(session, actor, "plan_of_care.read", object_type="plan_of_care", object_id=plan.id)
    return plan


def plan_input_from(plan: PlanOfCare) -> PlanInput:
    """A re-evaluation starts from the current plan: same goals, same lineages."""
    return PlanInput(
        discipline=plan.discipline,
        assessment=plan.assessment,
        visits_per_week=str(plan.visits_per_week),
        visit_minutes=str(plan.visit_minutes),
        cert_start=plan.cert_start.isoformat(),
        cert_end=plan.cert_end.isoformat(),
        procedure_codes=" ".join(plan.procedure_codes),
        coaching_cues="\n".join(plan.coaching_cues),
        goals=[
            GoalInput(
                g.term,
                g.label,
                g.description,
                g.measure,
                f"{g.baseline:g}",
                f"{g.target:g}",
                g.target_date.isoformat(),
                g.status,
                str(g.lineage_id),
            )
            for g in plan.goals
        ],
    )


async def goals_by_reference(session: AsyncSession, client_id: uuid.UUID) -> dict[str, Goal]:
    """Every goal version of the client, findable by its id or its lineage id (as strings).

    Annotations carry a goal id as a string; it may name a version of a goal that a later
    re-evaluation replaced, so lookups go through this map rather than the active plan alone.
    """
    rows = await session.scalars(
        select(Goal)
        .join(PlanOfCare, PlanOfCare.id == Goal.plan_id)
        .where(PlanOfCare.client_id == client_id)
        .order_by(PlanOfCare.version)
    )
    found: dict[str, Goal] = {}
    for goal in rows:
        found[str(goal.id)] = goal
        found[str(goal.lineage_id)] = goal  # the latest version wins for the lineage key
    return found
