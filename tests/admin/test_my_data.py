"""GET /api/v1/me/data: a user sees and downloads what the system holds about them."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent

USER = "mo_head.gatchina-school-1"


def test_my_data_shows_profile_grants_tasks_and_own_events(api: Any) -> None:
    school = api.unit_id("gatchina-school-1")
    started = api.post(
        "/instances", USER, json={"process_key": "mo_plan_approval", "org_unit_id": school}
    )
    assert started.status_code == 201, started.get_json()
    resp = api.get("/me/data", USER)
    assert resp.status_code == 200 and "attachment" not in resp.headers.get(
        "Content-Disposition", ""
    )
    data = resp.get_json()
    assert data["profile"]["username"] == USER and data["profile"]["auth_source"] == "local"
    assert [g["role"] for g in data["grants"]] == ["mo_head"]
    assert data["tasks"] and data["tasks"][0]["process_key"] == "mo_plan_approval"
    kinds = {e["kind"] for e in data["audit_events"]}
    assert {"login_succeeded", "instance_started"} <= kinds
    assert "password_hash" not in json.dumps(data)
    # Only the caller's own events: nothing done by others.
    with api.client.application.app_context():
        own = db.session.execute(
            select(AuditEvent.seq).where(AuditEvent.actor_username == USER)
        ).scalars()
        assert {e["seq"] for e in data["audit_events"]} <= set(own)


def test_my_data_download_is_an_attachment_and_audited(api: Any) -> None:
    resp = api.get("/me/data?download=true", USER)
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"] == f'attachment; filename="my-data-{USER}.json"'
    assert json.loads(resp.get_data(as_text=True))["profile"]["username"] == USER
    with api.client.application.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.kind == "own_data_requested")
        ).scalar_one()
        assert event.payload == {"download": True} and event.actor_username == USER


def test_my_data_needs_login(api: Any) -> None:
    assert api.get("/me/data").status_code == 401
