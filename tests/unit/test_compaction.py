"""Compaction of the task tree (app/engine/compaction.py) on long revision loops.

Without compaction SpiffWorkflow keeps every round: the state grows with each loop and after
about 200 loops the tree is deeper than SpiffWorkflow's TaskIterator walks (1000 levels), so
ready_tasks() is empty and the open task is lost. These tests drive real processes through 250
loops, storing and reloading the state at every step as the service layer does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.engine import ProcessDefinition, Runner, migrate_state, parse_bundle
from app.engine.runtime import migration_blockers
from tests.factories import mo_plan

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data" / "engine"
LOOPS = 250


def _definitions(*names: str) -> dict[str, ProcessDefinition]:
    files = {name: (ROOT / "processes" / name).read_bytes() for name in names}
    parsed = parse_bundle(files)
    assert parsed.ok, parsed.problems
    return parsed.definitions


@pytest.fixture(scope="module")
def mo_plan_def() -> ProcessDefinition:
    return _definitions("mo_plan_approval.bpmn")["mo_plan_approval"]


@pytest.fixture(scope="module")
def tripartite_def() -> ProcessDefinition:
    return _definitions("tripartite_agreement.bpmn")["tripartite_agreement"]


@pytest.fixture(scope="module")
def review_def() -> ProcessDefinition:
    parsed = parse_bundle({"review.bpmn": (DATA / "review.bpmn").read_bytes()})
    assert parsed.ok, parsed.problems
    return parsed.definitions["test_review"]


def _services(operation: str, params: dict[str, Any], data: dict[str, Any]) -> Any:
    if operation == "generate_document":
        return {"sha256": "0" * 64, "title": params.get("title")}
    return None


def step(
    definition: ProcessDefinition, state: str, bpmn_id: str, data: dict[str, Any]
) -> tuple[str, Runner]:
    """Load, complete the ready task named bpmn_id, dump: one request's work."""
    runner = Runner.load(definition, state, _services)
    ready = {t.bpmn_id: t for t in runner.ready_tasks()}
    assert bpmn_id in ready, f"{bpmn_id} is not ready: {sorted(ready)}"
    runner.complete(ready[bpmn_id].id, data)
    return runner.dump(), runner


def tree(state: str) -> tuple[int, int]:
    """Number of tasks and depth of the stored top-level task tree."""
    tasks = json.loads(state)["tasks"]
    depth = 0
    for task_id in tasks:
        level, node = 0, tasks[task_id]
        while node.get("parent"):
            node = tasks[node["parent"]]
            level += 1
        depth = max(depth, level)
    return len(tasks), depth


def engine_bytes(state: str) -> int:
    """State size without the list of passed steps kept for the diagram path."""
    dct = json.loads(state)
    return len(state) - len(json.dumps(dct.get("compacted_history", [])))


def ready(runner: Runner) -> list[str]:
    return sorted(t.bpmn_id for t in runner.ready_tasks())


def test_simple_loop_state_stays_bounded(review_def: ProcessDefinition) -> None:
    state = Runner.start(review_def, {"review_period": "P3D", "history": []}).dump()
    sizes: dict[int, tuple[int, tuple[int, int]]] = {}
    for loop in range(1, LOOPS + 1):
        state, _ = step(review_def, state, "draft", {"text": f"v{loop}"})
        state, runner = step(review_def, state, "review", {"decision": "return"})
        assert ready(runner) == ["draft"], f"loop {loop}"
        if loop in (10, LOOPS):
            sizes[loop] = (engine_bytes(state), tree(state))
    assert sizes[LOOPS][1] == sizes[10][1]  # same number of tasks and depth
    assert sizes[LOOPS][0] <= 2 * sizes[10][0]
    assert len(state) <= 2 * sizes[10][0] + LOOPS * 4 * 40  # the passed-steps list is small
    state, _ = step(review_def, state, "draft", {"text": "final"})
    state, runner = step(review_def, state, "review", {"decision": "ok"})
    assert runner.is_completed()
    path = runner.completed_path()
    assert path.count("draft") == LOOPS + 1 and path.count("review") == LOOPS + 1
    assert path.index("draft") < path.index("review")
    assert path[-1] != "draft"


def test_mo_plan_250_revision_loops(mo_plan_def: ProcessDefinition) -> None:
    state = Runner.start(mo_plan_def, {"approver_role": "director"}).dump()
    returned = {"council_decision": "return", "council_comment": "Доработать"}
    shape: dict[int, tuple[int, int]] = {}
    for loop in range(1, LOOPS + 1):
        state, _ = step(mo_plan_def, state, "Task_draft", mo_plan())
        state, runner = step(mo_plan_def, state, "Task_council_review", dict(returned))
        assert ready(runner) == ["Task_draft"], f"loop {loop}"
        if loop in (10, LOOPS):
            shape[loop] = tree(state)
    assert shape[LOOPS] == shape[10]
    assert runner.data["plan_revision"] == LOOPS
    assert len(runner.data["review_history"]) == LOOPS
    state, _ = step(mo_plan_def, state, "Task_draft", mo_plan())
    approve = {"council_decision": "approve", "council_comment": "Одобрено"}
    state, _ = step(mo_plan_def, state, "Task_council_review", approve)
    director = {"approval_decision": "approve", "approval_order_number": "12-о"}
    state, runner = step(mo_plan_def, state, "Task_approve_director", director)
    assert runner.is_completed()
    path = runner.completed_path()
    assert path.count("Task_draft") == LOOPS + 1
    assert path.count("Task_council_review") == LOOPS + 1
    assert path.count("Task_approve_director") == 1
    tail = path[path.index("Task_approve_director") :]
    assert "Task_draft" not in tail and tail[-1].startswith("EndEvent")


