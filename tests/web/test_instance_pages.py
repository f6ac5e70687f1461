"""The process catalogue, the start form and the instance page."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask

from tests.web.conftest import SCHOOL, start_plans

MO_HEAD = f"mo_head.{SCHOOL}"
START = "/processes/mo_plan_approval/start"


def _unit_option(html: str, name: str) -> str:
    match = re.search(r'<option value="(\d+)"[^>]*>' + re.escape(name) + "<", html)
    assert match, name
    return match.group(1)


def test_catalogue_lists_only_startable_processes(login_as: Any) -> None:
    html = login_as(MO_HEAD).get("/processes").get_data(as_text=True)
    assert f'href="{START}"' in html
    assert "МБОУ «Гатчинская СОШ № 1»" in html
    for user in [f"director.{SCHOOL}", "teacher.luga-school-1", "auditor"]:
        html = login_as(user).get("/processes").get_data(as_text=True)
        assert f'href="{START}"' not in html, user


def test_start_page_permissions(login_as: Any) -> None:
    assert login_as(f"director.{SCHOOL}").get(START).status_code == 403
    assert login_as(MO_HEAD).get("/processes/no_such_process/start").status_code == 404
    resp = login_as(f"director.{SCHOOL}").post(START, {"org_unit_id": "1"}, page="/")
    assert resp.status_code == 403


def test_start_form_errors_keep_values(login_as: Any) -> None:
    web = login_as(MO_HEAD)
    html = web.get(START).get_data(as_text=True)
    # One school where the МО head may start: chosen already; parameters show their defaults.
    unit = _unit_option(html.replace(" selected", ""), "МБОУ «Гатчинская СОШ № 1»")
    assert 'value="P14D"' in html
    assert '<option value="director" selected>' in html
    resp = web.post(START, {"org_unit_id": "", "draft_due_in": "две недели"}, page=START)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Выберите организацию." in html and 'value="две недели"' in html
    resp = web.post(START, {"org_unit_id": unit, "draft_due_in": "две недели"}, page=START)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="f-draft_due_in-err"' in html and 'value="две недели"' in html


def test_start_at_someone_elses_school_is_refused(seeded: Flask, login_as: Any) -> None:
    from app.extensions import db
    from app.models import OrgUnit

    with seeded.app_context():
        other = db.session.query(OrgUnit).filter_by(slug="luga-school-1").one().id
    resp = login_as(MO_HEAD).post(START, {"org_unit_id": str(other)}, page=START)
    assert resp.status_code == 403


def test_start_then_instance_page(login_as: Any) -> None:
    web = login_as(MO_HEAD)
    unit = _unit_option(
        web.get(START).get_data(as_text=True).replace(" selected", ""), "МБОУ «Гатчинская СОШ № 1»"
    )
    resp = web.post(START, {"org_unit_id": unit, "approver_role": "deputy_director"}, page=START)
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert re.fullmatch(r"/instances/\d+", location)
    html = web.get(location).get_data(as_text=True)
    assert "запущен" in html and "Выполняется" in html
    assert "Разработка плана работы МО" in html  # the open task
    assert "Процесс запущен" in html and "Задача поставлена" in html  # the timeline
    data = json.loads(
        re.search(
            r'<script type="application/json" id="diagram-data">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert data["active"] == ["Task_draft"] and data["completed"] == []
    assert data["xml"].lstrip().startswith("<?xml") and "Task_draft" in data["xml"]
    assert "bpmn-viewer.production.min.js" in html


def test_instance_page_permissions_and_markers(seeded: Flask, login_as: Any) -> None:
    [task_id] = start_plans(seeded)
    from app.extensions import db
    from app.models import HumanTask

    with seeded.app_context():
        instance_id = db.session.get(HumanTask, task_id).instance_id
    page = f"/instances/{instance_id}"
    assert login_as("teacher.luga-school-1").get(page).status_code == 404
    assert login_as("mo_head.gatchina-school-2").get(page).status_code == 404
    assert login_as(f"director.{SCHOOL}").get(page).status_code == 200
    assert login_as("auditor").get(page).status_code == 200
    assert login_as(MO_HEAD).get("/instances/999999").status_code == 404
    from tests.factories import mo_plan
    from tests.web.test_task_pages import plan_form

    web = login_as(MO_HEAD)
    web.post(f"/tasks/{task_id}/complete", plan_form(mo_plan()), page=f"/tasks/{task_id}")
    html = web.get(page).get_data(as_text=True)
    data = json.loads(re.search(r'id="diagram-data">(.*?)</script>', html, re.S).group(1))
    assert data["completed"] == ["Task_draft"] and data["active"] == ["Task_council_review"]
    assert "Рассмотрение плана методическим советом" in html
    assert "Задача выполнена" in html


def test_open_task_links_only_for_those_who_may_open_them(seeded: Flask, login_as: Any) -> None:
    from app.extensions import db
    from app.models import HumanTask

    [task_id] = start_plans(seeded)
    with seeded.app_context():
        instance_id = db.session.get(HumanTask, task_id).instance_id
        db.session.remove()
    link = f'href="/tasks/{task_id}"'
    for user, linked in [(MO_HEAD, True), ("auditor", True), ("mms_head.gatchina", False)]:
        web = login_as(user)
        page = web.get(f"/instances/{instance_id}")
        assert page.status_code == 200, user
        assert (link in page.get_data(as_text=True)) is linked, user
        # Whoever gets the link can follow it; the zone head would only have met a 404.
        assert (web.get(f"/tasks/{task_id}").status_code == 200) is linked, user
