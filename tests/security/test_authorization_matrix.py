"""Every API endpoint × every role in and out of scope (and anonymous) answers as the table in
tests/security/authz_matrix.py says; the table covers the whole OpenAPI spec and is the
source of docs/authorization-matrix.md."""

from __future__ import annotations

import os
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import OrgUnit, RoleGrant, User
from app.services import auth as auth_service
from tests.conftest import DEMO_PASSWORD, ROOT, ApiClient
from tests.security.authz_matrix import (
    PRINCIPALS,
    ROLE_CODES,
    ROWS,
    SCHOOL,
    Call,
    Row,
    World,
    render_markdown,
    unit_of,
    username,
)

DOC = ROOT / "docs" / "authorization-matrix.md"
METHODS = ("get", "post", "put", "patch", "delete")


def _add_principals(app: Flask) -> None:
    """The out-of-scope region `pskov`, and a user for every principal the demo data lacks."""
    with app.app_context():
        pskov = OrgUnit(slug="pskov", name="Псковская область", tier="region")
        db.session.add(pskov)
        db.session.flush()
        units = {u.slug: u for u in db.session.execute(select(OrgUnit)).scalars()}
        password_hash = auth_service.hash_password(DEMO_PASSWORD)
        for user in db.session.execute(select(User)).scalars():
            user.password_hash = password_hash
        existing = set(db.session.execute(select(User.username)).scalars())
        wanted = [(username(r, s), r, unit_of(r, s)) for r, s in PRINCIPALS]
        wanted.append((f"mo_head_2.{SCHOOL}", "mo_head", SCHOOL))  # a colleague to delegate to
        for name, role, slug in wanted:
            if name in existing:
                continue
            user = User(username=name, full_name=name, password_hash=password_hash)
            db.session.add(user)
            db.session.flush()
            db.session.add(RoleGrant(user_id=user.id, role=role, org_unit_id=units[slug].id))
        db.session.commit()
        db.session.remove()


def _spec_operations(api: ApiClient) -> set[tuple[str, str]]:
    spec = api.client.get("/api/v1/openapi.json").get_json()
    return {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in METHODS
    }


def test_table_covers_every_endpoint_of_the_openapi_spec(api: ApiClient) -> None:
    rows = [(row.method, row.path) for row in ROWS]
    assert len(rows) == len(set(rows)), "duplicate rows in the matrix"
    spec = _spec_operations(api)
    missing = sorted(spec - set(rows))
    stale = sorted(set(rows) - spec)
    assert missing == [], f"endpoints without a row in tests/security/authz_matrix.py: {missing}"
    assert stale == [], f"rows for endpoints that no longer exist: {stale}"


def _request(api: ApiClient, world: World, row: Row, user: str | None) -> Any:
    call: Call = row.call(world, user or "")
    headers: dict[str, str] = {}
    if user and call.auth == "token":
        headers["Authorization"] = f"Bearer {api.token(user)}"
    elif user and call.auth == "fresh-token":
        fresh = api.client.post(
            "/api/v1/auth/token", json={"username": user, "password": DEMO_PASSWORD}
        )
        headers["Authorization"] = f"Bearer {fresh.get_json()['token']}"
    if user is None and row.path == "/api/v1/auth/token" and row.method == "POST":
        call.json = {"username": "nobody", "password": "wrong"}
    kwargs: dict[str, Any] = {"headers": headers}
    if call.json is not None:
        kwargs["json"] = call.json
    if call.data is not None:
        kwargs["data"] = call.data
    if call.content_type:
        kwargs["content_type"] = call.content_type
    resp = api.client.open(f"/api/v1{call.path}", method=row.method, **kwargs)
    resp.get_data()  # run streamed bodies (exports) to the end inside the request
    resp.close()
    return resp


def test_every_endpoint_for_every_role_in_and_out_of_scope(
    api: ApiClient, seeded: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Authorization is under test here, not password hashing (tests/security/test_tokens.py):
    # a cheap Argon2id keeps ~200 logins and user creations fast.
    monkeypatch.setattr(
        auth_service, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    _add_principals(seeded)
    world = World(api, DEMO_PASSWORD)
    mismatches = []
    observed: dict[str, list[str]] = {}
    checked = 0
    for row in ROWS:
        line = observed.setdefault(f"{row.method} {row.path}", [])
        for role, scope in PRINCIPALS:
            world.fresh = 200 <= row.expected(role, scope) < 300
            resp = _request(api, world, row, username(role, scope))
            checked += 1
            expected = row.expected(role, scope)
            line.append(f"{role}@{scope}={resp.status_code}")
            if resp.status_code != expected:
                body = resp.get_data(as_text=True)[:200]
                mismatches.append(
                    f"{row.method} {row.path} as {role} {scope} of scope: "
                    f"expected {expected}, got {resp.status_code} {body}"
                )
        world.fresh = False
        resp = _request(api, world, row, None)
        checked += 1
        if resp.status_code != row.rule.anonymous:
            mismatches.append(
                f"{row.method} {row.path} anonymous: expected {row.rule.anonymous}, "
                f"got {resp.status_code}"
            )
    if os.environ.get("MATRIX_OBSERVE"):  # a readable dump while editing the table
        for endpoint, statuses in observed.items():
            print(endpoint, " ".join(statuses))
        print("\n".join(mismatches))
    assert checked == len(ROWS) * (len(ROLE_CODES) * 2 + 1)
    assert mismatches == [], "\n".join(mismatches)


def test_documentation_is_generated_from_the_table() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/authorization-matrix.md is stale: "
        "python -m tests.security.authz_matrix > docs/authorization-matrix.md"
    )
