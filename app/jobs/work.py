"""The units of background work, as functions of ids that call the services."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ..services import scheduled_starts, timers
from ..services.notifications import mail
from ..services.notifications.mail import DeliveryReport
from ..services.scheduled_starts import ScheduleReport
from ..services.timers import AdvanceReport, ReminderReport


def advance_instance(instance_id: int) -> str:
    """Advance one instance whose timer is due: 'fired', 'not_due' or 'failed'."""
    return timers.advance_instance(instance_id)


def start_scheduled(now: datetime | None = None) -> ScheduleReport:
    """Create the instances of timer start events whose occurrence has come."""
    return scheduled_starts.start_due(now)


def send_reminders(now: datetime | None = None) -> ReminderReport:
    """Deadline reminders for open tasks (before the due time and when it comes)."""
    return timers.send_due_reminders(now)


def deliver_emails() -> DeliveryReport:
    """Send the e-mails of notifications that wait for it."""
    return mail.deliver_pending_emails()


def send_digests(now: datetime | None = None) -> DeliveryReport:
    """Daily digests for users who asked for them."""
    return mail.send_daily_digests(now)


@dataclass
class TickReport:
    """What one pass of the runner did."""

    advanced: AdvanceReport = field(default_factory=AdvanceReport)
    enqueued: int = 0
    scheduled: ScheduleReport = field(default_factory=ScheduleReport)
    reminders: ReminderReport = field(default_factory=ReminderReport)
    emails: DeliveryReport = field(default_factory=DeliveryReport)
    digests: DeliveryReport = field(default_factory=DeliveryReport)

    def summary(self) -> str:
        """One line for the log, empty when nothing happened."""
        parts = []
        a = self.advanced
        if a.processed:
            parts.append(
                f"таймеры: сработало {len(a.fired)}, ошибок {len(a.failed)}, "
                f"отложено {len(a.skipped)}"
            )
        if self.enqueued:
            parts.append(f"в очередь: {self.enqueued}")
        if self.scheduled.started or self.scheduled.failed:
            parts.append(
                f"плановые запуски: {len(self.scheduled.started)} "
                f"(ошибок {len(self.scheduled.failed)})"
            )
        if self.reminders.due_soon or self.reminders.due:
            parts.append(f"напоминания: {self.reminders.due_soon} + {self.reminders.due}")
        if self.emails.sent or self.emails.failed:
            parts.append(f"письма: {self.emails.sent} (сбоев {self.emails.failed})")
        if self.digests.sent:
            parts.append(f"сводки: {self.digests.sent}")
        return "; ".join(parts)


def tick(batch: int = 100, budget_seconds: float = 60.0) -> TickReport:
    """One pass in this process: scheduled starts, due timers (in batches, within a time
    budget), then reminders, e-mails and digests."""
    report = TickReport(scheduled=start_scheduled())
    started = time.monotonic()
    while True:
        part = timers.advance_due_instances(limit=batch)
        for name in ("fired", "not_due", "failed", "skipped"):
            getattr(report.advanced, name).extend(getattr(part, name))
        if part.processed < batch or time.monotonic() - started > budget_seconds:
            break
    report.reminders = send_reminders()
    report.emails = deliver_emails()
    report.digests = send_digests()
    return report


class Publisher(Protocol):
    """Where instance ids go to be advanced by someone else (Celery workers)."""

    def advance_instances(self, instance_ids: list[int]) -> None: ...

    def housekeeping(self) -> None: ...


def dispatch(publisher: Publisher, limit: int = 1000) -> TickReport:
    """Enqueue the due instances and one housekeeping job (scheduled starts, reminders,
    e-mails, digests)."""
    ids = timers.due_instance_ids(limit=limit)
    if ids:
        publisher.advance_instances(ids)
    publisher.housekeeping()
    return TickReport(enqueued=len(ids))


def housekeeping() -> TickReport:
    """Scheduled starts, reminders, e-mails and digests (the part of a tick that is not timers)."""
    return TickReport(
        scheduled=start_scheduled(),
        reminders=send_reminders(),
        emails=deliver_emails(),
        digests=send_digests(),
    )
