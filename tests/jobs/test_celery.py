"""Celery workers with the real Redis on 127.0.0.1:6379 advance due instances."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import time_machine
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import work
from app.jobs.celery_app import CeleryPublisher
from app.models import AuditEvent, ProcessInstance

from .support import T0, start

ROOT = Path(__file__).resolve().parent.parent.parent
BROKER = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
INSTANCES = 20


@pytest.fixture()
def broker() -> str:
    client = redis.Redis.from_url(BROKER, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis на {BROKER} недоступен, а в CI тест Celery обязателен: {exc}")
        pytest.skip(f"No Redis at {BROKER} (outside CI this test is skipped): {exc}")
    finally:
        client.close()
    return BROKER


def _cleanup_queue(queue: str) -> None:
    client = redis.Redis.from_url(BROKER)
    try:
        client.delete(queue, f"_kombu.binding.{queue}", "unacked", "unacked_index")
    finally:
        client.close()


def test_celery_worker_advances_enqueued_instances(jobs, broker, database_url, tmp_path) -> None:
    with time_machine.travel(T0, tick=False):
        ids = [start("test_tick", {"wait_for": "PT1H"}).id for _ in range(INSTANCES)]
    db.session.remove()
    queue = f"rsnms-test-{secrets.token_hex(4)}"
    publisher = CeleryPublisher(broker, queue)
    report = work.dispatch(publisher)
    assert report.enqueued == INSTANCES
    # The same ids again, as a beat that fires twice would: duplicates must be harmless.
    publisher.advance_instances(ids[:5])

    env = dict(os.environ)
    env.update(
        CELERY_BROKER_URL=broker,
        CELERY_QUEUE=queue,
        DATABASE_URL=database_url,
        INSTANCE_DIR=str(tmp_path),
        SECRET_KEY="celery-test",
    )
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "app.jobs.celery_app", "worker",
                "--pool=solo", "-Q", queue, "--without-heartbeat", "--without-gossip",
                "--without-mingle", "--loglevel=INFO", f"--hostname={queue}@localhost",
            ],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        done = 0
        while time.monotonic() < deadline:
            done = db.session.execute(
                select(func.count(ProcessInstance.id)).where(ProcessInstance.status == "completed")
            ).scalar_one()
            db.session.remove()
            if done == INSTANCES or worker.poll() is not None:
                break
            time.sleep(0.2)
        assert done == INSTANCES, f"worker finished {done}/{INSTANCES}:\n{log.read_text()[-3000:]}"
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=30)
        _cleanup_queue(queue)
    per_instance = dict(
        db.session.execute(
            select(AuditEvent.instance_id, func.count(AuditEvent.seq))
            .where(AuditEvent.kind == "timer_fired")
            .group_by(AuditEvent.instance_id)
        ).all()
    )
    assert per_instance == dict.fromkeys(ids, 1)
    assert "rsnms.advance_instance" in log.read_text()
