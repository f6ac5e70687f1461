"""Crash safety: task completions under load while the whole gunicorn server (master and
workers) is killed with SIGKILL and restarted, several times. Afterwards every completion a
client saw as 200 is in the database, nothing is half applied, and the audit chain verifies."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from sqlalchemy import select

from app import config as app_config
from app import create_app
from app.engine import definitions
from app.extensions import db
from app.models import AuditEvent, HumanTask, ProcessInstance
from app.services.progress import load_runner
from tests.factories import mo_plan
from tests.reliability.conftest import requires_postgres
from tests.reliability.live import HttpError, LiveServer

pytestmark = requires_postgres

SCHOOLS = ["gatchina-school-1", "gatchina-school-2"]
INSTANCES_PER_SCHOOL = 9
CLIENT_THREADS = 6
KILLS = 3
COMPLETIONS_BETWEEN_KILLS = 8
STEPS_PER_INSTANCE = 3  # draft, council review, approval
DEADLINE_SECONDS = 240

STEP = {
    "Task_draft": ("mo_head", lambda: mo_plan()),
    "Task_council_review": ("methodical_council", lambda: {"council_decision": "approve"}),
    "Task_approve_director": (
        "director",
        lambda: {"approval_decision": "approve", "approval_order_number": "7-о"},
    ),
}


class Load:
    """Client threads driving instances to completion, surviving server kills."""

    def __init__(self, live: LiveServer, instances: list[tuple[int, str]]) -> None:
        self.live = live
        self.instances = instances
        self.tokens: dict[str, str] = {}
        self.lock = threading.Lock()
        self.server_up = threading.Event()
        self.server_up.set()
        self.progress = threading.Condition(self.lock)
        self.ok_since_restart = 0
        self.outcomes: list[tuple[int, Any]] = []  # (task id, status or "lost")
        self.errors: list[str] = []
        self.deadline = time.monotonic() + DEADLINE_SECONDS

    def token(self, username: str) -> str:
        with self.lock:
            if username in self.tokens:
                return self.tokens[username]
        token = self.call(lambda: self.live.http.token(username))
        with self.lock:
            self.tokens[username] = token
        return token

    def call(self, action: Any) -> Any:
        """Run an HTTP action, waiting for the server to come back when it is down."""
        while time.monotonic() < self.deadline:
            self.server_up.wait(timeout=60)
            try:
                return action()
            except HttpError:
                time.sleep(0.1)
        raise TimeoutError("the load did not finish in time")

    def drive(self, mine: list[tuple[int, str]]) -> None:
        pending = list(mine)
        while pending and time.monotonic() < self.deadline:
            instance_id, school = pending.pop(0)
            auditor = self.token("auditor")
            status, instance = self.call(
                lambda i=instance_id, t=auditor: self.live.http.get(f"/instances/{i}", t)
            )
            if status != 200:
                self.errors.append(f"GET instance {instance_id}: {status} {instance}")
                continue
            if instance["status"] == "completed":
                continue
            task = instance["tasks"][0]
            role, data = STEP[task["bpmn_id"]]
            token = self.token(f"{role}.{school}")
            try:
                status, body = self.live.http.post(
                    f"/tasks/{task['id']}/complete", token, {"data": data()}
                )
            except HttpError:
                status, body = "lost", None
            with self.lock:
                self.outcomes.append((task["id"], status))
                if status == 200:
                    self.ok_since_restart += 1
                    self.progress.notify_all()
            if status not in (200, "lost"):
                self.errors.append(f"complete {task['id']}: {status} {body}")
            pending.append((instance_id, school))

    def run(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self.drive, args=(self.instances[i::CLIENT_THREADS],))
            for i in range(CLIENT_THREADS)
        ]
        for thread in threads:
            thread.start()
        return threads

    def wait_for_completions(self, count: int) -> None:
        with self.lock:
            ok = self.progress.wait_for(
                lambda: self.ok_since_restart >= count, timeout=DEADLINE_SECONDS
            )
            assert ok, "the load made no progress"


def _start_instances(live: LiveServer) -> list[tuple[int, str]]:
    started = []
    for school in SCHOOLS:
        token = live.http.token(f"mo_head.{school}")
        _, units = live.http.get("/org-units", token)
        unit_id = next(u["id"] for u in units if u["slug"] == school)
        for _ in range(INSTANCES_PER_SCHOOL):
            status, instance = live.http.post(
                "/instances", token, {"process_key": "mo_plan_approval", "org_unit_id": unit_id}
            )
            assert status == 201, instance
            started.append((instance["id"], school))
    return started


def test_completions_survive_kill_9_of_the_whole_server(live: LiveServer) -> None:
    instances = _start_instances(live)
    load = Load(live, instances)
    threads = load.run()
    killed: list[list[int]] = []
    for _ in range(KILLS):
        load.wait_for_completions(COMPLETIONS_BETWEEN_KILLS)
        load.server_up.clear()
        killed.append(live.kill9())
        with load.lock:
            load.ok_since_restart = 0
        live.start()
        load.server_up.set()
    for thread in threads:
        thread.join(timeout=DEADLINE_SECONDS)
        assert not thread.is_alive(), "client thread did not finish"
    assert load.errors == []
    assert len(killed) == KILLS and all(len(pids) == 1 + live.workers for pids in killed)

    statuses = Counter(status for _, status in load.outcomes)
    print(
        f"crash safety: {len(load.outcomes)} completions sent, {statuses[200]} × 200, "
        f"{statuses['lost']} lost in kills, {len(killed)} kill -9 of master+workers survived"
    )
    confirmed = {task_id for task_id, status in load.outcomes if status == 200}
    _assert_consistent(live, confirmed, {i for i, _ in instances})
    status, verdict = live.http.get("/audit/verify", live.http.token("auditor"))
    assert status == 200 and verdict["ok"] is True, verdict


def _assert_consistent(live: LiveServer, confirmed: set[int], instance_ids: set[int]) -> None:
    """Every 200 is stored; state, inbox rows and audit events agree for every instance."""
    app = create_app(app_config.TestConfig(live.database_url))
    definitions.clear()  # the spec cache is keyed by version id, which differs per database
    try:
        with app.app_context():
            rows = db.session.execute(select(HumanTask)).scalars().all()
            by_id = {row.id: row for row in rows}
            for task_id in confirmed:
                assert by_id[task_id].status == "completed", task_id
            events = db.session.execute(select(AuditEvent)).scalars().all()
            completed_events = Counter(e.task_id for e in events if e.kind == "task_completed")
            offered_events = Counter(e.task_id for e in events if e.kind == "task_offered")
            for row in rows:
                expected = 1 if row.status == "completed" else 0
                assert completed_events[row.id] == expected, (row.id, row.status)
                assert offered_events[row.id] == 1, row.id
            finished = Counter(e.instance_id for e in events if e.kind == "instance_completed")
            for instance_id in instance_ids:
                instance = db.session.get(ProcessInstance, instance_id)
                assert instance is not None
                runner = load_runner(instance, None)
                ready = {t.id for t in runner.ready_tasks()}
                mine = [r for r in rows if r.instance_id == instance_id]
                assert {r.task_uuid for r in mine if r.status == "open"} == ready
                for row in mine:
                    if row.status == "completed":
                        assert row.task_uuid not in ready
                # The load drove every instance to its end, each step exactly once.
                assert runner.is_completed() and instance.status == "completed", instance_id
                assert [r.status for r in mine] == ["completed"] * STEPS_PER_INSTANCE
                assert finished[instance_id] == 1
    finally:
        definitions.clear()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
