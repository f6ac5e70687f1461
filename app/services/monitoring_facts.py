"""The monitoring summary: one fact row per instance, written with every engine step.

`record` is called by `progress.persist`, inside the same transaction as the step, with the
data the engine already holds in memory, so the dashboard never has to load a workflow. The
outcome of each procedure is read from the data keys its model documents (docs/processes.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import delete, func, select

from ..extensions import db
from ..models import (
    CycleRollup,
    HumanTask,
    InstanceFact,
    OrgUnit,
    ProcessInstance,
    RoadmapMeasureFact,
    StepFact,
    StepRollup,
)
from ..models.base import utcnow
from . import upserts

DEFAULT_ZONE = "Europe/Moscow"
SIGN_KEYS = (
    "region_official_sign_confirm",
    "cnppm_head_sign_confirm",
    "municipal_head_sign_confirm",
)
DIRECTIONS = ("management", "professional_mastery", "content_support")
# Upper bounds (days, exclusive) of the cycle-time distribution; the last bucket is open.
BUCKETS = (7, 14, 30, 60, 90)
_YEAR = re.compile(r"^(\d{4})/(\d{4})$")


@dataclass(frozen=True)
class SchoolYear:
    """A school year, 1 September to 31 August, named by its first calendar year."""

    first: int

    @property
    def label(self) -> str:
        return f"{self.first}/{self.first + 1}"

    def bounds(self) -> tuple[datetime, datetime]:
        """Start (1 September, midnight) and end (next 1 September) in the display zone."""
        zone = display_zone()
        return (
            datetime.combine(date(self.first, 9, 1), time(), zone),
            datetime.combine(date(self.first + 1, 9, 1), time(), zone),
        )

    @classmethod
    def of(cls, moment: datetime) -> SchoolYear:
        """The school year a moment falls into (in the display zone)."""
        local = moment.astimezone(display_zone())
        return cls(local.year if local.month >= 9 else local.year - 1)

    @classmethod
    def parse(cls, text: str | None) -> SchoolYear | None:
        """«2025/2026» or «2025» as a school year; None when it is neither."""
        value = (text or "").strip()
        match = _YEAR.match(value)
        if match and int(match.group(2)) == int(match.group(1)) + 1:
            return cls(int(match.group(1)))
        if value.isdigit() and len(value) == 4:
            return cls(int(value))
        return None


def display_zone() -> ZoneInfo:
    """The zone in which school years begin (the UI's display zone)."""
    name = DEFAULT_ZONE
    if has_app_context():
        name = current_app.config.get("BABEL_DEFAULT_TIMEZONE", DEFAULT_ZONE)
    return ZoneInfo(name)


def placement(unit: OrgUnit) -> tuple[int | None, int | None]:
    """(municipality id, school id) of an instance's scope unit."""
    if unit.tier == "institution":
        return unit.parent_id, unit.id
    if unit.tier == "municipality":
        return unit.id, None
    return None, None


def _true(value: Any) -> bool:
    return value is True or value == "true"


def outcome_of(process_key: str, status: str, data: dict[str, Any]) -> tuple[str | None, str]:
    """The procedure's result so far, and a short detail (a number, a name), from its data."""
    if process_key == "tripartite_agreement":
        if status == "completed" and data.get("registration_number"):
            return "registered", str(data["registration_number"])
        if all(_true(data.get(key)) for key in SIGN_KEYS):
            return "signed", ""
        return None, ""
    if process_key == "roadmap_approval":
        if status == "completed" and data.get("approval_decision") == "approve":
            return "approved", str(data.get("approval_act_number") or "")
        return None, ""
    if process_key == "mo_plan_approval":
        if data.get("plan_status") == "approved":
            return "approved", str(data.get("mo_name") or "")
        return None, str(data.get("mo_name") or "")
    if process_key == "attestation_support":
        decision = data.get("commission_decision")
        if decision in ("granted", "refused"):
            return str(decision), str(data.get("commission_minutes_number") or "")
        return None, ""
    if process_key == "mma_selection" and status == "completed":
        if data.get("head_decision") == "include":
            return "included", ""
        if data.get("head_decision") == "reject":
            return "rejected", ""
        if (
            data.get("application_kind") == "nomination"
            and data.get("nomination_confirmed") is False
        ):
            return "not_nominated", ""
        return "ineligible", ""
    return None, ""


def _school_year(instance: ProcessInstance, data: dict[str, Any]) -> int:
    if instance.process_key == "mo_plan_approval":
        declared = SchoolYear.parse(str(data.get("school_year") or ""))
        if declared is not None:
            return declared.first
    return SchoolYear.of(instance.started_at or utcnow()).first


def _deadline(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def record(instance: ProcessInstance, data: dict[str, Any]) -> None:
    """Bring the instance's fact row (and an approved roadmap's measures) up to date.

    Called by progress.persist after it has flushed the step's task rows (its query of the
    open tasks does), so the reads here need no flush of their own: the instance and fact
    changes they would write do not affect them, and they go out with the commit.
    """
    with db.session.no_autoflush:
        _record(instance, data)


def _record(instance: ProcessInstance, data: dict[str, Any]) -> None:
    fact = db.session.get(InstanceFact, instance.id)
    was_completed = fact is not None and fact.status == "completed"
    if fact is None:
        municipality_id, school_id = placement(instance.org_unit)
        fact = InstanceFact(
            instance_id=instance.id,
            process_key=instance.process_key,
            municipality_id=municipality_id,
            school_id=school_id,
        )
        db.session.add(fact)
    fact.status = instance.status
    fact.started_at = instance.started_at or utcnow()
    fact.ended_at = instance.ended_at
    fact.school_year = _school_year(instance, data)
    outcome, detail = outcome_of(instance.process_key, instance.status, data)
    if outcome != fact.outcome:
        # "signed" → "registered" keeps the moment of signing: that is "since when".
        if outcome is None or fact.outcome_at is None or fact.outcome != "signed":
            fact.outcome_at = utcnow() if outcome else None
        if outcome == "approved" and instance.process_key == "roadmap_approval":
            _record_measures(instance.id, data)
        fact.outcome = outcome
    fact.detail = detail[:300] or None
    if fact.status == "completed" and not was_completed and fact.ended_at is not None:
        _count_cycle(fact)
    _record_steps(instance, fact)


def bucket_of(seconds: float) -> int:
    """Index of the cycle-time bucket a duration falls into."""
    days = seconds / 86400.0
    for index, upper in enumerate(BUCKETS):
        if days < upper:
            return index
    return len(BUCKETS)


def _upsert(model: Any, key: dict[str, Any], add: dict[str, Any], replace: dict[str, Any]) -> None:
    """Add to the counters of a rollup row, creating it if needed (one statement, no race)."""
    if not upserts.add_to_counters(model, key, add, replace):
        raise RuntimeError("The monitoring rollups need PostgreSQL or SQLite (ON CONFLICT).")


def _count_cycle(fact: InstanceFact) -> None:
    if fact.municipality_id is None or fact.ended_at is None:
        return
    seconds = max((fact.ended_at - fact.started_at).total_seconds(), 0.0)
    buckets = {f"b{i}": 0 for i in range(len(BUCKETS) + 1)}
    buckets[f"b{bucket_of(seconds)}"] = 1
    _upsert(
        CycleRollup,
        {
            "school_year": SchoolYear.of(fact.ended_at).first,
            "municipality_id": fact.municipality_id,
            "process_key": fact.process_key,
        },
        {"completed": 1, "seconds_sum": seconds, **buckets},
        {},
    )


def _count_step(step: StepFact) -> None:
    if step.municipality_id is None:
        return
    _upsert(
        StepRollup,
        {
            "school_year": SchoolYear.of(step.completed_at).first,
            "municipality_id": step.municipality_id,
            "process_key": step.process_key,
            "bpmn_id": step.bpmn_id,
        },
        {"completed": 1, "seconds_sum": step.seconds},
        {"name": step.name},
    )


def _record_steps(instance: ProcessInstance, fact: InstanceFact) -> None:
    """A step row for each task of the instance completed since the last engine step."""
    known = select(StepFact.task_id).where(StepFact.instance_id == instance.id)
    done = db.session.execute(
        select(HumanTask.id, HumanTask.bpmn_id, HumanTask.name, HumanTask.created_at)
        .add_columns(HumanTask.completed_at)
        .where(
            HumanTask.instance_id == instance.id,
            HumanTask.status == "completed",
            HumanTask.completed_at.is_not(None),
            HumanTask.id.not_in(known),
        )
    ).all()
    # A step recorded earlier in this transaction is still pending (no autoflush here).
    pending = {o.task_id for o in db.session.new if isinstance(o, StepFact)}
    for task_id, bpmn_id, name, created_at, completed_at in done:
        if task_id in pending:
            continue
        step = StepFact(
            task_id=task_id,
            instance_id=instance.id,
            process_key=instance.process_key,
            bpmn_id=bpmn_id,
            name=name,
            municipality_id=fact.municipality_id,
            school_id=fact.school_id,
            completed_at=completed_at,
            seconds=max((completed_at - created_at).total_seconds(), 0.0),
        )
        db.session.add(step)
        _count_step(step)


def _record_measures(instance_id: int, data: dict[str, Any]) -> None:
    db.session.execute(
        delete(RoadmapMeasureFact).where(RoadmapMeasureFact.instance_id == instance_id)
    )
    rows = data.get("roadmap_rows") or []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("direction") in DIRECTIONS:
            db.session.add(
                RoadmapMeasureFact(
                    instance_id=instance_id,
                    direction=str(row["direction"]),
                    deadline=_deadline(row.get("deadline")),
                )
            )


def missing_instance_ids() -> list[int]:
    """Instances that have no fact row yet (started before the summary existed)."""
    known = select(InstanceFact.instance_id)
    return list(
        db.session.execute(
            select(ProcessInstance.id)
            .where(ProcessInstance.id.not_in(known))
            .order_by(ProcessInstance.id)
        ).scalars()
    )


def rebuild_rollups() -> None:
    """Recompute the rollup tables from the fact rows (after a bulk load or a repair)."""
    db.session.execute(delete(CycleRollup))
    db.session.execute(delete(StepRollup))
    for fact in db.session.execute(
        select(InstanceFact).where(InstanceFact.status == "completed")
    ).scalars():
        _count_cycle(fact)
    for step in db.session.execute(select(StepFact)).scalars():
        _count_step(step)


def rebuild() -> tuple[int, int]:
    """Operator command: facts for instances started before the summary existed, then the
    rollups from all facts. Loads each such instance once; returns (added, total facts)."""
    from .progress import load_runner  # progress records facts: import here, not at the top
    from .uow import transaction

    added = 0
    for instance_id in missing_instance_ids():
        with transaction():
            instance = db.session.get(ProcessInstance, instance_id)
            if instance is None:
                continue
            record(instance, load_runner(instance, None).data)
            added += 1
    with transaction():
        rebuild_rollups()
    total = db.session.execute(select(func.count()).select_from(InstanceFact)).scalar_one()
    return added, int(total)
