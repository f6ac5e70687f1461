"""Attachments, comments and generated documents through the API."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from tests.conftest import ApiClient

DATA = Path(__file__).resolve().parent.parent / "data" / "engine"
SCHOOL = "gatchina-school-1"
MO_HEAD = f"mo_head.{SCHOOL}"


def _start(api: ApiClient) -> dict[str, Any]:
    resp = api.post(
        "/instances",
        MO_HEAD,
        json={"process_key": "mo_plan_approval", "org_unit_id": api.unit_id(SCHOOL)},
    )
    assert resp.status_code == 201
    return resp.get_json()


def test_attachment_roundtrip_and_safe_name(api: ApiClient) -> None:
    instance = _start(api)
    content = "Протокол заседания № 1".encode()
    resp = api.post(
        f"/instances/{instance['id']}/attachments",
        MO_HEAD,
        data={"file": (io.BytesIO(content), "../../etc/passwd<script>.txt")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()
    meta = resp.get_json()
    assert "/" not in meta["filename"] and "<" not in meta["filename"]
    assert meta["sha256"] == hashlib.sha256(content).hexdigest() and meta["size"] == len(content)
    got = api.get(f"/attachments/{meta['id']}/download", MO_HEAD)
    assert got.status_code == 200 and got.data == content
    assert (
        api.get(f"/attachments/{meta['id']}/download", "mo_head.luga-school-1").status_code == 404
    )
    listed = api.get(f"/instances/{instance['id']}/attachments", MO_HEAD).get_json()
    assert [a["id"] for a in listed] == [meta["id"]]
    history = api.get(f"/instances/{instance['id']}/history", "auditor").get_json()
    added = [e for e in history if e["kind"] == "attachment_added"]
    assert added[0]["payload"]["sha256"] == meta["sha256"]


def test_empty_attachment_is_refused(api: ApiClient) -> None:
    instance = _start(api)
    resp = api.post(
        f"/instances/{instance['id']}/attachments",
        MO_HEAD,
        data={"file": (io.BytesIO(b""), "empty.txt")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422 and "file" in resp.get_json()["errors"]


def test_comments(api: ApiClient) -> None:
    instance = _start(api)
    resp = api.post(
        f"/instances/{instance['id']}/comments", MO_HEAD, json={"body": "<b>Замечание</b>"}
    )
    assert resp.status_code == 201
    assert resp.get_json()["author"] == MO_HEAD
    comments = api.get(f"/instances/{instance['id']}/comments", "auditor").get_json()
    assert [c["body"] for c in comments] == ["<b>Замечание</b>"]
    assert (
        api.post(f"/instances/{instance['id']}/comments", MO_HEAD, json={"body": ""}).status_code
        == 422
    )
    assert (
        api.post(
            f"/instances/{instance['id']}/comments", "mo_head.luga-school-1", json={"body": "x"}
        ).status_code
        == 404
    )


def test_generated_document_is_stored_with_its_hash(api: ApiClient) -> None:
    schema = json.dumps(
        {
            "type": "object",
            "properties": {"subject": {"type": "string", "title": "Предмет"}},
            "required": ["subject"],
        }
    ).encode()
    sign = b'{"type": "object", "properties": {"ok": {"type": "boolean"}}}'
    resp = api.post(
        "/processes",
        "designer",
        data={
            "files": [
                (io.BytesIO((DATA / "docgen.bpmn").read_bytes()), "docgen.bpmn"),
                (io.BytesIO(schema), "draft.json"),
                (io.BytesIO(sign), "sign.json"),
            ]
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["key"] == "test_docgen"
    started = api.post(
        "/instances",
        f"teacher.{SCHOOL}",
        json={"process_key": "test_docgen", "org_unit_id": api.unit_id(SCHOOL)},
    ).get_json()
    task = started["tasks"][0]
    done = api.post(
        f"/tasks/{task['id']}/complete",
        f"teacher.{SCHOOL}",
        json={"data": {"subject": "Математика"}},
    ).get_json()
    assert done["instance"]["tasks"][0]["bpmn_id"] == "sign"
    files = api.get(f"/instances/{started['id']}/attachments", f"teacher.{SCHOOL}").get_json()
    assert len(files) == 1 and files[0]["kind"] == "generated"
    content = api.get(f"/attachments/{files[0]['id']}/download", f"teacher.{SCHOOL}").data
    assert hashlib.sha256(content).hexdigest() == files[0]["sha256"]
    with zipfile.ZipFile(io.BytesIO(content)) as docx:
        xml = docx.read("word/document.xml").decode()
    assert "Итоговый документ" in xml and "Математика" in xml and "Предмет" in xml
    history = api.get(f"/instances/{started['id']}/history", "auditor").get_json()
    generated = [e for e in history if e["kind"] == "document_generated"]
    assert generated[0]["payload"]["sha256"] == files[0]["sha256"]
    detail = api.get(
        f"/tasks/{done['instance']['tasks'][0]['id']}", f"director.{SCHOOL}"
    ).get_json()
    assert detail["data"]["document"]["sha256"] == files[0]["sha256"]


def test_deploy_needs_designer(api: ApiClient) -> None:
    resp = api.post(
        "/processes",
        MO_HEAD,
        data={"files": [(io.BytesIO((DATA / "docgen.bpmn").read_bytes()), "docgen.bpmn")]},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 403


def test_deploy_reports_problems(api: ApiClient) -> None:
    resp = api.post(
        "/processes",
        "designer",
        data={"files": [(io.BytesIO((DATA / "docgen.bpmn").read_bytes()), "docgen.bpmn")]},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    body = resp.get_json()
    assert any("draft.json" in row["message"] for row in body["report"])
    # the rejected upload deployed nothing: test_docgen is not among the processes
    assert "test_docgen" not in {p["key"] for p in api.get("/processes", MO_HEAD).get_json()}
