"""Engine: re-attaching a stored workflow to another definition keeps its tree and task ids."""

from __future__ import annotations

import json
from typing import Any

import pytest
from SpiffWorkflow.util.task import TaskState

from app.engine import MigrationBlocked, ProcessDefinition, Runner, migrate_state, parse_bundle
from tests.factories import mo_plan

from .helpers import KEY, ROOT, v1_source, v2_source


def _definition(name: str, text: bytes, key: str) -> ProcessDefinition:
    parsed = parse_bundle({name: text})
    assert parsed.ok, parsed.problems
    return parsed.definitions[key]


def _tree(runner: Runner) -> list[tuple[int, str, str]]:
    return [
        (t.depth, t.task_spec.name, TaskState.get_name(t.state))
        for t in runner.workflow.get_tasks()
    ]


def _kept_ids(runner: Runner) -> list[str]:
    mask = TaskState.FINISHED_MASK | TaskState.READY | TaskState.WAITING
    return sorted(str(t.id) for t in runner.workflow.get_tasks(state=mask))


def _services(operation: str, params: dict[str, Any], data: dict[str, Any]) -> Any:
    return {"ok": True}


def _start_defaults(form: str) -> dict[str, Any]:
    schema = json.loads((ROOT / "forms" / form).read_text(encoding="utf-8"))
    return {k: v["default"] for k, v in schema["properties"].items() if "default" in v}


def test_same_spec_reattached_gives_the_identical_tree() -> None:
    text = (ROOT / "processes" / "mo_plan_approval.bpmn").read_bytes()
    old = _definition("m.bpmn", text, "mo_plan_approval")
    new = _definition("m.bpmn", text, "mo_plan_approval")
    runner = Runner.start(old, _start_defaults("mo_plan_approval/start.json"))
    runner.complete(runner.ready_tasks()[0].id, mo_plan())
    migrated = migrate_state(old, new, runner.dump())
    assert _tree(migrated) == _tree(runner)
    assert _kept_ids(migrated) == _kept_ids(runner)
    assert migrated.workflow.spec is new.spec


def test_waiting_boundary_timers_keep_their_due_time() -> None:
    text = (ROOT / "processes" / "tripartite_agreement.bpmn").read_bytes()
    old = _definition("t.bpmn", text, "tripartite_agreement")
    new = _definition("t.bpmn", text, "tripartite_agreement")
    runner = Runner.start(old, _start_defaults("tripartite_agreement/start.json"), _services)
    runner.complete(runner.ready_tasks()[0].id, {})
    waiting = runner.workflow.get_tasks(state=TaskState.WAITING)
    assert waiting, "the review step waits with its reminder and escalation timers"
    migrated = migrate_state(old, new, runner.dump(), _services)
    assert _tree(migrated) == _tree(runner)
    assert migrated.next_timer_at() == runner.next_timer_at()
    assert [t.id for t in migrated.ready_tasks()] == [t.id for t in runner.ready_tasks()]


def test_new_structure_is_predicted_and_runs() -> None:
    old = _definition("d.bpmn", v1_source().encode(), KEY)
    new = _definition("d.bpmn", v2_source().encode(), KEY)
    runner = Runner.start(old, {"priority": "normal"})
    ready = runner.ready_tasks()[0]
    migrated = migrate_state(old, new, runner.dump(), new_data={"check_due_in": "P3D"})
    assert [t.id for t in migrated.ready_tasks()] == [ready.id]
    assert migrated.ready_tasks()[0].data["check_due_in"] == "P3D"
    names = [name for _, name, _ in _tree(migrated)]
    assert "Task_check" in names and "Task_review" not in names
    migrated.complete(ready.id, {"request_text": "Прошу"})
    assert [t.bpmn_id for t in migrated.ready_tasks()] == ["Task_check"]
    migrated.complete(migrated.ready_tasks()[0].id, {"decision": "approve"})
    assert migrated.is_completed()
    assert migrated.data["request_status"] == "approved"


def test_waiting_at_a_removed_task_is_blocked() -> None:
    old = _definition("d.bpmn", v1_source().encode(), KEY)
    new = _definition("d.bpmn", v2_source().encode(), KEY)
    runner = Runner.start(old, {"priority": "normal"})
    runner.complete(runner.ready_tasks()[0].id, {"request_text": "Прошу"})
    with pytest.raises(MigrationBlocked) as blocked:
        migrate_state(old, new, runner.dump())
    missing = blocked.value.missing
    assert [(m.element_id, m.waiting) for m in missing] == [("Task_review", True)]
    assert "Рассмотрение заявки" in str(blocked.value)


def test_a_removed_completed_step_blocks_too() -> None:
    old = _definition("d.bpmn", v1_source().encode(), KEY)
    renamed = v1_source().replace("Task_submit", "Task_application")
    new = _definition("d.bpmn", renamed.encode(), KEY)
    runner = Runner.start(old, {"priority": "normal"})
    runner.complete(runner.ready_tasks()[0].id, {"request_text": "Прошу"})
    with pytest.raises(MigrationBlocked) as blocked:
        migrate_state(old, new, runner.dump())
    assert [(m.element_id, m.waiting) for m in blocked.value.missing] == [("Task_submit", False)]
