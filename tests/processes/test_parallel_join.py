"""The parallel join inside a loop waits for both branches of the current round.

SpiffWorkflow 3.2 lets such a join fire after one branch from the second round on (the join
instance left over from the previous round counts as the missing branch);
app/engine/gateways.py fixes it. Without the fix these tests fail.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from app.engine import Runner, parse_bundle
from app.engine.gateways import RoundAwareParallelGateway

ROOT = Path(__file__).resolve().parent.parent.parent

LOOP = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="Defs_loop" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:collaboration id="Collab_loop">
    <bpmn:participant id="P_loop" name="Тест" processRef="test_join_loop"/>
  </bpmn:collaboration>
  <bpmn:process id="test_join_loop" name="Параллельное рассмотрение в цикле" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_director" name="director">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>merge</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>clear</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>split</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>a</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>b</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>join</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>count</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>again</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="merge">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:incoming>f_back</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:scriptTask id="clear" name="Новый круг">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f2b</bpmn:outgoing>
      <bpmn:script>a_value = ""
b_value = ""
del a_value, b_value</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:parallelGateway id="split">
      <bpmn:incoming>f2b</bpmn:incoming><bpmn:outgoing>fa</bpmn:outgoing><bpmn:outgoing>fb</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:userTask id="a" name="Ветвь А">
      <bpmn:documentation>тест</bpmn:documentation>
      <bpmn:incoming>fa</bpmn:incoming><bpmn:outgoing>fa2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="b" name="Ветвь Б">
      <bpmn:documentation>тест</bpmn:documentation>
      <bpmn:incoming>fb</bpmn:incoming><bpmn:outgoing>fb2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:parallelGateway id="join">
      <bpmn:incoming>fa2</bpmn:incoming><bpmn:incoming>fb2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:scriptTask id="count" name="Счёт">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:script>rounds = rounds + [a_value + "+" + b_value]</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="again" default="f_end">
      <bpmn:incoming>f4</bpmn:incoming>
      <bpmn:outgoing>f_end</bpmn:outgoing><bpmn:outgoing>f_back</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="end"><bpmn:incoming>f_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="merge"/>
    <bpmn:sequenceFlow id="f2" sourceRef="merge" targetRef="clear"/>
    <bpmn:sequenceFlow id="f2b" sourceRef="clear" targetRef="split"/>
    <bpmn:sequenceFlow id="fa" sourceRef="split" targetRef="a"/>
    <bpmn:sequenceFlow id="fb" sourceRef="split" targetRef="b"/>
    <bpmn:sequenceFlow id="fa2" sourceRef="a" targetRef="join"/>
    <bpmn:sequenceFlow id="fb2" sourceRef="b" targetRef="join"/>
    <bpmn:sequenceFlow id="f3" sourceRef="join" targetRef="count"/>
    <bpmn:sequenceFlow id="f4" sourceRef="count" targetRef="again"/>
    <bpmn:sequenceFlow id="f_end" sourceRef="again" targetRef="end"/>
    <bpmn:sequenceFlow id="f_back" sourceRef="again" targetRef="merge">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"
        >len(rounds) &lt; 3</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture(scope="module")
def loop() -> Any:
    result = parse_bundle({"loop.bpmn": LOOP.encode("utf-8")})
    assert result.ok, result.problems
    return result.definitions["test_join_loop"]


def _ready(runner: Runner) -> list[str]:
    return sorted(t.bpmn_id for t in runner.ready_tasks())


def _complete(runner: Runner, bpmn_id: str, data: dict[str, Any]) -> None:
    task = next(t for t in runner.ready_tasks() if t.bpmn_id == bpmn_id)
    runner.complete(task.id, data)


def test_parser_builds_round_aware_joins(loop: Any) -> None:
    assert isinstance(loop.spec.task_specs["join"], RoundAwareParallelGateway)


@pytest.mark.parametrize(
    "orders", list(itertools.product([("a", "b"), ("b", "a")], repeat=3)), ids=str
)
def test_join_in_a_loop_waits_for_both_branches_every_round(
    loop: Any, orders: tuple[tuple[str, str], ...]
) -> None:
    runner = Runner.start(loop, {"rounds": []})
    for number, (first, second) in enumerate(orders, start=1):
        assert _ready(runner) == ["a", "b"]
        _complete(runner, first, {f"{first}_value": f"{first}{number}"})
        # The join must wait for the second branch of this round, whatever the earlier orders.
        assert _ready(runner) == [second], (number, orders)
        # Reload between steps as the service layer does (state round trip keeps the fix).
        runner = Runner.load(loop, runner.dump())
        _complete(runner, second, {f"{second}_value": f"{second}{number}"})
    assert runner.is_completed()
    assert runner.data["rounds"] == ["a1+b1", "a2+b2", "a3+b3"]


def _tripartite() -> Any:
    result = parse_bundle(
        {
            "tripartite_agreement.bpmn": (
                ROOT / "processes" / "tripartite_agreement.bpmn"
            ).read_bytes()
        }
    )
    assert result.ok, [p for p in result.problems if p.severity == "error"]
    return result.definitions["tripartite_agreement"]


def _services(operation: str, params: dict[str, Any], data: dict[str, Any]) -> Any:
    if operation == "generate_document":
        return {"attachment_id": 1, "sha256": "0" * 64, "filename": "x.docx"}
    return {"sent": 1}


def test_tripartite_guard_end_is_never_reached() -> None:
    """The model's guard against the early join («Ожидается решение второй стороны») is dead."""
    definition = _tripartite()
    start = {
        "agreement_title": "Соглашение",
        "reminder_after": "P5D",
        "escalate_after": "P10D",
        "draft_period": "P10D",
        "registration_period": "P5D",
        "review_history": [],
    }
    runner = Runner.start(definition, start, _services)
    rounds = [
        (("Task_region_review", "Task_cnppm_review"), "return"),
        (("Task_cnppm_review", "Task_region_review"), "return"),
        (("Task_region_review", "Task_cnppm_review"), "approve"),
    ]
    for order, decision in rounds:
        _complete(runner, "Task_draft", {})
        for bpmn_id in order:
            prefix = "region" if bpmn_id == "Task_region_review" else "cnppm"
            _complete(runner, bpmn_id, {f"{prefix}_decision": decision, f"{prefix}_comment": "x"})
            # Without the fix the join fires here from round 2 and the guard ends the token.
            assert "EndEvent_stale_join" not in runner.completed_path()
            if bpmn_id == order[0]:
                assert _ready(runner) == [order[1]]
    assert runner.completed_path().count("Gateway_review_join") == 3
    assert len(runner.data["review_history"]) == 6


