"""An admin reassigns open tasks of their scope: audited, notified, scope- and role-checked."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, HumanTask, Notification, TaskCandidate
from app.services import audit
from tests.conftest import ApiClient
from tests.web.conftest import WebClient

from .conftest import GATCHINA_ADMIN, make_user, user_id

SCHOOL = "gatchina-school-1"
MO_HEAD = f"mo_head.{SCHOOL}"
SECOND = "mo_head2.gatchina-school-1"
REASON = "Руководитель МО на больничном, приказ № 14-к"


def _start(api: ApiClient) -> int:
    """An МО plan approval at the school; the id of its first task (for the МО head)."""
    resp = api.post(
        "/instances",
        MO_HEAD,
        json={"process_key": "mo_plan_approval", "org_unit_id": api.unit_id(SCHOOL)},
    )
    assert resp.status_code == 201, resp.get_json()
    return int(resp.get_json()["tasks"][0]["id"])


def _claimed(api: ApiClient) -> int:
    task_id = _start(api)
    assert api.post(f"/tasks/{task_id}/claim", MO_HEAD).status_code == 200
    return task_id


def _reassign(api: ApiClient, task_id: int, username: str | None, user: str = "admin") -> Any:
    return api.post(
        f"/admin/tasks/{task_id}/reassign", user, json={"username": username, "reason": REASON}
    )


def _events(app: Flask, task_id: int, kind: str = "task_reassigned") -> list[AuditEvent]:
    with app.app_context():
        rows = list(
            db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.task_id == task_id, AuditEvent.kind == kind)
                .order_by(AuditEvent.seq)
            ).scalars()
        )
        db.session.expunge_all()
        return rows


def _notes(app: Flask, username: str, task_id: int) -> list[Notification]:
    with app.app_context():
        rows = list(
            db.session.execute(
                select(Notification)
                .where(Notification.user_id == user_id(app, username))
                .where(Notification.task_id == task_id, Notification.kind == "task_reassigned")
            ).scalars()
        )
        db.session.expunge_all()
        return rows


def _mine(api: ApiClient, username: str) -> set[int]:
    return {item["id"] for item in api.get("/tasks?scope=mine", username).get_json()["items"]}


def test_admin_gives_a_claimed_task_to_another_holder_of_the_role(api: ApiClient) -> None:
    app = api.client.application
    task_id = _claimed(api)
    make_user(app, SECOND, [("mo_head", SCHOOL)])  # got the role after the task was offered
    before = api.get("/admin/tasks", "admin").get_json()["items"]
    assert SECOND not in next(t for t in before if t["id"] == task_id)["offered_to"]

    resp = _reassign(api, task_id, SECOND)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["claimed_by"] == SECOND and SECOND in body["offered_to"]

    [event] = _events(app, task_id)
    assert event.actor_username == "admin"
    assert event.payload["before"] == MO_HEAD
    assert event.payload["after"] == SECOND
    assert event.payload["reason"] == REASON
    assert event.payload["lane"] == "mo_head"
    [note] = _notes(app, SECOND, task_id)
    assert REASON in note.body and "передал вам" in note.body
    assert len(_notes(app, MO_HEAD, task_id)) == 1  # the previous assignee is told too
    with app.app_context():
        assert audit.verify()["ok"]

    # The new assignee works on it; the previous one no longer may.
    assert task_id in _mine(api, SECOND) and task_id not in _mine(api, MO_HEAD)
    assert api.post(f"/tasks/{task_id}/unclaim", MO_HEAD).status_code == 403
    done = api.post(f"/tasks/{task_id}/complete", SECOND, json={"data": {}})
    assert done.status_code in (200, 422), done.get_json()  # 422: the form wants its fields
    timeline = api.get(f"/instances/{body['instance_id']}/timeline", "admin").get_json()
    step = next(s for s in timeline["steps"] if s["task_id"] == task_id)
    assert step["claimed_by"] == SECOND


def test_release_returns_the_task_to_everyone_it_is_offered_to(api: ApiClient) -> None:
    app = api.client.application
    make_user(app, SECOND, [("mo_head", SCHOOL)])
    task_id = _claimed(api)
    assert _reassign(api, task_id, SECOND).status_code == 200

    resp = _reassign(api, task_id, None)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["claimed_by"] is None
    last = _events(app, task_id)[-1]
    assert (last.payload["before"], last.payload["after"]) == (SECOND, None)
    assert task_id in _mine(api, MO_HEAD)  # offered to them again, and they are told
    with app.app_context():
        pool = db.session.execute(
            select(Notification).where(
                Notification.user_id == user_id(app, MO_HEAD),
                Notification.task_id == task_id,
                Notification.title.like("Задача снова доступна%"),
            )
        ).scalar_one_or_none()
        assert pool is not None
    # Nothing to release now; the same assignee twice is a conflict too.
    assert _reassign(api, task_id, None).status_code == 409
    assert _reassign(api, task_id, SECOND).status_code == 200
    assert _reassign(api, task_id, SECOND).status_code == 409
    assert len(_events(app, task_id)) == 3


def test_the_new_assignee_must_hold_the_lane_role_in_scope(api: ApiClient) -> None:
    app = api.client.application
    make_user(app, "teacher.x", [("teacher", SCHOOL)])
    make_user(app, "mo_head.luga", [("mo_head", "luga-school-1")])
    make_user(app, GATCHINA_ADMIN, [("admin", "gatchina")])
    task_id = _claimed(api)
    for who in ("teacher.x", "mo_head.luga", "nobody-here"):
        resp = _reassign(api, task_id, who)
        assert resp.status_code == 422, (who, resp.get_json())
        assert "username" in resp.get_json()["errors"]
    # A reason is required (the schema and the service both say so).
    resp = api.post(
        f"/admin/tasks/{task_id}/reassign", "admin", json={"username": None, "reason": "  "}
    )
    assert resp.status_code == 422
    assert _events(app, task_id) == []
    with app.app_context():
        task = db.session.get(HumanTask, task_id)
        assert task is not None and task.claimed_by_username == MO_HEAD


def test_scope_and_roles(api: ApiClient) -> None:
    app = api.client.application
    make_user(app, GATCHINA_ADMIN, [("admin", "gatchina")])
    make_user(app, "admin.luga", [("admin", "luga")])
    make_user(app, SECOND, [("mo_head", SCHOOL)])
    task_id = _claimed(api)

    # Not an admin: 403; the auditor only reads; an admin of another branch does not see it.
    assert _reassign(api, task_id, SECOND, MO_HEAD).status_code == 403
    assert _reassign(api, task_id, SECOND, "auditor").status_code == 403
    assert _reassign(api, task_id, SECOND, "admin.luga").status_code == 404
    assert task_id not in {
        t["id"] for t in api.get("/admin/tasks", "admin.luga").get_json()["items"]
    }
    assert api.get("/admin/tasks", MO_HEAD).status_code == 403
    assert _events(app, task_id) == []

    listed = api.get("/admin/tasks?assignee=" + MO_HEAD, GATCHINA_ADMIN).get_json()
    assert task_id in {t["id"] for t in listed["items"]}
    assert api.get("/admin/tasks?assignee=-", GATCHINA_ADMIN).get_json()["total"] == 0
    assert _reassign(api, task_id, SECOND, GATCHINA_ADMIN).status_code == 200


def test_a_finished_task_cannot_be_reassigned(api: ApiClient) -> None:
    app = api.client.application
    make_user(app, SECOND, [("mo_head", SCHOOL)])
    task_id = _claimed(api)
    with app.app_context():
        task = db.session.get(HumanTask, task_id)
        assert task is not None
        task.status = "cancelled"
        db.session.commit()
    assert _reassign(api, task_id, SECOND).status_code == 409
    assert api.get("/admin/tasks", "admin").get_json()["total"] == 0


def test_admin_page_lists_tasks_and_reassigns_after_confirmation(
    api: ApiClient, seeded: Flask
) -> None:
    make_user(seeded, SECOND, [("mo_head", SCHOOL)])
    task_id = _claimed(api)
    web = WebClient(seeded.test_client())
    web.login("admin")
    html = web.get("/admin/tasks").get_data(as_text=True)
    assert f'data-task="{task_id}"' in html and MO_HEAD in html
    form_page = f"/admin/tasks/{task_id}"
    form = web.get(form_page).get_data(as_text=True)
    assert f'value="{SECOND}"' in form and 'name="csrf_token"' in form
    assert f'<option value="{MO_HEAD}"' not in form  # the current assignee is not offered

    target = f"/admin/tasks/{task_id}/reassign"
    unconfirmed = web.post(target, {"username": SECOND, "reason": REASON}, page=form_page)
    assert unconfirmed.status_code == 303
    assert "Подтвердите переназначение" in web.get(form_page).get_data(as_text=True)
    no_token = web.client.post(
        target, data={"username": SECOND, "reason": REASON, "confirm": "yes"}
    )
    assert no_token.status_code == 400  # CSRF
    assert _events(seeded, task_id) == []

    done = web.post(
        target, {"username": SECOND, "reason": REASON, "confirm": "yes"}, page=form_page
    )
    assert done.status_code == 303 and done.headers["Location"].endswith("/admin/tasks")
    assert f"передана пользователю {SECOND}" in web.get("/admin/tasks").get_data(as_text=True)
    [event] = _events(seeded, task_id)
    assert event.payload["after"] == SECOND

    # Not an admin: the pages are refused.
    other = WebClient(seeded.test_client())
    other.login(MO_HEAD)
    assert other.get("/admin/tasks").status_code == 403
    assert other.get(form_page).status_code == 403


def test_candidate_row_is_added_once(api: ApiClient) -> None:
    app = api.client.application
    task_id = _claimed(api)
    make_user(app, SECOND, [("mo_head", SCHOOL)])
    assert _reassign(api, task_id, SECOND).status_code == 200
    assert _reassign(api, task_id, MO_HEAD).status_code == 200
    assert _reassign(api, task_id, SECOND).status_code == 200
    with app.app_context():
        rows = db.session.execute(
            select(TaskCandidate.reason).where(
                TaskCandidate.human_task_id == task_id,
                TaskCandidate.user_id == user_id(app, SECOND),
            )
        ).all()
        assert [r.reason for r in rows] == ["reassigned"]
    assert len(_notes(app, SECOND, task_id)) == 3  # to, from, to: each reassignment is told
