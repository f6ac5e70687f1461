"""Signatures of generated documents: a signature confirms the hash the signer was shown and
is void once the process generates the document again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask

from app.services import deployment
from tests.conftest import ApiClient
from tests.processes.support import Flow

DATA = Path(__file__).resolve().parent / "data"
HEAD = "municipal_head.gatchina"
METHODIST = "mms_methodist.gatchina"


def _form(title: str, field: str, schema: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": title,
            "type": "object",
            "properties": {field: {"title": title, **schema}},
            "required": [field],
            "additionalProperties": False,
        },
        ensure_ascii=False,
    ).encode("utf-8")


@pytest.fixture()
def signing(seeded: Flask) -> None:
    """Deploy the test process: generate → sign → «new edition?» → generate again or end."""
    bundle = deployment.Bundle(
        sources={"test_signing.bpmn": (DATA / "test_signing.bpmn").read_bytes()},
        forms={
            "test_signing/sign.json": _form("Подписываю", "confirm", {"const": True}),
            "test_signing/revise.json": _form("Новая редакция", "new_edition", {"type": "boolean"}),
        },
    )
    with seeded.app_context():
        outcomes, problems = deployment.deploy(bundle, None)
    assert [o.key for o in outcomes] == ["test_signing"]
    assert not [p for p in problems if p.severity == "error"]


def _signatures(api: ApiClient, flow: Flow) -> list[dict[str, object]]:
    resp = api.get(f"/instances/{flow.id}/signatures", "auditor")
    assert resp.status_code == 200
    return list(resp.get_json())


def test_new_edition_voids_earlier_signatures(api: ApiClient, signing: None) -> None:
    flow = Flow(api, "test_signing").start(METHODIST, "gatchina", {})
    assert _signatures(api, flow) == []
    [first] = flow.documents()
    flow.complete("sign", HEAD, {"confirm": True})
    [signature] = _signatures(api, flow)
    assert signature["valid"] is True and signature["reason"] == ""
    assert signature["sha256"] == first["sha256"]
    assert signature["attachment_id"] == first["attachment_id"]
    assert (signature["signer"], signature["role"]) == (HEAD, "municipal_head")
    assert signature["document_key"] == "document"

    flow.complete("revise", METHODIST, {"new_edition": True})
    first_again, second = flow.documents()
    assert first_again == first and second["sha256"] != first["sha256"]
    [old] = _signatures(api, flow)
    assert old["valid"] is False and "сформирован заново" in str(old["reason"])

    flow.complete("sign", HEAD, {"confirm": True})
    old, new = _signatures(api, flow)
    assert (old["valid"], new["valid"]) == (False, True)
    assert new["sha256"] == second["sha256"]
    flow.complete("revise", METHODIST, {"new_edition": False})
    assert flow.status == "completed"
    assert [s["valid"] for s in _signatures(api, flow)] == [False, True]
    given = [e["payload"]["sha256"] for e in flow.history() if e["kind"] == "signature_given"]
    assert given == [first["sha256"], second["sha256"]]


def test_signatures_are_not_shown_to_outsiders(api: ApiClient, signing: None) -> None:
    flow = Flow(api, "test_signing").start(METHODIST, "gatchina", {})
    flow.complete("sign", HEAD, {"confirm": True})
    assert api.get(f"/instances/{flow.id}/signatures", "municipal_head.luga").status_code == 404
    assert len(api.get(f"/instances/{flow.id}/signatures", HEAD).get_json()) == 1
