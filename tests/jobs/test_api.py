"""REST API: notifications with the unread count, notification settings, the overdue view."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from app.extensions import db
from app.services import tasks
from app.services.uow import transaction

from .support import T0, bundle, open_tasks, start, user

SLOW = {"prepare_due_in": "P3D", "remind_after": "P20D", "escalate_after": "P30D"}


@pytest.fixture()
def deployed(client, seeded):
    with seeded.app_context():
        from app.services import deployment

        deployment.deploy(bundle(), None)
        db.session.remove()
    return seeded


def _started(app, slug: str = "gatchina", at=T0) -> int:
    with app.app_context(), time_machine.travel(at, tick=False):
        instance_id = start("test_escalation", SLOW, slug=slug).id
        db.session.remove()
    return instance_id


def test_notifications_list_unread_count_and_read(api, deployed) -> None:
    _started(deployed)
    _started(deployed)
    me = "mms_methodist.gatchina"
    body = api.get("/notifications", me).get_json()
    assert body["total"] == 2 and body["unread"] == 2
    assert [n["kind"] for n in body["items"]] == ["task_offered", "task_offered"]
    assert body["items"][0]["title"] == "Новая задача: Подготовка документа"
    assert api.get("/notifications/unread-count", me).get_json() == {"unread": 2}
    first = body["items"][0]["id"]
    resp = api.post(f"/notifications/{first}/read", me)
    assert resp.status_code == 200 and resp.get_json()["read_at"] is not None
    assert api.post(f"/notifications/{first}/read", me).status_code == 200  # idempotent
    assert api.get("/notifications/unread-count", me).get_json() == {"unread": 1}
    unread = api.get("/notifications?unread=true", me).get_json()
    assert [n["id"] for n in unread["items"]] != [first] and unread["total"] == 1
    # Somebody else's notification does not exist for the caller.
    other = api.post(f"/notifications/{first}/read", "mms_head.gatchina")
    assert other.status_code == 404 and other.get_json()["message"] == "Уведомление не найдено."
    assert api.post("/notifications/read-all", me).get_json() == {"marked": 1}
    assert api.get("/notifications/unread-count", me).get_json() == {"unread": 0}
    assert api.get("/notifications").status_code == 401


def test_notification_settings(api, deployed) -> None:
    me = "mms_methodist.gatchina"
    assert api.get("/me/notification-settings", me).get_json() == {
        "channel": "email",
        "daily_digest": False,
        "email": None,
        "email_configured": False,
    }
    no_address = api.call("PUT", "/me/notification-settings", me, json={"channel": "email"})
    assert no_address.status_code == 422
    assert "in_app" in no_address.get_json()["errors"]["channel"][0]
    ok = api.call(
        "PUT", "/me/notification-settings", me, json={"channel": "in_app", "daily_digest": True}
    )
    assert ok.status_code == 200
    assert ok.get_json()["channel"] == "in_app" and ok.get_json()["daily_digest"] is True
    bad = api.call("PUT", "/me/notification-settings", me, json={"channel": "pigeon"})
    assert bad.status_code == 422 and "channel" in bad.get_json()["errors"]
    with deployed.app_context():
        with transaction():
            user(me).email = "methodist@example.test"
        db.session.remove()
    ok = api.call("PUT", "/me/notification-settings", me, json={"channel": "email"})
    assert ok.status_code == 200 and ok.get_json()["email"] == "methodist@example.test"


def test_overdue_view_is_grouped_and_scoped(api, deployed) -> None:
    gatchina = [_started(deployed, "gatchina") for _ in range(2)]
    _started(deployed, "luga")
    # One Gatchina task done in time: not overdue.
    with deployed.app_context():
        [task] = open_tasks(gatchina[1])
        tasks.complete(user("mms_methodist.gatchina"), task.id, {})
        db.session.remove()
    with time_machine.travel(T0 + timedelta(days=4, hours=1), tick=False):
        head = api.get("/overdue", "mms_head.gatchina").get_json()
        region = api.get("/overdue", "region_official.lenobl").get_json()
        auditor = api.get("/overdue?per_page=1", "auditor").get_json()
        refused = api.get("/overdue", "teacher.gatchina-school-1")
    assert head["total"] == 1
    [item] = head["items"]
    assert item["instance_id"] == gatchina[0] and item["overdue_days"] == 1
    assert item["name"] == "Подготовка документа" and item["lane"] == "mms_methodist"
    assert [g["slug"] for g in head["by_municipality"]] == ["gatchina"]
    assert head["by_process"] == [
        {
            "process_key": "test_escalation",
            "name": "Тест: срок, напоминание и эскалация",
            "count": 1,
        }
    ]
    assert region["total"] == 2
    assert {g["slug"]: g["count"] for g in region["by_municipality"]} == {"gatchina": 1, "luga": 1}
    assert auditor["total"] == 2 and len(auditor["items"]) == 1 and auditor["per_page"] == 1
    assert refused.status_code == 403


def test_overdue_view_before_due_is_empty(api, deployed) -> None:
    _started(deployed)
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        body = api.get("/overdue", "mms_head.gatchina").get_json()
    assert body["total"] == 0 and body["items"] == [] and body["by_municipality"] == []


def test_openapi_lists_the_new_endpoints(api, deployed) -> None:
    paths = api.get("/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/notifications",
        "/api/v1/notifications/{notification_id}/read",
        "/api/v1/me/notification-settings",
        "/api/v1/overdue",
    ):
        assert path in paths
