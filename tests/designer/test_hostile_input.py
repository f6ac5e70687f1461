"""Hostile uploads are refused with a report row, never with a 500, and nothing is stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from app.engine.xml_safety import MAX_XML_BYTES, MAX_XML_ELEMENTS
from app.extensions import db
from app.models import ProcessVersion
from app.services import deployment

from .helpers import CORPUS, KEY, demo_forms, encode_files, v1_source


def _with_script(script: str) -> dict[str, bytes]:
    source = v1_source().replace('request_status = "approved"', script)
    return {f"{KEY}.bpmn": source.encode()}


def _oversize() -> dict[str, bytes]:
    padding = "<!-- " + "x" * (MAX_XML_BYTES + 10) + " -->"
    return {
        f"{KEY}.bpmn": v1_source()
        .replace("<bpmn:collaboration", padding + "<bpmn:collaboration", 1)
        .encode()
    }


def _many_elements() -> dict[str, bytes]:
    tasks = "".join(f'<bpmn:task id="T{i}" />' for i in range(MAX_XML_ELEMENTS + 1))
    return {
        f"{KEY}.bpmn": v1_source().replace("</bpmn:process>", tasks + "</bpmn:process>").encode()
    }


HOSTILE: dict[str, tuple[Callable[[], dict[str, bytes]], dict[str, bytes], str | None, str]] = {
    # name: (sources, extra forms, element id, message fragment)
    "xxe": (
        lambda: {"xxe.bpmn": (CORPUS / "xxe_external_entity.bpmn").read_bytes()},
        {},
        None,
        "DOCTYPE и ENTITY запрещены",
    ),
    "entity_bomb": (
        lambda: {"lol.bpmn": (CORPUS / "billion_laughs.bpmn").read_bytes()},
        {},
        None,
        "DOCTYPE и ENTITY запрещены",
    ),
    "deep_nesting": (
        lambda: {"deep.bpmn": (CORPUS / "deep_nesting.bpmn").read_bytes()},
        {},
        None,
        "Слишком глубокая вложенность XML",
    ),
    "oversize_bpmn": (_oversize, {}, None, "больше допустимого размера"),
    "too_many_elements": (_many_elements, {}, None, "Слишком много элементов XML"),
    "utf16": (
        lambda: {
            f"{KEY}.bpmn": v1_source()
            .replace('encoding="UTF-8"', 'encoding="UTF-16"')
            .encode("utf-16")
        },
        {},
        None,
        "кодировке UTF-8",
    ),
    "script_import": (
        lambda: _with_script("import subprocess\nrequest_status = subprocess.run(['id'])"),
        {},
        "Script_approved",
        "Импорт модулей в сценариях запрещён",
    ),
    "script_open": (
        lambda: _with_script("request_status = open('/etc/passwd').read()"),
        {},
        "Script_approved",
        "Функция open в сценариях запрещена",
    ),
    "script_dunder_escape": (
        lambda: _with_script("request_status = ().__class__.__bases__[0].__subclasses__()"),
        {},
        "Script_approved",
        "Сценарий отклонён",
    ),
    "oversize_form": (
        lambda: {f"{KEY}.bpmn": v1_source().encode()},
        {
            f"{KEY}/submit.json": b'{"type": "object", "description": "'
            + b"x" * (2 * 1024 * 1024)
            + b'"}'
        },
        "Task_submit",
        "больше допустимого размера",
    ),
    "deeply_nested_form": (
        lambda: {f"{KEY}.bpmn": v1_source().encode()},
        {f"{KEY}/submit.json": b"[" * 100_000 + b"]" * 100_000},
        "Task_submit",
        "вложен слишком глубоко",
    ),
}


def _bundle(name: str) -> deployment.Bundle:
    sources, extra, _, _ = HOSTILE[name]
    forms = demo_forms()
    forms.update(extra)
    return deployment.Bundle(sources=sources(), forms=forms)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_service_refuses_hostile_input(ctx: Any, name: str) -> None:
    _, _, element_id, fragment = HOSTILE[name]
    with pytest.raises(deployment.DeploymentRejected) as refused:
        deployment.deploy(_bundle(name), None)
    rows = [p for p in refused.value.problems if p.severity == "error"]
    assert any(p.element_id == element_id and fragment in p.message for p in rows), rows
    assert (
        db.session.execute(
            select(func.count(ProcessVersion.id)).where(ProcessVersion.key == KEY)
        ).scalar_one()
        == 0
    )


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_api_answers_hostile_input_with_422_and_a_report(api: Any, name: str) -> None:
    _, _, element_id, fragment = HOSTILE[name]
    bundle = _bundle(name)
    files = list(bundle.sources.items()) + list(bundle.forms.items())
    resp = api.post("/processes", "designer", **encode_files(files))
    assert resp.status_code == 422, resp.get_data(as_text=True)[:500]
    report = resp.get_json()["report"]
    assert any(r["element_id"] == element_id and fragment in r["message"] for r in report), report


def test_xxe_never_reads_the_file(ctx: Any) -> None:
    from app.engine import parse_bundle

    result = parse_bundle({"xxe.bpmn": (CORPUS / "xxe_external_entity.bpmn").read_bytes()})
    assert result.definitions == {}
    assert all("root:" not in p.message for p in result.problems)


def test_a_long_report_is_capped_per_kind(ctx: Any) -> None:
    from app.engine import parse_bundle
    from app.engine.definitions import MAX_PROBLEMS_PER_KIND

    tasks = "".join(f'<bpmn:task id="Loose_{i}" />' for i in range(300))
    source = v1_source().replace("</bpmn:process>", tasks + "</bpmn:process>")
    problems = parse_bundle({f"{KEY}.bpmn": source.encode()}).problems
    unreachable = [p for p in problems if p.code == "unreachable"]
    assert len(unreachable) == MAX_PROBLEMS_PER_KIND + 1
    assert "… и ещё 250 замечаний того же вида" in unreachable[-1].message
