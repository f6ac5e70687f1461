"""Cycle times for the monitoring dashboard: per process and per step, with the bottleneck.

Aggregate SQL over instance rows and the human-task mirror, limited to the dashboard scope
(`monitoring.Scope`) and to what finished in the chosen school year.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, select

from ..extensions import db
from ..models import CycleRollup, InstanceFact, ProcessVersion, StepFact, StepRollup
from .monitoring_facts import BUCKETS, SchoolYear

if TYPE_CHECKING:
    from .monitoring import Scope

PROCESS_KEYS = (
    "tripartite_agreement",
    "roadmap_approval",
    "mma_selection",
    "mo_plan_approval",
    "attestation_support",
)


@dataclass
class ProcessCycle:
    key: str
    name: str
    completed: int
    avg_days: float | None
    buckets: list[int]


@dataclass
class StepCycle:
    process_key: str
    bpmn_id: str
    name: str
    completed: int
    avg_days: float | None
    bottleneck: bool = False


def seconds_between(start: Any, end: Any) -> Any:
    """end − start in seconds, as SQL for the database in use."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def cycle_times(scope: Scope, year: SchoolYear) -> tuple[list[ProcessCycle], list[StepCycle]]:
    """Average time per completed instance (by process) and per completed task (by step),
    for what finished in the school year, with the distribution of instance durations.

    Whole municipalities are read from the rollups (a few rows per municipality); schools seen
    without their municipality (a director) from the facts of those schools only.
    """
    width = len(BUCKETS) + 1
    # key → [completed, seconds, *buckets]
    totals: dict[str, list[float]] = {}
    step_totals: dict[tuple[str, str], list[Any]] = {}
    if scope.municipalities:
        for row in db.session.execute(
            select(
                CycleRollup.process_key,
                func.sum(CycleRollup.completed),
                func.sum(CycleRollup.seconds_sum),
                *[func.sum(getattr(CycleRollup, f"b{i}")) for i in range(width)],
            )
            .where(
                CycleRollup.school_year == year.first,
                CycleRollup.municipality_id.in_(scope.municipalities),
            )
            .group_by(CycleRollup.process_key)
        ).all():
            _add(totals, row[0], [float(v or 0) for v in row[1:]])
        for key, bpmn_id, name, count, seconds in db.session.execute(
            select(
                StepRollup.process_key,
                StepRollup.bpmn_id,
                func.max(StepRollup.name),
                func.sum(StepRollup.completed),
                func.sum(StepRollup.seconds_sum),
            )
            .where(
                StepRollup.school_year == year.first,
                StepRollup.municipality_id.in_(scope.municipalities),
            )
            .group_by(StepRollup.process_key, StepRollup.bpmn_id)
        ).all():
            _add_step(step_totals, key, bpmn_id, name, count, seconds)
    if scope.schools:
        _schools_only(scope, year, totals, step_totals)
    names = process_names()
    processes = []
    for key in sorted(set(PROCESS_KEYS) | set(totals), key=_key_order):
        values = totals.get(key, [0.0] * (width + 2))
        completed = int(values[0])
        processes.append(
            ProcessCycle(
                key=key,
                name=names.get(key, key),
                completed=completed,
                avg_days=values[1] / completed / 86400.0 if completed else None,
                buckets=[int(v) for v in values[2:]],
            )
        )
    steps = [
        StepCycle(
            process_key=key,
            bpmn_id=bpmn_id,
            name=name,
            completed=int(count),
            avg_days=seconds / count / 86400.0 if count else None,
        )
        for (key, bpmn_id), (name, count, seconds) in step_totals.items()
    ]
    steps.sort(key=lambda s: (_key_order(s.process_key), -(s.avg_days or 0), s.bpmn_id))
    slowest: dict[str, StepCycle] = {}
    for step in steps:
        if step.avg_days is not None and step.process_key not in slowest:
            slowest[step.process_key] = step
    for step in slowest.values():
        step.bottleneck = True
    return processes, steps


def _add(totals: dict[str, list[float]], key: str, values: list[float]) -> None:
    current = totals.setdefault(key, [0.0] * len(values))
    for index, value in enumerate(values):
        current[index] += value


def _add_step(
    totals: dict[tuple[str, str], list[Any]],
    key: str,
    bpmn_id: str,
    name: str,
    count: Any,
    seconds: Any,
) -> None:
    current = totals.setdefault((key, bpmn_id), [name, 0, 0.0])
    current[1] += int(count or 0)
    current[2] += float(seconds or 0.0)


def _schools_only(
    scope: Scope,
    year: SchoolYear,
    totals: dict[str, list[float]],
    step_totals: dict[tuple[str, str], list[Any]],
) -> None:
    """The same figures from the facts of the schools seen without their municipality."""
    start, end = year.bounds()
    duration = seconds_between(InstanceFact.started_at, InstanceFact.ended_at)
    days = duration / 86400.0
    bucket_columns = []
    lower: float = 0
    for upper in BUCKETS:
        bucket_columns.append(func.sum(case((and_(days >= lower, days < upper), 1), else_=0)))
        lower = upper
    bucket_columns.append(func.sum(case((days >= lower, 1), else_=0)))
    for row in db.session.execute(
        select(InstanceFact.process_key, func.count(), func.sum(duration), *bucket_columns)
        .where(
            InstanceFact.school_id.in_(scope.schools),
            InstanceFact.status == "completed",
            InstanceFact.ended_at >= start,
            InstanceFact.ended_at < end,
        )
        .group_by(InstanceFact.process_key)
    ).all():
        _add(totals, row[0], [float(v or 0) for v in row[1:]])
    for key, bpmn_id, name, count, seconds in db.session.execute(
        select(
            StepFact.process_key,
            StepFact.bpmn_id,
            func.max(StepFact.name),
            func.count(),
            func.sum(StepFact.seconds),
        )
        .where(
            StepFact.school_id.in_(scope.schools),
            StepFact.completed_at >= start,
            StepFact.completed_at < end,
        )
        .group_by(StepFact.process_key, StepFact.bpmn_id)
    ).all():
        _add_step(step_totals, key, bpmn_id, name, count, seconds)


def _key_order(key: str) -> tuple[int, str]:
    return (PROCESS_KEYS.index(key) if key in PROCESS_KEYS else len(PROCESS_KEYS), key)


def process_names() -> dict[str, str]:
    """Name of each process key, from its latest deployed version."""
    latest = (
        select(ProcessVersion.key, func.max(ProcessVersion.version).label("v"))
        .group_by(ProcessVersion.key)
        .subquery()
    )
    rows = db.session.execute(
        select(ProcessVersion.key, ProcessVersion.name).join(
            latest, and_(latest.c.key == ProcessVersion.key, latest.c.v == ProcessVersion.version)
        )
    ).all()
    return {str(key): str(name) for key, name in rows}


def group_steps(steps: list[StepCycle]) -> dict[str, list[StepCycle]]:
    """Steps grouped by process key, keeping the order."""
    grouped: dict[str, list[StepCycle]] = defaultdict(list)
    for step in steps:
        grouped[step.process_key].append(step)
    return dict(grouped)
