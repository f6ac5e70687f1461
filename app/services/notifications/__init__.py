"""Notifications: in-app messages with an unread count, e-mail through SMTP, daily digests.

Every message is a `notification` row created in the transaction of the event it reports;
its UNIQUE dedup_key (event + user) makes a repeated event notify nobody twice. The row is
also the e-mail outbox: `mail.deliver_pending_emails` sends what is pending after the commit,
so an e-mail never announces something that was rolled back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import exists, func, select, update

from ...extensions import db
from ...models import (
    HumanTask,
    Notification,
    NotificationPreference,
    ProcessInstance,
    RoleGrant,
    User,
)
from ...models import notification as states
from ...models.base import utcnow
from .. import assignment, upserts
from ..calendar import deadline_zone
from ..errors import NotFound, ValidationFailed
from ..roles import ZONE_ROLES
from ..uow import transaction

CHANNELS = ("email", "in_app")


@dataclass(frozen=True)
class Message:
    """What to tell: kind, title and body, and what it is about."""

    kind: str
    title: str
    body: str
    instance_id: int | None = None
    task_id: int | None = None


def notify(users: Iterable[User], message: Message, event_key: str) -> int:
    """Tell each user about an event once (in the caller's transaction); returns how many new."""
    by_id = {u.id: u for u in users if u is not None and u.is_active}
    if not by_id:
        return 0
    statuses = _email_statuses(list(by_id.values()))
    now = utcnow()
    rows = [
        {
            "user_id": uid,
            "kind": message.kind,
            "title": message.title[:300],
            "body": message.body,
            "instance_id": message.instance_id,
            "task_id": message.task_id,
            "created_at": now,
            "dedup_key": f"{event_key}:u{uid}"[:200],
            "email_status": statuses[uid],
            "email_attempts": 0,
        }
        for uid in sorted(by_id)
    ]
    db.session.flush()
    return _insert_new(rows)


def _insert_new(rows: list[dict[str, Any]]) -> int:
    """Insert the rows whose dedup_key is new; concurrent duplicates are skipped, not errors."""
    inserted = upserts.insert_ignoring_duplicates(Notification, rows, ["dedup_key"])
    if inserted is not None:
        return inserted
    keys = [r["dedup_key"] for r in rows]
    existing = set(
        db.session.execute(
            select(Notification.dedup_key).where(Notification.dedup_key.in_(keys))
        ).scalars()
    )
    fresh = [r for r in rows if r["dedup_key"] not in existing]
    for row in fresh:
        db.session.add(Notification(**row))
    return len(fresh)


def _email_statuses(users: list[User]) -> dict[int, str]:
    if not current_app.config.get("SMTP_HOST"):  # no mail server: nothing to ask the users
        return {user.id: states.EMAIL_NONE for user in users}
    prefs = {
        p.user_id: p
        for p in db.session.execute(
            select(NotificationPreference).where(
                NotificationPreference.user_id.in_([u.id for u in users])
            )
        ).scalars()
    }
    result = {}
    for user in users:
        pref = prefs.get(user.id)
        if pref is not None and pref.channel == "in_app":
            result[user.id] = states.EMAIL_NONE
        elif not user.email:
            result[user.id] = states.EMAIL_NO_ADDRESS
        elif pref is not None and pref.daily_digest:
            result[user.id] = states.EMAIL_DIGEST
        else:
            result[user.id] = states.EMAIL_PENDING
    return result


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "не указан"
    local = moment.astimezone(deadline_zone())
    return f"{local:%d.%m.%Y %H:%M} ({local.tzname()})"


# --- messages about tasks and processes --------------------------------------------------


def task_offered(task: HumanTask, users: Iterable[User]) -> int:
    """A new task waits for these users (also the escalated task a supervisor receives)."""
    due = f" Срок: {_when(task.due_at)}." if task.due_at else ""
    message = Message(
        "task_offered",
        f"Новая задача: {task.name}",
        f"Процесс: {task.instance.title}.\nЗадача «{task.name}» ожидает выполнения.{due}",
        task.instance_id,
        task.id,
    )
    return notify(users, message, f"task:{task.id}:offered")


def task_deadline(task: HumanTask, kind: str, users: Iterable[User]) -> int:
    """Reminder before the due time ('due_soon') or when it has come ('due')."""
    if kind == "due_soon":
        title = f"Приближается срок: {task.name}"
        text = f"Срок выполнения задачи «{task.name}» — {_when(task.due_at)}."
    else:
        title = f"Срок истёк: {task.name}"
        text = (
            f"Срок выполнения задачи «{task.name}» наступил {_when(task.due_at)}. "
            "Выполните задачу как можно скорее."
        )
    message = Message(
        f"task_{kind}",
        title,
        f"Процесс: {task.instance.title}.\n{text}",
        task.instance_id,
        task.id,
    )
    return notify(users, message, f"task:{task.id}:{kind}")


def process_message(
    instance: ProcessInstance,
    users: Iterable[User],
    text: str,
    title: str | None = None,
    event: str | None = None,
) -> int:
    """A message a process sends from a `notify` service task."""
    digest = hashlib.sha256(f"{title}|{text}".encode()).hexdigest()[:16]
    event_key = f"instance:{instance.id}:{event or f'v{instance.lock_version}'}:{digest}"
    message = Message(
        "process_message",
        title or f"Сообщение по процессу «{instance.title}»",
        f"Процесс: {instance.title}.\n{text}",
        instance.id,
    )
    return notify(users, message, event_key)


# --- in-app list, unread count, preferences ----------------------------------------------


@dataclass
class NotificationPage:
    """One page of a user's notifications and the unread count."""

    items: list[Notification]
    total: int
    page: int
    per_page: int
    unread: int


@dataclass(frozen=True)
class NavbarState:
    """What the navbar shows on every page: the unread badge and the overdue link."""

    unread: int
    oversees_zone: bool


def navbar_state(actor: User) -> NavbarState:
    """Unread count and whether the actor holds a zone role now, in one cheap query."""
    now = utcnow()
    unread = (
        select(func.count(Notification.id))
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .scalar_subquery()
    )
    zone = exists().where(
        RoleGrant.user_id == actor.id,
        RoleGrant.role.in_(sorted(ZONE_ROLES)),
        assignment.grant_in_force(now),
    )
    count, oversees = db.session.execute(select(unread, zone)).one()
    return NavbarState(int(count), bool(oversees))


def unread_count(actor: User) -> int:
    """How many of the actor's notifications are not read yet."""
    return int(
        db.session.execute(
            select(func.count(Notification.id)).where(
                Notification.user_id == actor.id, Notification.read_at.is_(None)
            )
        ).scalar_one()
    )


def list_notifications(
    actor: User, unread_only: bool = False, page: int = 1, per_page: int = 50
) -> NotificationPage:
    """The actor's notifications, newest first."""
    page, per_page = max(page, 1), min(max(per_page, 1), 200)
    cond = Notification.user_id == actor.id
    if unread_only:
        cond = cond & Notification.read_at.is_(None)
    total = db.session.execute(select(func.count(Notification.id)).where(cond)).scalar_one()
    rows = db.session.execute(
        select(Notification)
        .where(cond)
        .order_by(Notification.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).scalars()
    return NotificationPage(list(rows), int(total), page, per_page, unread_count(actor))


def mark_read(actor: User, notification_id: int) -> Notification:
    """Mark one of the actor's notifications as read (idempotent)."""
    with transaction():
        row = db.session.get(Notification, notification_id)
        if row is None or row.user_id != actor.id:
            raise NotFound("Уведомление не найдено.")
        if row.read_at is None:
            row.read_at = utcnow()
    return row


def mark_all_read(actor: User) -> int:
    """Mark every unread notification of the actor as read; returns how many."""
    with transaction():
        result = db.session.execute(
            update(Notification)
            .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
    return int(getattr(result, "rowcount", 0) or 0)


def preferences(actor: User) -> dict[str, Any]:
    """The actor's notification settings (defaults when never set)."""
    pref = db.session.get(NotificationPreference, actor.id)
    return {
        "channel": pref.channel if pref else "email",
        "daily_digest": bool(pref.daily_digest) if pref else False,
        "email": actor.email,
        "email_configured": bool(current_app.config.get("SMTP_HOST")),
    }


def update_preferences(actor: User, channel: str, daily_digest: bool) -> dict[str, Any]:
    """Choose e-mail or in-app only, and whether e-mails come at once or in a daily digest."""
    if channel not in CHANNELS:
        raise ValidationFailed(
            "Неизвестный способ уведомления.", {"channel": ["Допустимо: email, in_app."]}
        )
    if channel == "email" and not actor.email:
        raise ValidationFailed(
            "Не указан адрес электронной почты.",
            {"channel": ["У вас нет адреса электронной почты: выберите in_app."]},
        )
    with transaction():
        pref = db.session.get(NotificationPreference, actor.id)
        if pref is None:
            pref = NotificationPreference(user_id=actor.id)
            db.session.add(pref)
        pref.channel = channel
        pref.daily_digest = bool(daily_digest)
        pref.updated_at = utcnow()
        # Messages still waiting for e-mail follow the new choice.
        waiting = (states.EMAIL_PENDING, states.EMAIL_DIGEST)
        target = states.EMAIL_NONE
        if channel == "email":
            target = states.EMAIL_DIGEST if daily_digest else states.EMAIL_PENDING
        db.session.execute(
            update(Notification)
            .where(Notification.user_id == actor.id, Notification.email_status.in_(waiting))
            .values(email_status=target)
        )
    return preferences(actor)
