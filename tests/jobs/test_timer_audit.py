"""Reminders and escalations are audited in their own transaction, exactly once per event."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.services import audit, tasks, timers

from .support import T0, audit_kinds, count_events, open_tasks, start, user

ESCALATION = {"prepare_due_in": "P3D", "remind_after": "P2D", "escalate_after": "P5D"}
SLOW = {"prepare_due_in": "P3D", "remind_after": "P20D", "escalate_after": "P30D"}


def _events(kind: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.seq)
        ).scalars()
    )


def test_each_reminder_is_audited_once(jobs) -> None:
    with time_machine.travel(T0, tick=False):
        instance = start("test_escalation", SLOW)
    [task] = open_tasks(instance.id)
    due = T0 + timedelta(days=3)
    with time_machine.travel(due - timedelta(hours=23), tick=False):
        assert timers.send_due_reminders().due_soon == 1
        assert timers.send_due_reminders().due_soon == 0
        assert timers._remind(task.id, "due_soon") is False  # a second runner, same event
    with time_machine.travel(due + timedelta(minutes=5), tick=False):
        assert timers.send_due_reminders().due == 1
        assert timers._remind(task.id, "due") is False
    soon, overdue = _events("reminder_sent")
    assert (soon.task_id, soon.instance_id, soon.actor_username) == (task.id, instance.id, None)
    assert soon.payload["kind"] == "task_due_soon"
    assert soon.payload["to"] == ["mms_methodist.gatchina"]
    assert soon.payload["notifications"] == 1
    assert soon.payload["due_at"] == due.isoformat()
    assert overdue.payload["kind"] == "task_due"
    assert audit.verify()["ok"] is True


def test_reminder_audit_is_rolled_back_with_its_notification(jobs, monkeypatch) -> None:
    with time_machine.travel(T0, tick=False):
        instance = start("test_escalation", SLOW)
    [task] = open_tasks(instance.id)

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(timers.notifications, "task_deadline", broken)
    with (
        time_machine.travel(T0 + timedelta(days=3, minutes=1), tick=False),
        pytest.raises(RuntimeError),
    ):
        timers._remind(task.id, "due")
    assert _events("reminder_sent") == []
    monkeypatch.undo()
    with time_machine.travel(T0 + timedelta(days=3, minutes=2), tick=False):
        assert timers.send_due_reminders().due == 1  # the claim was rolled back too
    assert len(_events("reminder_sent")) == 1


def test_escalation_is_audited_once_after_timer_fired(jobs) -> None:
    with time_machine.travel(T0, tick=False):
        instance = start("test_escalation", ESCALATION)
    [prepare] = open_tasks(instance.id)
    tasks.claim(user("mms_methodist.gatchina"), prepare.id)
    with time_machine.travel(T0 + timedelta(days=2, minutes=1), tick=False):
        timers.advance_due_instances()  # the non-interrupting reminder: no escalation
    assert _events("escalation") == []
    with time_machine.travel(T0 + timedelta(days=5, minutes=1), tick=False):
        assert timers.advance_due_instances().fired == [instance.id]
        assert timers.advance_instance(instance.id) == "not_due"  # a duplicate job
    [decide] = open_tasks(instance.id)
    [event] = _events("escalation")
    assert event.instance_id == instance.id and event.task_id == decide.id
    assert event.actor_username is None
    assert event.payload["from"] == [
        {
            "task_id": prepare.id,
            "bpmn_id": "prepare",
            "name": prepare.name,
            "lane": "mms_methodist",
            "claimed_by": "mms_methodist.gatchina",
        }
    ]
    [to] = event.payload["to"]
    assert (to["bpmn_id"], to["lane"], to["offered_to"]) == (
        "decide",
        "mms_head",
        ["mms_head.gatchina"],
    )
    kinds = audit_kinds(instance.id)
    last_fire = len(kinds) - 1 - kinds[::-1].index("timer_fired")
    assert kinds[last_fire:] == ["timer_fired", "task_cancelled", "task_offered", "escalation"]
    assert count_events("escalation") == 1
    assert audit.verify()["ok"] is True
