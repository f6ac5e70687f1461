"""Access records: views of an instance by someone who is not a participant are audited."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, User
from app.services import audit, documents, instances, tasks
from app.services.uow import transaction
from tests.audit.helpers import run_plan, start_plan
from tests.conftest import ApiClient

SCHOOL = "gatchina-school-1"


def _views(api: ApiClient, instance_id: int) -> list[dict[str, Any]]:
    page = api.get(
        f"/audit?kind=personal_data_viewed&instance_id={instance_id}&per_page=500", "admin"
    ).get_json()
    return list(page["items"])


def _user(name: str) -> User:
    return db.session.execute(select(User).where(User.username == name)).scalar_one()


def test_supervisor_and_auditor_views_are_recorded(api: ApiClient) -> None:
    instance_id = run_plan(api, SCHOOL, finish=False)
    task_id = api.get(f"/instances/{instance_id}", f"mo_head.{SCHOOL}").get_json()["tasks"][0]["id"]
    assert _views(api, instance_id) == []  # the starter is a participant
    assert api.get(f"/instances/{instance_id}", "auditor").status_code == 200
    assert api.get(f"/instances/{instance_id}/history", "auditor").status_code == 200
    assert api.get(f"/tasks/{task_id}", "auditor").status_code == 200
    views = _views(api, instance_id)  # (the admin reading the log is not a view of the instance)
    assert [(v["actor"], v["payload"]["resource"], v["task_id"]) for v in views] == [
        ("auditor", "instance", None),
        ("auditor", "instance", None),
        ("auditor", "task", task_id),
    ]
    first = views[0]
    assert first["org_unit_id"] == api.unit_id(SCHOOL)
    assert first["payload"]["viewer_roles"] == ["auditor"]
    assert first["payload"]["process_key"] == "mo_plan_approval"
    assert api.get(f"/instances/{instance_id}/timeline", "admin").status_code == 200
    assert _views(api, instance_id)[-1]["actor"] == "admin"
    assert _views(api, instance_id)[-1]["payload"]["viewer_roles"] == ["admin"]


def test_participants_views_are_not_recorded(api: ApiClient) -> None:
    instance_id = run_plan(api, SCHOOL, finish=False)
    task = api.get(f"/instances/{instance_id}", f"mo_head.{SCHOOL}").get_json()["tasks"][0]
    for user in (f"mo_head.{SCHOOL}", f"methodical_council.{SCHOOL}", f"director.{SCHOOL}"):
        assert api.get(f"/instances/{instance_id}", user).status_code == 200
        assert api.get(f"/instances/{instance_id}/history", user).status_code == 200
    assert api.get(f"/tasks/{task['id']}", f"director.{SCHOOL}").status_code == 200
    assert _views(api, instance_id) == []


def test_a_lane_role_holder_not_involved_is_recorded(api: ApiClient) -> None:
    # deputy_director is a lane of the diagram, but this instance routes to the director
    instance_id = run_plan(api, SCHOOL, finish=False)
    assert api.get(f"/instances/{instance_id}", f"deputy_director.{SCHOOL}").status_code == 200
    views = _views(api, instance_id)
    assert [v["actor"] for v in views] == [f"deputy_director.{SCHOOL}"]
    assert views[0]["payload"]["viewer_roles"] == ["deputy_director"]


def test_outsiders_get_404_and_leave_no_view(api: ApiClient) -> None:
    instance_id = run_plan(api, SCHOOL, finish=False)
    assert api.get(f"/instances/{instance_id}", "director.luga-school-1").status_code == 404
    assert _views(api, instance_id) == []


def test_one_record_per_instance_per_request_and_own_transaction(
    api: ApiClient, seeded: Flask
) -> None:
    instance_id = start_plan(api, SCHOOL)["id"]
    with seeded.app_context():
        admin = _user("admin")
        before = db.session.execute(select(func.count(AuditEvent.seq))).scalar_one()
        instances.get_instance(admin, instance_id)
        instances.history(admin, instance_id)  # same request (app context): not recorded again
        tasks_open = instances.open_tasks(instances.get_instance(admin, instance_id))
        tasks.get_task(admin, tasks_open[0].id)
        after = db.session.execute(select(func.count(AuditEvent.seq))).scalar_one()
        assert after == before + 1
        db.session.rollback()  # the view was committed on its own, a rollback keeps it
    with seeded.app_context():
        count = db.session.execute(
            select(func.count(AuditEvent.seq)).where(AuditEvent.kind == "personal_data_viewed")
        ).scalar_one()
        assert count == 1


def test_a_view_inside_a_write_joins_that_transaction(api: ApiClient, seeded: Flask) -> None:
    instance_id = start_plan(api, SCHOOL)["id"]
    with seeded.app_context():
        admin = _user("admin")
        with transaction():
            audit.record("comment_added", admin, payload={"note": "a write first"})
            instances.get_instance(admin, instance_id)  # must not wait for the chain lock
        kinds = db.session.execute(
            select(AuditEvent.kind).order_by(AuditEvent.seq.desc()).limit(2)
        ).scalars()
        assert list(kinds) == ["personal_data_viewed", "comment_added"]
        # and a service that reads first and writes after (comments) records both; the
        # commenter holds a lane role of the process but has had no task of it yet
        documents.add_comment(_user(f"methodical_council.{SCHOOL}"), instance_id, "Проверено")
        assert audit.verify()["ok"]
    views = _views(api, instance_id)
    assert [v["actor"] for v in views] == ["admin", f"methodical_council.{SCHOOL}"]
