"""Test fixtures: one database per session (SQLite file or a throwaway PostgreSQL database),
schema built by the real migrations, data reset before each test."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from app import create_app
from app.config import TestConfig
from app.engine import definitions
from app.extensions import db
from app.services import demo, deployment

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DEMO_PASSWORD = "demo-test-password"


def _database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    backend = os.environ.get("TEST_DB", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    if backend != "postgres":
        raise RuntimeError(f"TEST_DB must be sqlite or postgres, not {backend!r}")
    name = f"rsnms_test_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _database(tmp_path_factory)


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    config = TestConfig(database_url)
    config.DEMO_PASSWORD = DEMO_PASSWORD  # type: ignore[misc]
    application = create_app(config)
    with application.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    yield application
    with application.app_context():
        db.engine.dispose()


def _reset() -> None:
    db.session.remove()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
    definitions.clear()


@pytest.fixture()
def empty_db(app: Flask) -> Flask:
    """A database with the schema and nothing else (no app context left pushed)."""
    with app.app_context():
        _reset()
    return app


@pytest.fixture()
def seeded(empty_db: Flask) -> Flask:
    """Demo org tree and users, and every process of processes/ deployed."""
    with empty_db.app_context():
        demo.seed(DEMO_PASSWORD)
        bundle = deployment.bundle_from_directory(ROOT / "processes", ROOT / "forms")
        deployment.deploy(bundle, None)
    return empty_db


@pytest.fixture()
def ctx(seeded: Flask) -> Iterator[Flask]:
    """An app context over the seeded database, for service-level tests."""
    with seeded.app_context():
        yield seeded
        db.session.remove()


@pytest.fixture()
def client(seeded: Flask) -> FlaskClient:
    return seeded.test_client()


class ApiClient:
    """Test helper: logs in demo users and calls the API with their tokens."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            resp = self.client.post(
                "/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD}
            )
            assert resp.status_code == 200, resp.get_json()
            self.tokens[username] = resp.get_json()["token"]
        return self.tokens[username]

    def call(self, method: str, path: str, user: str | None = None, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if user:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    def get(self, path: str, user: str | None = None, **kw: Any) -> Any:
        return self.call("GET", path, user, **kw)

    def post(self, path: str, user: str | None = None, **kw: Any) -> Any:
        return self.call("POST", path, user, **kw)

    def unit_id(self, slug: str) -> int:
        units = self.get("/org-units", "admin").get_json()
        return next(u["id"] for u in units if u["slug"] == slug)


@pytest.fixture()
def api(client: FlaskClient) -> ApiClient:
    return ApiClient(client)
