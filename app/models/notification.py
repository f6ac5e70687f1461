"""Notifications: in-app messages (also the e-mail outbox), preferences, deadline reminders."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UtcDateTime, utcnow
from .org import User

# e-mail states of a notification: the row is the outbox the e-mail job works through.
EMAIL_NONE = "none"  # in-app only (preference, or e-mail not configured)
EMAIL_PENDING = "pending"  # to be sent by the next delivery run
EMAIL_DIGEST = "digest"  # to be sent in the user's daily digest
EMAIL_SENT = "sent"
EMAIL_FAILED = "failed"  # gave up after several attempts
EMAIL_NO_ADDRESS = "no_address"  # the user wants e-mail but has no address


class Notification(db.Model):  # type: ignore[name-defined]
    """One message to one user; dedup_key makes the same event notify a user only once."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_user_read", "user_id", "read_at"),
        Index("ix_notification_email_status", "email_status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    email_status: Mapped[str] = mapped_column(String(20), default=EMAIL_NONE)
    email_attempts: Mapped[int] = mapped_column(default=0)
    email_error: Mapped[str | None] = mapped_column(Text)
    emailed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    user: Mapped[User] = relationship()


class NotificationPreference(db.Model):  # type: ignore[name-defined]
    """How a user wants to be told: e-mail or in-app only, at once or in a daily digest."""

    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), default="email")
    daily_digest: Mapped[bool] = mapped_column(default=False)
    last_digest_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class TaskReminder(db.Model):  # type: ignore[name-defined]
    """A deadline reminder issued for a human task (one per task and kind, ever)."""

    __tablename__ = "task_reminder"

    human_task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
