"""Every UI view × every role in and out of scope (and anonymous) answers as WEB_ROWS in
tests/security/authz_matrix.py says; the table covers the whole url_map outside the API."""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import User
from app.services import auth as auth_service
from app.services import import_jobs
from tests.conftest import DEMO_PASSWORD, ApiClient
from tests.security.authz_matrix import (
    PRINCIPALS,
    ROLE_CODES,
    WEB_ROWS,
    WebRow,
    World,
    username,
)
from tests.security.test_authorization_matrix import _add_principals
from tests.web.conftest import csrf_token


def test_table_covers_every_view(seeded: Flask) -> None:
    rows = [(row.method, row.path) for row in WEB_ROWS]
    assert len(rows) == len(set(rows)), "duplicate rows in WEB_ROWS"
    views = {
        (method, rule.rule)
        for rule in seeded.url_map.iter_rules()
        if not rule.rule.startswith("/api/") and rule.endpoint != "static"
        for method in rule.methods or ()
        if method in ("GET", "POST")
    }
    assert sorted(views - set(rows)) == [], "UI views without a row in WEB_ROWS"
    assert sorted(set(rows) - views) == [], "rows of WEB_ROWS for views that no longer exist"


class Session:
    """A UI session (logged in or anonymous) that posts with its CSRF token."""

    def __init__(self, client: FlaskClient, user: str | None) -> None:
        self.client = client
        self.page = "/login"
        self._token: str | None = None
        if user is not None:
            resp = self.post_form("/login", {"username": user, "password": DEMO_PASSWORD})
            assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
            self.page, self._token = "/notifications", None  # the login renews the session

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = csrf_token(self.client.get(self.page).get_data(as_text=True))
        return self._token

    def post_form(self, url: str, fields: Any) -> Any:
        pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
        pairs.append(("csrf_token", self.token))
        return self.client.post(url, data=MultiDict(pairs), content_type="multipart/form-data")

    def call(self, row: WebRow, world: World) -> Any:
        url = row.url(world)
        if row.method == "GET":
            resp = self.client.get(url)
        elif row.body == "json":
            resp = self.client.post(
                url, data=json.dumps(row.fields(world)), headers=self._header("application/json")
            )
        elif row.body == "raw":
            resp = self.client.post(url, data=row.fields(world), headers=self._header("text/plain"))
        else:
            resp = self.post_form(url, row.fields(world))
        resp.get_data()  # run streamed bodies (exports) to the end inside the request
        resp.close()
        return resp

    def _header(self, content_type: str) -> dict[str, str]:
        return {"X-CSRFToken": self.token, "Content-Type": content_type}


def _import_job(app: Flask) -> str:
    """A finished import of the in-scope administrator (the job file the import page polls)."""
    with app.app_context():
        admin = db.session.execute(select(User).where(User.username == "admin")).scalar_one()
        job_id = secrets.token_hex(12)
        import_jobs._write(
            import_jobs._path(job_id),
            {
                "id": job_id,
                "owner_id": admin.id,
                "filename": "units.csv",
                "state": "done",
                "stage": "готово",
                "done": 1,
                "total": 1,
                "setup_tokens": {"new.user": "token"},
            },
        )
        db.session.remove()
        return job_id


def _outcome(session: Session, row: WebRow, cell: tuple[str, str], resp: Any) -> str | None:
    """A form sent back with 303 shows an alert on the next page exactly when it was refused:
    a swallowed refusal, or a wrongly allowed write, does not pass as the other."""
    if row.method != "POST" or resp.status_code != 303:
        return None
    page = session.client.get(resp.headers["Location"]).get_data(as_text=True)
    alerted = 'role="alert"' in page
    if cell in row.flash_refused and not alerted:
        return "refused with 303, but the page shows no refusal"
    if cell not in row.flash_refused and alerted:
        return "answered 303, but the page shows an error: " + _alert(page)
    return None


def _alert(page: str) -> str:
    start = page.find('role="alert"')
    return page[start : start + 300].split(">", 1)[-1].strip()[:200]


def test_every_view_for_every_role_in_and_out_of_scope(
    seeded: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Authorization is under test here, not password hashing: a cheap Argon2id keeps the
    # ~40 logins and the users the cells create fast.
    monkeypatch.setattr(
        auth_service, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    _add_principals(seeded)
    world = World(ApiClient(seeded.test_client()), DEMO_PASSWORD)
    job_id = _import_job(seeded)
    world.import_job = job_id  # type: ignore[attr-defined]
    sessions: dict[str, Session] = {}
    mismatches = []
    observed: dict[str, list[str]] = {}
    checked = 0
    try:
        for row in WEB_ROWS:
            line = observed.setdefault(f"{row.method} {row.path}", [])
            for role, scope in PRINCIPALS:
                user = username(role, scope)
                expected = row.expected(role, scope)
                world.fresh = 200 <= expected < 400
                if row.session == "fresh":
                    session = Session(seeded.test_client(), user)
                else:
                    if user not in sessions:
                        sessions[user] = Session(seeded.test_client(), user)
                    session = sessions[user]
                resp = session.call(row, world)
                checked += 1
                line.append(f"{role}@{scope}={resp.status_code}")
                outcome = _outcome(session, row, (role, scope), resp)
                if outcome:
                    mismatches.append(f"{row.method} {row.path} as {role} {scope}: {outcome}")
                if resp.status_code != expected:
                    mismatches.append(
                        f"{row.method} {row.path} as {role} {scope} of scope: expected "
                        f"{expected}, got {resp.status_code} {resp.get_data(as_text=True)[:150]!r}"
                    )
            world.fresh = False
            resp = Session(seeded.test_client(), None).call(row, world)
            checked += 1
            to_login = "/login" in resp.headers.get("Location", "")
            if resp.status_code != row.rule.anonymous or (not row.public and not to_login):
                mismatches.append(
                    f"{row.method} {row.path} anonymous: expected {row.rule.anonymous}, "
                    f"got {resp.status_code} {resp.headers.get('Location')}"
                )
    finally:
        with seeded.app_context():
            import_jobs._path(job_id).unlink(missing_ok=True)
    if os.environ.get("MATRIX_OBSERVE"):  # a readable dump while editing the table
        for view, statuses in observed.items():
            print(view, " ".join(statuses))
        print("\n".join(mismatches))
    assert checked == len(WEB_ROWS) * (len(ROLE_CODES) * 2 + 1)
    assert mismatches == [], "\n".join(mismatches)
