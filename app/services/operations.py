"""Service-task operations the engine may call, bound to one instance and actor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import OrgUnit, ProcessInstance, RoleGrant, User
from ..models.base import utcnow
from . import assignment, audit, notifications
from .calendar import CalendarError, working_days_value, working_deadline
from .roles import ROLES

Operation = Callable[["OperationContext", dict[str, Any], dict[str, Any]], Any]
OPERATIONS: dict[str, Operation] = {}


class OperationFailed(Exception):
    """An operation refused its parameters; the engine reports it on the element."""


class OperationContext:
    """What an operation may touch: the instance, its unit and the acting user."""

    def __init__(self, instance: ProcessInstance, unit: OrgUnit, actor: User | None) -> None:
        self.instance = instance
        self.unit = unit
        self.actor = actor

    def __call__(self, name: str, params: dict[str, Any], data: dict[str, Any]) -> Any:
        operation = OPERATIONS.get(name)
        if operation is None:
            raise OperationFailed(f"Неизвестная операция сервиса «{name}».")
        return operation(self, params, data)


def operation(name: str) -> Callable[[Operation], Operation]:
    """Register a service-task operation under its BPMN name."""

    def register(func: Operation) -> Operation:
        OPERATIONS[name] = func
        return func

    return register


@operation("grant_role")
def grant_role(ctx: OperationContext, params: dict[str, Any], data: dict[str, Any]) -> Any:
    """Grant a role at the instance's unit to a user named in the process data."""
    role = params.get("role")
    username = params.get("username")
    if role not in ROLES:
        raise OperationFailed(f"Неизвестная роль «{role}».")
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise OperationFailed(f"Пользователь «{username}» не найден.")
    db.session.add(
        RoleGrant(
            user_id=user.id,
            role=role,
            org_unit_id=ctx.unit.id,
            reason=f"Решение по экземпляру процесса № {ctx.instance.id}",
            granted_by_id=ctx.actor.id if ctx.actor else None,
            source_instance_id=ctx.instance.id,
        )
    )
    audit.record(
        "role_granted",
        ctx.actor,
        instance_id=ctx.instance.id,
        org_unit_id=ctx.unit.id,
        payload={
            "username": user.username,
            "role": role,
            "org_unit": ctx.unit.slug,
            "source": "process",
        },
    )
    return {"granted": True}


@operation("notify")
def notify(ctx: OperationContext, params: dict[str, Any], data: dict[str, Any]) -> Any:
    """Record a notification to the holders of a role in scope (or one named user)."""
    recipients: list[User] = []
    if params.get("username"):
        user = db.session.execute(
            select(User).where(User.username == params["username"])
        ).scalar_one_or_none()
        recipients = [user] if user else []
    elif params.get("role"):
        _, recipients = assignment.offer(str(params["role"]), ctx.unit)
    message = str(params.get("message") or "")
    audit.record(
        "notification_sent",
        ctx.actor,
        instance_id=ctx.instance.id,
        org_unit_id=ctx.unit.id,
        payload={
            "recipients": [u.username for u in recipients],
            "message": message,
            "role": params.get("role"),
        },
    )
    notifications.process_message(
        ctx.instance, recipients, message, params.get("title"), params.get("event")
    )
    return {"sent": len(recipients)}


@operation("working_deadline")
def working_deadline_op(ctx: OperationContext, params: dict[str, Any], data: dict[str, Any]) -> Any:
    """ISO date-time of the end of the n-th working day from now (for timeDate timers)."""
    try:
        count = working_days_value(params.get("workingDays"), data)
    except CalendarError as exc:
        raise OperationFailed(str(exc)) from exc
    if count is None:
        raise OperationFailed("Не задано число рабочих дней (параметр workingDays).")
    return working_deadline(utcnow(), count).isoformat()


@operation("generate_document")
def generate_document(ctx: OperationContext, params: dict[str, Any], data: dict[str, Any]) -> Any:
    """Render a DOCX from the process data, store it with its SHA-256 and record it."""
    from . import document_templates, documents

    name = str(params.get("template") or "generic")
    title = str(params.get("title") or ctx.instance.version.name)
    content = document_templates.render(
        name, document_templates.DocumentContext(ctx.instance, title, data)
    )
    filename = f"{title} — экземпляр {ctx.instance.id}.docx"
    attachment = documents.store(
        ctx.instance,
        filename,
        content,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ctx.actor,
        "generated",
    )
    audit.record(
        "document_generated",
        ctx.actor,
        instance_id=ctx.instance.id,
        org_unit_id=ctx.unit.id,
        payload={
            "attachment_id": attachment.id,
            "filename": attachment.filename,
            "sha256": attachment.sha256,
            "size": attachment.size,
            "template": name,
        },
    )
    return {
        "attachment_id": attachment.id,
        "sha256": attachment.sha256,
        "filename": attachment.filename,
    }
