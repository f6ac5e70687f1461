"""Timers and deadlines: advance instances whose timers are due, remind before due dates.

The overdue view lives in overdue.py (re-exported here for the API).

One transaction per instance: a runner killed mid-batch loses nothing, the instance it was
working on is still due and the next run takes it. On PostgreSQL the row is taken with
SELECT ... FOR UPDATE SKIP LOCKED, so several runners never advance the same instance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import HumanTask, ProcessInstance, TaskCandidate, TaskReminder, User
from ..models.base import utcnow
from . import audit, notifications, upserts
from .errors import Conflict, ValidationFailed
from .overdue import OVERDUE_ROLES, OverdueView, overdue_tasks
from .progress import load_runner, persist, run_engine
from .uow import transaction

log = logging.getLogger(__name__)

ACTIVE = ("running", "waiting")


@dataclass
class AdvanceReport:
    """What one run did, by instance id."""

    fired: list[int] = field(default_factory=list)
    not_due: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)

    @property
    def processed(self) -> int:
        """How many instances the run took."""
        return len(self.fired) + len(self.not_due) + len(self.failed) + len(self.skipped)


def _due(moment: datetime) -> Any:
    return (
        ProcessInstance.next_timer_at.is_not(None),
        ProcessInstance.next_timer_at <= moment,
        ProcessInstance.status.in_(ACTIVE),
    )


def due_instance_ids(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of instances with a due timer, earliest first (no lock: for enqueueing to workers)."""
    moment = now or utcnow()
    return list(
        db.session.execute(
            select(ProcessInstance.id)
            .where(*_due(moment))
            .order_by(ProcessInstance.next_timer_at, ProcessInstance.id)
            .limit(limit)
        ).scalars()
    )


def advance_due_instances(now: datetime | None = None, limit: int = 100) -> AdvanceReport:
    """Advance up to `limit` instances whose next timer is due at `now` (default: now).

    `now` only selects the instances; whether a timer fires is decided by the engine with the
    current clock, so in production leave it None.
    """
    report = AdvanceReport()
    seen: list[int] = [0]
    while len(seen) <= limit:
        moment = now or utcnow()
        query = (
            select(ProcessInstance)
            .where(*_due(moment), ProcessInstance.id.not_in(seen))
            .order_by(ProcessInstance.next_timer_at, ProcessInstance.id)
            .limit(1)
        )
        if not _advance_one(query, report, seen):
            break
    return report


def advance_instance(instance_id: int, now: datetime | None = None) -> str:
    """Advance one instance if its timer is due (a worker's job; duplicates are harmless).

    Returns 'fired', 'not_due' (not due, already done by someone else, or locked), 'failed'.
    """
    report = AdvanceReport()
    query = select(ProcessInstance).where(ProcessInstance.id == instance_id, *_due(now or utcnow()))
    if not _advance_one(query, report, [0]):
        return "not_due"
    if report.fired:
        return "fired"
    return "failed" if (report.failed or report.skipped) else "not_due"


def _advance_one(query: Any, report: AdvanceReport, seen: list[int]) -> bool:
    """Lock one instance from query and advance it; False when there was none to take."""
    instance_id: int | None = None
    try:
        with transaction():
            instance = db.session.execute(
                query.options(
                    joinedload(ProcessInstance.version, innerjoin=True),
                    joinedload(ProcessInstance.org_unit, innerjoin=True),
                ).with_for_update(skip_locked=True, of=ProcessInstance)
            ).scalar_one_or_none()
            if instance is None:
                return False
            instance_id = instance.id
            seen.append(instance.id)
            _fire(instance)
        report.fired.append(instance_id)
    except _NothingDue:
        assert instance_id is not None
        report.not_due.append(instance_id)
    except ValidationFailed as exc:
        # The engine refused to go on (script error, failed operation): stop retrying it.
        assert instance_id is not None
        _mark_failed(instance_id, exc.message)
        report.failed.append(instance_id)
    except Conflict:
        # Changed concurrently (e.g. a user completed a task): it is looked at again next run.
        if instance_id is None:
            raise
        report.skipped.append(instance_id)
    except Exception:
        if instance_id is None:
            raise
        log.exception("Advancing instance %s failed; it stays due", instance_id)
        report.skipped.append(instance_id)
    return True


class _NothingDue(Exception):
    """The engine found no due timer: the transaction is rolled back, nothing is recorded."""


def _fire(instance: ProcessInstance) -> None:
    """Run the due timers of a locked instance; the audit event precedes its consequences."""
    scheduled = instance.next_timer_at
    audit.record(
        "timer_fired",
        None,
        instance_id=instance.id,
        org_unit_id=instance.org_unit_id,
        payload={"scheduled_at": scheduled.isoformat() if scheduled else None},
    )
    runner = load_runner(instance, None)
    run_engine(runner.advance)
    if runner.dump() == instance.state:
        raise _NothingDue
    before = _open_task_rows(instance.id)
    persist(instance, runner, None)
    _record_escalation(instance, before, scheduled)


def _open_task_rows(instance_id: int) -> dict[int, HumanTask]:
    return {
        row.id: row
        for row in db.session.execute(
            select(HumanTask).where(
                HumanTask.instance_id == instance_id, HumanTask.status == "open"
            )
        ).scalars()
    }


