"""Fixtures of the process tests: a moved clock for timers, and quicker logins and seeding.

Logins and password hashing are tested in tests/api and tests/unit; here they would only cost
time (Argon2 is slow by design), so tokens are minted directly and the demo password is hashed
once per session.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import ApiToken, User
from app.models.base import utcnow
from app.services import demo, deployment
from app.services.auth import hash_password
from tests.conftest import DEMO_PASSWORD, ROOT, ApiClient
from tests.processes.support import Clock, shifted_clock


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """A clock for the engine's timers that the test moves forward."""
    yield from shifted_clock(monkeypatch)


@functools.cache
def _demo_hash(password: str) -> str:
    return hash_password(password)


@pytest.fixture()
def seeded(empty_db: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """Demo org tree and users, and every process of processes/ deployed."""
    monkeypatch.setattr(demo, "hash_password", _demo_hash)
    with empty_db.app_context():
        demo.seed(DEMO_PASSWORD)
        bundle = deployment.bundle_from_directory(ROOT / "processes", ROOT / "forms")
        deployment.deploy(bundle, None)
    return empty_db


class MintingApiClient(ApiClient):
    """ApiClient whose bearer tokens are created directly instead of by a password login."""

    def token(self, username: str) -> str:
        if username not in self.tokens:
            token = secrets.token_urlsafe(32)
            with self.client.application.app_context():
                user = db.session.execute(
                    select(User).where(User.username == username)
                ).scalar_one()
                db.session.add(
                    ApiToken(
                        user_id=user.id,
                        token_hash=hashlib.sha256(token.encode("utf-8")).hexdigest(),
                        expires_at=utcnow() + timedelta(hours=2),
                    )
                )
                db.session.commit()
            self.tokens[username] = token
        return self.tokens[username]


@pytest.fixture()
def api(client: FlaskClient) -> ApiClient:
    return MintingApiClient(client)
