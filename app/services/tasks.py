"""Use cases on human tasks: the inbox, claim, unclaim, delegate, complete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, select, union, union_all
from sqlalchemy.orm import joinedload, selectinload, undefer

from .. import engine
from ..extensions import db
from ..models import HumanTask, ProcessInstance, TaskCandidate, User
from ..models.base import utcnow
from . import (
    assignment,
    audit,
    documents,
    forms,
    personal_data,
    signatures,
    substitution,
    task_drafts,
    user_fields,
)
from .deployment import form_schema
from .errors import Conflict, NotAllowed, NotFound, ValidationFailed
from .progress import load_runner, persist, run_engine
from .roles import SUPERVISORY_ROLES
from .uow import retry_on_concurrent_update, transaction


@dataclass
class Page:
    """One page of a list."""

    items: list[Any]
    total: int
    page: int
    per_page: int


def _offered_to(user: User) -> Any:
    # Offered to the user, or to someone the user substitutes now (services/substitution.py).
    return substitution.offered_to(user)


def inbox(actor: User, scope: str = "mine", page: int = 1, per_page: int = 50) -> Page:
    """Open tasks offered to or claimed by the actor (scope 'mine'), or claimed only ('claimed').

    A fixed number of statements whatever the size of the tables, none of which reads a
    workflow state: one page with its total (`count(*) OVER ()`), the instances' titles and
    the claimants of that page, then substitution labels (services/substitution.py).
    """
    page = max(page, 1)
    per_page = min(max(per_page, 1), 200)
    if scope not in ("mine", "claimed", "available"):
        raise ValidationFailed(
            "Неизвестная область списка.", {"scope": ["Допустимо: mine, claimed, available."]}
        )
    ids = _inbox_ids(actor, scope)
    stmt = (
        select(HumanTask, func.count().over().label("total"))
        .where(HumanTask.id.in_(ids))
        .options(
            # Only the title: a list never reads the workflow state (it may be large).
            selectinload(HumanTask.instance).load_only(ProcessInstance.id, ProcessInstance.title),
            selectinload(HumanTask.claimed_by),
        )
        .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    result = db.session.execute(stmt).all()
    rows = [row[0] for row in result]
    if result:
        total = int(result[0][1])
    else:  # a page past the end: the window count has no row to ride on
        total = db.session.execute(select(func.count()).select_from(ids.subquery())).scalar_one()
    behalf = substitution.on_behalf_of(actor, rows)
    return Page([InboxItem(t, behalf.get(t.id)) for t in rows], total, page, per_page)


def _inbox_ids(actor: User, scope: str) -> Any:
    """SQL: ids of the open tasks of a scope, each branch driven by an index.

    Offered tasks start from `ix_human_task_candidate_user` (candidates by user), claimed ones
    from `ix_human_task_status_claimed`; so the cost follows the size of the user's inbox, not
    the number of open tasks. (An OR inside one EXISTS made PostgreSQL hash all candidates.)
    """
    claimed = select(HumanTask.id).where(
        HumanTask.status == "open", HumanTask.claimed_by_id == actor.id
    )
    if scope == "claimed":
        return claimed
    users = union_all(
        select(literal(actor.id).label("user_id")), substitution.substituted_now(actor)
    )
    offered = (
        select(HumanTask.id)
        .join(TaskCandidate, TaskCandidate.human_task_id == HumanTask.id)
        .where(
            TaskCandidate.user_id.in_(users),
            TaskCandidate.reason != substitution.SUBSTITUTE,
            HumanTask.status == "open",
            HumanTask.claimed_by_id.is_(None),
        )
    )
    if scope == "available":
        return offered
    return union(offered, claimed)


class InboxItem:
    """A listed task as its reader sees it: on_behalf_of names the away user it is offered to."""

    def __init__(self, task: HumanTask, on_behalf_of: str | None) -> None:
        self._task = task
        self.on_behalf_of = on_behalf_of

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)


def _is_candidate(task: HumanTask, user: User) -> bool:
    return substitution.is_offered(task.id, user)  # directly, or as a substitute in force


def _get(actor: User, task_id: int) -> HumanTask:
    return _access(actor, task_id)[0]


def _access(actor: User, task_id: int) -> tuple[HumanTask, bool | None]:
    """The task the actor may see, and whether it is offered to the actor (None: not asked).

    The answer is handed to _require_actor so that one use case asks the database once.
    """
    # One statement: the task, its instance and unit, and whether it is offered to the actor
    # (the use cases that follow need them all).
    row = db.session.execute(
        select(HumanTask, substitution.offered_to(actor).label("offered"))
        .options(
            joinedload(HumanTask.instance).options(
                undefer(ProcessInstance.state), joinedload(ProcessInstance.org_unit)
            )
        )
        .where(HumanTask.id == task_id)
    ).first()
    if row is None:
        raise NotFound("Задача не найдена.")
    task, offered = row[0], bool(row[1])
    if task.claimed_by_id == actor.id:
        return task, None
    if not offered and not _supervises(actor, task):
        raise NotFound("Задача не найдена.")
    return task, offered


def _supervises(actor: User, task: HumanTask) -> bool:
    roles = assignment.roles_on_path(actor, task.instance.org_unit)
    return bool(roles & SUPERVISORY_ROLES)


def _require_open(task: HumanTask) -> None:
    if task.status == "completed":
        raise Conflict("Задача уже выполнена.")
    if task.status != "open":
        raise Conflict("Задача больше не актуальна: процесс ушёл дальше.")


def _require_actor(task: HumanTask, actor: User, offered: bool | None = None) -> None:
    if task.claimed_by_id != actor.id and not (
        offered if offered is not None else _is_candidate(task, actor)
    ):
        raise NotAllowed("Задача назначена не вам.")
    if task.claimed_by_id not in (None, actor.id):
        raise NotAllowed(f"Задачу уже взял в работу {task.claimed_by_username}.")


def task_to_fill(actor: User, task_id: int) -> HumanTask:
    """The open task the actor may fill in now: its claimant, or a candidate while unclaimed.

    NotFound for strangers, NotAllowed for supervisors and for a task someone else holds,
    Conflict for a task that is no longer open.
    """
    task, offered = _access(actor, task_id)
    _require_open(task)
    _require_actor(task, actor, offered)
    return task


def get_task(actor: User, task_id: int) -> tuple[HumanTask, dict[str, Any] | None, dict[str, Any]]:
    """The task, its form schema and the process data it shows."""
    task = _get(actor, task_id)
    personal_data.record_view(actor, task.instance, resource="task", task_id=task.id)
    form = form_schema(task.instance.process_version_id, task.form)
    data: dict[str, Any] = {}
    if task.status == "open":
        runner = load_runner(task.instance, actor)
        for ready in runner.ready_tasks():
            if ready.id == task.task_uuid:
                data = dict(ready.data)
    return task, form, data


@retry_on_concurrent_update
def claim(actor: User, task_id: int) -> HumanTask:
    """Take an offered task into work."""
    with transaction():
        task, offered = _access(actor, task_id)
        _require_open(task)
        if task.claimed_by_id not in (None, actor.id):
            # Losing a race for a task is a conflict, whether by a millisecond or a minute.
            raise Conflict(f"Задачу уже взял в работу {task.claimed_by_username}.")
        _require_actor(task, actor, offered)
        if task.claimed_by_id == actor.id:
            return task
        task.claimed_by_id = actor.id
        audit.record_task("task_claimed", actor, task)
    return task


@retry_on_concurrent_update
def unclaim(actor: User, task_id: int) -> HumanTask:
    """Return a claimed task to everyone it is offered to."""
    with transaction():
        task = _get(actor, task_id)
        _require_open(task)
        if task.claimed_by_id != actor.id:
            raise NotAllowed("Вернуть можно только задачу, взятую вами.")
        task.claimed_by_id = None
        audit.record_task("task_unclaimed", actor, task)
    return task


@retry_on_concurrent_update
def delegate(actor: User, task_id: int, username: str) -> HumanTask:
    """Hand a task to a colleague holding the same role in scope."""
    with transaction():
        task, offered = _access(actor, task_id)
        _require_open(task)
        _require_actor(task, actor, offered)
        target = db.session.execute(
            select(User).where(User.username == username, User.is_active.is_(True))
        ).scalar_one_or_none()
        if target is None:
            raise ValidationFailed(
                "Пользователь не найден.",
                {"username": ["Нет активного пользователя с таким именем."]},
            )
        if not task.lane or not assignment.holds_role_on_path(
            target, task.lane, task.instance.org_unit
        ):
            raise ValidationFailed(
                "Передать задачу можно только коллеге с той же ролью.",
                {"username": [f"У пользователя нет роли «{task.lane}» в этой организации."]},
            )
        before = task.claimed_by.username if task.claimed_by else None
        if not _is_candidate(task, target):
            db.session.add(
                TaskCandidate(human_task_id=task.id, user_id=target.id, reason="delegated")
            )
        task.claimed_by_id = target.id
        audit.record_task("task_delegated", actor, task, before=before, after=username)
    return task


@retry_on_concurrent_update
def complete(actor: User, task_id: int, data: Any) -> ProcessInstance:
    """Complete a task with form data; the workflow advances in the same transaction."""
    with transaction():
        task, offered = _access(actor, task_id)
        _require_open(task)
        _require_actor(task, actor, offered)
        instance: ProcessInstance = task.instance
        schema = form_schema(instance.process_version_id, task.form)
        if not isinstance(data, dict):
            raise ValidationFailed(
                "Данные формы должны быть объектом.", {"data": ["Ожидается объект."]}
            )
        submitted = dict(data)
        if schema is not None:
            forms.validate(schema, submitted)
            allowed = forms.declared_fields(schema)
            submitted = {k: v for k, v in submitted.items() if k in allowed}
            user_fields.check(schema, submitted, instance.org_unit)
            documents.check_attachment_ids(schema, submitted, instance)
        runner = load_runner(instance, actor)
        try:
            run_engine(lambda: runner.complete(task.task_uuid, submitted))
        except ValidationFailed as exc:
            if isinstance(exc.__cause__, engine.TaskNotReady):
                raise Conflict("Задача уже выполнена или больше не актуальна.") from exc
            raise
        task_drafts.discard_for_task(task)  # before the task changes: no flush needed first
        task.status = "completed"
        task.completed_at = utcnow()
        task.completed_by_id = actor.id
        task.claimed_by_id = actor.id
        audit.record_task(
            "task_completed",
            actor,
            task,
            name=task.name,
            data=submitted,
            legal_basis=task.documentation,
        )
        signatures.record_if_signing(actor, task, instance)
        persist(instance, runner, actor)
    return instance