def _record_escalation(
    instance: ProcessInstance, before: dict[int, HumanTask], scheduled: datetime | None
) -> None:
    """Audit `escalation` when the timer took tasks away and handed new ones out.

    Written once per fired timer: the instance row is locked for the whole transaction.
    """
    db.session.flush()
    after = _open_task_rows(instance.id)
    cancelled = [row for tid, row in before.items() if tid not in after]
    offered = [row for tid, row in after.items() if tid not in before]
    if not cancelled or not offered:
        return
    audit.record(
        "escalation",
        None,
        instance_id=instance.id,
        task_id=offered[0].id,
        org_unit_id=instance.org_unit_id,
        payload={
            "scheduled_at": scheduled.isoformat() if scheduled else None,
            "from": [_task_ref(row) for row in cancelled],
            "to": [
                {**_task_ref(row), "offered_to": [c.user.username for c in row.candidates]}
                for row in offered
            ],
        },
    )


def _task_ref(row: HumanTask) -> dict[str, Any]:
    return {
        "task_id": row.id,
        "bpmn_id": row.bpmn_id,
        "name": row.name,
        "lane": row.lane,
        "claimed_by": row.claimed_by_username,
    }


def _mark_failed(instance_id: int, message: str) -> None:
    with transaction():
        instance = db.session.get(ProcessInstance, instance_id)
        if instance is None or instance.status not in ACTIVE:
            return
        scheduled = instance.next_timer_at
        instance.status = "error"
        instance.error = message
        instance.next_timer_at = None
        audit.record(
            "timer_failed",
            None,
            instance_id=instance.id,
            org_unit_id=instance.org_unit_id,
            payload={
                "scheduled_at": scheduled.isoformat() if scheduled else None,
                "error": message,
            },
        )


# --- deadline reminders on human tasks ---------------------------------------------------------


@dataclass
class ReminderReport:
    """How many reminders of each kind a run issued (tasks, not users)."""

    due_soon: int = 0
    due: int = 0


def reminder_lead() -> timedelta:
    """How long before the due time the first reminder goes out (REMINDER_LEAD_HOURS)."""
    return timedelta(hours=float(current_app.config.get("REMINDER_LEAD_HOURS", 24)))


def send_due_reminders(now: datetime | None = None, limit: int = 200) -> ReminderReport:
    """Remind the people of open tasks: once `lead` before the due time and once when it comes."""
    moment = now or utcnow()
    report = ReminderReport()
    windows = {
        "due_soon": (HumanTask.due_at > moment, HumanTask.due_at <= moment + reminder_lead()),
        "due": (HumanTask.due_at <= moment,),
    }
    for kind, window in windows.items():
        reminded = exists().where(
            TaskReminder.human_task_id == HumanTask.id, TaskReminder.kind == kind
        )
        ids = list(
            db.session.execute(
                select(HumanTask.id)
                .where(HumanTask.status == "open", HumanTask.due_at.is_not(None), *window)
                .where(~reminded)
                .order_by(HumanTask.due_at, HumanTask.id)
                .limit(limit)
            ).scalars()
        )
        for task_id in ids:
            if _remind(task_id, kind):
                setattr(report, kind, getattr(report, kind) + 1)
    return report


def _remind(task_id: int, kind: str) -> bool:
    with transaction():
        task = db.session.get(HumanTask, task_id)
        if task is None or task.status != "open":
            return False
        if not _claim_reminder(task_id, kind):
            return False
        people = _people_of(task)
        told = notifications.task_deadline(task, kind, people)
        # Once per task and kind: the task_reminder row claimed above is the dedup key.
        audit.record(
            "reminder_sent",
            None,
            instance_id=task.instance_id,
            task_id=task.id,
            org_unit_id=task.org_unit_id,
            payload={
                "kind": f"task_{kind}",
                "due_at": task.due_at.isoformat() if task.due_at else None,
                "to": [u.username for u in people if u.is_active],
                "notifications": told,
            },
        )
    return True


def _claim_reminder(task_id: int, kind: str) -> bool:
    """Record that the reminder is issued; False if another runner already did."""
    row = {"human_task_id": task_id, "kind": kind, "sent_at": utcnow()}
    inserted = upserts.insert_ignoring_duplicates(TaskReminder, [row], ["human_task_id", "kind"])
    if inserted is not None:
        return inserted == 1
    if db.session.get(TaskReminder, (task_id, kind)) is not None:
        return False
    db.session.add(TaskReminder(**row))
    return True


def _people_of(task: HumanTask) -> list[User]:
    """Who is responsible now: the claimant, otherwise everyone the task is offered to."""
    if task.claimed_by is not None:
        return [task.claimed_by]
    return list(
        db.session.execute(
            select(User)
            .join(TaskCandidate, TaskCandidate.user_id == User.id)
            .where(TaskCandidate.human_task_id == task.id)
            .order_by(User.id)
        ).scalars()
    )


__all__ = [
    "OVERDUE_ROLES",
    "AdvanceReport",
    "OverdueView",
    "ReminderReport",
    "advance_due_instances",
    "advance_instance",
    "due_instance_ids",
    "overdue_tasks",
    "send_due_reminders",
]
