"""Auditors only read: every API endpoint that changes something refuses them."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditHead, Comment, HumanTask, ProcessInstance
from tests.audit.helpers import add_user, run_plan
from tests.conftest import ApiClient
from tests.factories import mo_plan

_WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# The auditor's own account: signing in and out, password, own notifications and settings.
_OWN_ACCOUNT = ("/api/v1/auth/", "/api/v1/me/", "/api/v1/notifications/")


def _write_endpoints(app: Flask) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or (rule.rule + "/").startswith(_OWN_ACCOUNT):
            continue
        for method in sorted((rule.methods or set()) & _WRITE_METHODS):
            found.append((method, rule.rule))
    return sorted(found)


def _fill(rule: str, ids: dict[str, int]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(2)
        for key, number in ids.items():
            if key in name:
                return str(number)
        return "1"

    return re.sub(r"<(?:(\w+):)?(\w+)>", value, rule)


def _state(app: Flask) -> tuple[Any, ...]:
    with app.app_context():
        return (
            db.session.execute(select(AuditHead.last_seq)).scalar(),
            db.session.execute(select(func.count(ProcessInstance.id))).scalar(),
            db.session.execute(select(func.count(Comment.id))).scalar(),
            tuple(
                db.session.execute(
                    select(HumanTask.id, HumanTask.status, HumanTask.claimed_by_id).order_by(
                        HumanTask.id
                    )
                ).all()
            ),
        )


def _body(method: str, rule: str, unit_id: int) -> dict[str, Any]:
    if rule.endswith("/attachments") or rule.endswith("/processes"):
        files = {"file": (io.BytesIO(b"data"), "a.txt"), "files": (io.BytesIO(b"<x/>"), "a.bpmn")}
        return {"data": files, "content_type": "multipart/form-data"}
    payload = {
        "process_key": "mo_plan_approval",
        "org_unit_id": unit_id,
        "data": mo_plan(),
        "username": "methodical_council.gatchina-school-1",
        "body": "Комментарий аудитора",
    }
    return {"json": payload}


def test_the_api_has_write_endpoints_to_check(seeded: Flask) -> None:
    endpoints = _write_endpoints(seeded)
    assert ("POST", "/api/v1/instances") in endpoints
    assert ("POST", "/api/v1/tasks/<int:task_id>/complete") in endpoints
    assert len(endpoints) >= 8


@pytest.mark.parametrize("auditor", ["auditor", "auditor.gatchina"])
def test_every_write_endpoint_refuses_an_auditor(
    api: ApiClient, seeded: Flask, auditor: str
) -> None:
    add_user(seeded, "auditor.gatchina", [("auditor", "gatchina")])
    instance_id = run_plan(api, "gatchina-school-1", finish=False)
    task_id = api.get(f"/instances/{instance_id}", "auditor").get_json()["tasks"][0]["id"]
    api.token(auditor)  # signing in is allowed (and audited) before the state is taken
    ids = {"instance": instance_id, "task": task_id, "attachment": 1, "user": 1, "grant": 1}
    unit_id = api.unit_id("gatchina-school-1")
    before = _state(seeded)
    refused = []
    for method, rule in _write_endpoints(seeded):
        path = _fill(rule, ids).removeprefix("/api/v1")
        resp = api.call(method, path, auditor, **_body(method, rule, unit_id))
        assert resp.status_code == 403, (method, rule, resp.status_code, resp.get_json())
        assert "только на чтение" in resp.get_json()["message"]
        refused.append(rule)
    assert _state(seeded) == before  # nothing changed, nothing recorded
    assert len(refused) == len(_write_endpoints(seeded))


def test_an_auditor_who_also_holds_a_working_role_may_work(api: ApiClient, seeded: Flask) -> None:
    add_user(
        seeded,
        "auditor.and.head",
        [("auditor", "gatchina"), ("mo_head", "gatchina-school-1")],
    )
    resp = api.post(
        "/instances",
        "auditor.and.head",
        json={
            "process_key": "mo_plan_approval",
            "org_unit_id": api.unit_id("gatchina-school-1"),
            "data": {},
        },
    )
    assert resp.status_code == 201, resp.get_json()


def test_auditors_still_sign_in_and_out(api: ApiClient) -> None:
    token = api.token("auditor")
    resp = api.client.delete("/api/v1/auth/token", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 204
