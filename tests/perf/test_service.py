"""The same completions through the service layer: load, authorise, complete, mirror, audit.

Each measurement runs in a fresh interpreter (tests/perf/service_bench.py), so that two apps
never share process-wide state and every figure starts from the same cold process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from . import service_bench, support

pytestmark = pytest.mark.perf


def _record(bench: support.BenchResults, key: str, result: dict[str, Any]) -> None:
    rates = result["rates"]
    bench.record(
        key,
        max(rates),
        rounds=[round(r, 1) for r in rates],
        tasks_per_round=result["tasks_per_round"],
        work="app.services.tasks.complete and the next open task, one session per completion",
    )


def test_service_tasks_per_second_postgres(
    need_postgres: None, bench: support.BenchResults
) -> None:
    with support.throwaway_postgres("svc") as url:
        result = service_bench.run_in_subprocess(url, "throughput", "pg", support.scaled(40))
    _record(bench, "service_tasks_per_s_pg", result)


def test_service_tasks_per_second_sqlite(tmp_path: Path, bench: support.BenchResults) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    result = service_bench.run_in_subprocess(url, "throughput", "sqlite", support.scaled(40))
    _record(bench, "service_tasks_per_s_sqlite", result)


def test_floor_tasks_per_second_postgres(need_postgres: None, bench: support.BenchResults) -> None:
    """The same completions written by hand against the driver (tests/perf/floor_bench.py)."""
    with support.throwaway_postgres("floor") as url:
        result = service_bench.run_in_subprocess(url, "floor", "pg", support.scaled(40))
    bench.record(
        "floor_tasks_per_s_pg",
        max(result["rates"]),
        rounds=[round(r, 1) for r in result["rates"]],
        tasks_per_round=result["tasks_per_round"],
        work="hand-written SQL: load+offer check, engine step, task and state update, next "
        "task with candidates, audit chain, commit; no ORM, forms, notifications or facts",
    )


def test_step_time_after_100_revisions(need_postgres: None, bench: support.BenchResults) -> None:
    """One completion after 100 council returns against one at the first loop (PostgreSQL)."""
    with support.throwaway_postgres("rev") as url:
        result = service_bench.run_in_subprocess(url, "revisions", "pg", 100)
    first = support.median(result["first_ms"])
    later = support.median(result["later_ms"])
    assert result["state_bytes"] > 0
    bench.record(
        "step_ms_ratio_rev100",
        later / first,
        step_ms_rev1=round(first, 2),
        step_ms_rev100=round(later, 2),
        layer="service (app.services.tasks.complete) on PostgreSQL",
    )
    bench.record("state_bytes_rev100", result["state_bytes"], after_loops=result["loops"])
