"""The validation report for every corpus file: all problems, each tied to its element."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ProcessVersion
from app.services import deployment

from .helpers import CORPUS, corpus_forms, demo_forms, multipart

CASES = json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))["cases"]


def _bundle(case: dict[str, Any]) -> deployment.Bundle:
    forms = demo_forms()
    forms.update(corpus_forms(case.get("forms", [])))
    return deployment.Bundle(
        sources={case["file"]: (CORPUS / case["file"]).read_bytes()}, forms=forms
    )


def _matches(row: dict[str, Any], expected: dict[str, Any]) -> bool:
    return (
        row["element_id"] == expected["element_id"]
        and expected["contains"] in row["message"]
        and row["severity"] == expected.get("severity", "error")
    )


def _check_report(report: list[dict[str, Any]], case: dict[str, Any]) -> None:
    for expected in case["expect"]:
        assert any(_matches(row, expected) for row in report), (expected, report)
    for row in report:
        if row["severity"] == "error":
            assert any(_matches(row, e) for e in case["expect"]), ("unexpected error", row)


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_corpus_report(ctx: Any, case: dict[str, Any]) -> None:
    candidates, problems = deployment.validate_bundle(_bundle(case))
    _check_report([p.as_dict() for p in problems], case)
    assert all(p.file == case["file"] for p in problems if p.element_id)


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_corpus_upload_is_refused_with_the_report(api: Any, case: dict[str, Any]) -> None:
    with api.client.application.app_context():
        before = db.session.execute(select(func.count(ProcessVersion.id))).scalar_one()
    dry = api.post("/processes/validate", "designer", **multipart(_bundle(case)))
    assert dry.status_code == 200, dry.get_json()
    assert dry.get_json()["ok"] is False
    _check_report(dry.get_json()["report"], case)
    deploy = api.post("/processes", "designer", **multipart(_bundle(case)))
    assert deploy.status_code == 422, deploy.get_json()
    body = deploy.get_json()
    assert body["message"] == "Процесс не прошёл проверку и не развёрнут."
    _check_report(body["report"], case)
    with api.client.application.app_context():
        after = db.session.execute(select(func.count(ProcessVersion.id))).scalar_one()
    assert after == before


def test_valid_camunda_free_demo_has_a_clean_report(ctx: Any) -> None:
    from .helpers import v1_bundle

    candidates, problems = deployment.validate_bundle(v1_bundle())
    assert problems == []
    assert [c.definition.key for c in candidates] == ["designer_demo"]
