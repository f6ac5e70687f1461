"""Versions: identical content is no new version, running instances stay put, compare."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from app.models import ProcessInstance
from app.services import deployment, designer, instances, process_compare

from .helpers import KEY, multipart, unit, user, v1_bundle, v2_bundle


def _start(username: str = "teacher.gatchina-school-1") -> ProcessInstance:
    return instances.start_instance(user(username), KEY, unit("gatchina-school-1").id, {})


def test_identical_upload_is_not_a_new_version(api: Any) -> None:
    first = api.post("/processes", "designer", **multipart(v1_bundle()))
    assert first.status_code == 201, first.get_json()
    assert (first.get_json()["version"], first.get_json()["created"]) == (1, True)
    again = api.post("/processes", "designer", **multipart(v1_bundle()))
    assert again.status_code == 201
    assert (again.get_json()["version"], again.get_json()["created"]) == (1, False)
    versions = api.get(f"/processes/{KEY}/versions", "designer").get_json()
    assert [v["version"] for v in versions] == [1]
    assert versions[0]["deployed_by"] == "designer"
    assert versions[0]["latest"] is True


def test_new_version_leaves_running_instances_alone(ctx: Any) -> None:
    designer_user = user("designer")
    deployment.deploy(v1_bundle(), designer_user)
    running = _start()
    state_before = running.state
    outcomes, _ = deployment.deploy(v2_bundle(), designer_user)
    assert [(o.version, o.created) for o in outcomes] == [(2, True)]
    db.session.refresh(running)
    assert running.version.version == 1
    assert running.state == state_before
    fresh = _start()
    assert fresh.version.version == 2
    versions = designer.list_versions(designer_user, KEY)
    assert [(v["version"], v["instances"]["active"], v["latest"]) for v in versions] == [
        (2, 1, True),
        (1, 1, False),
    ]
    assert versions[1]["deployed_by"] == "designer" and versions[1]["deployed_at"] is not None
    workspace = {p["key"]: p for p in designer.workspace(designer_user)}
    assert workspace[KEY]["versions"] == 2
    assert workspace[KEY]["active_total"] == 2
    assert [v["version"] for v in workspace[KEY]["instances_by_version"]] == [2, 1]


def test_compare_lists_elements_flows_lanes_and_forms(ctx: Any) -> None:
    designer_user = user("designer")
    deployment.deploy(v1_bundle(), designer_user)
    deployment.deploy(v2_bundle(), designer_user)
    diff = process_compare.compare(designer_user, KEY, 1, 2)
    assert diff["identical"] is False
    assert [t["id"] for t in diff["tasks"]["added"]] == ["Task_check"]
    assert diff["tasks"]["added"][0]["name"] == "Проверка заявки"
    assert [t["id"] for t in diff["tasks"]["removed"]] == ["Task_review"]
    flows = {f["id"]: f["changes"] for f in diff["flows"]["changed"]}
    assert flows["Flow_submit_review"] == [
        {"field": "target", "from": "Task_review", "to": "Task_check"}
    ]
    assert {"field": "source", "from": "Task_review", "to": "Task_check"} in flows[
        "Flow_review_gateway"
    ]
    lanes = {lane["id"]: lane["changes"] for lane in diff["lanes"]["changed"]}
    assert list(lanes) == ["Lane_director"]
    assert [f["path"] for f in diff["forms"]["added"]] == ["designer_demo/check.json"]
    assert [f["path"] for f in diff["forms"]["removed"]] == ["designer_demo/review.json"]
    start = next(f for f in diff["forms"]["changed"] if f["path"] == "designer_demo/start.json")
    assert start["fields_added"] == ["check_due_in"]
    assert diff["layout_changed"] is True
    same = process_compare.compare(designer_user, KEY, 2, 2)
    assert same["identical"] is True
    assert same["tasks"] == {"added": [], "removed": [], "changed": []}


def test_compare_api_and_errors(api: Any) -> None:
    api.post("/processes", "designer", **multipart(v1_bundle()))
    api.post("/processes", "designer", **multipart(v2_bundle()))
    ok = api.get(f"/processes/{KEY}/compare?from=1&to=2", "designer")
    assert ok.status_code == 200
    assert ok.get_json()["tasks"]["removed"][0]["id"] == "Task_review"
    assert api.get(f"/processes/{KEY}/compare?from=1&to=9", "designer").status_code == 404
    assert api.get(f"/processes/{KEY}/compare?from=x&to=2", "designer").status_code == 422
    assert api.get(f"/processes/{KEY}/compare?to=2", "designer").status_code == 422
    assert api.get("/processes/nope/versions", "designer").status_code == 404
    content = api.get(f"/processes/{KEY}/versions/2", "designer").get_json()
    assert content["main_file"] == f"{KEY}.bpmn"
    assert "Task_check" in content["files"][f"{KEY}.bpmn"]
    assert "designer_demo/check.json" in content["forms"]


def test_dry_run_says_what_would_happen_and_writes_nothing(api: Any) -> None:
    new = api.post("/processes/validate", "designer", **multipart(v1_bundle())).get_json()
    assert new["ok"] is True and new["report"] == []
    assert new["processes"] == [
        {
            "key": KEY,
            "name": "Заявка учителя (тест дизайнера)",
            "outcome": "new_process",
            "version": 1,
            "current_version": None,
        }
    ]
    assert api.get(f"/processes/{KEY}/versions", "designer").status_code == 404
    api.post("/processes", "designer", **multipart(v1_bundle()))
    same = api.post("/processes/validate", "admin", **multipart(v1_bundle())).get_json()
    assert same["processes"][0]["outcome"] == "unchanged"
    changed = api.post("/processes/validate", "designer", **multipart(v2_bundle())).get_json()
    assert (changed["processes"][0]["outcome"], changed["processes"][0]["version"]) == (
        "new_version",
        2,
    )
    assert [v["version"] for v in api.get(f"/processes/{KEY}/versions", "designer").get_json()] == [
        1
    ]
