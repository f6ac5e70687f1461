"""Saving engine progress: state, status, timers and the human-task mirror, in one transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .. import engine
from ..extensions import db
from ..models import HumanTask, OrgUnit, ProcessInstance, TaskCandidate, User
from ..models.base import utcnow
from . import assignment, audit, monitoring_facts, notifications, substitution, task_drafts
from .calendar import task_due_at
from .deployment import definition_by_id
from .errors import ValidationFailed
from .operations import OperationContext, OperationFailed


def load_runner(instance: ProcessInstance, actor: User | None) -> engine.Runner:
    """Restore the instance's workflow with its version's spec and our operations."""
    definition = definition_by_id(instance.process_version_id)
    return engine.Runner.load(
        definition, instance.state, OperationContext(instance, instance.org_unit, actor)
    )


def run_engine(action: Any) -> None:
    """Run an engine action, turning engine and operation failures into a clear 422."""
    try:
        action()
    except (engine.EngineError, OperationFailed) as exc:
        element_id = getattr(exc, "element_id", None)
        where = f" (элемент {element_id})" if element_id else ""
        raise ValidationFailed(
            f"Процесс не может продолжиться{where}: {exc}", {"process": [str(exc)]}
        ) from exc


def persist(instance: ProcessInstance, runner: engine.Runner, actor: User | None) -> None:
    """Store the state and mirror ready human tasks into the inbox table."""
    instance.state = runner.dump()
    instance.next_timer_at = runner.next_timer_at()
    ready = {t.id: t for t in runner.ready_tasks()}
    open_rows = (
        db.session.execute(
            select(HumanTask).where(
                HumanTask.instance_id == instance.id, HumanTask.status == "open"
            )
        )
        .scalars()
        .all()
    )
    known = {row.task_uuid for row in open_rows}
    now = utcnow()
    for row in open_rows:
        if row.task_uuid not in ready:
            row.status = "cancelled"
            row.completed_at = now
            task_drafts.discard_for_task(row)  # nobody will open its form again
            audit.record(
                "task_cancelled",
                actor,
                instance_id=instance.id,
                task_id=row.id,
                org_unit_id=row.org_unit_id,
                payload={"bpmn_id": row.bpmn_id, "name": row.name},
            )
    for task_id, task in ready.items():
        if task_id not in known:
            _offer(instance, task, actor)
    if runner.is_completed():
        instance.status = "completed"
        instance.ended_at = now
        instance.next_timer_at = None
        audit.record(
            "instance_completed",
            actor,
            instance_id=instance.id,
            org_unit_id=instance.org_unit_id,
            payload={"data": runner.data},
        )
    elif not ready and instance.next_timer_at is not None:
        instance.status = "waiting"
    else:
        instance.status = "running"
    monitoring_facts.record(instance, runner.data)


def _offer(instance: ProcessInstance, task: engine.ReadyTask, actor: User | None) -> HumanTask:
    unit: OrgUnit | None = instance.org_unit
    users: list[User] = []
    reason = "role"
    override = task.properties.get("assigneeVariable")
    if override and task.data.get(override):
        user = db.session.execute(
            select(User).where(User.username == str(task.data[override]), User.is_active.is_(True))
        ).scalar_one_or_none()
        if user is not None:
            users, reason = [user], "named"
    if not users and task.lane:
        unit, users = assignment.offer(task.lane, instance.org_unit)
    row = HumanTask(
        instance_id=instance.id,
        task_uuid=task.id,
        bpmn_id=task.bpmn_id,
        name=task.name,
        lane=task.lane,
        org_unit_id=(unit or instance.org_unit).id,
        process_key=instance.process_key,
        form=task.properties.get("formJsonSchemaFilename"),
        documentation=task.documentation,
        status="open",
        due_at=_due(task),
        created_at=utcnow(),
    )
    row.candidates = [TaskCandidate(user_id=u.id, reason=reason) for u in users]
    substitutes = substitution.add_substitute_candidates(row, users)
    db.session.add(row)
    db.session.flush()
    audit.record(
        "task_offered",
        actor,
        instance_id=instance.id,
        task_id=row.id,
        org_unit_id=row.org_unit_id,
        payload={
            "bpmn_id": task.bpmn_id,
            "name": task.name,
            "lane": task.lane,
            "offered_to": [u.username for u in users],
            "reason": reason,
            "substitutes": {s.username: away.username for s, away in substitutes},
            "legal_basis": task.documentation,
        },
    )
    notifications.task_offered(row, [*users, *(s for s, _ in substitutes)])
    return row


def _due(task: engine.ReadyTask) -> Any:
    try:
        return task_due_at(utcnow(), task.properties, task.data)
    except ValueError:
        return None
