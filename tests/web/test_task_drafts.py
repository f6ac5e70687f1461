"""«Сохранить черновик» on the task page: kept per task and user, reloaded, cleared on completion,
audited without the values themselves."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from sqlalchemy import select

from tests.factories import mo_plan
from tests.web.conftest import SCHOOL, add_colleague, start_plans
from tests.web.test_task_pages import plan_form

MO_HEAD = f"mo_head.{SCHOOL}"


def _drafts(app: Flask, task_id: int) -> list[tuple[str, dict[str, Any]]]:
    from app.extensions import db
    from app.models import TaskDraft, User

    with app.app_context():
        rows = db.session.execute(
            select(User.username, TaskDraft.data)
            .join(User, User.id == TaskDraft.user_id)
            .where(TaskDraft.human_task_id == task_id)
        ).all()
        db.session.remove()
        return [(u, d) for u, d in rows]


def _events(app: Flask, kind: str) -> list[dict[str, Any]]:
    from app.extensions import db
    from app.models import AuditEvent

    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.task_id, AuditEvent.payload).where(AuditEvent.kind == kind)
        ).all()
        db.session.remove()
        return [{"task_id": t, "payload": p} for t, p in rows]


def test_draft_is_kept_reloaded_and_cleared_on_completion(seeded: Flask, login_as: Any) -> None:
    add_colleague(seeded, "mo_head2", "mo_head")
    [task_id] = start_plans(seeded)
    web = login_as(MO_HEAD)
    assert 'id="save-draft"' in web.get(f"/tasks/{task_id}").get_data(as_text=True)

    # Incomplete and invalid values are accepted as a draft.
    fields = [("school_year", "двадцать шестой"), ("members[0][full_name]", "Иванова Анна")]
    resp = web.post(f"/tasks/{task_id}/draft", fields, page=f"/tasks/{task_id}")
    assert resp.status_code == 303 and resp.headers["Location"] == f"/tasks/{task_id}"
    html = web.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Черновик сохранён" in html and 'id="draft-state"' in html
    assert 'value="двадцать шестой"' in html and 'value="Иванова Анна"' in html
    [(holder, data)] = _drafts(seeded, task_id)
    assert holder == MO_HEAD and data["school_year"] == "двадцать шестой"
    assert data["members"] == [{"full_name": "Иванова Анна"}] and "mo_name" not in data

    # The audit event names the fields, not the personal data entered.
    [event] = _events(seeded, "task_draft_saved")
    assert event["task_id"] == task_id
    assert {"members", "school_year"} <= set(event["payload"]["fields"])
    assert event["payload"]["fields"] == sorted(data)
    assert len(event["payload"]["sha256"]) == 64
    assert "Иванова" not in json.dumps(event["payload"], ensure_ascii=False)

    # Saving again replaces the draft; a colleague offered the same task does not see it.
    web.post(f"/tasks/{task_id}/draft", [("school_year", "2026/2027")], page=f"/tasks/{task_id}")
    [(holder, data)] = _drafts(seeded, task_id)
    assert data["school_year"] == "2026/2027" and data["members"] == []
    other = login_as("mo_head2").get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'value="2026/2027"' not in other and 'id="draft-state"' not in other

    # Completing the task removes every draft of it.
    resp = web.post(f"/tasks/{task_id}/complete", plan_form(mo_plan()), page=f"/tasks/{task_id}")
    assert resp.status_code == 303
    assert _drafts(seeded, task_id) == []
    assert 'id="draft-state"' not in web.get(f"/tasks/{task_id}").get_data(as_text=True)


def test_draft_can_be_discarded(seeded: Flask, login_as: Any) -> None:
    [task_id] = start_plans(seeded)
    web = login_as(MO_HEAD)
    web.post(f"/tasks/{task_id}/draft", [("mo_name", "МО физиков")], page=f"/tasks/{task_id}")
    assert 'value="МО физиков"' in web.get(f"/tasks/{task_id}").get_data(as_text=True)
    resp = web.post(f"/tasks/{task_id}/draft/discard", page=f"/tasks/{task_id}")
    assert resp.status_code == 303
    html = web.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Черновик удалён" in html and 'value="МО физиков"' not in html
    assert _drafts(seeded, task_id) == []
    assert [e["task_id"] for e in _events(seeded, "task_draft_discarded")] == [task_id]


def test_only_who_may_fill_the_form_saves_a_draft(seeded: Flask, login_as: Any) -> None:
    add_colleague(seeded, "mo_head2", "mo_head")
    [task_id] = start_plans(seeded)
    fields = [("mo_name", "Чужой черновик")]
    # Strangers do not learn the task exists; supervisors see it but may not write.
    stranger = login_as("mo_head.gatchina-school-2")
    assert stranger.post(f"/tasks/{task_id}/draft", fields, page="/").status_code == 404
    assert login_as("auditor").post(f"/tasks/{task_id}/draft", fields, page="/").status_code == 403
    resp = login_as("admin").post(f"/tasks/{task_id}/draft", fields, page="/")
    assert resp.status_code == 403 and "Задача назначена не вам." in resp.get_data(as_text=True)
    # Once the МО head claims it, the colleague may no longer save a draft of it.
    owner = login_as(MO_HEAD)
    owner.post(f"/tasks/{task_id}/claim", page=f"/tasks/{task_id}")
    resp = login_as("mo_head2").post(f"/tasks/{task_id}/draft", fields, page="/")
    assert resp.status_code == 403
    assert "уже взял в работу" in resp.get_data(as_text=True)
    # A form post without the CSRF token is refused.
    raw = owner.client.post(f"/tasks/{task_id}/draft", data={"mo_name": "x"})
    assert raw.status_code == 400
    assert _drafts(seeded, task_id) == []
