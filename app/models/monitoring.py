"""Monitoring summary: per-instance facts kept in step with process progress.

The dashboard aggregates these rows with SQL; it never deserialises a workflow. A row is
written by `services.monitoring_facts.record` in the same transaction as the engine step.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UtcDateTime


class InstanceFact(db.Model):  # type: ignore[name-defined]
    """What the dashboard needs to know about one instance, without its workflow state."""

    __tablename__ = "instance_fact"
    __table_args__ = (
        Index("ix_instance_fact_year_municipality", "school_year", "municipality_id"),
        Index("ix_instance_fact_key_outcome", "process_key", "outcome"),
        Index("ix_instance_fact_ended_at", "ended_at"),
        Index("ix_instance_fact_status_municipality", "status", "municipality_id"),
    )

    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id"), primary_key=True, autoincrement=False
    )
    process_key: Mapped[str] = mapped_column(String(100))
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    # Copies of the instance's status and times, so that no figure needs the instance row.
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # First calendar year of the school year (1 September – 31 August) the instance belongs to.
    school_year: Mapped[int] = mapped_column()
    # signed / registered / approved / granted / refused / included / rejected / ineligible /
    # not_nominated; None while the procedure has no result yet.
    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    detail: Mapped[str | None] = mapped_column(String(300))


class RoadmapMeasureFact(db.Model):  # type: ignore[name-defined]
    """One measure (row of Приложение 1) of an approved roadmap: direction and deadline."""

    __tablename__ = "roadmap_measure_fact"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    direction: Mapped[str] = mapped_column(String(30))
    deadline: Mapped[date | None] = mapped_column(Date())


class StepFact(db.Model):  # type: ignore[name-defined]
    """A completed human task with its duration, for cycle times per step."""

    __tablename__ = "step_fact"

    task_id: Mapped[int] = mapped_column(
        ForeignKey("human_task.id"), primary_key=True, autoincrement=False
    )
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(100))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    completed_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    seconds: Mapped[float] = mapped_column(Float())

    __table_args__ = (Index("ix_step_fact_school_completed", "school_id", "completed_at"),)


class CycleRollup(db.Model):  # type: ignore[name-defined]
    """Completed instances per school year of completion, municipality and process:
    count, total duration and the duration distribution (buckets of monitoring_cycles)."""

    __tablename__ = "cycle_rollup"

    school_year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    municipality_id: Mapped[int] = mapped_column(
        ForeignKey("org_unit.id"), primary_key=True, autoincrement=False
    )
    process_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    completed: Mapped[int] = mapped_column(default=0)
    seconds_sum: Mapped[float] = mapped_column(Float(), default=0.0)
    b0: Mapped[int] = mapped_column(default=0)
    b1: Mapped[int] = mapped_column(default=0)
    b2: Mapped[int] = mapped_column(default=0)
    b3: Mapped[int] = mapped_column(default=0)
    b4: Mapped[int] = mapped_column(default=0)
    b5: Mapped[int] = mapped_column(default=0)


class StepRollup(db.Model):  # type: ignore[name-defined]
    """Completed steps per school year of completion, municipality, process and step."""

    __tablename__ = "step_rollup"

    school_year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    municipality_id: Mapped[int] = mapped_column(
        ForeignKey("org_unit.id"), primary_key=True, autoincrement=False
    )
    process_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    bpmn_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    completed: Mapped[int] = mapped_column(default=0)
    seconds_sum: Mapped[float] = mapped_column(Float(), default=0.0)
