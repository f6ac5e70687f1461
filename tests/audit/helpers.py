"""Shared steps of the audit tests: a finished mo_plan_approval, extra users, raw edits."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import OrgUnit, RoleGrant, User
from app.services.auth import hash_password
from tests.conftest import DEMO_PASSWORD, ApiClient
from tests.factories import mo_plan

COUNCIL_APPROVE = {"council_decision": "approve", "council_comment": "Одобрено"}
DIRECTOR_APPROVE = {"approval_decision": "approve", "approval_order_number": "12-о"}


def only_task(instance: dict[str, Any]) -> dict[str, Any]:
    assert len(instance["tasks"]) == 1, instance["tasks"]
    return dict(instance["tasks"][0])


def start_plan(api: ApiClient, school: str) -> dict[str, Any]:
    resp = api.post(
        "/instances",
        f"mo_head.{school}",
        json={
            "process_key": "mo_plan_approval",
            "org_unit_id": api.unit_id(school),
            "data": {"approver_role": "director"},
        },
    )
    assert resp.status_code == 201, resp.get_json()
    return dict(resp.get_json())


def complete(api: ApiClient, user: str, task_id: int, data: dict[str, Any]) -> dict[str, Any]:
    resp = api.post(f"/tasks/{task_id}/complete", user, json={"data": data})
    assert resp.status_code == 200, resp.get_json()
    return dict(resp.get_json()["instance"])


def run_plan(api: ApiClient, school: str = "gatchina-school-1", *, finish: bool = True) -> int:
    """A mo_plan_approval at a school through its straight path (claiming the council step)."""
    instance = start_plan(api, school)
    draft = only_task(instance)
    instance = complete(api, f"mo_head.{school}", draft["id"], mo_plan())
    council = only_task(instance)
    claim = api.post(f"/tasks/{council['id']}/claim", f"methodical_council.{school}")
    assert claim.status_code == 200, claim.get_json()
    instance = complete(api, f"methodical_council.{school}", council["id"], COUNCIL_APPROVE)
    if finish:
        approval = only_task(instance)
        instance = complete(api, f"director.{school}", approval["id"], DIRECTOR_APPROVE)
        assert instance["status"] == "completed"
    return int(instance["id"])


def add_user(app: Flask, username: str, grants: list[tuple[str, str]]) -> None:
    """A user with the demo password and the given (role, unit slug) grants."""
    with app.app_context():
        user = User(
            username=username, full_name=username, password_hash=hash_password(DEMO_PASSWORD)
        )
        db.session.add(user)
        db.session.flush()
        for role, slug in grants:
            unit = db.session.execute(select(OrgUnit).where(OrgUnit.slug == slug)).scalar_one()
            db.session.add(RoleGrant(user_id=user.id, role=role, org_unit_id=unit.id))
        db.session.commit()
