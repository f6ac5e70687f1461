"""Every path of mo_plan_approval through the REST API, with who was offered each task."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ApiClient
from tests.factories import mo_plan

SCHOOL = "gatchina-school-1"


def _start(api: ApiClient, **data: Any) -> dict[str, Any]:
    resp = api.post(
        "/instances",
        f"mo_head.{SCHOOL}",
        json={"process_key": "mo_plan_approval", "org_unit_id": api.unit_id(SCHOOL), "data": data},
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _only_task(instance: dict[str, Any]) -> dict[str, Any]:
    assert len(instance["tasks"]) == 1, instance["tasks"]
    return instance["tasks"][0]


def _offered(api: ApiClient, task_id: int) -> list[str]:
    history = api.get(f"/instances/{_instance_of(api, task_id)}/history", "auditor").get_json()
    offers = [e for e in history if e["kind"] == "task_offered" and e["task_id"] == task_id]
    assert len(offers) == 1
    return offers[0]["payload"]["offered_to"]


_TASK_INSTANCE: dict[int, int] = {}


def _steps(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Audit events without the access records the auditor's own reads leave."""
    return [e for e in history if e["kind"] != "personal_data_viewed"]


def _instance_of(api: ApiClient, task_id: int) -> int:
    return _TASK_INSTANCE[task_id]


def _complete(
    api: ApiClient, user: str, task: dict[str, Any], data: dict[str, Any], instance_id: int
) -> dict[str, Any]:
    _TASK_INSTANCE[task["id"]] = instance_id
    assert _offered(api, task["id"]) == [user]
    mine = api.get("/tasks?scope=mine", user).get_json()
    assert task["id"] in [t["id"] for t in mine["items"]]
    resp = api.post(f"/tasks/{task['id']}/complete", user, json={"data": data})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["instance"]


def _approve_council(api: ApiClient, instance: dict[str, Any]) -> dict[str, Any]:
    task = _only_task(instance)
    assert task["bpmn_id"] == "Task_council_review" and task["lane"] == "methodical_council"
    return _complete(
        api,
        f"methodical_council.{SCHOOL}",
        task,
        {"council_decision": "approve", "council_comment": "Одобрено"},
        instance["id"],
    )


@pytest.mark.parametrize("approver", ["director", "deputy_director"])
def test_straight_approval(api: ApiClient, approver: str) -> None:
    instance = _start(api, approver_role=approver)
    draft = _only_task(instance)
    assert draft["bpmn_id"] == "Task_draft" and draft["lane"] == "mo_head"
    assert draft["due_at"] is not None
    instance = _complete(api, f"mo_head.{SCHOOL}", draft, mo_plan(), instance["id"])
    instance = _approve_council(api, instance)
    approval = _only_task(instance)
    assert approval["lane"] == approver
    instance = _complete(
        api,
        f"{approver}.{SCHOOL}",
        approval,
        {"approval_decision": "approve", "approval_order_number": "12-о"},
        instance["id"],
    )
    assert instance["status"] == "completed"
    assert instance["tasks"] == []
    history = _steps(api.get(f"/instances/{instance['id']}/history", "auditor").get_json())
    kinds = [e["kind"] for e in history]
    assert kinds[0] == "instance_started" and kinds[-1] == "instance_completed"
    final = history[-1]["payload"]["data"]
    assert final["plan_status"] == "approved"
    assert [h["decision"] for h in final["review_history"]] == ["approve", "approve"]
    assert final["members"] == mo_plan()["members"]
    assert api.get("/audit/verify", "auditor").get_json()["ok"] is True


def test_council_returns_then_approves(api: ApiClient) -> None:
    instance = _start(api)
    instance = _complete(api, f"mo_head.{SCHOOL}", _only_task(instance), mo_plan(), instance["id"])
    review = _only_task(instance)
    instance = _complete(
        api,
        f"methodical_council.{SCHOOL}",
        review,
        {"council_decision": "return", "council_comment": "Добавьте заседание"},
        instance["id"],
    )
    redraft = _only_task(instance)
    assert redraft["bpmn_id"] == "Task_draft"
    detail = api.get(f"/tasks/{redraft['id']}", f"mo_head.{SCHOOL}").get_json()
    assert detail["data"]["council_comment"] == "Добавьте заседание"
    assert detail["form"]["properties"]["members"]["minItems"] == 3
    instance = _complete(
        api, f"mo_head.{SCHOOL}", redraft, mo_plan(theme="Новая тема"), instance["id"]
    )
    instance = _approve_council(api, instance)
    instance = _complete(
        api,
        f"director.{SCHOOL}",
        _only_task(instance),
        {"approval_decision": "approve"},
        instance["id"],
    )
    assert instance["status"] == "completed"
    history = _steps(api.get(f"/instances/{instance['id']}/history", "auditor").get_json())
    final = history[-1]["payload"]["data"]
    assert [h["decision"] for h in final["review_history"]] == ["return", "approve", "approve"]
    assert final["theme"] == "Новая тема"


def test_approver_returns_then_approves(api: ApiClient) -> None:
    instance = _start(api)
    instance = _complete(api, f"mo_head.{SCHOOL}", _only_task(instance), mo_plan(), instance["id"])
    instance = _approve_council(api, instance)
    instance = _complete(
        api,
        f"director.{SCHOOL}",
        _only_task(instance),
        {"approval_decision": "return", "approval_comment": "Уточните цели"},
        instance["id"],
    )
    redraft = _only_task(instance)
    assert redraft["bpmn_id"] == "Task_draft"
    instance = _complete(api, f"mo_head.{SCHOOL}", redraft, mo_plan(), instance["id"])
    instance = _approve_council(api, instance)
    instance = _complete(
        api,
        f"director.{SCHOOL}",
        _only_task(instance),
        {"approval_decision": "approve"},
        instance["id"],
    )
    assert instance["status"] == "completed"


def test_plan_rules_are_enforced(api: ApiClient) -> None:
    instance = _start(api)
    task = _only_task(instance)
    user = f"mo_head.{SCHOOL}"
    resp = api.post(
        f"/tasks/{task['id']}/complete",
        user,
        json={
            "data": mo_plan(members=mo_plan()["members"][:2], meetings=mo_plan()["meetings"][:3])
        },
    )
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert "members" in errors and "meetings" in errors
    assert "не менее 3" in errors["members"][0]
    assert "не менее 4" in errors["meetings"][0]
    again = api.get(f"/instances/{instance['id']}", user).get_json()
    assert again["tasks"][0]["id"] == task["id"]


def test_council_return_requires_comment(api: ApiClient) -> None:
    instance = _start(api)
    instance = _complete(api, f"mo_head.{SCHOOL}", _only_task(instance), mo_plan(), instance["id"])
    review = _only_task(instance)
    resp = api.post(
        f"/tasks/{review['id']}/complete",
        f"methodical_council.{SCHOOL}",
        json={"data": {"council_decision": "return"}},
    )
    assert resp.status_code == 422
    assert "council_comment" in resp.get_json()["errors"]


def test_other_school_is_not_offered(api: ApiClient) -> None:
    instance = _start(api)
    task = _only_task(instance)
    other = "mo_head.gatchina-school-2"
    assert api.get("/tasks?scope=mine", other).get_json()["total"] == 0
    resp = api.post(f"/tasks/{task['id']}/complete", other, json={"data": mo_plan()})
    assert resp.status_code == 404
    assert api.get(f"/instances/{instance['id']}", other).status_code == 404
