"""Independent read-only queries run at once on separate database connections.

A page built from several aggregates (the monitoring dashboard) otherwise waits for their
sum; with PostgreSQL serving them concurrently it waits for the slowest. Each step runs in its
own application context, so it has its own session and connection, and sees what is
committed. Where that would change the answer, or gain nothing, the steps run one after the
other in the caller's session: on SQLite (one file, one writer), and when the caller's
session holds changes not yet committed.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app

from .extensions import db

_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rsnms-read")


def _sequential() -> bool:
    session = db.session
    if db.engine.dialect.name != "postgresql":
        return True
    return bool(session.new or session.dirty or session.deleted)


def _run(app: Flask, step: Callable[[], Any]) -> Any:
    with app.app_context():
        try:
            return step()
        finally:
            db.session.remove()


def at_once(*steps: Callable[[], Any]) -> list[Any]:
    """The results of the steps, in order; an exception of a step is raised here."""
    if _sequential():
        return [step() for step in steps]
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    futures = [_POOL.submit(_run, app, step) for step in steps]
    return [future.result() for future in futures]
