"""The embedded job runner: a loop that runs a tick every JOBS_INTERVAL_SECONDS."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from flask import Flask

from ..extensions import db
from . import work

log = logging.getLogger(__name__)


def run_loop(
    app: Flask,
    interval: float,
    *,
    once: bool = False,
    enqueue: bool = False,
    stop: threading.Event | None = None,
    echo: Callable[[str], None] | None = None,
) -> int:
    """Run ticks until stopped (SIGTERM/SIGINT or `stop`); returns how many ticks ran.

    With enqueue=True the tick only sends due instance ids to the Celery workers.
    """
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        _stop_on_signals(stop)
    ticks = 0
    while not stop.is_set():
        with app.app_context():
            try:
                report = _dispatch(app) if enqueue else work.tick()
                line = report.summary()
                if line and echo is not None:
                    echo(line)
            except Exception:
                # A failed tick (database away, SMTP down) must not end the runner.
                log.exception("Job runner tick failed; retrying in %.0f s", interval)
            finally:
                db.session.remove()
        ticks += 1
        if once:
            break
        stop.wait(interval)
    return ticks


def _dispatch(app: Flask) -> work.TickReport:
    from .celery_app import CeleryPublisher

    publisher = CeleryPublisher(app.config["CELERY_BROKER_URL"], app.config["CELERY_QUEUE"])
    return work.dispatch(publisher)


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
