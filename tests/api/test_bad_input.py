"""Bad input gets the right status, a message a person understands, and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import ApiToken, AuditEvent, HumanTask, ProcessInstance
from app.models.base import utcnow
from tests.conftest import ApiClient
from tests.factories import mo_plan

MO_HEAD = "mo_head.gatchina-school-1"


def _counts(app: Any) -> tuple[int, int, int]:
    with app.app_context():
        return (
            db.session.execute(select(func.count(AuditEvent.seq))).scalar_one(),
            db.session.execute(select(func.count(ProcessInstance.id))).scalar_one(),
            db.session.execute(select(func.count(HumanTask.id))).scalar_one(),
        )


@pytest.fixture()
def unchanged(api: ApiClient, seeded: Any) -> Iterator[None]:
    """Asserts the database (audit, instances, tasks) is the same after the bad call."""
    api.token(MO_HEAD)
    api.token("admin")
    api.unit_id("gatchina-school-1")
    before = _counts(seeded)
    yield
    assert _counts(seeded) == before


def _start(api: ApiClient) -> dict[str, Any]:
    resp = api.post(
        "/instances",
        MO_HEAD,
        json={
            "process_key": "mo_plan_approval",
            "org_unit_id": api.unit_id("gatchina-school-1"),
            "data": {},
        },
    )
    assert resp.status_code == 201
    return resp.get_json()


def _assert_error(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    return body


def test_malformed_json(api: ApiClient, unchanged: None) -> None:
    resp = api.post(
        "/instances", MO_HEAD, data="{not json", headers={"Content-Type": "application/json"}
    )
    body = _assert_error(resp, 400)
    assert "JSON" in body["message"]


def test_unknown_process_key(api: ApiClient, unchanged: None) -> None:
    resp = api.post(
        "/instances",
        MO_HEAD,
        json={"process_key": "no_such", "org_unit_id": api.unit_id("gatchina-school-1")},
    )
    body = _assert_error(resp, 404)
    assert "process_key" in body["errors"]


def test_unknown_org_unit(api: ApiClient, unchanged: None) -> None:
    resp = api.post(
        "/instances", MO_HEAD, json={"process_key": "mo_plan_approval", "org_unit_id": 99999}
    )
    body = _assert_error(resp, 404)
    assert "org_unit_id" in body["errors"]


def test_wrong_tier_org_unit(api: ApiClient, unchanged: None) -> None:
    resp = api.post(
        "/instances",
        MO_HEAD,
        json={"process_key": "mo_plan_approval", "org_unit_id": api.unit_id("gatchina")},
    )
    _assert_error(resp, 422)


def test_actor_outside_scope_cannot_start(api: ApiClient, unchanged: None) -> None:
    resp = api.post(
        "/instances",
        MO_HEAD,
        json={"process_key": "mo_plan_approval", "org_unit_id": api.unit_id("luga-school-1")},
    )
    body = _assert_error(resp, 403)
    assert "нет права" in body["message"]


def test_missing_required_body_field(api: ApiClient, unchanged: None) -> None:
    resp = api.post("/instances", MO_HEAD, json={"process_key": "mo_plan_approval"})
    body = _assert_error(resp, 422)
    assert body["errors"]["org_unit_id"] == ["Обязательное поле."]


def test_wrong_type_in_body(api: ApiClient, unchanged: None) -> None:
    resp = api.post(
        "/instances", MO_HEAD, json={"process_key": "mo_plan_approval", "org_unit_id": "four"}
    )
    body = _assert_error(resp, 422)
    assert "org_unit_id" in body["errors"]


def test_invalid_start_parameter(api: ApiClient, unchanged: None) -> None:
    resp = api.post(
        "/instances",
        MO_HEAD,
        json={
            "process_key": "mo_plan_approval",
            "org_unit_id": api.unit_id("gatchina-school-1"),
            "data": {"approver_role": "janitor"},
        },
    )
    body = _assert_error(resp, 422)
    assert "approver_role" in body["errors"]


def test_form_value_of_wrong_type_and_missing_field(api: ApiClient, seeded: Any) -> None:
    task = _start(api)["tasks"][0]
    before = _counts(seeded)
    data = mo_plan(members="три человека")
    del data["theme"]
    resp = api.post(f"/tasks/{task['id']}/complete", MO_HEAD, json={"data": data})
    body = _assert_error(resp, 422)
    assert "members" in body["errors"] and "Неверный тип" in body["errors"]["members"][0]
    assert "theme" in body["errors"] and "Обязательное поле" in body["errors"]["theme"][0]
    assert _counts(seeded) == before


def test_task_completed_twice(api: ApiClient, seeded: Any) -> None:
    task = _start(api)["tasks"][0]
    first = api.post(f"/tasks/{task['id']}/complete", MO_HEAD, json={"data": mo_plan()})
    assert first.status_code == 200
    before = _counts(seeded)
    again = api.post(f"/tasks/{task['id']}/complete", MO_HEAD, json={"data": mo_plan()})
    body = _assert_error(again, 409)
    assert "уже выполнена" in body["message"]
    assert _counts(seeded) == before


def test_forged_token(api: ApiClient, unchanged: None) -> None:
    resp = api.client.get("/api/v1/me", headers={"Authorization": "Bearer forged-token"})
    _assert_error(resp, 401)
    resp = api.client.get("/api/v1/me")
    _assert_error(resp, 401)


def test_expired_token(api: ApiClient, seeded: Any) -> None:
    token = api.token("auditor")
    with seeded.app_context():
        db.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    resp = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    body = _assert_error(resp, 401)
    assert "истёк" in body["message"]


def test_revoked_token(api: ApiClient) -> None:
    token = api.token("auditor")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    body = _assert_error(api.client.get("/api/v1/me", headers=headers), 401)
    assert "отозван" in body["message"]


def test_wrong_password_is_audited(api: ApiClient, seeded: Any) -> None:
    resp = api.client.post("/api/v1/auth/token", json={"username": MO_HEAD, "password": "nope"})
    _assert_error(resp, 401)
    with seeded.app_context():
        kinds = db.session.execute(select(AuditEvent.kind).order_by(AuditEvent.seq)).scalars()
        assert list(kinds)[-1] == "login_failed"


def test_unknown_api_route_is_json(api: ApiClient) -> None:
    _assert_error(api.get("/nowhere", MO_HEAD), 404)


def test_foreign_task_is_not_found(api: ApiClient, seeded: Any) -> None:
    task = _start(api)["tasks"][0]
    api.token("mo_head.luga-school-1")
    api.token("director.gatchina-school-1")
    before = _counts(seeded)
    resp = api.post(f"/tasks/{task['id']}/claim", "mo_head.luga-school-1")
    _assert_error(resp, 404)
    resp = api.post(
        f"/tasks/{task['id']}/complete", "director.gatchina-school-1", json={"data": mo_plan()}
    )
    _assert_error(resp, 404)
    assert _counts(seeded) == before
