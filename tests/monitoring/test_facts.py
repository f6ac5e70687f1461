"""The monitoring summary is written with every engine step, from the processes' own data."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import (
    CycleRollup,
    InstanceFact,
    ProcessInstance,
    ProcessVersion,
    RoadmapMeasureFact,
    StepFact,
    StepRollup,
)
from app.services import monitoring_facts
from app.services.monitoring_facts import SchoolYear, outcome_of
from tests.audit.helpers import run_plan
from tests.conftest import ApiClient


def _fact(app: Flask, instance_id: int) -> InstanceFact:
    with app.app_context():
        fact = db.session.get(InstanceFact, instance_id)
        assert fact is not None
        db.session.expunge(fact)
        return fact


def test_real_mo_plan_run_fills_the_summary(api: ApiClient, seeded: Flask) -> None:
    open_id = run_plan(api, finish=False)
    fact = _fact(seeded, open_id)
    school = api.unit_id("gatchina-school-1")
    assert (fact.process_key, fact.school_id, fact.municipality_id) == (
        "mo_plan_approval",
        school,
        api.unit_id("gatchina"),
    )
    # The plan declares its school year (tests/factories.mo_plan: «2026/2027»).
    assert (fact.school_year, fact.outcome, fact.detail) == (2026, None, "МО учителей математики")

    done_id = run_plan(api)
    fact = _fact(seeded, done_id)
    assert (fact.school_year, fact.outcome) == (2026, "approved")
    assert fact.outcome_at is not None

    with seeded.app_context():
        steps = db.session.execute(
            select(StepFact.bpmn_id)
            .where(StepFact.instance_id == done_id)
            .order_by(StepFact.task_id)
        ).scalars()
        assert list(steps) == ["Task_draft", "Task_council_review", "Task_approve_director"]
        assert fact.status == "completed" and fact.ended_at is not None
        # The rollups were bumped in the same transactions as the steps.
        year = SchoolYear.of(fact.ended_at).first
        gatchina = fact.municipality_id
        cycle = db.session.get(CycleRollup, (year, gatchina, "mo_plan_approval"))
        assert cycle is not None and (cycle.completed, cycle.b0) == (1, 1)
        counted = db.session.execute(
            select(StepRollup.bpmn_id, StepRollup.completed).where(
                StepRollup.school_year == year, StepRollup.municipality_id == gatchina
            )
        ).all()
        # Two plans went through draft and council; one was approved.
        assert sorted(counted) == [
            ("Task_approve_director", 1),
            ("Task_council_review", 2),
            ("Task_draft", 2),
        ]

    board = api.get("/monitoring?year=2026/2027", "director.gatchina-school-1").get_json()
    school_row = board["municipalities"][0]["schools"][0]
    assert (school_row["plans_approved"], school_row["plans_open"]) == (1, 1)
    assert school_row["status"] == "approved"


@pytest.mark.parametrize(
    ("key", "status", "data", "expected"),
    [
        ("tripartite_agreement", "running", {}, (None, "")),
        (
            "tripartite_agreement",
            "running",
            {
                "region_official_sign_confirm": True,
                "cnppm_head_sign_confirm": True,
                "municipal_head_sign_confirm": True,
            },
            ("signed", ""),
        ),
        (
            "tripartite_agreement",
            "completed",
            {"registration_number": "15/2026"},
            ("registered", "15/2026"),
        ),
        ("roadmap_approval", "running", {"approval_decision": "approve"}, (None, "")),
        (
            "roadmap_approval",
            "completed",
            {"approval_decision": "approve", "approval_act_number": "7-р"},
            ("approved", "7-р"),
        ),
        ("mo_plan_approval", "completed", {"plan_status": "approved"}, ("approved", "")),
        ("attestation_support", "running", {"commission_decision": "refused"}, ("refused", "")),
        (
            "attestation_support",
            "completed",
            {"commission_decision": "granted", "commission_minutes_number": "3"},
            ("granted", "3"),
        ),
        ("mma_selection", "running", {"head_decision": "include"}, (None, "")),
        ("mma_selection", "completed", {"head_decision": "include"}, ("included", "")),
        ("mma_selection", "completed", {"head_decision": "reject"}, ("rejected", "")),
        (
            "mma_selection",
            "completed",
            {"application_kind": "nomination", "nomination_confirmed": False},
            ("not_nominated", ""),
        ),
        ("mma_selection", "completed", {"eligible": False}, ("ineligible", "")),
    ],
)
def test_outcome_rules(key: str, status: str, data: dict[str, Any], expected: Any) -> None:
    assert outcome_of(key, status, data) == expected


def test_roadmap_measures_and_signing_moment(ctx: Flask) -> None:
    from app.models import OrgUnit

    gatchina = db.session.execute(select(OrgUnit).where(OrgUnit.slug == "gatchina")).scalar_one()
    version = db.session.execute(
        select(ProcessVersion).where(ProcessVersion.key == "roadmap_approval")
    ).scalar_one()
    instance = ProcessInstance(
        process_version_id=version.id,
        process_key="roadmap_approval",
        org_unit_id=gatchina.id,
        status="running",
        title="Комплекс мер",
        state="{}",
    )
    db.session.add(instance)
    db.session.flush()
    rows = [
        {"direction": "management", "deadline": "2026-01-31"},
        {"direction": "content_support", "deadline": "2027-05-31"},
        {"direction": "content_support", "deadline": ""},
    ]
    monitoring_facts.record(instance, {"roadmap_rows": rows})
    assert db.session.get(InstanceFact, instance.id).outcome is None  # type: ignore[union-attr]
    instance.status = "completed"
    monitoring_facts.record(instance, {"roadmap_rows": rows, "approval_decision": "approve"})
    db.session.flush()
    measures = db.session.execute(
        select(RoadmapMeasureFact.direction, RoadmapMeasureFact.deadline)
        .where(RoadmapMeasureFact.instance_id == instance.id)
        .order_by(RoadmapMeasureFact.id)
    ).all()
    assert [(d, str(x) if x else None) for d, x in measures] == [
        ("management", "2026-01-31"),
        ("content_support", "2027-05-31"),
        ("content_support", None),
    ]

    # An agreement keeps the moment it was signed when it is registered later.
    agreement = ProcessInstance(
        process_version_id=version.id,
        process_key="tripartite_agreement",
        org_unit_id=gatchina.id,
        status="running",
        title="Соглашение",
        state="{}",
    )
    db.session.add(agreement)
    db.session.flush()
    signed = dict.fromkeys(monitoring_facts.SIGN_KEYS, True)
    monitoring_facts.record(agreement, signed)
    fact = db.session.get(InstanceFact, agreement.id)
    assert fact is not None and fact.outcome == "signed"
    signed_at = fact.outcome_at
    agreement.status = "completed"
    monitoring_facts.record(agreement, {**signed, "registration_number": "9"})
    assert (fact.outcome, fact.outcome_at, fact.detail) == ("registered", signed_at, "9")
    db.session.rollback()


def test_rebuild_fills_instances_without_facts(api: ApiClient, seeded: Flask) -> None:
    """`flask monitoring rebuild`: instances from before the summary get their rows."""
    from sqlalchemy import delete

    instance_id = run_plan(api)
    with seeded.app_context():
        db.session.execute(delete(StepFact))
        db.session.execute(delete(InstanceFact))
        db.session.execute(delete(CycleRollup))
        db.session.execute(delete(StepRollup))
        db.session.commit()
        assert monitoring_facts.missing_instance_ids() == [instance_id]
    result = seeded.test_cli_runner().invoke(args=["monitoring", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "Добавлено сводных записей: 1; всего: 1." in result.output
    with seeded.app_context():
        fact = db.session.get(InstanceFact, instance_id)
        assert fact is not None and (fact.outcome, fact.status) == ("approved", "completed")
        assert db.session.execute(select(CycleRollup.completed)).scalars().all() == [1]
        # The steps completed before the rebuild are counted from the human-task mirror.
        assert len(db.session.execute(select(StepFact)).all()) == 3
