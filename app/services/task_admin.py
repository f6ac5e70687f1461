"""An admin reassigns open human tasks in their scope (someone is away, ill or has left).

An admin (app.services.admin: the subtree of the units where they hold `admin`) sees the open
tasks offered at units of that scope and can give one to another holder of the task's lane role
(on the instance's path, at a unit of the scope), or release it back to everyone it is offered
to. Each change records `task_reassigned` with the assignee before and after and the reason,
and tells the people concerned through the notifications service, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from ..extensions import db
from ..models import HumanTask, OrgUnit, ProcessInstance, TaskCandidate, User
from . import admin, assignment, audit, notifications
from .errors import Conflict, NotFound, ValidationFailed
from .uow import retry_on_concurrent_update, transaction

REASSIGNED = "reassigned"  # TaskCandidate.reason of a user an admin gave the task to
MAX_QUERY = 200


@dataclass
class OpenTaskPage:
    """One page of the open tasks in an admin's scope."""

    items: list[HumanTask]
    total: int
    page: int
    per_page: int


def open_tasks(
    actor: User,
    *,
    q: str = "",
    org_unit_id: int | None = None,
    assignee: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> OpenTaskPage:
    """Open human tasks at units of the actor's admin scope, oldest first.

    q searches the task name and the instance title; org_unit_id limits to a unit and its
    subtree; assignee to the tasks claimed by that username ("-" for the unclaimed ones).
    """
    scope = admin.require_admin(actor)
    page, per_page = max(page, 1), min(max(per_page, 1), 200)
    units = set(scope.units)
    if org_unit_id is not None:
        units &= assignment.subtree_ids([org_unit_id])
    conds: list[Any] = [HumanTask.status == "open", HumanTask.org_unit_id.in_(sorted(units))]
    text = (q or "").strip()[:MAX_QUERY]
    if text:
        pattern = f"%{text.lower()}%"
        titles = select(ProcessInstance.id).where(func.lower(ProcessInstance.title).like(pattern))
        conds.append(
            or_(func.lower(HumanTask.name).like(pattern), HumanTask.instance_id.in_(titles))
        )
    if assignee == "-":
        conds.append(HumanTask.claimed_by_id.is_(None))
    elif assignee:
        conds.append(HumanTask.claimed_by.has(User.username == assignee))
    base = select(HumanTask).where(*conds)
    total = db.session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = (
        db.session.execute(
            base.order_by(HumanTask.created_at, HumanTask.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        .scalars()
        .all()
    )
    return OpenTaskPage(list(rows), int(total), page, per_page)


def _task_in_scope(task_id: int, scope: admin.Scope) -> HumanTask:
    """The task, when it is offered at a unit of the scope; else NotFound (it stays unseen)."""
    task = db.session.get(HumanTask, task_id)
    if task is None or task.org_unit_id not in scope:
        raise NotFound("Задача не найдена.")
    return task


def task_for_admin(actor: User, task_id: int) -> HumanTask:
    """An open or closed task offered at a unit of the actor's admin scope."""
    return _task_in_scope(task_id, admin.require_admin(actor))


def eligible_assignees(actor: User, task_id: int) -> list[User]:
    """Active users the actor may give the task to: lane role on its path, within the scope."""
    scope = admin.require_admin(actor)
    task = _task_in_scope(task_id, scope)
    return _eligible(task, scope)


def _path_units_in_scope(task: HumanTask, scope: admin.Scope) -> list[int]:
    unit: OrgUnit = task.instance.org_unit
    return [u.id for u in unit.ancestors() if u.id in scope]


def _eligible(task: HumanTask, scope: admin.Scope) -> list[User]:
    if not task.lane:
        return []
    holders = assignment.holders(task.lane, _path_units_in_scope(task, scope))
    seen: dict[int, User] = {}
    for users in holders.values():
        for user in users:
            seen.setdefault(user.id, user)
    return sorted(seen.values(), key=lambda u: u.username)


def _holds_lane_in_scope(target: User, task: HumanTask, scope: admin.Scope) -> bool:
    return any(user.id == target.id for user in _eligible(task, scope))


def _target(username: str, task: HumanTask, scope: admin.Scope) -> User:
    target = db.session.execute(
        select(User).where(User.username == username.strip(), User.is_active.is_(True))
    ).scalar_one_or_none()
    if target is None:
        raise ValidationFailed(
            "Пользователь не найден.", {"username": ["Нет активного пользователя с таким именем."]}
        )
    if not task.lane:
        raise ValidationFailed(
            "У задачи нет роли исполнителя: передать её некому.",
            {"username": ["Задача назначена не по роли."]},
        )
    if not _holds_lane_in_scope(target, task, scope):
        raise ValidationFailed(
            "Передать задачу можно только тому, у кого есть роль её исполнителя.",
            {
                "username": [
                    f"У пользователя {target.username} нет роли «{task.lane}» в организации "
                    "экземпляра (или выше по дереву в вашей зоне)."
                ]
            },
        )
    return target


@retry_on_concurrent_update
def reassign(actor: User, task_id: int, username: str | None, reason: str) -> HumanTask:
    """Give an open task to another holder of its lane role, or (username None) release it.

    The new assignee gets the task claimed in their name (and a candidate row if it was not
    offered to them); a release returns it to everyone it is offered to. Audited as
    `task_reassigned` {before, after, reason}; the new assignee, the previous one and, on a
    release, the candidates are notified.
    """
    with transaction():
        scope = admin.require_admin(actor)
        text = admin.reason_text(reason)
        task = _task_in_scope(task_id, scope)
        if task.status == "completed":
            raise Conflict("Задача уже выполнена.")
        if task.status != "open":
            raise Conflict("Задача больше не актуальна: процесс ушёл дальше.")
        previous: User | None = task.claimed_by
        target = _target(username, task, scope) if username and username.strip() else None
        if target is None and previous is None:
            raise Conflict("Задача никем не взята в работу: возвращать в общий список нечего.")
        if target is not None and previous is not None and target.id == previous.id:
            raise Conflict(f"Задача уже в работе у {target.username}.")
        if target is not None and not any(c.user_id == target.id for c in task.candidates):
            task.candidates.append(TaskCandidate(user_id=target.id, reason=REASSIGNED))
        task.claimed_by_id = target.id if target is not None else None
        db.session.flush()
        audit.record_task(
            "task_reassigned",
            actor,
            task,
            name=task.name,
            lane=task.lane,
            before=previous.username if previous else None,
            after=target.username if target else None,
            reason=text,
        )
        _notify(task, previous, target, text)
    return task


def _notify(task: HumanTask, previous: User | None, target: User | None, reason: str) -> None:
    """Tell the people concerned; the row version makes each reassignment a new message."""
    change = f"v{task.row_version}"  # bumped by the flush of this change
    process = f"Процесс: {task.instance.title}."
    if target is not None:
        notifications.notify(
            [target],
            notifications.Message(
                "task_reassigned",
                f"Вам передана задача: {task.name}",
                f"{process}\nАдминистратор передал вам задачу «{task.name}». Основание: {reason}",
                task.instance_id,
                task.id,
            ),
            f"task:{task.id}:reassigned:{change}:to",
        )
    if previous is not None:
        notifications.notify(
            [previous],
            notifications.Message(
                "task_reassigned",
                f"Задача передана другому исполнителю: {task.name}",
                f"{process}\nАдминистратор снял с вас задачу «{task.name}». Основание: {reason}",
                task.instance_id,
                task.id,
            ),
            f"task:{task.id}:reassigned:{change}:from",
        )
    if target is None:
        offered = [c.user for c in task.candidates if previous is None or c.user_id != previous.id]
        notifications.notify(
            offered,
            notifications.Message(
                "task_offered",
                f"Задача снова доступна: {task.name}",
                f"{process}\nЗадача «{task.name}» возвращена в общий список и ожидает выполнения.",
                task.instance_id,
                task.id,
            ),
            f"task:{task.id}:reassigned:{change}:pool",
        )
