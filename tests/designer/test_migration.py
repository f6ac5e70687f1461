"""Migrating running instances to a new version: who moves, who stays, audit, completion."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, HumanTask, ProcessInstance
from app.models.base import utcnow
from app.services import audit, deployment, instance_migration, instances, tasks

from .helpers import KEY, multipart, unit, user, v1_bundle, v2_bundle

TEACHER = "teacher.gatchina-school-1"
DIRECTOR = "director.gatchina-school-1"


def _two_instances() -> tuple[ProcessInstance, ProcessInstance]:
    """A waits at «Подача заявки» (kept in v2), B at «Рассмотрение заявки» (removed in v2)."""
    deployment.deploy(v1_bundle(), user("designer"))
    school = unit("gatchina-school-1").id
    a = instances.start_instance(user(TEACHER), KEY, school, {})
    b = instances.start_instance(user(TEACHER), KEY, school, {})
    tasks.complete(user(TEACHER), instances.open_tasks(b)[0].id, {"request_text": "Б"})
    deployment.deploy(v2_bundle(), user("designer"))
    return a, b


def test_dry_run_lists_and_changes_nothing(ctx: Any) -> None:
    a, b = _two_instances()
    state_a = a.state
    result = instance_migration.migrate_instances(user("designer"), KEY, 1, 2, dry_run=True)
    assert [m["id"] for m in result["migrated"]] == [a.id]
    assert [m["bpmn_id"] for m in result["migrated"][0]["waiting"]] == ["Task_submit"]
    assert [s["id"] for s in result["skipped"]] == [b.id]
    assert result["skipped"][0]["elements"] == ["Task_review"]
    assert (
        "«Рассмотрение заявки» (Task_review) отсутствует в новой версии"
        in (result["skipped"][0]["reason"])
    )
    db.session.expire_all()
    assert db.session.get(ProcessInstance, a.id).version.version == 1
    assert db.session.get(ProcessInstance, a.id).state == state_a
    kinds = db.session.execute(select(AuditEvent.kind)).scalars().all()
    assert "instance_migrated" not in kinds


def test_migrated_instance_completes_on_v2_and_skipped_one_on_v1(ctx: Any) -> None:
    a, b = _two_instances()
    b_id = b.id  # audit.verify() below detaches everything from the session
    row_before = instances.open_tasks(a)[0]
    task_id, task_uuid = row_before.id, row_before.task_uuid
    result = instance_migration.migrate_instances(user("designer"), KEY, 1, 2)
    assert [m["id"] for m in result["migrated"]] == [a.id]
    assert [s["id"] for s in result["skipped"]] == [b_id]

    db.session.expire_all()
    a = db.session.get(ProcessInstance, a.id)
    assert a.version.version == 2
    (row,) = instances.open_tasks(a)
    assert (row.id, row.task_uuid, row.status) == (task_id, task_uuid, "open")
    event = db.session.execute(
        select(AuditEvent).where(
            AuditEvent.instance_id == a.id, AuditEvent.kind == "instance_migrated"
        )
    ).scalar_one()
    assert event.payload["from_version"] == 1 and event.payload["to_version"] == 2
    assert event.payload["waiting"] == ["Task_submit"]
    assert event.payload["defaults_added"] == ["check_due_in"]
    assert event.actor_username == "designer"
    assert audit.verify()["ok"]

    after_submit = tasks.complete(user(TEACHER), row.id, {"request_text": "А"})
    (check,) = instances.open_tasks(after_submit)
    assert (check.bpmn_id, check.name, check.form) == (
        "Task_check",
        "Проверка заявки",
        "designer_demo/check.json",
    )
    # dueIn "=check_due_in": the default of the parameter v2 introduced
    assert check.due_at is not None
    assert abs(check.due_at - (utcnow() + timedelta(days=3))) < timedelta(minutes=5)
    done = tasks.complete(user(DIRECTOR), check.id, {"decision": "approve"})
    assert done.status == "completed" and done.version.version == 2

    b = db.session.get(ProcessInstance, b_id)
    assert b.version.version == 1
    (review,) = instances.open_tasks(b)
    assert review.bpmn_id == "Task_review"
    finished = tasks.complete(user(DIRECTOR), review.id, {"decision": "reject"})
    assert finished.status == "completed" and finished.version.version == 1


def test_migration_twice_is_harmless_and_only_active_instances_move(ctx: Any) -> None:
    a, b = _two_instances()
    first = instance_migration.migrate_instances(user("designer"), KEY, 1, 2)
    assert [m["id"] for m in first["migrated"]] == [a.id]
    again = instance_migration.migrate_instances(user("designer"), KEY, 1, 2)
    assert again["migrated"] == [] and [s["id"] for s in again["skipped"]] == [b.id]
    rows = db.session.execute(select(HumanTask).where(HumanTask.instance_id == a.id)).scalars()
    assert [r.status for r in rows] == ["open"]


def test_lane_change_reoffers_the_waiting_task(ctx: Any) -> None:
    deployment.deploy(v1_bundle(), user("designer"))
    school = unit("gatchina-school-1").id
    b = instances.start_instance(user(TEACHER), KEY, school, {})
    tasks.complete(user(TEACHER), instances.open_tasks(b)[0].id, {"request_text": "Б"})
    moved = (
        v1_bundle()
        .sources[f"{KEY}.bpmn"]
        .decode()
        .replace('name="director"', 'name="deputy_director"')
    )
    bundle = v1_bundle()
    bundle.sources[f"{KEY}.bpmn"] = moved.encode()
    deployment.deploy(bundle, user("designer"))
    result = instance_migration.migrate_instances(user("designer"), KEY, 1, 2)
    assert [m["id"] for m in result["migrated"]] == [b.id]
    (row,) = instances.open_tasks(db.session.get(ProcessInstance, b.id))
    assert row.lane == "deputy_director"
    assert [c.user.username for c in row.candidates] == ["deputy_director.gatchina-school-1"]
    done = tasks.complete(
        user("deputy_director.gatchina-school-1"), row.id, {"decision": "approve"}
    )
    assert done.status == "completed"


def test_migrate_api(api: Any) -> None:
    assert api.post("/processes", "designer", **multipart(v1_bundle())).status_code == 201
    school = api.unit_id("gatchina-school-1")
    started = api.post(
        "/instances", TEACHER, json={"process_key": KEY, "org_unit_id": school, "data": {}}
    )
    assert started.status_code == 201, started.get_json()
    assert api.post("/processes", "designer", **multipart(v2_bundle())).status_code == 201
    body = {"from_version": 1, "to_version": 2, "dry_run": True}
    dry = api.post(f"/processes/{KEY}/migrate", "admin", json=body)
    assert dry.status_code == 200, dry.get_json()
    assert [m["id"] for m in dry.get_json()["migrated"]] == [started.get_json()["id"]]
    assert api.get(f"/instances/{started.get_json()['id']}", TEACHER).get_json()["version"] == 1
    real = api.post(f"/processes/{KEY}/migrate", "designer", json={**body, "dry_run": False})
    assert real.status_code == 200
    assert api.get(f"/instances/{started.get_json()['id']}", TEACHER).get_json()["version"] == 2
    backwards = api.post(
        f"/processes/{KEY}/migrate", "designer", json={"from_version": 2, "to_version": 1}
    )
    assert backwards.status_code == 422
    assert "to_version" in backwards.get_json()["errors"]
    missing = api.post(
        f"/processes/{KEY}/migrate", "designer", json={"from_version": 1, "to_version": 7}
    )
    assert missing.status_code == 404
