"""Statements of the completion hot path: cached upserts, one-query ancestors, forms by id."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from sqlalchemy import event, func, select
from sqlalchemy.engine.interfaces import CacheStats

from app.extensions import db
from app.models import (
    OrgUnit,
    ProcessInstance,
    ProcessVersion,
    StepFact,
    StepRollup,
    TaskReminder,
    User,
)
from app.services import deployment, instances, tasks, upserts
from tests.perf.support import START_DATA, step_data
from tests.statements import recorded


def statements() -> Any:
    """The SQL statements sent to the database inside the block."""
    return recorded(current_app)  # type: ignore[arg-type]


def _unit(slug: str) -> OrgUnit:
    return db.session.execute(select(OrgUnit).where(OrgUnit.slug == slug)).scalar_one()


def _start_plan() -> ProcessInstance:
    actor = db.session.execute(
        select(User).where(User.username == "mo_head.gatchina-school-1")
    ).scalar_one()
    return instances.start_instance(
        actor, "mo_plan_approval", _unit("gatchina-school-1").id, dict(START_DATA)
    )


def test_add_to_counters_creates_then_adds_and_replaces(ctx: Flask) -> None:
    region = _unit("lenobl")
    key = {"school_year": 2026, "municipality_id": region.id, "process_key": "p", "bpmn_id": "T"}
    assert upserts.add_to_counters(
        StepRollup, key, {"completed": 1, "seconds_sum": 2.5}, {"name": "Первое имя"}
    )
    assert upserts.add_to_counters(
        StepRollup, key, {"completed": 2, "seconds_sum": 1.0}, {"name": "Новое имя"}
    )
    db.session.commit()
    row = db.session.get(StepRollup, (2026, region.id, "p", "T"))
    assert row is not None
    assert (row.completed, row.seconds_sum, row.name) == (3, 3.5, "Новое имя")


def test_insert_ignoring_duplicates_counts_new_rows_only(ctx: Flask) -> None:
    instance = _start_plan()
    (first,) = instances.open_tasks(instance)
    row = {"human_task_id": first.id, "kind": "due_soon", "sent_at": first.created_at}
    assert upserts.insert_ignoring_duplicates(TaskReminder, [row], ["human_task_id", "kind"]) == 1
    assert upserts.insert_ignoring_duplicates(TaskReminder, [row], ["human_task_id", "kind"]) == 0
    other = {**row, "kind": "overdue"}
    assert (
        upserts.insert_ignoring_duplicates(TaskReminder, [row, other], ["human_task_id", "kind"])
        == 1
    )
    db.session.commit()
    kinds = db.session.execute(
        select(TaskReminder.kind).where(TaskReminder.human_task_id == first.id)
    ).scalars()
    assert sorted(kinds) == ["due_soon", "overdue"]


def test_upsert_statements_hit_the_compiled_cache(ctx: Flask) -> None:
    region = _unit("lenobl")
    key = {"school_year": 2027, "municipality_id": region.id, "process_key": "p", "bpmn_id": "X"}
    upserts.add_to_counters(StepRollup, key, {"completed": 1, "seconds_sum": 1.0}, {"name": "n"})
    hits: list[bool] = []

    def after(_conn: Any, _cursor: Any, _stmt: str, _params: Any, context: Any, _many: Any) -> None:
        hits.append(context.cache_hit == CacheStats.CACHE_HIT)

    event.listen(db.engine, "after_cursor_execute", after)
    try:
        upserts.add_to_counters(
            StepRollup, key, {"completed": 1, "seconds_sum": 1.0}, {"name": "n"}
        )
    finally:
        event.remove(db.engine, "after_cursor_execute", after)
    assert hits == [True]


def test_ancestors_are_read_in_one_statement(ctx: Flask) -> None:
    school_id = _unit("gatchina-school-1").id
    db.session.expire_all()
    school = db.session.get(OrgUnit, school_id)
    assert school is not None
    with statements() as seen:
        chain = school.ancestors()
    assert [u.tier for u in chain] == ["institution", "municipality", "region"]
    assert len(seen) == 1
    with statements() as seen:
        assert school.ancestors() == chain
    assert seen == []


def test_form_schema_is_read_once_per_version(ctx: Flask) -> None:
    version = db.session.execute(
        select(ProcessVersion).where(ProcessVersion.key == "mo_plan_approval")
    ).scalar_one()
    name = sorted(version.forms)[0]
    expected = version.forms[name]
    db.session.expire_all()
    deployment.form_schema(version.id, name)
    with statements() as seen:
        assert deployment.form_schema(version.id, name) == expected
        assert deployment.form_schema(version.id, None) is None
        assert deployment.form_schema(version.id, "no-such-form.json") is None
        assert deployment.definition_by_id(version.id).key == "mo_plan_approval"
    assert seen == []


def test_version_rows_leave_their_sources_until_asked(ctx: Flask) -> None:
    with statements() as seen:
        versions = deployment.latest_versions()
    assert versions and len(seen) == 1
    assert "files" not in seen[0] and "forms" not in seen[0]
    with statements() as seen:
        assert versions[0].files  # read on first use, for this version only
    assert len(seen) == 1
    db.session.expire_all()
    with statements() as seen:
        with_content = deployment.latest_versions(with_content=True)
        assert all(v.files and v.forms is not None for v in with_content)
    assert len(seen) == 1


def test_instance_rows_leave_the_workflow_state_until_asked(ctx: Flask) -> None:
    instance = _start_plan()
    instance_id = instance.id
    db.session.expire_all()
    with statements() as seen:
        loaded = db.session.get(ProcessInstance, instance_id)
        assert loaded is not None and loaded.status == "running"
    assert len(seen) == 1 and "state" not in seen[0].split("FROM")[0]


def test_every_completed_step_gets_its_fact_including_the_last(ctx: Flask) -> None:
    """The monitoring facts read without autoflush: the last step must still be counted."""
    instance = _start_plan()
    instance_id = instance.id
    for _ in range(3):
        (task,) = instances.open_tasks(instance)
        actor = db.session.execute(
            select(User).where(User.username == f"{task.lane}.gatchina-school-1")
        ).scalar_one()
        instance = tasks.complete(actor, task.id, step_data(task.bpmn_id))
    assert instance.status == "completed"
    steps = db.session.execute(
        select(StepFact.bpmn_id).where(StepFact.instance_id == instance_id)
    ).scalars()
    assert sorted(steps) == ["Task_approve_director", "Task_council_review", "Task_draft"]
    counted = db.session.execute(
        select(func.sum(StepRollup.completed)).where(StepRollup.process_key == "mo_plan_approval")
    ).scalar_one()
    assert counted == 3
