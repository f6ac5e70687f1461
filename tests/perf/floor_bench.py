"""The floor: one completion written by hand against the driver, the fewest statements we know.

This is not the product's code path. It measures what any implementation on this machine
would pay for the contract of a completion (load the task and the state, check the offer,
run the same engine work as the ceiling, update the task and the state, insert the next
task with its candidates found by role, chain and insert the audit events, commit) when
every step is one hand-written statement on PostgreSQL and nothing else runs: no ORM, no
forms, no substitutes, no notifications, no monitoring facts. It tells how far the service
layer could still come down, and how close to the engine any database-backed completion
can get here.

Run through service_bench (mode "floor") in a fresh interpreter.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.engine import Runner, definitions
from app.extensions import db
from app.models import ProcessVersion
from app.models.base import utcnow
from app.services import audit, deployment

from . import support

ROUNDS = 3

LOAD = """
SELECT t.id, t.task_uuid, t.bpmn_id, t.org_unit_id, i.id, i.state, i.process_version_id,
       EXISTS (SELECT 1 FROM human_task_candidate c
               WHERE c.human_task_id = t.id AND c.user_id = %(user_id)s) AS offered
FROM human_task t JOIN process_instance i ON i.id = t.instance_id
WHERE t.id = %(task_id)s AND t.status = 'open'
FOR UPDATE OF i
"""
COMPLETE_TASK = """
UPDATE human_task SET status = 'completed', completed_at = %(now)s,
       completed_by_id = %(user_id)s, claimed_by_id = %(user_id)s, row_version = row_version + 1
WHERE id = %(task_id)s
"""
SAVE_STATE = """
UPDATE process_instance SET state = %(state)s, status = %(status)s,
       lock_version = lock_version + 1
WHERE id = %(instance_id)s
"""
OFFER = """
WITH unit AS (
    SELECT u.id AS u1, p.id AS u2, g.id AS u3 FROM org_unit u
    LEFT JOIN org_unit p ON p.id = u.parent_id LEFT JOIN org_unit g ON g.id = p.parent_id
    WHERE u.id = %(org_unit_id)s
), task AS (
    INSERT INTO human_task (instance_id, task_uuid, bpmn_id, name, lane, org_unit_id,
                            process_key, form, documentation, status, created_at, row_version)
    VALUES (%(instance_id)s, %(task_uuid)s, %(bpmn_id)s, %(name)s, %(lane)s, %(org_unit_id)s,
            %(process_key)s, %(form)s, %(documentation)s, 'open', %(now)s, 1)
    RETURNING id
)
INSERT INTO human_task_candidate (human_task_id, user_id, reason)
SELECT task.id, g.user_id, 'role' FROM task, unit, role_grant g
WHERE g.role = %(lane)s AND g.org_unit_id IN (unit.u1, unit.u2, unit.u3)
RETURNING human_task_id
"""
LOCK_HEAD = "SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE"
INSERT_EVENT = """
INSERT INTO audit_event (seq, occurred_at, actor_id, actor_username, instance_id, task_id,
                         org_unit_id, kind, payload, prev_hash, hash)
VALUES (%(seq)s, %(occurred_at)s, %(actor_id)s, %(actor_username)s, %(instance_id)s,
        %(task_id)s, %(org_unit_id)s, %(kind)s, %(payload)s, %(prev_hash)s, %(hash)s)
