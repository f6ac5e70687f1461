"""Everything the task page shows: the task, its form and data, and its instance's context."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import HumanTask, ProcessInstance, TaskDraft, User
from . import assignment, instances, signatures, task_drafts, tasks
from .deployment import definition_for
from .errors import NotFound


@dataclass(frozen=True)
class CompletedStep:
    """An earlier step of the instance: who completed it, when, and the data submitted."""

    bpmn_id: str
    name: str
    actor: str
    occurred_at: datetime
    data: dict[str, Any]
    schema: dict[str, Any] | None
    legal_basis: str


@dataclass
class TaskContext:
    """The task page: the task with its form, prefilled values and the instance context."""

    task: HumanTask
    instance: ProcessInstance
    form: dict[str, Any] | None
    values: dict[str, Any]
    steps: list[CompletedStep] = field(default_factory=list)
    colleagues: list[User] = field(default_factory=list)
    claimed_by: str | None = None
    is_candidate: bool = False
    is_claimant: bool = False
    draft: TaskDraft | None = None
    signs_document: dict[str, Any] | None = None  # {attachment_id, sha256, filename} to sign

    @property
    def is_open(self) -> bool:
        """True while the task waits for someone."""
        return self.task.status == "open"

    @property
    def can_act(self) -> bool:
        """True when the actor may fill in and complete the form now."""
        return self.is_open and (self.is_claimant or (self.is_candidate and not self.claimed_by))


def display_names(usernames: set[str]) -> dict[str, str]:
    """Full names (or the username when none is recorded) by username."""
    if not usernames:
        return {}
    rows = db.session.execute(
        select(User.username, User.full_name).where(User.username.in_(sorted(usernames)))
    ).all()
    names = {u: (n or u) for u, n in rows}
    return {u: names.get(u, u) for u in usernames}


def form_values(schema: dict[str, Any] | None, data: dict[str, Any]) -> dict[str, Any]:
    """The process data a form shows: its declared fields, else their defaults."""
    if not schema:
        return {}
    values: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if name in data:
            values[name] = data[name]
        elif isinstance(prop, dict) and "default" in prop:
            values[name] = prop["default"]
    return values


def _steps(actor: User, task: HumanTask) -> list[CompletedStep]:
    try:
        events = instances.history(actor, task.instance_id)
    except NotFound:
        return []
    done = [e for e in events if e["kind"] == "task_completed" and e["task_id"] != task.id]
    names = display_names({e["actor"] for e in done if e["actor"]})
    version = task.instance.version
    definition = definition_for(version)
    steps = []
    for event in done:
        payload = event["payload"]
        bpmn_id = str(payload.get("bpmn_id", ""))
        info = definition.user_tasks.get(bpmn_id)
        schema = version.forms.get(info.form) if info and info.form else None
        steps.append(
            CompletedStep(
                bpmn_id=bpmn_id,
                name=str(payload.get("name") or bpmn_id),
                actor=names.get(event["actor"], event["actor"] or ""),
                occurred_at=datetime.fromisoformat(event["occurred_at"]),
                data=payload.get("data") or {},
                schema=schema,
                legal_basis=str(payload.get("legal_basis") or ""),
            )
        )
    return steps


def _colleagues(actor: User, task: HumanTask) -> list[User]:
    """Users who hold the task's role in its scope and could take it over."""
    if not task.lane or task.status != "open":
        return []
    chain = [u.id for u in task.instance.org_unit.ancestors()]
    found = assignment.holders(task.lane, chain)
    seen: dict[int, User] = {}
    for unit_id in chain:
        for user in found.get(unit_id, []):
            if user.id not in (actor.id, task.claimed_by_id):
                seen.setdefault(user.id, user)
    return list(seen.values())


def context(actor: User, task_id: int) -> TaskContext:
    """The task page of one task the actor may see (NotFound otherwise)."""
    task, form, data = tasks.get_task(actor, task_id)
    candidate_ids = {c.user_id for c in task.candidates}
    claimed = task.claimed_by
    return TaskContext(
        task=task,
        instance=task.instance,
        form=form,
        values=form_values(form, data),
        steps=_steps(actor, task),
        colleagues=_colleagues(actor, task),
        claimed_by=(claimed.full_name or claimed.username) if claimed else None,
        is_candidate=actor.id in candidate_ids,
        is_claimant=task.claimed_by_id == actor.id,
        draft=task_drafts.own_draft(actor, task),
        signs_document=_signed_document(task, data),
    )


def _signed_document(task: HumanTask, data: dict[str, Any]) -> dict[str, Any] | None:
    """The generated document a signing task confirms, as the process data names it."""
    key = signatures.signed_document_key(task.instance, task.bpmn_id)
    document = data.get(key) if key else None
    return document if isinstance(document, dict) else None
