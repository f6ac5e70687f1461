"""The inbox data set: 100,000 open tasks, 1,000,000 audit events, bulk-inserted in SQL.

Rows are made by INSERT … SELECT over generate_series inside PostgreSQL (the fastest bulk path;
nothing goes through the ORM). Instances that are never opened carry a short placeholder state.
The audit rows carry placeholder hashes: the chain is NOT valid after this load (flask audit
verify reports the first bulk row); the data set only exists for the latency measurement.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, text

INBOX_USER = "methodical_council.luga-school-2"
OPEN_TASKS = 100_000
AUDIT_EVENTS = 1_000_000
SYNTHETIC_USERS = 1_000
# The inbox user is a candidate of every 333rd open task (300 tasks) …
OFFERED_EVERY = 333
# … has claimed every 3330th (30), and colleagues claimed every 999th of the rest (97).
CLAIMED_BY_USER_EVERY = 3_330
CLAIMED_BY_OTHER_EVERY = 999
# The user was also a candidate of 2,000 tasks completed long ago (history stays in the table).
COMPLETED_OFFERED = 2_000
# A second user has exactly 10,000 open unclaimed tasks in scope (offered about every 10th,
# skipping those colleagues claimed): the HTML inbox figure of issue 4 ("the inbox page with
# 10,000 open tasks in scope").
SCOPE_USER = "methodical_council.luga-school-1"
SCOPE_EVERY = 10


@dataclass
class InboxDataSet:
    """What was loaded, and what the inbox must answer for the user."""

    open_tasks: int
    completed_tasks: int
    candidates: int
    audit_events: int
    offered_to_user: int
    expected_total: int
    scope_user_total: int
    load_seconds: float
    step_seconds: dict[str, float]

    def describe(self) -> dict[str, Any]:
        """The figures that go with inbox_p95_ms_100k in bench-results.json."""
        return {
            "open_tasks": self.open_tasks,
            "completed_tasks": self.completed_tasks,
            "candidate_rows": self.candidates,
            "audit_events": self.audit_events,
            "offered_to_user": self.offered_to_user,
            "inbox_total": self.expected_total,
            "scope_user_open_tasks": self.scope_user_total,
            "load_seconds": round(self.load_seconds, 1),
            "load_step_seconds": self.step_seconds,
            "audit_chain_valid": False,
        }


def _scalar(conn: Any, sql: str, **params: Any) -> Any:
    return conn.execute(text(sql), params).scalar_one()


def load_inbox_data_set(database_url: str, username: str) -> InboxDataSet:
    """Insert the data set next to what the database holds; ANALYZE; return the expectations."""
    t0 = time.perf_counter()
    engine = create_engine(database_url)
    with engine.begin() as conn:
        me = _scalar(conn, "SELECT id FROM app_user WHERE username = :u", u=username)
        scope_user = _scalar(conn, "SELECT id FROM app_user WHERE username = :u", u=SCOPE_USER)
        version = _scalar(
            conn,
            "SELECT max(id) FROM process_version WHERE key = 'mo_plan_approval'",
        )
        units = [
            row[0]
            for row in conn.execute(
                text("SELECT id FROM org_unit WHERE tier = 'institution' ORDER BY id")
            )
        ]
        u0 = _scalar(conn, "SELECT coalesce(max(id), 0) FROM app_user")
        i0 = _scalar(conn, "SELECT coalesce(max(id), 0) FROM process_instance")
        t0_id = _scalar(conn, "SELECT coalesce(max(id), 0) FROM human_task")
        seq0 = _scalar(conn, "SELECT coalesce(max(seq), 0) FROM audit_event")
        params = {
            "me": me,
            "scope_user": scope_user,
            "version": version,
            "units": units,
            "u0": u0,
            "i0": i0,
            "t0": t0_id,
            "seq0": seq0,
            "n": OPEN_TASKS,
            "users": SYNTHETIC_USERS,
        }
        steps: dict[str, float] = {}
        if _scalar(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            # The rows are consistent by construction: skip the per-row foreign-key triggers.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for step in (
            _insert_users,
            _insert_instances,
            _insert_tasks,
            _insert_candidates,
            _insert_audit,
        ):
            started = time.perf_counter()
            step(conn, params)
            steps[step.__name__.removeprefix("_insert_")] = round(time.perf_counter() - started, 1)
        for table, column in (
            ("app_user", "id"),
            ("process_instance", "id"),
            ("human_task", "id"),
        ):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                    f"(SELECT max({column}) FROM {table}))"
                )
            )
        expected = _scalar(
            conn,
            """
            SELECT count(*) FROM human_task t
            WHERE t.status = 'open' AND (
                t.claimed_by_id = :me
                OR (t.claimed_by_id IS NULL AND t.id IN (
                    SELECT human_task_id FROM human_task_candidate WHERE user_id = :me)))
            """,
            me=me,
        )
        offered = _scalar(
            conn,
            """
            SELECT count(*) FROM human_task_candidate c JOIN human_task t ON t.id = c.human_task_id
            WHERE c.user_id = :me AND t.status = 'open'
            """,
            me=me,
        )
        scope_total = _scalar(
            conn,
            """
            SELECT count(*) FROM human_task t
            WHERE t.status = 'open' AND t.claimed_by_id IS NULL AND t.id IN (
                SELECT human_task_id FROM human_task_candidate WHERE user_id = :u)
            """,
            u=scope_user,
        )
        candidates = _scalar(conn, "SELECT count(*) FROM human_task_candidate")
        open_tasks = _scalar(conn, "SELECT count(*) FROM human_task WHERE status = 'open'")
        done_tasks = _scalar(conn, "SELECT count(*) FROM human_task WHERE status <> 'open'")
        events = _scalar(conn, "SELECT count(*) FROM audit_event")
    # Statistics as autovacuum would have them on a database that grew to this size.
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    steps["vacuum_analyze"] = round(time.perf_counter() - started, 1)
    engine.dispose()
    assert open_tasks >= OPEN_TASKS and events >= AUDIT_EVENTS
    return InboxDataSet(
        open_tasks=open_tasks,
        completed_tasks=done_tasks,
        candidates=candidates,
        audit_events=events,
        offered_to_user=offered,
        expected_total=expected,
        scope_user_total=scope_total,
        load_seconds=time.perf_counter() - t0,
        step_seconds=steps,
    )


def _insert_users(conn: Any, p: dict[str, Any]) -> None:
    conn.execute(
        text(
            """
            INSERT INTO app_user (id, username, full_name, password_hash, is_active, created_at)
            SELECT :u0 + g, 'bench.user.' || g, 'Педагог ' || g, '!', true, now()
            FROM generate_series(1, :users) g
            """
        ),
        p,
    )


def _insert_instances(conn: Any, p: dict[str, Any]) -> None:
    conn.execute(
        text(
            """
            INSERT INTO process_instance (id, process_version_id, process_key, org_unit_id,
                status, title, started_by_id, started_at, lock_version, state)
            SELECT :i0 + g, :version, 'mo_plan_approval',
                (CAST(:units AS integer[]))[1 + g % cardinality(CAST(:units AS integer[]))],
                'running', 'План работы МО № ' || g, :u0 + 1 + g % :users,
                now() - (g % 365) * interval '1 day', 1, '{"bench": "placeholder"}'
            FROM generate_series(1, :n) g
            """
        ),
        p,
    )


_TASK_COLUMNS = """(id, instance_id, task_uuid, bpmn_id, name, lane, org_unit_id, process_key,
    form, documentation, status, claimed_by_id, due_at, created_at, completed_at,
    completed_by_id, row_version)"""


def _insert_tasks(conn: Any, p: dict[str, Any]) -> None:
    # One open council review per instance; ids t0+1 … t0+n.
    conn.execute(
        text(
            f"""
            INSERT INTO human_task {_TASK_COLUMNS}
            SELECT :t0 + g, :i0 + g, md5('open' || g)::uuid::text, 'Task_council_review',
                'Рассмотрение плана методическим советом', 'methodical_council',
                i.org_unit_id, 'mo_plan_approval', 'mo_plan_approval/council_review.json', '',
                'open',
                CASE WHEN g % {CLAIMED_BY_USER_EVERY} = 0 THEN :me
                     WHEN g % {CLAIMED_BY_OTHER_EVERY} = 0 AND g % {OFFERED_EVERY} = 0
                        THEN :u0 + 1 + (g + 500) % :users
                     WHEN g % 10 = 0 THEN :u0 + 1 + (g + 500) % :users
                     ELSE NULL END,
                now() + ((g % 90) - 30) * interval '1 day', now() - (g % 30) * interval '1 day',
                NULL, NULL, 1
            FROM generate_series(1, :n) g JOIN process_instance i ON i.id = :i0 + g
            """
        ),
        p,
    )
    # One completed draft per instance; ids t0+n+1 … t0+2n.
    conn.execute(
        text(
            f"""
            INSERT INTO human_task {_TASK_COLUMNS}
            SELECT :t0 + :n + g, :i0 + g, md5('done' || g)::uuid::text, 'Task_draft',
                'Разработка плана работы МО', 'mo_head', i.org_unit_id, 'mo_plan_approval',
                'mo_plan_approval/draft.json', '', 'completed', :u0 + 1 + g % :users,
                NULL, now() - (g % 30 + 10) * interval '1 day',
                now() - (g % 30 + 1) * interval '1 day', :u0 + 1 + g % :users, 2
            FROM generate_series(1, :n) g JOIN process_instance i ON i.id = :i0 + g
            """
        ),
        p,
    )


def _insert_candidates(conn: Any, p: dict[str, Any]) -> None:
    # Two colleagues per open and per completed task, never the inbox user …
    conn.execute(
        text(
            """
            INSERT INTO human_task_candidate (human_task_id, user_id, reason)
            SELECT :t0 + g, :u0 + 1 + (g + k) % :users, 'role'
            FROM generate_series(1, 2 * :n) g, (VALUES (0), (500)) AS f(k)
            """
        ),
        p,
    )
    # … plus the inbox user on every OFFERED_EVERY-th open task and on old completed ones.
    conn.execute(
        text(
            f"""
            INSERT INTO human_task_candidate (human_task_id, user_id, reason)
            SELECT :t0 + g, :me, 'role' FROM generate_series(1, :n) g
            WHERE g % {OFFERED_EVERY} = 0
            UNION ALL
            SELECT :t0 + :n + g, :me, 'role' FROM generate_series(1, {COMPLETED_OFFERED}) g
            UNION ALL
            SELECT :t0 + g, :scope_user, 'role' FROM generate_series(1, :n) g
            WHERE (g % {SCOPE_EVERY} = 5 AND g % {CLAIMED_BY_OTHER_EVERY} <> 0)
                OR (g % {SCOPE_EVERY} = 7 AND g < 100)
            """
        ),
        p,
    )


def _insert_audit(conn: Any, p: dict[str, Any]) -> None:
    kinds = "ARRAY['instance_started','task_offered','task_claimed','task_completed']"
    conn.execute(
        text(
            f"""
            INSERT INTO audit_event (seq, occurred_at, actor_id, actor_username, instance_id,
                task_id, org_unit_id, kind, payload, prev_hash, hash)
            SELECT :seq0 + g, now() - (({AUDIT_EVENTS} - g) / 20) * interval '1 minute',
                :u0 + 1 + g % :users, 'bench.user.' || (1 + g % :users), :i0 + 1 + g % :n,
                :t0 + 1 + g % :n, NULL, ({kinds})[1 + g % 4],
                CAST('{{"bpmn_id": "Task_council_review", "bench": true}}' AS json),
                md5('prev' || g) || md5('p' || g), md5('hash' || g) || md5('h' || g)
            FROM generate_series(1, {AUDIT_EVENTS}) g
            """
        ),
        p,
    )
    conn.execute(
        text(
            "UPDATE audit_head SET last_seq = :seq0 + :count, "
            "last_hash = md5('hash' || CAST(:count AS text)) || md5('h' || CAST(:count AS text)) "
            "WHERE id = 1"
        ),
        {**p, "count": AUDIT_EVENTS},
    )
