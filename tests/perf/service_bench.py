"""Service-layer measurements in a fresh process: python -m tests.perf.service_bench MODE URL …

Each database gets its own process so that two apps never share process-wide state
(definition cache, blueprints) and each figure starts from the same cold interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.engine import definitions
from app.extensions import db
from app.models import HumanTask, OrgUnit, ProcessInstance, User
from app.services import instances, tasks
from tests.conftest import ROOT
from tests.factories import mo_plan

from . import support

ROUNDS = 3


def ids(app: Flask) -> tuple[dict[str, int], dict[str, int]]:
    """Demo user ids by username and org unit ids by slug."""
    with app.app_context():
        users = {u.username: u.id for u in db.session.execute(select(User)).scalars()}
        units = {u.slug: u.id for u in db.session.execute(select(OrgUnit)).scalars()}
        db.session.remove()
    return users, units


def start(users: dict[str, int], units: dict[str, int], school: str) -> tuple[int, int]:
    """Start an instance at a school as its МО head; returns instance id and first task id."""
    actor = db.session.get(User, users[support.lane_user("mo_head", school)])
    instance = instances.start_instance(
        actor, support.PROCESS_KEY, units[school], dict(support.START_DATA)
    )
    (task,) = instances.open_tasks(instance)
    result = instance.id, task.id
    db.session.remove()
    return result


def started_round(
    users: dict[str, int], units: dict[str, int], count: int
) -> list[tuple[str, int]]:
    """Start count instances over the demo schools, untimed: (school, first task id) each."""
    started = []
    for i in range(count):
        school = support.SCHOOLS[i % len(support.SCHOOLS)]
        started.append((school, start(users, units, school)[1]))
    return started


def complete(
    users: dict[str, int], school: str, task_id: int, data: dict[str, Any] | None = None
) -> tuple[ProcessInstance, int | None]:
    """One completion as a request does it: the actor, the use case, the next open task."""
    row = db.session.get(HumanTask, task_id)
    assert row is not None and row.lane is not None
    actor = db.session.get(User, users[support.lane_user(row.lane, school)])
    submitted = data if data is not None else support.step_data(row.bpmn_id)
    instance = tasks.complete(actor, task_id, submitted)
    following = instances.open_tasks(instance)
    next_id = following[0].id if following else None
    status = instance.status
    db.session.remove()
    assert (next_id is None) == (status == "completed")
    return instance, next_id


def throughput(app: Flask, label: str, per_round: int) -> dict[str, Any]:
    """Completions per second: instances started untimed, then every task completed."""
    users, units = ids(app)
    rates = []
    with app.app_context():
        definitions.clear()
        for warm in range(2):
            _instance_id, first = start(users, units, support.SCHOOLS[warm])
            next_id: int | None = first
            while next_id is not None:
                _, next_id = complete(users, support.SCHOOLS[warm], next_id)
        with support.profiled(f"service_{label}"):
            for _ in range(ROUNDS):
                todo = started_round(users, units, per_round)
                t0 = time.perf_counter()
                done = 0
                for school, first in todo:
                    next_id = first
                    while next_id is not None:
                        _, next_id = complete(users, school, next_id)
                        done += 1
                rates.append(done / (time.perf_counter() - t0))
                assert done == 3 * per_round
        db.session.remove()
    return {"rates": rates, "tasks_per_round": 3 * per_round}


def _revision_loop(users: dict[str, int], school: str, draft_id: int) -> tuple[float, int]:
    """Draft, then the council returns it; the mean ms per completion and the new draft task."""
    t0 = time.perf_counter()
    _, review_id = complete(users, school, draft_id, mo_plan())
    assert review_id is not None
    _, redraft_id = complete(users, school, review_id, dict(support.COUNCIL_RETURN))
    elapsed = (time.perf_counter() - t0) * 1000 / 2
    assert redraft_id is not None
    return elapsed, redraft_id


def _state_bytes(instance_id: int) -> int:
    """Length in bytes of the stored workflow state of an instance."""
    instance = db.session.get(ProcessInstance, instance_id)
    assert instance is not None and instance.status == "running"
    size = len(instance.state.encode("utf-8"))
    db.session.remove()
    return size


def revisions(app: Flask, loops: int = 100) -> dict[str, Any]:
    """One completion after `loops` council returns against one at the first loop."""
    users, units = ids(app)
    school = support.SCHOOLS[0]
    with app.app_context():
        definitions.clear()
        first_loops = []
        for _ in range(6):  # fresh instances: the first loop, without the growth of later ones
            _, draft_id = start(users, units, school)
            first_loops.append(_revision_loop(users, school, draft_id)[0])
        instance_id, draft_id = start(users, units, school)
        for _ in range(loops):
            draft_id = _revision_loop(users, school, draft_id)[1]
        state_bytes = _state_bytes(instance_id)
        later_loops = []
        with support.profiled("service_rev100"):
            for _ in range(5):  # loops 101..105: the instance has gone through 100 returns
                elapsed, draft_id = _revision_loop(users, school, draft_id)
                later_loops.append(elapsed)
        _state_bytes(instance_id)
    return {
        "first_ms": first_loops[1:],  # the first one warms caches
        "later_ms": later_loops,
        "state_bytes": state_bytes,
        "loops": loops,
    }


def run_in_subprocess(database_url: str, mode: str, label: str, count: int) -> dict[str, Any]:
    """Run a measurement in a fresh interpreter and return the JSON it printed."""
    proc = subprocess.run(  # noqa: S603 - fixed argv
        [
            sys.executable,
            "-m",
            "tests.perf.service_bench",
            mode,
            database_url,
            label,
            str(count),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    """Entry point of the subprocess: build the app on URL, measure, print one JSON line."""
    mode, database_url, label, count = argv[0], argv[1], argv[2], int(argv[3])
    app = support.build_app(database_url)
    if mode == "throughput":
        result = throughput(app, label, count)
    elif mode == "revisions":
        result = revisions(app, count)
    elif mode == "floor":
        from .floor_bench import floor

        result = floor(app, label, count)
    else:
        raise SystemExit(f"unknown mode {mode}")
    with app.app_context():
        db.engine.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
