"""GET /api/v1/audit: every filter, pagination, and the reader's scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from tests.audit.helpers import add_user, run_plan
from tests.conftest import ApiClient


def _events(api: ApiClient, user: str, query: str = "") -> dict[str, Any]:
    resp = api.get(f"/audit?per_page=500{query}", user)
    assert resp.status_code == 200, resp.get_json()
    return dict(resp.get_json())


def _kinds(page: dict[str, Any]) -> set[str]:
    return {e["kind"] for e in page["items"]}


def test_filters_by_instance_process_actor_kind(api: ApiClient) -> None:
    first = run_plan(api, "gatchina-school-1")
    second = run_plan(api, "gatchina-school-2", finish=False)

    by_instance = _events(api, "auditor", f"&instance_id={first}")
    assert by_instance["total"] == len(by_instance["items"]) > 0
    assert {e["instance_id"] for e in by_instance["items"]} == {first}
    assert {"instance_started", "task_completed", "instance_completed"} <= _kinds(by_instance)

    by_process = _events(api, "auditor", "&process_key=mo_plan_approval")
    assert {e["instance_id"] for e in by_process["items"]} == {first, second}
    assert _events(api, "auditor", "&process_key=roadmap_approval")["total"] == 0

    by_actor = _events(api, "auditor", "&actor=methodical_council.gatchina-school-2")
    assert by_actor["items"] and {e["actor"] for e in by_actor["items"]} == {
        "methodical_council.gatchina-school-2"
    }
    # their login, claim and completion, and the next step their completion offered
    assert _kinds(by_actor) == {
        "login_succeeded",
        "task_claimed",
        "task_completed",
        "task_offered",
    }

    one_kind = _events(api, "auditor", "&kind=task_claimed")
    assert _kinds(one_kind) == {"task_claimed"} and one_kind["total"] == 2
    two_kinds = _events(api, "auditor", "&kind=task_claimed,instance_completed")
    assert _kinds(two_kinds) == {"task_claimed", "instance_completed"}
    assert two_kinds["total"] == 3


def test_filter_by_org_unit_takes_the_subtree(api: ApiClient) -> None:
    gatchina_school = run_plan(api, "gatchina-school-1", finish=False)
    luga_school = run_plan(api, "luga-school-2", finish=False)
    municipality = _events(api, "auditor", f"&org_unit_id={api.unit_id('gatchina')}")
    instances = {e["instance_id"] for e in municipality["items"]}
    assert gatchina_school in instances and luga_school not in instances
    school = _events(api, "auditor", f"&org_unit_id={api.unit_id('luga-school-2')}")
    assert {e["instance_id"] for e in school["items"]} == {luga_school}
    assert _events(api, "auditor", f"&org_unit_id={api.unit_id('luga-school-1')}")["total"] == 0


def test_filter_by_period(api: ApiClient) -> None:
    run_plan(api, "gatchina-school-1", finish=False)
    everything = _events(api, "auditor")["items"]
    middle = everything[len(everything) // 2]
    moment = middle["occurred_at"]
    since = _events(api, "auditor", f"&since={_q(moment)}")["items"]
    until = _events(api, "auditor", f"&until={_q(moment)}")["items"]
    assert since and until
    assert all(e["occurred_at"] >= moment for e in since)
    assert all(e["occurred_at"] < moment for e in until)
    assert len(since) + len(until) == len(everything)
    future = datetime.now(UTC) + timedelta(days=1)
    assert _events(api, "auditor", f"&since={_q(future.isoformat())}")["total"] == 0


def _q(moment: str) -> str:
    return moment.replace("+", "%2B")


def test_pagination(api: ApiClient) -> None:
    run_plan(api, "gatchina-school-1")
    total = _events(api, "auditor")["total"]
    assert total > 6
    seen: list[int] = []
    for page in (1, 2, 3):
        resp = api.get(f"/audit?per_page=3&page={page}", "auditor").get_json()
        assert resp["page"] == page and resp["per_page"] == 3 and resp["total"] == total
        seen.extend(e["seq"] for e in resp["items"])
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 9
    beyond = api.get(f"/audit?per_page=3&page={total}", "auditor").get_json()
    assert beyond["items"] == [] and beyond["total"] == total


def test_auditor_of_one_municipality_sees_nothing_of_another(api: ApiClient, seeded: Flask) -> None:
    add_user(seeded, "auditor.gatchina", [("auditor", "gatchina")])
    gatchina = run_plan(api, "gatchina-school-1")
    luga = run_plan(api, "luga-school-1")
    page = _events(api, "auditor.gatchina")
    assert page["items"]
    assert {e["instance_id"] for e in page["items"]} == {gatchina}
    assert all(e["org_unit_id"] is not None for e in page["items"])  # logins, deploys: region
    assert _events(api, "auditor.gatchina", f"&instance_id={luga}")["total"] == 0
    luga_id = api.unit_id("luga")
    assert _events(api, "auditor.gatchina", f"&org_unit_id={luga_id}")["total"] == 0
    assert (
        _events(api, "auditor.gatchina", "&process_key=mo_plan_approval")["total"] == page["total"]
    )
    # the same instance's timeline and history are not found for them either
    assert api.get(f"/instances/{luga}/timeline", "auditor.gatchina").status_code == 404
    assert api.get(f"/instances/{luga}/history", "auditor.gatchina").status_code == 404
    # the region's auditor sees both, and the unit-less events
    region = _events(api, "auditor")
    assert {gatchina, luga} <= {e["instance_id"] for e in region["items"]}
    assert any(e["org_unit_id"] is None for e in region["items"])


def test_only_auditors_and_admins_read_the_log(api: ApiClient) -> None:
    assert api.get("/audit", "mo_head.gatchina-school-1").status_code == 403
    assert api.get("/audit/verify", "director.luga-school-1").status_code == 403
    assert api.get("/audit/export", "designer").status_code == 403
    assert api.get("/audit").status_code == 401
    assert api.get("/audit", "admin").status_code == 200


def test_bad_filters_are_422(api: ApiClient) -> None:
    for query in ("instance_id=x", "since=yesterday", "per_page=0", "org_unit_id=1.5"):
        resp = api.get(f"/audit?{query}", "auditor")
        assert resp.status_code == 422, query
        assert resp.get_json()["errors"], query
    assert api.get("/audit?since=2026-01-01T00:00:00", "auditor").status_code == 422  # no zone
