"""GET /api/v1/instances/<id>/timeline: steps in order, who and when, durations, legal basis,
and the diagram path taken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from app.services.timeline import Step
from tests.audit.helpers import (
    COUNCIL_APPROVE,
    DIRECTOR_APPROVE,
    add_user,
    complete,
    only_task,
    run_plan,
    start_plan,
)
from tests.conftest import ApiClient
from tests.factories import mo_plan

SCHOOL = "gatchina-school-1"


def _timeline(api: ApiClient, instance_id: int, user: str = "auditor") -> dict[str, Any]:
    resp = api.get(f"/instances/{instance_id}/timeline", user)
    assert resp.status_code == 200, resp.get_json()
    return dict(resp.get_json())


def _at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def test_timeline_of_a_finished_instance(api: ApiClient) -> None:
    instance_id = run_plan(api, SCHOOL)
    story = _timeline(api, instance_id)
    assert story["instance"]["status"] == "completed"
    assert story["instance"]["started_by"] == f"mo_head.{SCHOOL}"
    steps = story["steps"]
    assert [s["bpmn_id"] for s in steps] == [
        "Task_draft",
        "Task_council_review",
        "Task_approve_director",
    ]
    who = [(s["completed_by"], s["lane"]) for s in steps]
    assert who == [
        (f"mo_head.{SCHOOL}", "mo_head"),
        (f"methodical_council.{SCHOOL}", "methodical_council"),
        (f"director.{SCHOOL}", "director"),
    ]
    for step in steps:
        assert step["status"] == "completed"
        assert "seeds/" in step["legal_basis"]  # every step carries its legal basis
        assert step["offered_to"] and step["offered_at"] and step["completed_at"]
        offered, done = _at(step["offered_at"]), _at(step["completed_at"])
        assert step["duration_seconds"] == int((done - offered).total_seconds())
        assert [e["kind"] for e in step["events"]][0] == "task_offered"
        assert [e["kind"] for e in step["events"]][-1] == "task_completed"
    council = steps[1]
    claimed = _at(council["claimed_at"])
    assert council["claimed_by"] == f"methodical_council.{SCHOOL}"
    assert council["waiting_seconds"] == int((claimed - _at(council["offered_at"])).total_seconds())
    assert council["work_seconds"] == int((_at(council["completed_at"]) - claimed).total_seconds())
    assert steps[0]["claimed_at"] is None and steps[0]["work_seconds"] is None
    assert council["data"] == COUNCIL_APPROVE
    assert steps[2]["data"]["approval_order_number"] == DIRECTOR_APPROVE["approval_order_number"]
    # the step times follow one another
    assert _at(steps[0]["completed_at"]) <= _at(steps[1]["offered_at"])
    # the diagram path: every element passed, in order, including gateways and scripts
    path = story["path"]
    assert path[0].startswith("StartEvent") and path[-1] == "EndEvent_approved"
    order = [path.index(s["bpmn_id"]) for s in steps]
    assert order == sorted(order)
    assert "Gateway_council_decision" in path
    assert path.index("Task_council_review") < path.index("Gateway_council_decision")
    assert story["current"] == []
    kinds = {e["kind"] for e in story["events"]}
    assert {"instance_started", "instance_completed"} <= kinds


def test_timeline_follows_a_return_loop_and_a_delegation(api: ApiClient, seeded: Flask) -> None:
    add_user(seeded, "council.second", [("methodical_council", SCHOOL)])
    instance = start_plan(api, SCHOOL)
    instance = complete(api, f"mo_head.{SCHOOL}", only_task(instance)["id"], mo_plan())
    council = only_task(instance)
    resp = api.post(
        f"/tasks/{council['id']}/delegate",
        f"methodical_council.{SCHOOL}",
        json={"username": "council.second"},
    )
    assert resp.status_code == 200, resp.get_json()
    instance = complete(
        api,
        "council.second",
        council["id"],
        {"council_decision": "return", "council_comment": "Добавьте заседание"},
    )
    redraft = only_task(instance)
    assert redraft["bpmn_id"] == "Task_draft"
    story = _timeline(api, instance["id"], "admin")
    steps = story["steps"]
    assert [s["bpmn_id"] for s in steps] == ["Task_draft", "Task_council_review", "Task_draft"]
    delegated = steps[1]
    assert delegated["claimed_by"] == "council.second"
    assert delegated["completed_by"] == "council.second"
    delegation = next(e for e in delegated["events"] if e["kind"] == "task_delegated")
    assert delegation["before"] is None and delegation["after"] == "council.second"
    assert delegation["actor"] == f"methodical_council.{SCHOOL}"
    open_step = steps[2]
    assert open_step["status"] == "open" and open_step["completed_at"] is None
    assert open_step["duration_seconds"] is not None and open_step["duration_seconds"] >= 0
    assert story["current"] == ["Task_draft"]
    path = story["path"]
    assert path.count("Task_draft") == 1  # the open one is not completed yet
    assert path.index("Task_council_review") < len(path) - 1


def test_timeline_is_for_those_who_may_see_the_instance(api: ApiClient) -> None:
    instance_id = run_plan(api, SCHOOL, finish=False)
    assert api.get(f"/instances/{instance_id}/timeline", f"mo_head.{SCHOOL}").status_code == 200
    assert api.get(f"/instances/{instance_id}/timeline", "mo_head.luga-school-1").status_code == 404
    assert api.get(f"/instances/{instance_id}/timeline").status_code == 401
    assert api.get("/instances/999999/timeline", "auditor").status_code == 404


def test_step_durations() -> None:
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    now = t0 + timedelta(days=10)
    done = Step(
        1, "T", "t", "lane", 1, "completed", "", offered_at=t0, due_at=t0 + timedelta(days=2)
    )
    done.claimed_at = t0 + timedelta(hours=5)
    done.completed_at = t0 + timedelta(days=3)
    done.finish(now)
    assert (done.waiting_seconds, done.work_seconds, done.duration_seconds) == (
        5 * 3600,
        3 * 86400 - 5 * 3600,
        3 * 86400,
    )
    assert done.overdue is True
    unclaimed = Step(2, "T", "t", None, 1, "completed", "", offered_at=t0)
    unclaimed.completed_at = t0 + timedelta(hours=1)
    unclaimed.finish(now)
    assert (unclaimed.waiting_seconds, unclaimed.work_seconds) == (3600, None)
    waiting = Step(3, "T", "t", None, 1, "open", "", offered_at=t0, due_at=now + timedelta(days=1))
    waiting.finish(now)
    assert waiting.waiting_seconds == waiting.duration_seconds == 10 * 86400
    assert waiting.work_seconds is None and waiting.overdue is False
    cancelled = Step(4, "T", "t", None, 1, "cancelled", "", offered_at=t0)
    cancelled.cancelled_at = t0 + timedelta(minutes=30)
    cancelled.finish(now)
    assert cancelled.duration_seconds == 1800 and cancelled.waiting_seconds is None
