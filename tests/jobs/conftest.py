"""Fixtures for the job tests: the test diagrams deployed, a local SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from app.extensions import db
from app.services import deployment

from .support import SmtpServer, bundle


@pytest.fixture()
def jobs(seeded: Flask) -> Iterator[Flask]:
    """An app context over the seeded database with the job test diagrams deployed."""
    with seeded.app_context():
        deployment.deploy(bundle(), None)
        yield seeded
        db.session.remove()


@pytest.fixture()
def smtp(jobs: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 and a free port; the app is configured to use it."""
    server = SmtpServer()
    server.start()
    monkeypatch.setitem(jobs.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(jobs.config, "SMTP_PORT", server.port)
    monkeypatch.setitem(jobs.config, "SMTP_FROM", "rsnms@example.test")
    try:
        yield server
    finally:
        server.stop()
