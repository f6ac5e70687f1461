"""Application factory: nothing runs at import time."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .config import Config
from .extensions import db, migrate


def create_app(config: Any = None) -> Flask:
    """Build the Flask application with the given config object (default: from environment)."""
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_object(config or Config())
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()))
    _sqlite_pragmas()

    from . import models  # noqa: F401  (register tables)
    from .api import init_api
    from .cli import register_cli
    from .web import init_web

    init_api(app)
    init_web(app)
    register_cli(app)
    return app


def _migrations_dir() -> Any:
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"


_PRAGMAS_SET = False


def _sqlite_pragmas() -> None:
    """Foreign keys and a busy timeout on SQLite connections."""
    global _PRAGMAS_SET
    if _PRAGMAS_SET:
        return
    _PRAGMAS_SET = True

    @event.listens_for(Engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()
