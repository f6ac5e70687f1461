"""Passwords are stored as Argon2id hashes; API tokens are stored only as digests, expire, can
be revoked one by one, and die with their user's account. (Expiry and revocation of a single
token on GET are covered in tests/api/test_bad_input.py; these close the gaps.)"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import select, update

from app.extensions import db
from app.models import ApiToken, User
from app.models.base import utcnow
from app.services.auth import hash_password
from tests.conftest import DEMO_PASSWORD, ApiClient
from tests.factories import mo_plan

SCHOOL = "gatchina-school-1"
MO_HEAD = f"mo_head.{SCHOOL}"


def test_every_stored_password_is_an_argon2id_hash(seeded: Any, api: ApiClient) -> None:
    resp = api.post(
        "/admin/users", "admin", json={"username": "new.teacher", "password": "Teacher-pass-2026"}
    )
    assert resp.status_code == 201, resp.get_json()
    with seeded.app_context():
        hashes = dict(db.session.execute(select(User.username, User.password_hash)).all())
        assert hash_password("x").startswith("$argon2id$")
        assert len(hashes) > 30
        for username, stored in hashes.items():
            if stored:  # users waiting for a set-up link have no password yet
                assert stored.startswith("$argon2id$v=19$"), username
        assert PasswordHasher().verify(hashes[MO_HEAD], DEMO_PASSWORD)
        assert DEMO_PASSWORD not in "".join(hashes.values())


def test_tokens_are_stored_as_digests_and_expire_after_the_configured_ttl(
    seeded: Any, api: ApiClient
) -> None:
    resp = api.client.post(
        "/api/v1/auth/token", json={"username": MO_HEAD, "password": DEMO_PASSWORD}
    )
    body = resp.get_json()
    ttl_hours = seeded.config["TOKEN_TTL_HOURS"]
    assert body["expires_in"] == ttl_hours * 3600
    with seeded.app_context():
        row = db.session.execute(
            select(ApiToken).where(
                ApiToken.token_hash == hashlib.sha256(body["token"].encode()).hexdigest()
            )
        ).scalar_one()
        assert body["token"] not in {row.token_hash}
        lifetime = row.expires_at - row.created_at
        assert timedelta(hours=ttl_hours) - timedelta(minutes=1) < lifetime
        assert lifetime <= timedelta(hours=ttl_hours)
        all_hashes = db.session.execute(select(ApiToken.token_hash)).scalars().all()
        assert body["token"] not in all_hashes


def _start(api: ApiClient) -> dict[str, Any]:
    return api.post(
        "/instances",
        MO_HEAD,
        json={"process_key": "mo_plan_approval", "org_unit_id": api.unit_id(SCHOOL)},
    ).get_json()


def test_expired_and_revoked_tokens_cannot_write(seeded: Any, api: ApiClient) -> None:
    task = _start(api)["tasks"][0]["id"]
    expired = api.client.post(
        "/api/v1/auth/token", json={"username": MO_HEAD, "password": DEMO_PASSWORD}
    ).get_json()["token"]
    revoked = api.client.post(
        "/api/v1/auth/token", json={"username": MO_HEAD, "password": DEMO_PASSWORD}
    ).get_json()["token"]
    with seeded.app_context():
        db.session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hashlib.sha256(expired.encode()).hexdigest())
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    gone = api.client.delete("/api/v1/auth/token", headers={"Authorization": f"Bearer {revoked}"})
    assert gone.status_code == 204
    for token in (expired, revoked):
        resp = api.client.post(
            f"/api/v1/tasks/{task}/complete",
            json={"data": mo_plan()},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert resp.status_code == 401, resp.get_json()
    # Revoking one token leaves the user's other sessions alone.
    assert api.get("/me", MO_HEAD).status_code == 200
    assert api.get(f"/tasks/{task}", MO_HEAD).get_json()["state"] == "open"


def test_deactivated_user_token_stops_working(seeded: Any, api: ApiClient) -> None:
    token = api.token("teacher.gatchina-school-2")
    assert api.get("/me", "teacher.gatchina-school-2").status_code == 200
    with seeded.app_context():
        db.session.execute(
            update(User).where(User.username == "teacher.gatchina-school-2").values(is_active=False)
        )
        db.session.commit()
    resp = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    login = api.client.post(
        "/api/v1/auth/token",
        json={"username": "teacher.gatchina-school-2", "password": DEMO_PASSWORD},
    )
    assert login.status_code == 401
