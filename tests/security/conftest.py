"""Fixtures of the security suite: one seeded database per module.

The attacks of a module must leave the database as it was (each test asserts it), so seeding
once per module instead of once per test keeps the suite fast without hiding anything.
"""

from __future__ import annotations

import pytest
from flask import Flask

from app.extensions import db
from app.services import demo, deployment
from tests.conftest import DEMO_PASSWORD, ROOT, ApiClient, _reset


@pytest.fixture(scope="module")
def shared(app: Flask) -> Flask:
    """Demo data and every process of processes/, seeded once for the module."""
    with app.app_context():
        _reset()
        demo.seed(DEMO_PASSWORD)
        deployment.deploy(
            deployment.bundle_from_directory(ROOT / "processes", ROOT / "forms"), None
        )
        db.session.remove()
    return app


@pytest.fixture(scope="module")
def sapi(shared: Flask) -> ApiClient:
    """An API client (with cached tokens) over the module's shared database."""
    return ApiClient(shared.test_client())
