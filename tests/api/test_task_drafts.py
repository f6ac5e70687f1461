"""The draft of a task form through the API: saved unvalidated for the caller only, read
back, cleared by completion or on request."""

from __future__ import annotations

from tests.conftest import ApiClient
from tests.factories import mo_plan

SCHOOL = "gatchina-school-1"
MO_HEAD = f"mo_head.{SCHOOL}"


def test_draft_round_trip_and_cleared_on_completion(api: ApiClient) -> None:
    unit = api.unit_id(SCHOOL)
    started = api.post(
        "/instances", MO_HEAD, json={"process_key": "mo_plan_approval", "org_unit_id": unit}
    ).get_json()
    task = started["tasks"][0]["id"]
    assert api.get(f"/tasks/{task}/draft", MO_HEAD).get_json()["data"] == {}

    # Invalid values are kept; undeclared keys are dropped.
    body = {"data": {"school_year": "не год", "members": [{"full_name": "Иванова"}], "x": 1}}
    saved = api.call("PUT", f"/tasks/{task}/draft", MO_HEAD, json=body)
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["data"] == {
        "school_year": "не год",
        "members": [{"full_name": "Иванова"}],
    }
    read = api.get(f"/tasks/{task}/draft", MO_HEAD).get_json()
    assert read["data"]["school_year"] == "не год" and read["saved_at"]
    assert api.call("PUT", f"/tasks/{task}/draft", MO_HEAD, json={"data": []}).status_code == 422

    # Nobody else reads it: other schools do not see the task, supervisors may not hold drafts.
    assert api.get(f"/tasks/{task}/draft", "mo_head.gatchina-school-2").status_code == 404
    assert api.get(f"/tasks/{task}/draft", "admin").status_code == 403

    assert api.post(f"/tasks/{task}/complete", MO_HEAD, json={"data": mo_plan()}).status_code == 200
    assert api.get(f"/tasks/{task}/draft", MO_HEAD).status_code == 409  # the task is done
    history = api.get(f"/instances/{started['id']}/history", "auditor").get_json()
    assert [e["kind"] for e in history].count("task_draft_saved") == 1


def test_draft_deleted_on_request(api: ApiClient) -> None:
    unit = api.unit_id(SCHOOL)
    started = api.post(
        "/instances", MO_HEAD, json={"process_key": "mo_plan_approval", "org_unit_id": unit}
    ).get_json()
    task = started["tasks"][0]["id"]
    api.call("PUT", f"/tasks/{task}/draft", MO_HEAD, json={"data": {"mo_name": "МО"}})
    assert api.call("DELETE", f"/tasks/{task}/draft", MO_HEAD).status_code == 204
    assert api.get(f"/tasks/{task}/draft", MO_HEAD).get_json()["data"] == {}
