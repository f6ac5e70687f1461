"""Drill-down of the monitoring dashboard: the instances behind one number.

Each figure of the dashboard has a name here; the list is the same SQL condition that counted
it, so the number of rows equals the figure (up to `LIMIT` rows are listed). Overdue tasks are
the one exception: the list shows the instances holding them (an instance may hold several).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select

from ..extensions import db
from ..models import HumanTask, InstanceFact, OrgUnit, ProcessInstance, StepFact, User
from ..models.base import utcnow
from .errors import NotAllowed, NotFound, ValidationFailed
from .monitoring import UNFINISHED, Scope, narrow, scope_of
from .monitoring_cycles import BUCKETS, PROCESS_KEYS, seconds_between
from .monitoring_facts import SchoolYear

LIMIT = 500
RUNNING = ("running", "waiting")

# figure → process key (None: any process)
FIGURES: dict[str, str | None] = {
    "agreement": "tripartite_agreement",
    "agreements_open": "tripartite_agreement",
    "roadmap": "roadmap_approval",
    "roadmaps_open": "roadmap_approval",
    "mma_included": "mma_selection",
    "mma_open": "mma_selection",
    "plans_approved": "mo_plan_approval",
    "plans_open": "mo_plan_approval",
    "attestation_open": "attestation_support",
    "attestation_granted": "attestation_support",
    "attestation_refused": "attestation_support",
    "overdue": None,
    "completed": None,
    "step": None,
}


@dataclass
class DrillRow:
    """One instance behind a number."""

    id: int
    title: str
    process_key: str
    status: str
    unit_name: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    outcome_at: datetime | None


@dataclass
class DrillList:
    figure: str
    year: SchoolYear
    total: int
    rows: list[DrillRow]
    unit_name: str | None
    process_key: str | None
    step: str | None


def _figure_condition(
    figure: str,
    year: SchoolYear,
    process_key: str | None,
    step: str | None,
    bucket: int | None,
    now: datetime,
) -> list[Any]:
    start, end = year.bounds()
    running = InstanceFact.status.in_(RUNNING)
    in_year = InstanceFact.school_year == year.first
    simple: dict[str, list[Any]] = {
        "agreement": [],
        "agreements_open": [running],
        "roadmap": [],
        "roadmaps_open": [running],
        "mma_included": [InstanceFact.outcome == "included"],
        "mma_open": [running],
        "plans_approved": [in_year, InstanceFact.outcome == "approved"],
        "plans_open": [in_year, InstanceFact.outcome.is_(None), running],
        "attestation_open": [in_year, InstanceFact.outcome.is_(None), running],
        "attestation_granted": [in_year, InstanceFact.outcome == "granted"],
        "attestation_refused": [in_year, InstanceFact.outcome == "refused"],
    }
    if figure in simple:
        key = FIGURES[figure]
        where = [InstanceFact.process_key == key, *simple[figure]]
        if figure.startswith(("agreement", "roadmap", "mma")):
            where.append(InstanceFact.school_id.is_(None))
        return where
    if figure == "overdue":
        overdue = exists().where(
            HumanTask.instance_id == InstanceFact.instance_id,
            HumanTask.status == "open",
            HumanTask.due_at < now,
        )
        return [overdue, InstanceFact.status.in_(UNFINISHED)]
    if figure == "completed":
        where = [
            InstanceFact.status == "completed",
            InstanceFact.ended_at >= start,
            InstanceFact.ended_at < end,
        ]
        if process_key:
            where.append(InstanceFact.process_key == process_key)
        if bucket is not None:
            days = seconds_between(InstanceFact.started_at, InstanceFact.ended_at) / 86400.0
            edges = (0, *BUCKETS)
            if not 0 <= bucket <= len(BUCKETS):
                raise ValidationFailed(
                    "Нет такого интервала.", {"bucket": ["Нет такого интервала."]}
                )
            where.append(days >= edges[bucket])
            if bucket < len(BUCKETS):
                where.append(days < BUCKETS[bucket])
        return where
    if figure == "step":
        if not process_key or not step:
            raise ValidationFailed("Укажите процесс и шаг.", {"step": ["Укажите процесс и шаг."]})
        done = exists().where(
            StepFact.instance_id == InstanceFact.instance_id,
            StepFact.bpmn_id == step,
            StepFact.completed_at >= start,
            StepFact.completed_at < end,
        )
        return [InstanceFact.process_key == process_key, done]
    raise NotFound("Нет такого показателя.", {"figure": ["Нет такого показателя."]})


def _unit_condition(
    scope: Scope, municipality_id: int | None, school_id: int | None
) -> tuple[Scope, list[Any], str | None]:
    scope = narrow(scope, municipality_id)
    where: list[Any] = [scope.condition()]
    name = None
    if municipality_id is not None:
        where.append(InstanceFact.municipality_id == municipality_id)
        name = db.session.get(OrgUnit, municipality_id).name  # type: ignore[union-attr]
    if school_id is not None:
        school = db.session.get(OrgUnit, school_id)
        if school is None or school.tier != "institution":
            raise NotFound("Организация не найдена.", {"school": ["Нет такой организации."]})
        if school.id not in scope.schools and school.parent_id not in scope.municipalities:
            raise NotAllowed(f"«{school.name}» не входит в вашу зону мониторинга.")
        where.append(InstanceFact.school_id == school_id)
        name = school.name
    return scope, where, name


def drill(
    actor: User,
    figure: str,
    year: SchoolYear | None = None,
    municipality_id: int | None = None,
    school_id: int | None = None,
    process_key: str | None = None,
    step: str | None = None,
    bucket: int | None = None,
    now: datetime | None = None,
) -> DrillList:
    """The instances counted by one figure of the dashboard, in the actor's scope."""
    now = now or utcnow()
    year = year or SchoolYear.of(now)
    if figure not in FIGURES:
        raise NotFound("Нет такого показателя.", {"figure": ["Нет такого показателя."]})
    if process_key is not None and process_key not in PROCESS_KEYS:
        raise NotFound("Нет такого процесса.", {"process": ["Нет такого процесса."]})
    _, unit_where, unit_name = _unit_condition(scope_of(actor), municipality_id, school_id)
    where = unit_where + _figure_condition(figure, year, process_key, step, bucket, now)
    base = (
        select(ProcessInstance.id)
        .join(InstanceFact, InstanceFact.instance_id == ProcessInstance.id)
        .where(and_(*where))
    )
    total = db.session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = db.session.execute(
        select(
            ProcessInstance.id,
            ProcessInstance.title,
            ProcessInstance.process_key,
            ProcessInstance.status,
            OrgUnit.name,
            ProcessInstance.started_at,
            ProcessInstance.ended_at,
            InstanceFact.outcome,
            InstanceFact.outcome_at,
        )
        .join(InstanceFact, InstanceFact.instance_id == ProcessInstance.id)
        .join(OrgUnit, OrgUnit.id == ProcessInstance.org_unit_id)
        .where(and_(*where))
        .order_by(ProcessInstance.started_at.desc(), ProcessInstance.id.desc())
        .limit(LIMIT)
    ).all()
    return DrillList(
        figure=figure,
        year=year,
        total=int(total),
        rows=[DrillRow(*row) for row in rows],
        unit_name=unit_name,
        process_key=process_key,
        step=step,
    )
