"""Deployed process versions, running instances and the human-task inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UtcDateTime, utcnow
from .org import OrgUnit, User


class ProcessVersion(db.Model):  # type: ignore[name-defined]
    """One deployed version of a process: its files, forms and content hash."""

    __tablename__ = "process_version"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_process_version_key_version"),
        Index("ix_process_version_key_sha", "key", "sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    scope_tier: Mapped[str | None] = mapped_column(String(20))
    start_role: Mapped[str | None] = mapped_column(String(50))
    # The BPMN/DMN sources and the forms: read when first used (the parsed definition and the
    # forms are cached per version id), not with every row that names a version.
    files: Mapped[dict[str, str]] = mapped_column(JSON, deferred=True, deferred_group="content")
    forms: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True, deferred_group="content")
    sha256: Mapped[str] = mapped_column(String(64))
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    deployed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    deployed_by: Mapped[User | None] = relationship()


class ProcessInstance(db.Model):  # type: ignore[name-defined]
    """A running or finished instance; the workflow state is stored without the spec."""

    __tablename__ = "process_instance"
    __table_args__ = (Index("ix_process_instance_status_timer", "status", "next_timer_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(100), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="running")
    title: Mapped[str] = mapped_column(String(500))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    next_timer_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    lock_version: Mapped[int] = mapped_column(default=1)
    # Tens of kilobytes per instance: lists and pages that show instances do not read it;
    # the use cases that run the engine ask for it with the row (undefer).
    state: Mapped[str] = mapped_column(Text, deferred=True)
    error: Mapped[str | None] = mapped_column(Text)

    version: Mapped[ProcessVersion] = relationship()
    org_unit: Mapped[OrgUnit] = relationship()
    started_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": lock_version}


class HumanTask(db.Model):  # type: ignore[name-defined]
    """A READY manual task mirrored from the engine: the inbox is SQL over this table."""

    __tablename__ = "human_task"
    __table_args__ = (
        UniqueConstraint("instance_id", "task_uuid", name="uq_human_task_instance_task"),
        Index("ix_human_task_status_claimed", "status", "claimed_by_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_uuid: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(50))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(100))
    form: Mapped[str | None] = mapped_column(String(300))
    documentation: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open")
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    row_version: Mapped[int] = mapped_column(default=1)

    instance: Mapped[ProcessInstance] = relationship()
    claimed_by: Mapped[User | None] = relationship(foreign_keys=[claimed_by_id])
    candidates: Mapped[list[TaskCandidate]] = relationship(
        back_populates="task", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": row_version}

    @property
    def claimed_by_username(self) -> str | None:
        """Username of the claimant, if any."""
        return self.claimed_by.username if self.claimed_by else None

    @property
    def instance_title(self) -> str:
        """Business title of the instance (the subject shown in the inbox)."""
        return self.instance.title


class TaskCandidate(db.Model):  # type: ignore[name-defined]
    """A user a human task is offered to (by role in scope, override or delegation)."""

    __tablename__ = "human_task_candidate"
    __table_args__ = (Index("ix_human_task_candidate_user", "user_id", "human_task_id"),)

    human_task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(20), default="role")
    # reason "substitute": the away user this candidate stands in for.
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    task: Mapped[HumanTask] = relationship(back_populates="candidates")
    user: Mapped[User] = relationship(foreign_keys=[user_id])
