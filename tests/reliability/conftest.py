"""Fixtures of the reliability suite: a live gunicorn server over its own PostgreSQL database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.live import LiveServer

ON_POSTGRES = os.environ.get("TEST_DB", "sqlite") == "postgres"
requires_postgres = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="needs TEST_DB=postgres: several gunicorn workers writing at once need PostgreSQL",
)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """gunicorn with 4 workers over a freshly created, migrated, deployed and seeded database.

    Shared by the concurrency and crash tests (each works on instances it starts itself);
    the crash test leaves it restarted and running."""
    if not ON_POSTGRES:
        pytest.skip("needs TEST_DB=postgres")
    server = LiveServer(Path(tmp_path_factory.mktemp("live")), workers=4)
    try:
        server.prepare()
        server.start()
        yield server
    finally:
        server.stop()
        server.drop_database()
