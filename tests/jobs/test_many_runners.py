"""Several runners against PostgreSQL: each due instance is advanced exactly once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, insert, select

from app.extensions import db
from app.models import AuditEvent, ProcessInstance
from app.services import audit, timers

from .support import T0, start

INSTANCES = 1000


def _clone(instance_id: int, copies: int) -> None:
    """Copies of a waiting instance (same version, state and timer): cheap bulk setup."""
    row = db.session.get(ProcessInstance, instance_id)
    values = {
        "process_version_id": row.process_version_id,
        "process_key": row.process_key,
        "org_unit_id": row.org_unit_id,
        "status": row.status,
        "title": row.title,
        "started_by_id": row.started_by_id,
        "started_at": row.started_at,
        "next_timer_at": row.next_timer_at,
        "lock_version": 1,
        "state": row.state,
    }
    db.session.execute(insert(ProcessInstance), [values] * copies)
    db.session.commit()


def test_two_runners_advance_each_instance_exactly_once(jobs) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip(
            "Needs PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED is what lets several runners "
            "share the work; SQLite has a single writer and runs one runner."
        )
    with time_machine.travel(T0, tick=False):
        first = start("test_tick", {"wait_for": "PT1H"})
    _clone(first.id, INSTANCES - 1)
    ids = set(db.session.execute(select(ProcessInstance.id)).scalars())
    assert len(ids) == INSTANCES
    db.session.remove()

    reports: dict[str, list[timers.AdvanceReport]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def runner(name: str) -> None:
        try:
            with jobs.app_context():
                while True:
                    report = timers.advance_due_instances(limit=50)
                    reports[name].append(report)
                    if report.processed == 0:
                        break
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=runner, args=(n,)) for n in reports]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=540)
    elapsed = time.perf_counter() - started
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)

    fired = {name: [i for r in rs for i in r.fired] for name, rs in reports.items()}
    print(
        f"\n{INSTANCES} instances, 2 runners: {elapsed:.1f} s "
        f"({INSTANCES / elapsed:.0f}/s), a={len(fired['a'])}, b={len(fired['b'])}"
    )
    assert sorted(fired["a"] + fired["b"]) == sorted(ids)
    assert fired["a"] and fired["b"], "both runners should have taken work"
    assert not any(r.failed or r.skipped for rs in reports.values() for r in rs)
    per_instance = dict(
        db.session.execute(
            select(AuditEvent.instance_id, func.count(AuditEvent.seq))
            .where(AuditEvent.kind == "timer_fired")
            .group_by(AuditEvent.instance_id)
        ).all()
    )
    assert per_instance == dict.fromkeys(ids, 1)
    done = db.session.execute(
        select(func.count(ProcessInstance.id)).where(ProcessInstance.status == "completed")
    ).scalar_one()
    assert done == INSTANCES
    assert audit.verify()["ok"]
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        assert timers.advance_due_instances().processed == 0
