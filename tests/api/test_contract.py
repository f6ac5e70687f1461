"""The REST contract of DESIGN.md: auth, me, org units, processes, claims, audit."""

from __future__ import annotations

from typing import Any

from tests.conftest import ApiClient
from tests.factories import mo_plan

SCHOOL = "gatchina-school-1"


def test_openapi_is_served(api: ApiClient) -> None:
    spec = api.client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in ["/api/v1/instances", "/api/v1/tasks/{task_id}/complete", "/api/v1/audit/verify"]:
        assert path in spec["paths"]


def test_me_and_org_units(api: ApiClient) -> None:
    me = api.get("/me", f"director.{SCHOOL}").get_json()
    assert me["username"] == f"director.{SCHOOL}"
    assert me["grants"] == [
        {"role": "director", "org_unit_id": api.unit_id(SCHOOL), "org_unit_slug": SCHOOL}
    ]
    units = api.get("/org-units", f"director.{SCHOOL}").get_json()
    slugs = {u["slug"]: u for u in units}
    assert set(slugs) == {
        "lenobl", "gatchina", "luga", "gatchina-school-1", "gatchina-school-2",
        "luga-school-1", "luga-school-2",
    }  # fmt: skip
    assert slugs["gatchina"]["parent_id"] == slugs["lenobl"]["id"]
    assert slugs["lenobl"]["tier"] == "region"


def test_processes_list(api: ApiClient) -> None:
    processes = api.get("/processes", "teacher.luga-school-1").get_json()
    mo = next(p for p in processes if p["key"] == "mo_plan_approval")
    assert mo["version"] == 1 and mo["name"]


def _start(api: ApiClient) -> dict[str, Any]:
    return api.post(
        "/instances",
        f"mo_head.{SCHOOL}",
        json={"process_key": "mo_plan_approval", "org_unit_id": api.unit_id(SCHOOL)},
    ).get_json()


def test_claim_unclaim_delegate(api: ApiClient, seeded: Any) -> None:
    from app.extensions import db
    from app.models import OrgUnit, RoleGrant, User
    from app.services.auth import hash_password
    from tests.conftest import DEMO_PASSWORD

    with seeded.app_context():
        unit = db.session.query(OrgUnit).filter_by(slug=SCHOOL).one()
        colleague = User(username="mo_head2", password_hash=hash_password(DEMO_PASSWORD))
        db.session.add(colleague)
        db.session.flush()
        db.session.add(RoleGrant(user_id=colleague.id, role="mo_head", org_unit_id=unit.id))
        db.session.commit()
    instance = _start(api)
    task = instance["tasks"][0]
    me = f"mo_head.{SCHOOL}"
    claimed = api.post(f"/tasks/{task['id']}/claim", me).get_json()
    assert claimed["claimed_by"] == me
    assert api.post(f"/tasks/{task['id']}/claim", "mo_head2").status_code == 409
    assert api.post(f"/tasks/{task['id']}/unclaim", me).get_json()["claimed_by"] is None
    resp = api.post(f"/tasks/{task['id']}/delegate", me, json={"username": "teacher.luga-school-1"})
    assert resp.status_code == 422
    resp = api.post(f"/tasks/{task['id']}/delegate", me, json={"username": "mo_head2"})
    assert resp.status_code == 200 and resp.get_json()["claimed_by"] == "mo_head2"
    assert (
        api.post(f"/tasks/{task['id']}/complete", me, json={"data": mo_plan()}).status_code == 403
    )
    done = api.post(f"/tasks/{task['id']}/complete", "mo_head2", json={"data": mo_plan()})
    assert done.status_code == 200
    kinds = [
        e["kind"] for e in api.get(f"/instances/{instance['id']}/history", "auditor").get_json()
    ]
    for kind in ["task_claimed", "task_unclaimed", "task_delegated", "task_completed"]:
        assert kind in kinds


def test_task_lists_and_detail(api: ApiClient) -> None:
    instance = _start(api)
    mine = api.get("/tasks?scope=mine", f"mo_head.{SCHOOL}").get_json()
    assert mine["total"] == 1 and mine["page"] == 1 and mine["per_page"] == 50
    item = mine["items"][0]
    assert item["instance_id"] == instance["id"]
    assert item["process_key"] == "mo_plan_approval"
    assert item["lane"] == "mo_head" and item["claimed_by"] is None
    detail = api.get(f"/tasks/{item['id']}", f"mo_head.{SCHOOL}").get_json()
    assert detail["form"]["type"] == "object"
    assert detail["data"]["approver_role"] == "director"
    assert "Основание" in detail["documentation"] or "seeds/" in detail["documentation"]
    assert api.get("/tasks?scope=bogus", f"mo_head.{SCHOOL}").status_code == 422


def test_instance_view(api: ApiClient) -> None:
    instance = _start(api)
    got = api.get(f"/instances/{instance['id']}", f"mo_head.{SCHOOL}").get_json()
    assert got["status"] == "running" and got["version"] == 1
    assert got["title"].startswith("Согласование") and "Гатчинская" in got["title"]
    assert got["org_unit_id"] == api.unit_id(SCHOOL)
    assert api.get(f"/instances/{instance['id']}", "mo_head.luga-school-1").status_code == 404


def test_audit_filters_and_scope(api: ApiClient) -> None:
    instance = _start(api)
    page = api.get(f"/audit?instance_id={instance['id']}", "auditor").get_json()
    assert page["total"] >= 2
    assert {e["instance_id"] for e in page["items"]} == {instance["id"]}
    started = api.get("/audit?kind=instance_started", "auditor").get_json()
    assert started["total"] == 1
    by_actor = api.get(f"/audit?actor=mo_head.{SCHOOL}", "auditor").get_json()
    assert all(e["actor"] == f"mo_head.{SCHOOL}" for e in by_actor["items"])
    assert api.get("/audit?since=2000-01-01T00:00:00Z", "auditor").get_json()["total"] > 0
    assert api.get("/audit?until=2000-01-01T00:00:00Z", "auditor").get_json()["total"] == 0
    assert api.get("/audit", f"mo_head.{SCHOOL}").status_code == 403
    assert api.get("/audit/verify", f"director.{SCHOOL}").status_code == 403
    verify = api.get("/audit/verify", "admin").get_json()
    assert verify["ok"] is True and verify["first_bad_seq"] is None and verify["checked"] > 0