"""
MOVE_HEAD = "UPDATE audit_head SET last_seq = %(seq)s, last_hash = %(hash)s WHERE id = 1"


class _Floor:
    """One raw connection and the little the loop needs to know about the demo data."""

    def __init__(self, conn: Any, users: dict[str, int], definition: Any) -> None:
        self.conn = conn
        self.users = users
        self.definition = definition

    def _audit(self, cur: Any, events: list[dict[str, Any]]) -> None:
        cur.execute(LOCK_HEAD)
        seq, prev_hash = cur.fetchone()
        rows = []
        for event in events:
            seq += 1
            payload = json.loads(audit._canonical(event["payload"]))
            digest = audit.compute_hash(
                seq,
                event["occurred_at"],
                event["actor_username"],
                event["kind"],
                event["instance_id"],
                event["task_id"],
                event["org_unit_id"],
                payload,
                prev_hash,
            )
            rows.append(
                {**event, "seq": seq, "payload": json.dumps(payload), "prev_hash": prev_hash}
                | {"hash": digest}
            )
            prev_hash = digest
        cur.executemany(INSERT_EVENT, rows)
        cur.execute(MOVE_HEAD, {"seq": seq, "hash": prev_hash})

    def complete(self, school: str, lane: str, task_id: int) -> tuple[str, int | None]:
        """Complete one task; the lane and id of the next open task (None: finished)."""
        username = support.lane_user(lane, school)
        user_id = self.users[username]
        now = utcnow()
        with self.conn.cursor() as cur:
            cur.execute(LOAD, {"task_id": task_id, "user_id": user_id})
            tid, task_uuid, bpmn_id, unit_id, instance_id, state, _version, offered = cur.fetchone()
            assert offered, "the floor completes only offered tasks"
            runner = Runner.load(self.definition, state)
            runner.complete(task_uuid, support.step_data(bpmn_id))
            new_state = runner.dump()
            ready = runner.ready_tasks()
            status = "completed" if runner.is_completed() else "running"
            cur.execute(COMPLETE_TASK, {"task_id": tid, "user_id": user_id, "now": now})
            cur.execute(
                SAVE_STATE, {"state": new_state, "status": status, "instance_id": instance_id}
            )
            base = {
                "occurred_at": now,
                "actor_id": user_id,
                "actor_username": username,
                "instance_id": instance_id,
                "org_unit_id": unit_id,
            }
            events = [
                base
                | {
                    "task_id": tid,
                    "kind": "task_completed",
                    "payload": {"bpmn_id": bpmn_id, "data": support.step_data(bpmn_id)},
                }
            ]
            next_lane, next_id = "", None
            for task in ready:
                cur.execute(
                    OFFER,
                    {
                        "org_unit_id": unit_id,
                        "instance_id": instance_id,
                        "task_uuid": task.id,
                        "bpmn_id": task.bpmn_id,
                        "name": task.name,
                        "lane": task.lane,
                        "process_key": support.PROCESS_KEY,
                        "form": task.properties.get("formJsonSchemaFilename"),
                        "documentation": task.documentation,
                        "now": now,
                    },
                )
                offered_rows = cur.fetchall()
                assert offered_rows, f"nobody holds {task.lane} above {unit_id}"
                next_lane, next_id = task.lane or "", int(offered_rows[0][0])
                events.append(
                    base
                    | {
                        "task_id": next_id,
                        "kind": "task_offered",
                        "payload": {"bpmn_id": task.bpmn_id, "lane": task.lane},
                    }
                )
            self._audit(cur, events)
        self.conn.commit()
        return next_lane, next_id


def floor(app: Flask, label: str, per_round: int) -> dict[str, Any]:
    """Completions per second by hand: instances started through the service, untimed."""
    from .service_bench import ids, started_round  # the service figure's untimed starts

    users, units = ids(app)
    rates = []
    with app.app_context():
        assert db.engine.dialect.name == "postgresql", "the floor is measured on PostgreSQL"
        definitions.clear()
        version = db.session.execute(
            select(ProcessVersion).where(ProcessVersion.key == support.PROCESS_KEY)
        ).scalar_one()
        definition = deployment.definition_for(version)
        first_lane = "mo_head"
        raw = db.engine.raw_connection()
        try:
            bench = _Floor(raw.driver_connection, users, definition)
            for _ in range(ROUNDS + 1):  # the first round warms up and is not counted
                todo = started_round(users, units, per_round)
                t0 = time.perf_counter()
                done = 0
                for school, first in todo:
                    lane = first_lane
                    current: int | None = first
                    while current is not None:
                        lane, current = bench.complete(school, lane, current)
                        done += 1
                rates.append(done / (time.perf_counter() - t0))
                assert done == 3 * per_round
        finally:
            raw.close()
    return {"rates": rates[1:], "tasks_per_round": 3 * per_round, "label": label}
