"""Designer pages: workspace, upload with the report, editor drafts, form preview, compare."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from flask import Flask

from tests.web.conftest import WebClient, csrf_token

from .helpers import CORPUS, KEY, demo_forms, v1_source, v2_source


@pytest.fixture()
def login_as(seeded: Flask) -> Any:
    def make(username: str) -> WebClient:
        session = WebClient(seeded.test_client())
        session.login(username)
        return session

    return make


def _upload(session: WebClient, files: dict[str, bytes], action: str) -> Any:
    page = session.get("/designer/upload").get_data(as_text=True)
    data = {
        "files": [(io.BytesIO(c), n) for n, c in files.items()],
        "action": action,
        "csrf_token": csrf_token(page),
    }
    return session.client.post("/designer/upload", data=data, content_type="multipart/form-data")


def _demo_files(source: str) -> dict[str, bytes]:
    return {f"{KEY}.bpmn": source.encode(), **{f"forms/{k}": v for k, v in demo_forms().items()}}


def _json_post(session: WebClient, path: str, page: str, body: Any) -> Any:
    token = csrf_token(session.get(page).get_data(as_text=True))
    return session.client.post(path, json=body, headers={"X-CSRFToken": token})


def test_only_designers_see_the_workspace(login_as: Any) -> None:
    assert login_as("teacher.gatchina-school-1").get("/designer/").status_code == 403
    page = login_as("designer").get("/designer/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-key="mo_plan_approval"' in html
    assert "из репозитория (CLI)" in html


def test_upload_shows_the_report_and_deploys_only_clean_files(login_as: Any) -> None:
    session = login_as("designer")
    bad = _upload(session, {"many.bpmn": (CORPUS / "many_problems.bpmn").read_bytes()}, "deploy")
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    for element in ("Lane_wizard", "Task_no_form", "Gateway_choice", "Script_open"):
        assert f'data-element="{element}"' in html
    assert "ничего не развёрнуто" in html
    checked = _upload(session, _demo_files(v1_source()), "validate")
    assert checked.status_code == 200
    assert "новый процесс, версия 1" in checked.get_data(as_text=True)
    assert session.get(f"/designer/{KEY}").status_code == 404
    deployed = _upload(session, _demo_files(v1_source()), "deploy")
    assert deployed.status_code == 303
    process = session.get(f"/designer/{KEY}").get_data(as_text=True)
    assert 'data-version="1"' in process


def test_editor_draft_validate_and_deploy_a_new_version(login_as: Any) -> None:
    session = login_as("designer")
    assert _upload(session, _demo_files(v1_source()), "deploy").status_code == 303
    editor = session.get(f"/designer/{KEY}/edit")
    assert editor.status_code == 200
    html = editor.get_data(as_text=True)
    assert "bpmn-modeler.production.min.js" in html
    data = json.loads(re.search(r'id="modeler-data">(.*?)</script>', html, re.S).group(1))
    assert data["file"] == f"{KEY}.bpmn" and "Task_review" in data["xml"]

    page = f"/designer/{KEY}/edit"
    broken = data["xml"].replace('name="director"', 'name="wizard"')
    saved = _json_post(session, f"/designer/{KEY}/draft", page, {"files": {data["file"]: broken}})
    assert saved.status_code == 200 and saved.get_json()["saved"] is True
    report = _json_post(session, f"/designer/{KEY}/draft/validate", page, {}).get_json()
    assert report["ok"] is False
    assert any(r["element_id"] == "Lane_director" for r in report["report"])

    forms = {"designer_demo/check.json": demo_forms()["designer_demo/check.json"].decode()}
    fixed = {data["file"]: v2_source()}
    saved = _json_post(session, f"/designer/{KEY}/draft", page, {"files": fixed, "forms": forms})
    assert saved.status_code == 200
    assert _json_post(session, f"/designer/{KEY}/draft/validate", page, {}).get_json()["ok"]
    token = csrf_token(session.get(page).get_data(as_text=True))
    deployed = session.client.post(f"/designer/{KEY}/draft/deploy", data={"csrf_token": token})
    assert deployed.status_code == 303
    process = session.get(f"/designer/{KEY}").get_data(as_text=True)
    assert 'data-version="2"' in process and 'id="draft-note"' not in process
    compare = session.get(f"/designer/{KEY}/compare?from=1&to=2").get_data(as_text=True)
    assert "Task_check" in compare and "Task_review" in compare


def test_bad_draft_entries_are_refused(login_as: Any) -> None:
    session = login_as("designer")
    page = "/designer/mo_plan_approval/edit"
    resp = _json_post(
        session, "/designer/mo_plan_approval/draft", page, {"forms": {"../../etc/x.json": "{}"}}
    )
    assert resp.status_code == 422
    assert "Недопустимый путь формы" in resp.get_json()["errors"]["forms"][0]


def test_form_editor_preview_uses_the_task_renderer(login_as: Any) -> None:
    session = login_as("designer")
    editor = session.get("/designer/mo_plan_approval/forms/mo_plan_approval/council_review.json")
    assert editor.status_code == 200
    html = editor.get_data(as_text=True)
    assert 'name="council_decision"' in html  # rendered by app.web.jsonform + forms macros
    token = csrf_token(html)
    schema = {"type": "object", "properties": {"fio": {"type": "string", "title": "ФИО"}}}
    ok = session.client.post(
        "/designer/forms/preview",
        data=json.dumps(schema),
        content_type="text/plain",
        headers={"X-CSRFToken": token},
    )
    assert ok.status_code == 200 and 'name="fio"' in ok.get_data(as_text=True)
    bad = session.client.post(
        "/designer/forms/preview",
        data='{"type": ',
        content_type="text/plain",
        headers={"X-CSRFToken": token},
    )
    assert 'id="preview-error"' in bad.get_data(as_text=True)
    teacher = login_as("teacher.gatchina-school-1")
    token = csrf_token(teacher.get("/", follow_redirects=True).get_data(as_text=True))
    refused = teacher.client.post(
        "/designer/forms/preview", data="{}", headers={"X-CSRFToken": token}
    )
    assert refused.status_code == 403
