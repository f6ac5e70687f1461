"""Engine: parsing, the script sandbox, specless state, timers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.engine import (
    Runner,
    ScriptBudgetExceeded,
    ScriptError,
    ScriptRefused,
    parse_bundle,
    scripting,
)
from app.engine.cache import DefinitionCache

DATA = Path(__file__).resolve().parent.parent / "data" / "engine"
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def review():
    result = parse_bundle({"review.bpmn": (DATA / "review.bpmn").read_bytes()})
    assert result.ok, result.problems
    return result.definitions["test_review"]


def test_metadata_of_definition(review) -> None:
    assert review.name == "Тестовое согласование"
    assert review.start_lane == "teacher"
    assert review.scope_tier == "institution"
    assert set(review.user_tasks) == {"draft", "review"}
    assert review.user_tasks["draft"].form == "test_review/draft.json"
    assert review.user_tasks["review"].lane == "director"
    assert review.user_tasks["review"].documentation == "Основание: тест 2"


def test_missing_diagram_interchange_is_a_warning(review) -> None:
    result = parse_bundle({"review.bpmn": (DATA / "review.bpmn").read_bytes()})
    assert [p.severity for p in result.problems] == ["warning"]


def test_revision_loop_and_completion(review) -> None:
    runner = Runner.start(review, {"history": [], "review_period": "P2D"})
    assert [t.bpmn_id for t in runner.ready_tasks()] == ["draft"]
    runner.complete(runner.ready_tasks()[0].id, {"text": "v1"})
    runner.complete(runner.ready_tasks()[0].id, {"decision": "return"})
    assert [t.bpmn_id for t in runner.ready_tasks()] == ["draft"]
    runner.complete(runner.ready_tasks()[0].id, {"text": "v2", "history": [1]})
    runner.complete(runner.ready_tasks()[0].id, {"decision": "ok"})
    assert runner.is_completed()
    assert runner.data["status"] == "approved"
    assert runner.data["rounds"] == 1


def test_state_is_stored_without_spec_and_restores(review) -> None:
    runner = Runner.start(review, {"history": [], "review_period": "P2D"})
    state = runner.dump()
    parsed = json.loads(state)
    assert "spec" not in parsed and "subprocess_specs" not in parsed
    assert "Черновик" not in state  # task names live in the spec, not in each instance
    again = Runner.load(review, state)
    task = again.ready_tasks()[0]
    again.complete(task.id, {"text": "x"})
    assert [t.bpmn_id for t in again.ready_tasks()] == ["review"]


def test_boundary_timer_reports_and_fires(review, monkeypatch) -> None:
    runner = Runner.start(review, {"history": [], "review_period": "P2D"})
    runner.complete(runner.ready_tasks()[0].id, {"text": "x"})
    due = runner.next_timer_at()
    assert due is not None
    assert timedelta(days=1, hours=23) < due - datetime.now(UTC) <= timedelta(days=2)
    state = runner.dump()

    import SpiffWorkflow.bpmn.specs.event_definitions.timer as timer_module

    class Later(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: D102
            return datetime.now(tz) + timedelta(days=3)

    monkeypatch.setattr(timer_module, "datetime", Later)
    later = Runner.load(review, state)
    later.advance()
    assert later.is_completed()
    assert later.ready_tasks() == []


@pytest.mark.parametrize(
    "source",
    [
        "import os",
        "from os import path",
        "x = ().__class__.__bases__",
        "x = open('/etc/passwd').read()",
        "x = __import__('os')",
        "x = getattr(history, '__class__')",
        "x = eval('1')",
    ],
)
def test_sandbox_refuses_escapes(source: str) -> None:
    with pytest.raises(ScriptError):
        scripting.execute(source, {"history": []})


def test_sandbox_stops_endless_loop() -> None:
    with pytest.raises(ScriptBudgetExceeded):
        scripting.execute("x = 0\nwhile x >= 0:\n    x = x + 1", {})


def test_sandbox_limits_range() -> None:
    with pytest.raises(ScriptBudgetExceeded):
        scripting.execute("x = sum(range(10**9))", {})


def test_sandbox_allows_plain_data_work() -> None:
    data = {"items": [3, 1, 2]}
    scripting.execute("total = sum(items)\nordered = sorted(items)\nn = len(items)", data)
    assert data == {"items": [3, 1, 2], "total": 6, "ordered": [1, 2, 3], "n": 3}
    assert scripting.evaluate("total > 5 and n == 3", data) is True


def test_script_refusal_is_reported_at_validation() -> None:
    bad = (
        (DATA / "review.bpmn")
        .read_text()
        .replace('status = "approved"', "import os\nstatus = os.name")
    )
    result = parse_bundle({"bad.bpmn": bad.encode()})
    assert not result.ok
    assert any(p.element_id == "mark" and "Импорт" in p.message for p in result.problems)


def test_xxe_and_doctype_are_refused() -> None:
    evil = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&e;</bpmn:definitions>"""
    result = parse_bundle({"evil.bpmn": evil})
    assert not result.ok
    assert "DOCTYPE" in result.problems[0].message


def test_malformed_xml_is_reported() -> None:
    result = parse_bundle({"broken.bpmn": b"<bpmn:definitions"})
    assert not result.ok and "XML" in result.problems[0].message


def test_scripts_refused_inside_a_running_process(review) -> None:
    with pytest.raises(ScriptRefused):
        scripting.compile_script("import sys")


def test_cache_parses_once_per_key() -> None:
    cache = DefinitionCache(capacity=2)
    calls = []

    def load():
        calls.append(1)
        return parse_bundle({"r.bpmn": (DATA / "review.bpmn").read_bytes()}).definitions[
            "test_review"
        ]

    first = cache.get(1, load)
    assert cache.get(1, load) is first
    assert len(calls) == 1


def test_every_shipped_process_parses_without_errors() -> None:
    for path in sorted((ROOT / "processes").glob("*.bpmn")):
        result = parse_bundle(
            {path.name: path.read_bytes()}
            | {d.name: d.read_bytes() for d in (ROOT / "processes").glob("*.dmn")}
        )
        assert result.ok, (path.name, result.problems)
        assert not [p for p in result.problems if "BPMN DI" in p.message], path.name


def test_dmn_unary_tests_are_probed_as_syntax_errors() -> None:
    from app.engine.runtime import SandboxScriptEngine

    engine = SandboxScriptEngine()
    engine.validate("x < 5")
    with pytest.raises(SyntaxError):
        engine.validate("< 5")
