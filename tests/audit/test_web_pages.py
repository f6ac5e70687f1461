"""The auditor's pages: the log with filters and pages, timelines, integrity, exports."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from app.extensions import db
from app.models import AuditEvent
from tests.audit.helpers import add_user, complete, only_task, run_plan, start_plan
from tests.conftest import ApiClient
from tests.factories import mo_plan
from tests.web.conftest import WebClient

SCHOOL = "gatchina-school-1"
_SEQ = re.compile(r'data-seq="(\d+)"')


@pytest.fixture()
def login(seeded: Flask) -> Any:
    def make(username: str) -> WebClient:
        session = WebClient(seeded.test_client())
        session.login(username)
        return session

    return make


def _seqs(html: str) -> list[int]:
    return [int(s) for s in _SEQ.findall(html)]


def _api_seqs(api: ApiClient, query: str) -> list[int]:
    items = api.get(f"/audit?per_page=500&{query}", "admin").get_json()["items"]
    return [e["seq"] for e in items]


def test_log_page_filters_and_links(api: ApiClient, login: Any) -> None:
    instance_id = run_plan(api, SCHOOL)
    run_plan(api, "luga-school-1", finish=False)
    web = login("auditor")
    page = web.get("/audit/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Журнал аудита" in html and "Проверить целостность" in html
    assert 'href="/audit/export?format=csv"' in html and "format=jsonl" in html
    assert f'href="/audit/instances/{instance_id}"' in html
    assert "Иванова Анна Петровна" in html  # the submitted data is shown
    cases = {
        f"instance={instance_id}": f"instance_id={instance_id}",
        "process=mo_plan_approval": "process_key=mo_plan_approval",
        f"actor=director.{SCHOOL}": f"actor=director.{SCHOOL}",
        f"unit={api.unit_id('luga')}": f"org_unit_id={api.unit_id('luga')}",
        "kind=task_claimed&kind=task_completed": "kind=task_claimed,task_completed",
    }
    for ui_query, api_query in cases.items():
        expected = _api_seqs(api, api_query)
        shown = _seqs(web.get(f"/audit/?{ui_query}").get_data(as_text=True))
        assert shown == expected and shown, ui_query
    today = api.get("/audit?per_page=1", "admin").get_json()["items"][0]["occurred_at"][:10]
    assert _seqs(web.get("/audit/?to=2000-01-01").get_data(as_text=True)) == []
    assert _seqs(web.get(f"/audit/?from={today}").get_data(as_text=True))
    bad = web.get("/audit/?from=вчера")
    assert bad.status_code == 422 and "Некорректная дата" in bad.get_data(as_text=True)


def test_log_page_pages(api: ApiClient, login: Any) -> None:
    for school in ("gatchina-school-1", "gatchina-school-2", "luga-school-1", "luga-school-2"):
        run_plan(api, school)
    web = login("admin")
    first = web.get("/audit/").get_data(as_text=True)
    second = web.get("/audit/?page=2").get_data(as_text=True)
    assert len(_seqs(first)) == 50
    assert _seqs(second) and min(_seqs(second)) > max(_seqs(first))
    assert 'aria-label="Страницы журнала"' in first and "page=2" in first


def test_changes_show_before_and_after(api: ApiClient, seeded: Flask, login: Any) -> None:
    add_user(seeded, "council.second", [("methodical_council", SCHOOL)])
    instance = start_plan(api, SCHOOL)
    instance = complete(api, f"mo_head.{SCHOOL}", only_task(instance)["id"], mo_plan())
    task_id = only_task(instance)["id"]
    api.post(f"/tasks/{task_id}/claim", f"methodical_council.{SCHOOL}")
    resp = api.post(
        f"/tasks/{task_id}/delegate",
        f"methodical_council.{SCHOOL}",
        json={"username": "council.second"},
    )
    assert resp.status_code == 200
    html = login("auditor").get("/audit/?kind=task_delegated").get_data(as_text=True)
    assert "Было" in html and "Стало" in html
    assert f"methodical_council.{SCHOOL}" in html and "council.second" in html


def test_timeline_page(api: ApiClient, login: Any) -> None:
    instance_id = run_plan(api, SCHOOL)
    html = login("auditor").get(f"/audit/instances/{instance_id}").get_data(as_text=True)
    assert "Разработка плана работы МО" in html and "Утверждение плана" in html
    assert "seeds/001_66707f66906d6c67.txt" in html  # legal basis of the steps
    assert "Gateway_council_decision" in html and "EndEvent_approved" in html
    assert html.count('data-bpmn-id="') == 3


def test_verify_button(api: ApiClient, seeded: Flask, login: Any) -> None:
    run_plan(api, SCHOOL, finish=False)
    web = login("auditor")
    ok = web.get("/audit/verify").get_data(as_text=True)
    assert 'data-ok="1"' in ok and "цела" in ok
    with seeded.app_context():
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(kind="logout"))
        db.session.commit()
    broken = web.get("/audit/verify").get_data(as_text=True)
    assert 'data-ok="0"' in broken and "№ 4" in broken


def test_export_link_streams_a_file(api: ApiClient, login: Any) -> None:
    instance_id = run_plan(api, SCHOOL)
    resp = login("auditor").get(f"/audit/export?instance={instance_id}&format=jsonl")
    assert resp.status_code == 200 and resp.is_streamed
    text = resp.get_data(as_text=True)
    assert '"_export"' in text and '"_export_end"' in text
    record = api.get("/audit?kind=audit_exported", "admin").get_json()["items"][-1]
    assert record["payload"]["via"] == "web" and record["actor"] == "auditor"
    assert record["payload"]["filters"] == {"instance_id": instance_id}


def test_scope_and_permissions(api: ApiClient, seeded: Flask, login: Any) -> None:
    add_user(seeded, "auditor.gatchina", [("auditor", "gatchina")])
    run_plan(api, SCHOOL, finish=False)
    luga = run_plan(api, "luga-school-1", finish=False)
    web = login("auditor.gatchina")
    html = web.get("/audit/").get_data(as_text=True)
    assert "Лужск" not in html and ">Аудит<" in html
    assert web.get(f"/audit/instances/{luga}").status_code == 404
    teacher = login(f"mo_head.{SCHOOL}")
    assert teacher.get("/audit/").status_code == 403
    assert teacher.get("/audit/export").status_code == 403
    assert ">Аудит<" not in teacher.get("/").get_data(as_text=True)


def test_auditor_cannot_post_ui_forms(api: ApiClient, login: Any) -> None:
    instance_id = run_plan(api, SCHOOL, finish=False)
    task_id = api.get(f"/instances/{instance_id}", "admin").get_json()["tasks"][0]["id"]
    web = login("auditor")
    before = api.get("/audit?per_page=1", "admin").get_json()["total"]
    for path in (f"/tasks/{task_id}/claim", f"/tasks/{task_id}/complete", "/admin/units"):
        resp = web.post(path, {"name": "x"}, page="/audit/")
        assert resp.status_code == 403, path
        assert "только на чтение" in resp.get_data(as_text=True)
    own = web.post("/language", {"lang": "en"}, page="/audit/")  # own settings
    assert own.status_code in (302, 303)
    after = api.get("/audit?per_page=1", "admin").get_json()["total"]
    assert after == before
