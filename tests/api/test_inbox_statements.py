"""GET /api/v1/tasks sends a fixed number of SQL statements and never reads a workflow state."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.conftest import ApiClient
from tests.statements import recorded
from tests.web.conftest import SCHOOL, start_plans

MO_HEAD = f"mo_head.{SCHOOL}"


def _inbox(app: Flask, api: ApiClient, scope: str) -> tuple[int, list[str], dict[str, Any]]:
    with recorded(app) as seen:
        resp = api.get(f"/tasks?scope={scope}", MO_HEAD)
    assert resp.status_code == 200
    return len(seen), list(seen), resp.get_json()


def test_task_list_statements_do_not_grow_with_tasks(seeded: Flask, api: ApiClient) -> None:
    api.token(MO_HEAD)  # log in before counting
    start_plans(seeded, 1)
    one = {scope: _inbox(seeded, api, scope)[0] for scope in ("mine", "available", "claimed")}
    start_plans(seeded, 24)
    many = {}
    for scope in ("mine", "available", "claimed"):
        count, statements, body = _inbox(seeded, api, scope)
        many[scope] = count
        if scope != "claimed":
            assert body["total"] == 25 and len(body["items"]) == 25
            assert all(item["title"] for item in body["items"])
        for sql in statements:
            assert "process_instance.state" not in sql, sql  # lists never load a workflow
    assert one == many, (one, many)
    print(f"GET /api/v1/tasks statements per request, 1 vs 25 tasks: {one} / {many}")
    # token with its user and grants, page with total, instance titles, substitution labels
    # (+ claimants if any)
    assert max(many.values()) <= 5, many
