"""The instance page: status, open tasks with their holders, the timeline and the diagram."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import HumanTask, ProcessInstance, User
from ..models.process import TaskCandidate
from . import assignment, instances
from .roles import SUPERVISORY_ROLES
from .task_context import display_names


@dataclass(frozen=True)
class OpenTask:
    """An open task of the instance and who holds it or may take it."""

    task: HumanTask
    claimed_by: str | None
    offered_to: list[str]
    openable: bool = False  # the actor may open the task page (a candidate or a supervisor)


@dataclass(frozen=True)
class TimelineEntry:
    """One audit event of the instance, as the timeline shows it."""

    seq: int
    occurred_at: datetime
    actor: str | None
    kind: str
    payload: dict[str, Any]
    task_name: str | None = None


@dataclass
class InstanceOverview:
    """Everything the instance page shows."""

    instance: ProcessInstance
    open_tasks: list[OpenTask]
    timeline: list[TimelineEntry]
    diagram_xml: str | None
    completed_ids: list[str] = field(default_factory=list)
    active_ids: list[str] = field(default_factory=list)


def _diagram(instance: ProcessInstance) -> str | None:
    files = instance.version.files
    for name in sorted(files):
        if name.endswith((".bpmn", ".xml")):
            return files[name]
    return None


def _holders(open_tasks: list[HumanTask]) -> dict[int, list[tuple[int, str]]]:
    if not open_tasks:
        return {}
    rows = db.session.execute(
        select(TaskCandidate.human_task_id, User.id, User.username, User.full_name)
        .join(User, User.id == TaskCandidate.user_id)
        .where(TaskCandidate.human_task_id.in_([t.id for t in open_tasks]))
        .order_by(User.username)
    ).all()
    result: dict[int, list[tuple[int, str]]] = {}
    for task_id, user_id, username, full_name in rows:
        result.setdefault(task_id, []).append((user_id, full_name or username))
    return result


def overview(actor: User, instance_id: int) -> InstanceOverview:
    """The page of an instance the actor may see (NotFound otherwise)."""
    instance = instances.get_instance(actor, instance_id)
    events = instances.history(actor, instance_id)
    open_rows = instances.open_tasks(instance)
    holders = _holders(open_rows)
    supervises = bool(assignment.roles_on_path(actor, instance.org_unit) & SUPERVISORY_ROLES)
    completed_rows = db.session.execute(
        select(HumanTask.bpmn_id)
        .where(HumanTask.instance_id == instance.id, HumanTask.status == "completed")
        .distinct()
    ).scalars()
    completed = set(completed_rows)
    completed.update(
        str(e["payload"]["bpmn_id"])
        for e in events
        if e["kind"] == "task_completed" and e["payload"].get("bpmn_id")
    )
    names = display_names({e["actor"] for e in events if e["actor"]})
    task_names = {e["task_id"]: e["payload"]["name"] for e in events if e["payload"].get("name")}
    return InstanceOverview(
        instance=instance,
        open_tasks=[
            OpenTask(
                task=t,
                claimed_by=(t.claimed_by.full_name or t.claimed_by.username)
                if t.claimed_by
                else None,
                offered_to=[name for _, name in holders.get(t.id, [])],
                openable=supervises
                or t.claimed_by_id == actor.id
                or any(user_id == actor.id for user_id, _ in holders.get(t.id, [])),
            )
            for t in open_rows
        ],
        timeline=[
            TimelineEntry(
                seq=e["seq"],
                occurred_at=datetime.fromisoformat(e["occurred_at"]),
                actor=names.get(e["actor"], e["actor"]) if e["actor"] else None,
                kind=e["kind"],
                payload=e["payload"],
                task_name=task_names.get(e["task_id"]) if e["task_id"] else None,
            )
            for e in events
        ],
        diagram_xml=_diagram(instance),
        completed_ids=sorted(completed),
        active_ids=sorted({t.bpmn_id for t in open_rows}),
    )
