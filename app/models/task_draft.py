"""Drafts of task forms: what a user entered but has not submitted yet, one per task and user."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UtcDateTime, utcnow


class TaskDraft(db.Model):  # type: ignore[name-defined]
    """The entered (possibly invalid or incomplete) values of a task form, kept until completion."""

    __tablename__ = "task_draft"
    __table_args__ = (UniqueConstraint("human_task_id", "user_id", name="uq_task_draft_task_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    human_task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    saved_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
