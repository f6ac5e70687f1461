"""The story of one instance: its steps in order with times, people, durations and legal basis.

Built from the audit events of the instance (the authoritative record of who did what and
when) and the human-task rows (names, lanes, legal basis); the diagram path comes from the
engine state. Definitions used for the figures (docs/audit.md):

- waiting: from the moment the step was offered until someone took it into work (the first
  claim), or until it was completed when nobody claimed it explicitly;
- work: from the first claim until completion;
- duration: from offered until completed or cancelled (open steps: until now, marked open).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import AuditEvent, HumanTask, ProcessInstance, User
from ..models.base import utcnow
from . import audit, instances
from .progress import load_runner

_log = logging.getLogger(__name__)
# Events that belong to a step and are listed under it.
_STEP_KINDS = (
    "task_offered",
    "task_claimed",
    "task_unclaimed",
    "task_delegated",
    "task_reassigned",
    "task_reoffered",
    "task_completed",
    "task_cancelled",
)


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(int((end - start).total_seconds()), 0)


@dataclass
class Step:
    """One human step of the instance."""

    task_id: int
    bpmn_id: str
    name: str
    lane: str | None
    org_unit_id: int | None
    status: str
    legal_basis: str
    form: str | None = None
    offered_at: datetime | None = None
    offered_to: list[str] = field(default_factory=list)
    claimed_at: datetime | None = None
    claimed_by: str | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    cancelled_at: datetime | None = None
    due_at: datetime | None = None
    data: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    waiting_seconds: int | None = None
    work_seconds: int | None = None
    duration_seconds: int | None = None
    overdue: bool = False

    def finish(self, now: datetime) -> None:
        """Derive the durations once every event is applied."""
        end = self.completed_at or self.cancelled_at
        taken = self.claimed_at or self.completed_at
        self.waiting_seconds = _seconds(self.offered_at, taken or (None if end else now))
        self.work_seconds = _seconds(self.claimed_at, self.completed_at or (None if end else now))
        self.duration_seconds = _seconds(self.offered_at, end or now)
        if self.due_at is not None:
            self.overdue = (end or now) > self.due_at

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "task_id": self.task_id,
            "bpmn_id": self.bpmn_id,
            "name": self.name,
            "lane": self.lane,
            "org_unit_id": self.org_unit_id,
            "status": self.status,
            "legal_basis": self.legal_basis,
            "offered_at": self.offered_at,
            "offered_to": self.offered_to,
            "claimed_at": self.claimed_at,
            "claimed_by": self.claimed_by,
            "completed_at": self.completed_at,
            "completed_by": self.completed_by,
            "cancelled_at": self.cancelled_at,
            "due_at": self.due_at,
            "overdue": self.overdue,
            "waiting_seconds": self.waiting_seconds,
            "work_seconds": self.work_seconds,
            "duration_seconds": self.duration_seconds,
            "data": self.data,
            "events": self.events,
        }


@dataclass
class Timeline:
    """An instance's story: its steps in the order they were offered, and the path taken."""

    instance: ProcessInstance
    started_by: str | None
    steps: list[Step]
    path: list[str] | None
    current: list[str]
    events: list[AuditEvent]  # the instance's events that belong to no step
    duration_seconds: int | None

    def form_of(self, step: Step) -> dict[str, Any] | None:
        """The JSON Schema of the form a step was completed with (for field titles)."""
        forms = self.instance.version.forms or {}
        return forms.get(step.form) if step.form else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times stay datetimes for the schema)."""
        inst = self.instance
        return {
            "instance": {
                "id": inst.id,
                "process_key": inst.process_key,
                "version": inst.version.version,
                "title": inst.title,
                "status": inst.status,
                "org_unit_id": inst.org_unit_id,
                "started_at": inst.started_at,
                "started_by": self.started_by,
                "ended_at": inst.ended_at,
            },
            "duration_seconds": self.duration_seconds,
            "steps": [s.as_dict() for s in self.steps],
            "path": self.path,
            "current": self.current,
            "events": [audit.serialize(e) for e in self.events],
        }


def _step_from_row(row: HumanTask) -> Step:
    return Step(
        task_id=row.id,
        bpmn_id=row.bpmn_id,
        name=row.name,
        lane=row.lane,
        org_unit_id=row.org_unit_id,
        status=row.status,
        legal_basis=row.documentation or "",
        form=row.form,
        offered_at=row.created_at,
        due_at=row.due_at,
    )


def _apply(step: Step, ev: AuditEvent) -> None:
    payload = ev.payload or {}
    step.events.append(
        {"seq": ev.seq, "kind": ev.kind, "occurred_at": ev.occurred_at, "actor": ev.actor_username}
    )
    if ev.kind == "task_offered":
        step.offered_at = ev.occurred_at
        step.offered_to = list(payload.get("offered_to") or [])
        step.legal_basis = payload.get("legal_basis") or step.legal_basis
    elif ev.kind == "task_claimed":
        step.claimed_at = step.claimed_at or ev.occurred_at
        step.claimed_by = ev.actor_username
    elif ev.kind == "task_delegated":
        step.claimed_at = step.claimed_at or ev.occurred_at
        step.claimed_by = payload.get("after")
        step.events[-1]["before"] = payload.get("before")
        step.events[-1]["after"] = payload.get("after")
    elif ev.kind == "task_reassigned":  # by an admin: after is None when released to all
        if payload.get("after"):
            step.claimed_at = step.claimed_at or ev.occurred_at
        step.claimed_by = payload.get("after")
        step.events[-1]["before"] = payload.get("before")
        step.events[-1]["after"] = payload.get("after")
    elif ev.kind == "task_reoffered":  # a migration moved the task to another lane
        step.offered_to = list(payload.get("offered_to") or [])
        step.claimed_by = None
    elif ev.kind == "task_unclaimed":
        step.claimed_by = None
    elif ev.kind == "task_completed":
        step.completed_at = ev.occurred_at
        step.completed_by = ev.actor_username
        step.data = payload.get("data")
        step.legal_basis = payload.get("legal_basis") or step.legal_basis
    elif ev.kind == "task_cancelled":
        step.cancelled_at = ev.occurred_at


def _path(instance: ProcessInstance) -> tuple[list[str] | None, list[str]]:
    """The BPMN ids completed in order, and those waiting now (None when the state won't load)."""
    try:
        runner = load_runner(instance, None)
        return runner.completed_path(), sorted({t.bpmn_id for t in runner.ready_tasks()})
    except Exception:  # the path is a convenience: a state that won't load must not hide the rest
        _log.warning("instance %s: state does not load for the timeline path", instance.id)
        return None, []


def timeline(actor: User, instance_id: int) -> Timeline:
    """The timeline of an instance the actor may see (NotFound otherwise)."""
    instance = instances.get_instance(actor, instance_id)
    rows = db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.id)
    ).scalars()
    steps = {row.id: _step_from_row(row) for row in rows}
    other: list[AuditEvent] = []
    events = db.session.execute(
        select(AuditEvent).where(AuditEvent.instance_id == instance.id).order_by(AuditEvent.seq)
    ).scalars()
    for ev in events:
        step = steps.get(ev.task_id) if ev.task_id is not None else None
        if step is not None and ev.kind in _STEP_KINDS:
            _apply(step, ev)
        else:
            other.append(ev)
    now = utcnow()
    ordered = sorted(steps.values(), key=lambda s: (s.offered_at or now, s.task_id))
    for step in ordered:
        step.finish(now)
    path, current = _path(instance)
    starter = instance.started_by.username if instance.started_by else None
    return Timeline(
        instance=instance,
        started_by=starter,
        steps=ordered,
        path=path,
        current=current,
        events=other,
        duration_seconds=_seconds(instance.started_at, instance.ended_at or now),
    )
