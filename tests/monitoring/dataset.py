"""A small monitoring data set with figures computed by hand (see EXPECTED in the tests).

Rows are inserted directly (instances, their summary facts, human tasks, grants), because
the dashboard reads only those tables; `test_facts.py` proves that real process runs fill
the summary the same way. School year under test: 2025/2026; "now" is 2026-03-15.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import (
    HumanTask,
    InstanceFact,
    OrgUnit,
    ProcessInstance,
    ProcessVersion,
    RoadmapMeasureFact,
    RoleGrant,
    StepFact,
    User,
)
from app.services import monitoring_facts

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
YEAR = "2025/2026"


def at(text: str) -> datetime:
    """A UTC noon moment of an ISO date (noon keeps the school-year boundary clear)."""
    return datetime.fromisoformat(text).replace(hour=12, tzinfo=UTC)


@dataclass
class Spec:
    name: str
    key: str
    unit: str
    status: str
    started: str
    ended: str | None = None
    outcome: str | None = None
    outcome_at: str | None = None
    school_year: int = 2025
    detail: str | None = None
    tasks: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)


SPECS = [
    Spec(
        "A1",
        "tripartite_agreement",
        "gatchina",
        "completed",
        "2025-09-10",
        "2025-10-10",
        "registered",
        "2025-10-05",
        detail="12",
    ),
    Spec(
        "A2",
        "tripartite_agreement",
        "luga",
        "running",
        "2025-11-01",
        tasks=[("Task_region_review", "2025-11-20", None, "2026-02-01")],
    ),
    Spec(
        "R1",
        "roadmap_approval",
        "gatchina",
        "completed",
        "2025-09-15",
        "2025-10-15",
        "approved",
        "2025-10-15",
        detail="7-р",
    ),
    Spec(
        "P1",
        "mo_plan_approval",
        "gatchina-school-1",
        "completed",
        "2025-09-05",
        "2025-09-12",
        "approved",
        "2025-09-12",
        tasks=[
            ("Task_draft", "2025-09-05", "2025-09-06", None),
            ("Task_council_review", "2025-09-06", "2025-09-10", None),
            ("Task_approve_director", "2025-09-10", "2025-09-12", None),
        ],
    ),
    Spec(
        "P2",
        "mo_plan_approval",
        "gatchina-school-1",
        "running",
        "2025-12-01",
        tasks=[("Task_draft", "2025-12-01", None, "2026-01-10")],
    ),
    Spec(
        "P3",
        "mo_plan_approval",
        "gatchina-school-2",
        "completed",
        "2025-04-01",
        "2025-05-01",
        "approved",
        "2025-05-01",
        school_year=2024,
    ),
    Spec(
        "P4",
        "mo_plan_approval",
        "luga-school-1",
        "completed",
        "2025-10-01",
        "2025-10-04",
        "approved",
        "2025-10-04",
        tasks=[
            ("Task_draft", "2025-10-01", "2025-10-02", None),
            ("Task_council_review", "2025-10-02", "2025-10-04", None),
        ],
    ),
    Spec(
        "T1",
        "attestation_support",
        "gatchina-school-2",
        "completed",
        "2025-10-01",
        "2026-01-09",
        "granted",
        "2026-01-09",
    ),
    Spec(
        "T2",
        "attestation_support",
        "gatchina-school-2",
        "completed",
        "2025-11-01",
        "2025-12-31",
        "refused",
        "2025-12-31",
    ),
    Spec(
        "T3",
        "attestation_support",
        "luga-school-2",
        "running",
        "2025-12-10",
        tasks=[("Task_plan", "2025-12-10", None, "2030-01-01")],
    ),
    Spec(
        "M1",
        "mma_selection",
        "gatchina",
        "completed",
        "2025-09-20",
        "2025-10-20",
        "included",
        "2025-10-18",
    ),
]
MEASURES = [
    ("R1", "management", date(2025, 12, 1)),
    ("R1", "management", date(2030, 1, 1)),
    ("R1", "professional_mastery", date(2025, 12, 1)),
    ("R1", "content_support", date(2030, 1, 1)),
]
MMA_MEMBERS = [
    ("teacher.gatchina-school-1", "gatchina"),
    ("mo_head.gatchina-school-1", "gatchina"),
    ("teacher.luga-school-1", "luga"),
]


def _unit(slug: str) -> OrgUnit:
    return db.session.execute(select(OrgUnit).where(OrgUnit.slug == slug)).scalar_one()


def load() -> dict[str, int]:
    """Insert the data set; returns instance ids by name."""
    versions = {v.key: v.id for v in db.session.execute(select(ProcessVersion)).scalars()}
    ids: dict[str, int] = {}
    for spec in SPECS:
        unit = _unit(spec.unit)
        instance = ProcessInstance(
            process_version_id=versions[spec.key],
            process_key=spec.key,
            org_unit_id=unit.id,
            status=spec.status,
            title=f"{spec.name} — {unit.name}",
            started_at=at(spec.started),
            ended_at=at(spec.ended) if spec.ended else None,
            state="{}",
        )
        db.session.add(instance)
        db.session.flush()
        ids[spec.name] = instance.id
        school = unit.id if unit.tier == "institution" else None
        municipality = unit.parent_id if school else unit.id
        db.session.add(
            InstanceFact(
                instance_id=instance.id,
                process_key=spec.key,
                municipality_id=municipality,
                school_id=school,
                status=spec.status,
                started_at=instance.started_at,
                ended_at=instance.ended_at,
                school_year=spec.school_year,
                outcome=spec.outcome,
                outcome_at=at(spec.outcome_at) if spec.outcome_at else None,
                detail=spec.detail,
            )
        )
        for bpmn_id, created, completed, due in spec.tasks:
            task = HumanTask(
                instance_id=instance.id,
                task_uuid=f"{spec.name}-{bpmn_id}",
                bpmn_id=bpmn_id,
                name=bpmn_id,
                lane=None,
                org_unit_id=unit.id,
                process_key=spec.key,
                status="completed" if completed else "open",
                created_at=at(created),
                completed_at=at(completed) if completed else None,
                due_at=at(due) if due else None,
            )
            db.session.add(task)
            db.session.flush()
            if completed:
                db.session.add(
                    StepFact(
                        task_id=task.id,
                        instance_id=instance.id,
                        process_key=spec.key,
                        bpmn_id=bpmn_id,
                        name=bpmn_id,
                        municipality_id=municipality,
                        school_id=school,
                        completed_at=at(completed),
                        seconds=(at(completed) - at(created)).total_seconds(),
                    )
                )
    for name, direction, deadline in MEASURES:
        db.session.add(
            RoadmapMeasureFact(instance_id=ids[name], direction=direction, deadline=deadline)
        )
    for username, slug in MMA_MEMBERS:
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        db.session.add(
            RoleGrant(
                user_id=user.id,
                role="mma_member",
                org_unit_id=_unit(slug).id,
                valid_from=at("2025-10-18"),
                source_instance_id=ids["M1"],
            )
        )
    monitoring_facts.rebuild_rollups()
    db.session.commit()
    return ids


def user(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def unit_id(slug: str) -> int:
    return _unit(slug).id


def by_slug(board: Any) -> dict[str, Any]:
    """Municipality rows and school rows of a dashboard, by slug."""
    rows: dict[str, Any] = {}
    for m in board.municipalities:
        rows[m.slug] = m
        for s in m.schools:
            rows[s.slug] = s
    return rows
