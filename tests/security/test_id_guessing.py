"""No object is reachable by guessing its id: walking the sequential ids of instances, tasks and
attachments of other schools answers exactly like ids that do not exist (404, same body)."""

from __future__ import annotations

import io
from typing import Any

from tests.conftest import ApiClient
from tests.factories import mo_plan

SCHOOLS = ["gatchina-school-1", "gatchina-school-2", "luga-school-1", "luga-school-2"]


def _start(api: ApiClient, school: str) -> dict[str, Any]:
    resp = api.post(
        "/instances",
        f"mo_head.{school}",
        json={"process_key": "mo_plan_approval", "org_unit_id": api.unit_id(school)},
    )
    assert resp.status_code == 201
    return resp.get_json()


def test_sequential_ids_of_other_schools_are_not_found(api: ApiClient) -> None:
    own: dict[str, dict[str, set[int]]] = {}
    for school in SCHOOLS:
        mine: dict[str, set[int]] = {"instances": set(), "tasks": set(), "attachments": set()}
        for _ in range(2):
            instance = _start(api, school)
            mine["instances"].add(instance["id"])
            mine["tasks"].add(instance["tasks"][0]["id"])
            uploaded = api.post(
                f"/instances/{instance['id']}/attachments",
                f"mo_head.{school}",
                data={"file": (io.BytesIO(b"plan"), "plan.txt")},
                content_type="multipart/form-data",
            )
            assert uploaded.status_code == 201
            mine["attachments"].add(uploaded.get_json()["id"])
        own[school] = mine
    top = {
        kind: max(max(m[kind]) for m in own.values()) + 3
        for kind in ("instances", "tasks", "attachments")
    }
    probes = 0
    for school in SCHOOLS:
        user = f"mo_head.{school}"
        not_found = api.get("/instances/999999", user).get_json()
        for instance_id in range(1, top["instances"]):
            for suffix in ("", "/history", "/comments", "/attachments", "/timeline"):
                resp = api.get(f"/instances/{instance_id}{suffix}", user)
                probes += 1
                if instance_id in own[school]["instances"]:
                    assert resp.status_code == 200, (user, instance_id, suffix)
                else:
                    assert resp.status_code == 404, (user, instance_id, suffix)
                    assert resp.get_json()["errors"] == not_found["errors"]
        for task_id in range(1, top["tasks"]):
            reads = [api.get(f"/tasks/{task_id}", user)]
            if task_id not in own[school]["tasks"]:
                reads.append(api.post(f"/tasks/{task_id}/claim", user))
                reads.append(api.post(f"/tasks/{task_id}/complete", user, json={"data": mo_plan()}))
            for resp in reads:
                probes += 1
                expected = 200 if task_id in own[school]["tasks"] else 404
                assert resp.status_code == expected, (user, task_id, resp.get_json())
        for attachment_id in range(1, top["attachments"]):
            resp = api.get(f"/attachments/{attachment_id}/download", user)
            probes += 1
            expected = 200 if attachment_id in own[school]["attachments"] else 404
            assert resp.status_code == expected, (user, attachment_id)
    assert probes > 300
