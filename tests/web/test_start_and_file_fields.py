"""The catalogue offers a process to a holder of its start role below its scope (a teacher
applies to the ММА of the municipality), the start form names the applicant, and attachment
id lists of a form are rendered as files with an upload and parsed back to ids."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.datastructures import MultiDict

from app.web import jsonform

TEACHER = "teacher.gatchina-school-1"


def test_teacher_starts_the_mma_selection_of_the_municipality(seeded: Flask, login_as: Any) -> None:
    web = login_as(TEACHER)
    assert 'href="/processes/mma_selection/start"' in web.get("/processes").get_data(as_text=True)
    html = web.get("/processes/mma_selection/start").get_data(as_text=True)
    assert "Гатчинский муниципальный округ" in html and "Лужский" not in html
    assert 'name="applicant_username"' in html and f'value="{TEACHER}"' in html
    # A teacher of another municipality is offered that municipality only.
    other = login_as("teacher.luga-school-1").get("/processes/mma_selection/start")
    assert "Лужский муниципальный район" in other.get_data(as_text=True)
    assert "Гатчинский муниципальный округ" not in other.get_data(as_text=True)
    # The director (not the start role) is not offered the process.
    assert (
        login_as("director.gatchina-school-1").get("/processes/mma_selection/start").status_code
        == 403
    )


SCHEMA = {
    "type": "object",
    "properties": {
        "portfolio_attachments": {
            "type": "array",
            "title": "Вложения",
            "items": {"type": "integer", "minimum": 1},
        },
        "scores": {"type": "array", "title": "Баллы", "items": {"type": "integer"}},
    },
}


def test_attachment_lists_are_file_fields() -> None:
    assert jsonform.attachment_fields(SCHEMA) == ["portfolio_attachments"]
    form = jsonform.build(
        SCHEMA, {"portfolio_attachments": [7]}, None, [(7, "план.pdf"), (9, "отзыв.docx")]
    )
    files, scores = form.fields
    assert files.kind == "attachments" and scores.kind == "rows"
    assert files.options == [("7", "план.pdf"), ("9", "отзыв.docx")]
    assert files.value == ["7"]
    posted = MultiDict([("portfolio_attachments", "7"), ("portfolio_attachments", "9")])
    assert jsonform.parse(SCHEMA, posted)["portfolio_attachments"] == [7, 9]
    assert jsonform.parse(SCHEMA, MultiDict())["portfolio_attachments"] == []


def test_files_uploaded_in_the_task_form(
    seeded: Flask, api: Any, login_as: Any, monkeypatch: Any
) -> None:
    import io

    from app.services import documents
    from tests.processes.support import Flow
    from tests.processes.test_attestation_support import EXPERT_OPINION, PLAN, REQUEST

    flow = Flow(api, "attestation_support").start(TEACHER, "gatchina-school-1", REQUEST)
    flow.complete("Task_plan", "deputy_director.gatchina-school-1", PLAN)
    flow.complete("Task_expert", "mo_head.gatchina-school-1", EXPERT_OPINION)
    task_id = flow.task("Task_portfolio")["id"]
    web = login_as(TEACHER)
    html = web.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html
    assert 'name="portfolio_attachments__upload"' in html

    def post(files: list[tuple[bytes, str]], **fields: str) -> Any:
        data: dict[str, Any] = {
            "portfolio_items[0][title]": "Результаты ОГЭ",
            "portfolio_items[0][kind]": "student_results",
            "portfolio_items[0][description]": "",
            "portfolio_items[0][url]": "",
            "portfolio_comment": "",
            "csrf_token": web.token(f"/tasks/{task_id}"),
            "portfolio_attachments__upload": [(io.BytesIO(c), n) for c, n in files],
            **fields,
        }
        return web.client.post(
            f"/tasks/{task_id}/complete", data=data, content_type="multipart/form-data"
        )

    # A file over the limit: a Russian error beside the field, the task stays open.
    monkeypatch.setattr(documents, "MAX_ATTACHMENT_BYTES", 4)
    resp = post([(b"12345", "../../big.pdf")])
    assert resp.status_code == 422
    text = resp.get_data(as_text=True)
    assert "«big.pdf»: Не более 0 МБ." in text and 'id="f-portfolio_attachments-err"' in text
    assert flow.refresh() and flow.open_tasks() == ["Task_portfolio"]

    # Within the limit: two files attached, their ids in the process data.
    monkeypatch.setattr(documents, "MAX_ATTACHMENT_BYTES", 100)
    resp = post([(b"one", "a.pdf"), (b"two", "b.pdf")])
    body = resp.get_data(as_text=True)
    assert resp.status_code == 303, body[body.find("form-errors") :][:1500]
    flow.refresh()
    assert flow.open_tasks() == ["Task_submission"]
    [done] = [
        e
        for e in flow.history()
        if e["kind"] == "task_completed" and e["payload"]["bpmn_id"] == "Task_portfolio"
    ]
    ids = done["payload"]["data"]["portfolio_attachments"]
    files = {
        a["id"]: a["filename"]
        for a in api.get(f"/instances/{flow.id}/attachments", TEACHER).get_json()
    }
    assert sorted(files[i] for i in ids) == ["a.pdf", "b.pdf"]
