"""The ceiling: the pure SpiffWorkflow loop on mo_plan_approval, no database, no web."""

from __future__ import annotations

import time

import pytest

from app.engine import ProcessDefinition, Runner, parse_bundle
from tests.factories import mo_plan

from . import support

pytestmark = pytest.mark.perf

ROUNDS = 3


def _definition() -> ProcessDefinition:
    parsed = parse_bundle(support.process_files())
    assert parsed.ok, parsed.problems
    return parsed.definitions[support.PROCESS_KEY]


def complete_one(definition: ProcessDefinition, state: str, data: dict | None = None) -> tuple:
    """Deserialise, complete the ready task, run engine steps, serialise: one task's work."""
    runner = Runner.load(definition, state)
    ready = runner.ready_tasks()
    if not ready:
        return None, runner
    task = ready[0]
    runner.complete(task.id, data if data is not None else support.step_data(task.bpmn_id))
    return runner.dump(), runner


def _drive(definition: ProcessDefinition, states: list[str]) -> int:
    done = 0
    for state in states:
        current: str | None = state
        while current is not None:
            current, runner = complete_one(definition, current)
            if current is not None:
                done += 1
        assert runner.is_completed()
    return done


def test_engine_tasks_per_second(bench: support.BenchResults) -> None:
    definition = _definition()
    per_round = support.scaled(100)
    _drive(definition, [Runner.start(definition, dict(support.START_DATA)).dump()] * 5)  # warm up
    rates = []
    with support.profiled("engine_loop"):
        for _ in range(ROUNDS):
            states = [
                Runner.start(definition, dict(support.START_DATA)).dump() for _ in range(per_round)
            ]
            t0 = time.perf_counter()
            done = _drive(definition, states)
            rates.append(done / (time.perf_counter() - t0))
            assert done == 3 * per_round
    bench.record(
        "engine_tasks_per_s",
        max(rates),
        rounds=[round(r, 1) for r in rates],
        tasks_per_round=3 * per_round,
        work="load state, complete the ready task, engine steps, dump; 3 tasks per instance",
    )


def _loop_ms(definition: ProcessDefinition, state: str, repeats: int) -> float:
    """Median time of one completion at this state: draft and council review, replayed."""
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        after_draft, _ = complete_one(definition, state, mo_plan())
        t1 = time.perf_counter()
        assert after_draft is not None
        complete_one(definition, after_draft, dict(support.COUNCIL_RETURN))
        t2 = time.perf_counter()
        samples.append((t2 - t0) * 1000 / 2)
        assert t1 > t0
    return support.median(samples)


def test_engine_step_growth_with_revisions(bench: support.BenchResults) -> None:
    """The same two completions replayed on the state after 0 and after 100 revision loops."""
    definition = _definition()
    state = Runner.start(definition, dict(support.START_DATA)).dump()
    first = _loop_ms(definition, state, 20)
    initial_bytes = len(state)
    for _ in range(100):
        state, _ = complete_one(definition, state, mo_plan())
        state, runner = complete_one(definition, state, dict(support.COUNCIL_RETURN))
    assert [t.bpmn_id for t in runner.ready_tasks()] == ["Task_draft"]
    assert runner.data["plan_revision"] == 100
    with support.profiled("engine_rev100"):
        later = _loop_ms(definition, state, 5)
    bench.record(
        "step_ms_ratio_rev100_engine",
        later / first,
        step_ms_rev1=round(first, 2),
        step_ms_rev100=round(later, 2),
        state_bytes_rev1=initial_bytes,
        state_bytes_rev100=len(state),
    )
    bench.record("state_bytes_rev100_engine", len(state))
