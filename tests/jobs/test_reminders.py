"""Deadline reminders on tasks and deduplicated in-app notifications."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from app.extensions import db
from app.models import Notification, TaskReminder
from app.services import notifications, tasks, timers
from app.services.uow import transaction

from .support import T0, open_tasks, start, user

# Due in 3 days; the diagram's own timers come later than anything these tests look at.
SLOW = {"prepare_due_in": "P3D", "remind_after": "P20D", "escalate_after": "P30D"}


def _reminders(kind: str) -> list[tuple[str, str]]:
    db.session.expire_all()
    rows = db.session.execute(
        select(Notification).where(Notification.kind == kind).order_by(Notification.id)
    ).scalars()
    return [(n.user.username, n.title) for n in rows]


def test_reminder_a_day_before_and_when_due(jobs) -> None:
    with time_machine.travel(T0, tick=False):
        instance = start("test_escalation", SLOW)
    [task] = open_tasks(instance.id)
    due = T0 + timedelta(days=3)
    assert task.due_at == due
    with time_machine.travel(due - timedelta(days=1, minutes=1), tick=False):
        assert timers.send_due_reminders() == timers.ReminderReport(0, 0)
    with time_machine.travel(due - timedelta(hours=23), tick=False):
        assert timers.send_due_reminders() == timers.ReminderReport(1, 0)
        assert timers.send_due_reminders() == timers.ReminderReport(0, 0)  # once only
    assert _reminders("task_due_soon") == [
        ("mms_methodist.gatchina", "Приближается срок: Подготовка документа")
    ]
    with time_machine.travel(due + timedelta(minutes=5), tick=False):
        assert timers.send_due_reminders() == timers.ReminderReport(0, 1)
        assert timers.send_due_reminders() == timers.ReminderReport(0, 0)
    [(username, title)] = _reminders("task_due")
    assert (username, title) == ("mms_methodist.gatchina", "Срок истёк: Подготовка документа")
    body = db.session.execute(
        select(Notification.body).where(Notification.kind == "task_due")
    ).scalar_one()
    # The due time is shown in Moscow time: 05.03.2026 12:00.
    assert "05.03.2026 12:00 (MSK)" in body and "Тест: срок, напоминание и эскалация" in body


def test_lead_time_is_configurable(jobs, monkeypatch) -> None:
    monkeypatch.setitem(jobs.config, "REMINDER_LEAD_HOURS", 48)
    with time_machine.travel(T0, tick=False):
        start("test_escalation", SLOW)
    with time_machine.travel(T0 + timedelta(days=1, hours=1), tick=False):
        assert timers.send_due_reminders().due_soon == 1


def test_claimed_task_reminds_only_the_claimant(jobs) -> None:
    with time_machine.travel(T0, tick=False):
        instance = start("test_escalation", SLOW)
        [task] = open_tasks(instance.id)
        tasks.claim(user("mms_methodist.gatchina"), task.id)
    with time_machine.travel(T0 + timedelta(days=3, seconds=1), tick=False):
        timers.send_due_reminders()
    assert [u for u, _ in _reminders("task_due")] == ["mms_methodist.gatchina"]


def test_overdue_task_gets_only_the_due_reminder(jobs) -> None:
    with time_machine.travel(T0, tick=False):
        start("test_escalation", SLOW)
    # The runner was down until after the due time: no late "due soon" message.
    with time_machine.travel(T0 + timedelta(days=4), tick=False):
        assert timers.send_due_reminders() == timers.ReminderReport(0, 1)
    assert _reminders("task_due_soon") == []


def test_completed_task_is_not_reminded(jobs) -> None:
    with time_machine.travel(T0, tick=False):
        instance = start("test_escalation", SLOW)
        [task] = open_tasks(instance.id)
        tasks.complete(user("mms_methodist.gatchina"), task.id, {})
    with time_machine.travel(T0 + timedelta(days=4), tick=False):
        assert timers.send_due_reminders() == timers.ReminderReport(0, 0)


def test_reminder_claimed_by_another_runner_is_not_sent_again(jobs) -> None:
    with time_machine.travel(T0, tick=False):
        instance = start("test_escalation", SLOW)
    [task] = open_tasks(instance.id)
    with transaction():
        db.session.add(TaskReminder(human_task_id=task.id, kind="due"))
    with time_machine.travel(T0 + timedelta(days=4), tick=False):
        assert timers.send_due_reminders() == timers.ReminderReport(0, 0)
    assert _reminders("task_due") == []


def test_same_event_notified_twice_gives_one_notification(jobs) -> None:
    methodist, head = user("mms_methodist.gatchina"), user("mms_head.gatchina")
    message = notifications.Message("test", "Проверка", "Текст")
    with transaction():
        assert notifications.notify([methodist, head], message, "event:42") == 2
    with transaction():
        assert notifications.notify([methodist, head, head], message, "event:42") == 0
        assert notifications.notify([methodist], message, "event:43") == 1
    keys = db.session.execute(select(Notification.dedup_key).order_by(Notification.id)).scalars()
    assert sorted(keys) == sorted(
        [f"event:42:u{methodist.id}", f"event:42:u{head.id}", f"event:43:u{methodist.id}"]
    )


def test_task_offer_notifies_every_candidate_once(jobs) -> None:
    with time_machine.travel(T0, tick=False):
        instance = start("test_escalation", SLOW)
    [task] = open_tasks(instance.id)
    with transaction():
        again = notifications.task_offered(task, [c.user for c in task.candidates])
    assert again == 0
    assert _reminders("task_offered") == [
        ("mms_methodist.gatchina", "Новая задача: Подготовка документа")
    ]
