"""Celery workers for timers and notifications, with Redis as the broker.

Used when CELERY_BROKER_URL is set, so several app servers and workers share one PostgreSQL:

    celery -A app.jobs.celery_app worker --pool=solo -Q rsnms   # as many as needed
    celery -A app.jobs.celery_app beat                           # or: flask jobs run --enqueue

Tasks take ids, never objects, and are safe to run twice: the database decides (a due check
under SELECT ... FOR UPDATE SKIP LOCKED, unique reminder and notification keys). Messages are
acknowledged after the task, so a worker killed mid-task leaves its message to another one.
The Flask app is created on a worker's first task, not at import.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from flask import Flask

from ..extensions import db
from . import work

QUEUE = os.environ.get("CELERY_QUEUE", "rsnms")

celery = Celery("rsnms")
celery.conf.update(
    broker_url=os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0",
    broker_connection_retry_on_startup=True,
    task_default_queue=QUEUE,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_ignore_result=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    timezone="UTC",
    beat_schedule={
        "rsnms-dispatch": {
            "task": "rsnms.dispatch",
            "schedule": float(os.environ.get("JOBS_INTERVAL_SECONDS", "15")),
        }
    },
)

_flask_app: Flask | None = None


def flask_app() -> Flask:
    """The Flask app of this worker process, created on first use."""
    global _flask_app
    if _flask_app is None:
        from .. import create_app

        _flask_app = create_app()
    return _flask_app


def _in_app(func: Any, *args: Any) -> Any:
    with flask_app().app_context():
        try:
            return func(*args)
        finally:
            db.session.remove()


@celery.task(name="rsnms.advance_instance")
def advance_instance(instance_id: int) -> str:
    """Advance one instance if its timer is due (a duplicate message finds it not due)."""
    return str(_in_app(work.advance_instance, int(instance_id)))


@celery.task(name="rsnms.housekeeping")
def housekeeping() -> str:
    """Deadline reminders, pending e-mails and daily digests."""
    return str(_in_app(work.housekeeping).summary())


@celery.task(name="rsnms.dispatch")
def dispatch() -> str:
    """Enqueue the due instances (what beat runs every JOBS_INTERVAL_SECONDS)."""
    publisher = CeleryPublisher(celery.conf.broker_url, QUEUE)
    return str(_in_app(work.dispatch, publisher).summary())


class CeleryPublisher:
    """Sends instance ids and housekeeping to the workers' queue."""

    def __init__(self, broker_url: str, queue: str) -> None:
        self.broker_url = broker_url
        self.queue = queue

    def advance_instances(self, instance_ids: list[int]) -> None:
        """One message per instance id."""
        with celery.connection_for_write(self.broker_url) as conn:
            for instance_id in instance_ids:
                celery.send_task(
                    "rsnms.advance_instance",
                    args=[instance_id],
                    queue=self.queue,
                    connection=conn,
                )

    def housekeeping(self) -> None:
        """One housekeeping message."""
        with celery.connection_for_write(self.broker_url) as conn:
            celery.send_task("rsnms.housekeeping", queue=self.queue, connection=conn)
