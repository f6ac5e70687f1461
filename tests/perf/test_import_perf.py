"""Bulk import: 10,000 users with grants in under a minute (passwords set later by token)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import RoleGrant, User
from app.services import org_import

from . import support

pytestmark = pytest.mark.perf
SCHOOLS = ("gatchina-school-1", "gatchina-school-2", "luga-school-1", "luga-school-2")


def _users_csv(count: int, *, password: str = "") -> str:
    lines = ["username,full_name,email,password,role,org_unit_slug"]
    for i in range(count):
        school = SCHOOLS[i % len(SCHOOLS)]
        name = f"bulk.{i:05d}"
        lines.append(f"{name},Учитель {i},{name}@example.org,{password},teacher,{school}")
        if i % 5 == 0:  # every fifth also heads an МО: a second grant row for the same user
            lines.append(f"{name},,,,mo_head,{school}")
    return "\n".join(lines) + "\n"


def test_import_10000_users_with_grants_under_a_minute(ctx: Any, bench: Any) -> None:
    count = support.scaled(10_000)
    text = _users_csv(count)
    stages: list[str] = []
    started = time.perf_counter()
    report = org_import.import_csv(text, None, progress=lambda s, d, t: stages.append(s))
    elapsed = time.perf_counter() - started
    assert report.users_created == count
    assert report.grants_created == count + (count + 4) // 5
    assert len(report.setup_tokens) == count
    assert (
        db.session.execute(
            select(func.count(User.id)).where(User.username.like("bulk.%"))
        ).scalar_one()
        == count
    )
    assert db.session.execute(select(func.count(RoleGrant.id))).scalar_one() >= count
    assert {"проверка", "пользователи", "назначения ролей", "готово"} <= set(stages)
    bench.record(
        f"import_{count}_users_s_{db.engine.dialect.name}",
        elapsed,
        users=count,
        grants=report.grants_created,
        work="org_import.import_csv, users without passwords (one-time setup tokens)",
    )
    assert elapsed < 60, f"{count} users imported in {elapsed:.1f} s"


def test_import_with_passwords_hashes_in_a_pool(ctx: Any, bench: Any) -> None:
    count = support.scaled(64)
    text = _users_csv(count, password="bulk-password-1")
    started = time.perf_counter()
    report = org_import.import_csv(text, None)
    elapsed = time.perf_counter() - started
    assert report.users_created == count and not report.setup_tokens
    hashes = db.session.execute(
        select(User.password_hash).where(User.username.like("bulk.%"))
    ).scalars()
    assert all(h.startswith("$argon2id$") for h in hashes)
    bench.record(
        f"import_password_ms_per_user_{db.engine.dialect.name}",
        elapsed * 1000 / count,
        users=count,
        work="Argon2id hashes in a spawn process pool of IMPORT_HASH_WORKERS (2)",
    )