def _tripartite_draft(note: str) -> dict[str, Any]:
    return {
        "draft_municipal_authority": "Комитет образования",
        "draft_municipal_signatory": "председатель комитета И. И. Иванов",
        "draft_region_authority": "Комитет общего и профессионального образования",
        "draft_cnppm_organisation": "ГАОУ ДПО «ЛОИРО»",
        "draft_subject": "Научно-методическое сопровождение.",
        "draft_joint_measures": [{"measure": "Курсы", "party": "cnppm", "deadline": "2026"}],
        "draft_municipal_obligations": "Помещения.",
        "draft_valid_until": "2027-12-31",
        "draft_revision_note": note,
    }


TRIPARTITE_START = {
    "agreement_title": "Соглашение",
    "reminder_after": "P5D",
    "escalate_after": "P10D",
    "draft_period": "P10D",
    "registration_period": "P5D",
    "review_history": [],
}


def test_tripartite_parallel_review_250_loops(tripartite_def: ProcessDefinition) -> None:
    """The parallel join inside the loop still waits for both reviews in every round."""
    state = Runner.start(tripartite_def, dict(TRIPARTITE_START), _services).dump()
    shape: dict[int, tuple[int, int]] = {}
    sizes: dict[int, int] = {}
    for loop in range(1, LOOPS + 1):
        state, runner = step(tripartite_def, state, "Task_draft", _tripartite_draft(f"к{loop}"))
        assert ready(runner) == ["Task_cnppm_review", "Task_region_review"], f"loop {loop}"
        # Alternate which party answers first and which one returns the draft.
        first, second = ("region", "cnppm") if loop % 2 else ("cnppm", "region")
        state, runner = step(
            tripartite_def,
            state,
            f"Task_{first}_review",
            {f"{first}_decision": "approve", f"{first}_comment": ""},
        )
        assert ready(runner) == [f"Task_{second}_review"], f"the join fired early at {loop}"
        state, runner = step(
            tripartite_def,
            state,
            f"Task_{second}_review",
            {f"{second}_decision": "return", f"{second}_comment": f"замечание {loop}"},
        )
        assert ready(runner) == ["Task_draft"], f"loop {loop}"
        if loop in (10, LOOPS):
            shape[loop] = tree(state)
            sizes[loop] = len(json.loads(state)["tasks"])
    assert shape[LOOPS][1] <= shape[10][1] + 2  # depth does not grow with the rounds
    assert sizes[LOOPS] <= 2 * sizes[10]
    history = runner.data["review_history"]
    assert len(history) == 2 * LOOPS
    assert history[-1]["comment"] == f"замечание {LOOPS}" or history[-2]["comment"] == (
        f"замечание {LOOPS}"
    )
    state, _ = step(tripartite_def, state, "Task_draft", _tripartite_draft("итог"))
    state, _ = step(
        tripartite_def,
        state,
        "Task_region_review",
        {"region_decision": "approve", "region_comment": ""},
    )
    state, runner = step(
        tripartite_def,
        state,
        "Task_cnppm_review",
        {"cnppm_decision": "approve", "cnppm_comment": ""},
    )
    assert ready(runner) == ["Task_cnppm_sign", "Task_municipal_head_sign", "Task_region_sign"]
    for bpmn_id, field in (
        ("Task_region_sign", "region_official_sign_confirm"),
        ("Task_cnppm_sign", "cnppm_head_sign_confirm"),
    ):
        state, runner = step(tripartite_def, state, bpmn_id, {field: True})
        assert "Task_registration" not in ready(runner)  # the signing join waits for all three
    state, runner = step(
        tripartite_def, state, "Task_municipal_head_sign", {"municipal_head_sign_confirm": True}
    )
    assert ready(runner) == ["Task_registration"]
    state, runner = step(
        tripartite_def,
        state,
        "Task_registration",
        {"registration_number": "1", "registration_date": "2026-01-10"},
    )
    assert runner.is_completed()
    assert runner.completed_path().count("Gateway_review_join") == LOOPS + 1


def test_migration_sees_steps_dropped_from_the_tree(review_def: ProcessDefinition) -> None:
    """A passed step that only compacted_history remembers still blocks a migration."""
    state = Runner.start(review_def, {"review_period": "P3D", "history": []}).dump()
    for loop in range(3):
        state, _ = step(review_def, state, "draft", {"text": f"v{loop}"})
        state, _ = step(review_def, state, "review", {"decision": "return"})
    runner = Runner.load(review_def, state)
    live = {t.task_spec.bpmn_id for t in runner.workflow.tasks.values()}
    dropped = {entry[0] for entry in json.loads(state)["compacted_history"]}
    only_history = sorted(dropped - live - {None})
    assert only_history, "nothing was compacted"
    assert migration_blockers(runner.workflow, review_def) == []
    assert migrate_state(review_def, review_def, state).ready_tasks()[0].bpmn_id == "draft"
