"""Backup and restore with scripts/backup.sh and scripts/restore.sh (docs/backup.md): a
populated database is backed up online, restored into a fresh one, and the restored audit
chain verifies (`flask audit verify` exits 0). Runs on the backend TEST_DB selects."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL, ROOT, ApiClient
from tests.factories import mo_plan

SCHOOL = "gatchina-school-1"
TABLES = ("audit_event", "audit_head", "process_instance", "human_task", "app_user", "role_grant")


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "backup-test-secret",
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "FLASK_APP": "wsgi.py",
            "FLASK": str(Path(sys.executable).parent / "flask"),
        }
    )
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        result = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in TABLES}
    engine.dispose()
    return result


@pytest.fixture()
def fresh_target(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same backend to restore into."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    name = f"rsnms_restore_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _populate(api: ApiClient) -> None:
    for _ in range(3):
        started = api.post(
            "/instances",
            f"mo_head.{SCHOOL}",
            json={"process_key": "mo_plan_approval", "org_unit_id": api.unit_id(SCHOOL)},
        ).get_json()
        done = api.post(
            f"/tasks/{started['tasks'][0]['id']}/complete",
            f"mo_head.{SCHOOL}",
            json={"data": mo_plan()},
        )
        assert done.status_code == 200


def test_backup_restores_into_a_fresh_database_with_a_valid_audit_chain(
    api: ApiClient, seeded: Any, database_url: str, fresh_target: str, tmp_path: Path
) -> None:
    _populate(api)
    source = _counts(database_url)
    assert source["audit_event"] > 10

    dump = tmp_path / ("backup.sqlite3" if database_url.startswith("sqlite") else "backup.dump")
    backup = _run(["bash", "scripts/backup.sh", str(dump)], _env(database_url, tmp_path))
    assert backup.returncode == 0, backup.stderr
    assert backup.stdout.strip() == str(dump) and dump.stat().st_size > 0
    assert oct(dump.stat().st_mode & 0o777) == "0o600"

    target_env = _env(fresh_target, tmp_path)
    restore = _run(["bash", "scripts/restore.sh", str(dump)], target_env)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert "Цепочка" in restore.stdout or "цепочка" in restore.stdout.lower(), restore.stdout
    assert _counts(fresh_target) == source

    verify = _run([sys.executable, "-m", "flask", "audit", "verify"], target_env)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # The restored copy is a real, checkable chain: tampering with it is detected.
    engine = create_engine(fresh_target)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor_username = 'intruder' WHERE seq = 3"))
    engine.dispose()
    tampered = _run([sys.executable, "-m", "flask", "audit", "verify"], target_env)
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr

    # Restoring over a database that has data is refused, so a slip cannot destroy it.
    again = _run(["bash", "scripts/restore.sh", str(dump)], target_env)
    assert again.returncode != 0
    assert _counts(fresh_target)["audit_event"] == source["audit_event"]
