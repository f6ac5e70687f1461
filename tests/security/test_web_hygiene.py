"""Web hygiene of the UI and the login endpoints: security headers with a CSP that forbids inline
script (our pages load every script from /static), the session cookie's flags, the password
hash's algorithm and cost, the login lockout (audited, cleared after its period) on the web form
and the token endpoint, and API tokens that expire and can be revoked."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, User
from tests.conftest import DEMO_PASSWORD, ROOT
from tests.web.conftest import WebClient

DIRECTOR = "director.gatchina-school-1"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
_EVENT_ATTR = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def _directives(header: str) -> dict[str, list[str]]:
    parts = [p.strip().split() for p in header.split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


def _web(seeded: Flask, username: str | None = None) -> WebClient:
    web = WebClient(seeded.test_client())
    if username:
        web.login(username)
    return web


def _events(app: Flask, kind: str) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.execute(select(AuditEvent).where(AuditEvent.kind == kind)).scalars()
        return list(rows)


@pytest.mark.parametrize(
    ("user", "path"),
    [
        (None, "/login"),
        (DIRECTOR, "/"),
        ("designer", "/designer/"),
        ("designer", "/designer/mo_plan_approval/edit"),
        ("designer", "/designer/mo_plan_approval"),
        ("auditor", "/audit/"),
        ("admin", "/admin/users"),
    ],
)
def test_html_pages_carry_a_csp_without_inline_script_and_the_other_headers(
    seeded: Flask, user: str | None, path: str
) -> None:
    resp = _web(seeded, user).get(path)
    assert resp.status_code == 200, (path, resp.status_code)
    csp = _directives(resp.headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    html = resp.get_data(as_text=True)
    for attributes in _SCRIPT_TAG.findall(html):
        # Only external scripts and JSON data blocks (never executed) are on our pages.
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
    assert not _EVENT_ATTR.search(html), "inline event handlers would be blocked by the CSP"


def test_no_template_has_an_inline_script_or_event_handler() -> None:
    """Every template, not only the pages above: the CSP would silently break such a page."""
    templates = sorted((ROOT / "app" / "templates").rglob("*.html"))
    assert len(templates) > 30
    for path in templates:
        text = path.read_text(encoding="utf-8")
        for attributes in _SCRIPT_TAG.findall(text):
            assert "src=" in attributes or 'type="application/json"' in attributes, path
        assert not _EVENT_ATTR.search(text), path
        assert "javascript:" not in text, path


def test_static_files_and_api_are_not_sniffed(client: Any) -> None:
    for path in ("/static/js/designer-modeler.js", "/api/v1/openapi.json"):
        resp = client.get(path)
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
        assert "Content-Security-Policy" not in resp.headers  # only HTML pages need it
        resp.close()


def test_session_cookie_is_secure_httponly_and_samesite(seeded: Flask, monkeypatch: Any) -> None:
    monkeypatch.setitem(seeded.config, "SESSION_COOKIE_SECURE", True)  # as in production
    resp = _web(seeded).post("/login", {"username": DIRECTOR, "password": DEMO_PASSWORD})
    assert resp.status_code == 302
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    flags = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert "secure" in flags and "httponly" in flags
    assert flags["samesite"].strip() == "SameSite=Lax"


def test_passwords_are_argon2id_with_at_least_the_owasp_cost(seeded: Flask) -> None:
    with seeded.app_context():
        stored = db.session.execute(
            select(User.password_hash).where(User.username == DIRECTOR)
        ).scalar_one()
    match = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[^$]+\$[^$]+", stored)
    assert match, stored
    memory_kib, iterations, _lanes = map(int, match.groups())
    assert memory_kib >= 19 * 1024 and iterations >= 2  # OWASP minimum for Argon2id


def _fail_web(web: WebClient, username: str, times: int) -> list[int]:
    return [
        web.post("/login", {"username": username, "password": "wrong"}).status_code
        for _ in range(times)
    ]


def test_web_login_locks_after_repeated_failures_audits_it_and_clears(seeded: Flask) -> None:
    limit = seeded.config["LOGIN_MAX_FAILURES"]
    lockout = seeded.config["LOGIN_LOCKOUT_MINUTES"]
    web = _web(seeded)
    with time_machine.travel(T0, tick=False):
        assert _fail_web(web, DIRECTOR, limit) == [401] * limit
        locked = _events(seeded, "login_locked")
        assert [(e.payload["username"], e.payload["channel"]) for e in locked] == [
            (DIRECTOR, "web")
        ]
        assert locked[0].payload["failures"] == limit
        # Even the right password is refused while the lock lasts.
        resp = web.post("/login", {"username": DIRECTOR, "password": DEMO_PASSWORD})
        assert resp.status_code == 429
        assert "временно заблокирован" in resp.get_data(as_text=True)
        assert _events(seeded, "login_failed")[-1].payload["problem"] == "locked"
        # Other users are not affected.
        other = _web(seeded).post(
            "/login", {"username": "teacher.gatchina-school-1", "password": DEMO_PASSWORD}
        )
        assert other.status_code == 302
    with time_machine.travel(T0 + timedelta(minutes=lockout - 1), tick=False):
        resp = web.post("/login", {"username": DIRECTOR, "password": DEMO_PASSWORD})
        assert resp.status_code == 429
    with time_machine.travel(T0 + timedelta(minutes=lockout, seconds=1), tick=False):
        resp = web.post("/login", {"username": DIRECTOR, "password": DEMO_PASSWORD})
        assert resp.status_code == 302
    assert len(_events(seeded, "login_locked")) == 1


def test_a_successful_login_resets_the_count(seeded: Flask) -> None:
    limit = seeded.config["LOGIN_MAX_FAILURES"]
    web = _web(seeded)
    with time_machine.travel(T0, tick=False):
        _fail_web(web, DIRECTOR, limit - 1)
        _web(seeded).login(DIRECTOR)
        assert _fail_web(web, DIRECTOR, limit - 1) == [401] * (limit - 1)
        assert _events(seeded, "login_locked") == []
        _web(seeded).login(DIRECTOR)


def test_failures_outside_the_window_do_not_add_up(seeded: Flask) -> None:
    limit = seeded.config["LOGIN_MAX_FAILURES"]
    window = seeded.config["LOGIN_FAILURE_WINDOW_MINUTES"]
    web = _web(seeded)
    with time_machine.travel(T0, tick=False):
        _fail_web(web, DIRECTOR, limit - 1)
    with time_machine.travel(T0 + timedelta(minutes=window + 1), tick=False):
        _fail_web(web, DIRECTOR, limit - 1)
        assert _events(seeded, "login_locked") == []
        _web(seeded).login(DIRECTOR)


def test_token_endpoint_locks_too_and_shares_the_count_with_the_web_form(
    seeded: Flask, client: Any
) -> None:
    limit = seeded.config["LOGIN_MAX_FAILURES"]
    lockout = seeded.config["LOGIN_LOCKOUT_MINUTES"]
    body = {"username": DIRECTOR, "password": "wrong"}
    with time_machine.travel(T0, tick=False):
        _fail_web(_web(seeded), DIRECTOR, 2)
        codes = [client.post("/api/v1/auth/token", json=body).status_code for _ in range(limit)]
        assert codes == [401] * (limit - 2) + [429, 429]
        resp = client.post(
            "/api/v1/auth/token", json={"username": DIRECTOR, "password": DEMO_PASSWORD}
        )
        assert resp.status_code == 429
        assert "заблокирован" in resp.get_json()["message"]
        locked = _events(seeded, "login_locked")
        assert [e.payload["channel"] for e in locked] == ["api"]
    with time_machine.travel(T0 + timedelta(minutes=lockout, seconds=1), tick=False):
        resp = client.post(
            "/api/v1/auth/token", json={"username": DIRECTOR, "password": DEMO_PASSWORD}
        )
        assert resp.status_code == 200 and resp.get_json()["token"]


def test_api_tokens_expire_after_the_ttl_and_can_be_revoked(seeded: Flask, client: Any) -> None:
    ttl = seeded.config["TOKEN_TTL_HOURS"]
    creds = {"username": DIRECTOR, "password": DEMO_PASSWORD}
    with time_machine.travel(T0, tick=False):
        first = client.post("/api/v1/auth/token", json=creds).get_json()["token"]
        second = client.post("/api/v1/auth/token", json=creds).get_json()["token"]

    def me(token: str) -> Any:
        return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    with time_machine.travel(T0 + timedelta(hours=ttl) - timedelta(seconds=5), tick=False):
        assert me(first).status_code == 200
        revoke = client.delete("/api/v1/auth/token", headers={"Authorization": f"Bearer {second}"})
        assert revoke.status_code == 204
        gone = me(second)
        assert gone.status_code == 401 and "отозван" in gone.get_json()["message"]
        assert me(first).status_code == 200  # revoking one token leaves the other alone
    with time_machine.travel(T0 + timedelta(hours=ttl, seconds=1), tick=False):
        expired = me(first)
        assert expired.status_code == 401 and "истёк" in expired.get_json()["message"]
    assert [e.payload["channel"] for e in _events(seeded, "logout")] == ["api"]


def test_csp_can_be_tightened_or_switched_off_by_configuration(
    seeded: Flask, monkeypatch: Any
) -> None:
    monkeypatch.setitem(seeded.config, "CONTENT_SECURITY_POLICY", "default-src 'none'")
    assert _web(seeded).get("/login").headers["Content-Security-Policy"] == "default-src 'none'"
    monkeypatch.setitem(seeded.config, "CONTENT_SECURITY_POLICY", "")
    assert "Content-Security-Policy" not in _web(seeded).get("/login").headers
