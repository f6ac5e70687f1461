"""Substitutions on a controlled clock: offered during the period, gone when it ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, HumanTask, OrgUnit, TaskCandidate, User
from app.services import instances, substitution
from tests.conftest import ApiClient

from .conftest import make_user, user_id

T0 = datetime(2030, 3, 2, 9, 0, tzinfo=UTC)
SCHOOL = "gatchina-school-1"
AWAY = f"mo_head.{SCHOOL}"
SUBSTITUTE = "stand.in"


def _start_plan(app: Any) -> int:
    """Start an МО plan approval; the id of its first task (offered to the МО head)."""
    with app.app_context():
        actor = db.session.execute(select(User).where(User.username == AWAY)).scalar_one()
        unit = db.session.execute(select(OrgUnit).where(OrgUnit.slug == SCHOOL)).scalar_one()
        instance = instances.start_instance(actor, "mo_plan_approval", unit.id, {})
        task_id = db.session.execute(
            select(HumanTask.id).where(
                HumanTask.instance_id == instance.id, HumanTask.status == "open"
            )
        ).scalar_one()
        db.session.remove()
        return int(task_id)


def _substitute(api: ApiClient, start: datetime, end: datetime) -> dict[str, Any]:
    app = api.client.application
    body = {
        "away_user_id": user_id(app, AWAY),
        "substitute_id": user_id(app, SUBSTITUTE),
        "valid_from": start.isoformat(),
        "valid_to": end.isoformat(),
        "reason": "Отпуск, приказ № 31-к",
    }
    resp = api.post("/admin/substitutions", "admin", json=body)
    assert resp.status_code == 201, resp.get_json()
    return dict(resp.get_json())


def _mine(api: ApiClient, username: str) -> dict[int, Any]:
    api.tokens.clear()  # tokens live an hour; the clock jumps days
    items = api.get("/tasks?scope=mine", username).get_json()["items"]
    return {item["id"]: item for item in items}


def test_open_task_is_offered_to_substitute_only_during_the_period(api: ApiClient) -> None:
    app = api.client.application
    make_user(app, SUBSTITUTE, [("teacher", SCHOOL)])
    with time_machine.travel(T0, tick=False):
        task_id = _start_plan(app)
        _substitute(api, T0 + timedelta(days=1), T0 + timedelta(days=3))
        assert task_id not in _mine(api, SUBSTITUTE)  # not started yet
        assert _mine(api, AWAY)[task_id]["on_behalf_of"] is None

    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        item = _mine(api, SUBSTITUTE)[task_id]
        assert item["on_behalf_of"] == AWAY
        assert task_id in _mine(api, AWAY)  # the away user keeps it too
        detail = api.get(f"/tasks/{task_id}", SUBSTITUTE)
        assert detail.status_code == 200

    with time_machine.travel(T0 + timedelta(days=3), tick=False):  # valid_to is exclusive
        assert task_id not in _mine(api, SUBSTITUTE)
        assert api.get(f"/tasks/{task_id}", SUBSTITUTE).status_code == 404
        assert api.post(f"/tasks/{task_id}/claim", SUBSTITUTE).status_code == 404


def test_substitute_can_claim_during_the_period(api: ApiClient) -> None:
    app = api.client.application
    make_user(app, SUBSTITUTE, [("teacher", SCHOOL)])
    with time_machine.travel(T0, tick=False):
        task_id = _start_plan(app)
        _substitute(api, T0, T0 + timedelta(days=1))
        api.tokens.clear()
        resp = api.post(f"/tasks/{task_id}/claim", SUBSTITUTE)
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["claimed_by"] == SUBSTITUTE
        claimed = _mine(api, SUBSTITUTE)[task_id]
        assert claimed["on_behalf_of"] is None  # it is theirs now


def test_task_offered_during_the_period_names_the_substitute(api: ApiClient) -> None:
    app = api.client.application
    make_user(app, SUBSTITUTE, [("teacher", SCHOOL)])
    with time_machine.travel(T0, tick=False):
        _substitute(api, T0, T0 + timedelta(days=5))
        task_id = _start_plan(app)
        with app.app_context():
            rows = db.session.execute(
                select(TaskCandidate).where(TaskCandidate.human_task_id == task_id)
            ).scalars()
            by_reason = {r.reason: r for r in rows}
            assert by_reason["substitute"].user_id == user_id(app, SUBSTITUTE)
            assert by_reason["substitute"].on_behalf_of_id == user_id(app, AWAY)
            offered = db.session.execute(
                select(AuditEvent).where(
                    AuditEvent.kind == "task_offered", AuditEvent.task_id == task_id
                )
            ).scalar_one()
            assert offered.payload["substitutes"] == {SUBSTITUTE: AWAY}
        assert _mine(api, SUBSTITUTE)[task_id]["on_behalf_of"] == AWAY

    # The materialised offer does not outlive the substitution.
    with time_machine.travel(T0 + timedelta(days=6), tick=False):
        assert task_id not in _mine(api, SUBSTITUTE)
        assert api.post(f"/tasks/{task_id}/claim", SUBSTITUTE).status_code == 404


def test_cancelled_substitution_stops_at_once(api: ApiClient) -> None:
    app = api.client.application
    make_user(app, SUBSTITUTE, [("teacher", SCHOOL)])
    with time_machine.travel(T0, tick=False):
        task_id = _start_plan(app)
        sub = _substitute(api, T0, T0 + timedelta(days=5))
        assert task_id in _mine(api, SUBSTITUTE)
        resp = api.post(
            f"/admin/substitutions/{sub['id']}/cancel", "admin", json={"reason": "Вернулся"}
        )
        assert resp.status_code == 200
        assert task_id not in _mine(api, SUBSTITUTE)


def test_substitutes_lookup_respects_the_period(ctx: Any) -> None:
    make_user(ctx, SUBSTITUTE, [("teacher", SCHOOL)])
    with time_machine.travel(T0, tick=False):
        admin_user = db.session.execute(select(User).where(User.username == "admin")).scalar_one()
        away = user_id(ctx, AWAY)
        sub_id = user_id(ctx, SUBSTITUTE)
        substitution.create(
            admin_user,
            away,
            sub_id,
            T0 + timedelta(hours=1),
            T0 + timedelta(hours=2),
            "Командировка",
        )
        assert substitution.substitutes_of([away]) == {}
        assert [
            u.username
            for u in substitution.substitutes_of([away], T0 + timedelta(minutes=61))[away]
        ] == [SUBSTITUTE]
        assert substitution.substitutes_of([away], T0 + timedelta(hours=2)) == {}


def test_web_inbox_lists_the_task_for_the_substitute(api: ApiClient) -> None:
    from tests.web.conftest import WebClient

    app = api.client.application
    make_user(app, SUBSTITUTE, [("teacher", SCHOOL)])
    task_id = _start_plan(app)
    now = datetime.now(UTC)
    _substitute(api, now - timedelta(minutes=1), now + timedelta(days=1))
    web = WebClient(app.test_client())
    web.login(SUBSTITUTE)
    html = web.get("/?tab=available").get_data(as_text=True)
    assert f'data-task-id="{task_id}"' in html
    assert web.get(f"/tasks/{task_id}").status_code == 200