R, C = "Task_region_review", "Task_cnppm_review"
_RETURN_ROUNDS = [
    (order, region, cnppm)
    for order in ((R, C), (C, R))
    for region, cnppm in (("return", "approve"), ("approve", "return"), ("return", "return"))
]
_SCENARIOS = [
    [*earlier, (last, "approve", "approve")]
    for rounds in (0, 1, 2)
    for earlier in itertools.product(_RETURN_ROUNDS, repeat=rounds)
    for last in ((R, C), (C, R))
]


def test_tripartite_every_order_and_return_combination() -> None:
    """1–3 rounds, each arrival order, each return combination: one token goes on, history right."""
    definition = _tripartite()
    start = {"review_history": [], "reminder_after": "P5D", "escalate_after": "P10D"}
    start.update(agreement_title="Соглашение", draft_period="P10D", registration_period="P5D")
    assert len(_SCENARIOS) == 86
    for scenario in _SCENARIOS:
        runner = Runner.start(definition, start, _services)
        expected = []
        for number, (order, region, cnppm) in enumerate(scenario):
            assert _ready(runner) == ["Task_draft"], scenario
            _complete(runner, "Task_draft", {})
            for bpmn_id in order:
                prefix, value = ("region", region) if bpmn_id == R else ("cnppm", cnppm)
                comment = f"{prefix}{number}"
                _complete(
                    runner, bpmn_id, {f"{prefix}_decision": value, f"{prefix}_comment": comment}
                )
            expected += [("region", region, f"region{number}"), ("cnppm", cnppm, f"cnppm{number}")]
        assert _ready(runner) == ["Task_cnppm_sign", "Task_municipal_head_sign", "Task_region_sign"]
        history = [(h["step"], h["decision"], h["comment"]) for h in runner.data["review_history"]]
        assert history == expected, scenario
        assert "EndEvent_stale_join" not in runner.completed_path()
