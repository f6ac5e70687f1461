"""Occurrences of timer start events: which instances the scheduler created, once each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UtcDateTime, utcnow


class ScheduledStart(db.Model):  # type: ignore[name-defined]
    """One occurrence of a process's timer start event for one org unit.

    The UNIQUE key (process, occurrence, unit) is what makes several runners create the
    instance exactly once: the row is inserted in the transaction that starts the instance.
    """

    __tablename__ = "scheduled_start"
    __table_args__ = (
        UniqueConstraint("process_key", "occurs_at", "org_unit_id", name="uq_scheduled_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100))
    occurs_at: Mapped[datetime] = mapped_column(UtcDateTime())
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
