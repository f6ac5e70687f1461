"""Login through a real (throwaway) OpenLDAP: success, wrong password, unknown user, down."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, RoleGrant, User
from tests.conftest import DEMO_PASSWORD
from tests.web.conftest import WebClient

from .conftest import LDAP_PASSWORD, LDAP_USER, Directory, make_user


def _token(client: Any, username: str, password: str) -> Any:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def test_first_directory_login_creates_user_without_grants(ldap_app: Any) -> None:
    client = ldap_app.test_client()
    resp = _token(client, LDAP_USER, LDAP_PASSWORD)
    assert resp.status_code == 200, resp.get_json()
    me = client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {resp.get_json()['token']}"}
    ).get_json()
    assert me["username"] == LDAP_USER and me["full_name"] == "Иванов Иван Иванович"
    assert me["grants"] == []
    with ldap_app.app_context():
        user = db.session.execute(select(User).where(User.username == LDAP_USER)).scalar_one()
        assert user.auth_source == "ldap" and user.email == "ivanov@example.org"
        assert user.password_hash == ""  # nothing to crack here: the directory holds it
        created = db.session.execute(
            select(AuditEvent).where(AuditEvent.kind == "user_created")
        ).scalar_one()
        assert created.payload["via"] == "first_login"


def test_directory_user_keeps_grants_managed_here(ldap_app: Any) -> None:
    make_user(ldap_app, LDAP_USER, [("teacher", "gatchina-school-1")], auth_source="ldap")
    client = ldap_app.test_client()
    resp = _token(client, LDAP_USER, LDAP_PASSWORD)
    assert resp.status_code == 200
    me = client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {resp.get_json()['token']}"}
    ).get_json()
    assert [g["role"] for g in me["grants"]] == ["teacher"]
    # A local password is never accepted for a directory-managed account.
    assert _token(client, LDAP_USER, DEMO_PASSWORD).status_code == 401


def test_wrong_password_is_refused_and_audited(ldap_app: Any) -> None:
    client = ldap_app.test_client()
    resp = _token(client, LDAP_USER, "not-the-password")
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Неверное имя пользователя или пароль."
    with ldap_app.app_context():
        assert db.session.execute(select(User).where(User.username == LDAP_USER)).first() is None
        failed = db.session.execute(
            select(AuditEvent).where(AuditEvent.kind == "login_failed")
        ).scalar_one()
        assert failed.payload["source"] == "ldap"


def test_unknown_user_is_refused_and_not_created(ldap_app: Any) -> None:
    client = ldap_app.test_client()
    resp = _token(client, "nobody", "whatever-1")
    assert resp.status_code == 401
    with ldap_app.app_context():
        assert db.session.execute(select(User).where(User.username == "nobody")).first() is None


def test_injection_in_username_is_refused(ldap_app: Any) -> None:
    client = ldap_app.test_client()
    assert _token(client, "ivanov,ou=people", LDAP_PASSWORD).status_code == 401
    assert _token(client, "*", LDAP_PASSWORD).status_code == 401


def test_directory_down_gives_clear_message_and_local_admin_still_logs_in(
    ldap_app: Any, directory: Directory
) -> None:
    make_user(ldap_app, LDAP_USER, [("teacher", "gatchina-school-1")], auth_source="ldap")
    directory.stop()
    client = ldap_app.test_client()
    resp = _token(client, LDAP_USER, LDAP_PASSWORD)
    assert resp.status_code == 503
    message = resp.get_json()["message"]
    assert "Служба каталога (LDAP) недоступна" in message
    assert "Неверное" not in message
    # The local admin (auth_source local) does not depend on the directory.
    assert _token(client, "admin", DEMO_PASSWORD).status_code == 200
    # The web login says the same, on the form.
    web = WebClient(ldap_app.test_client())
    page = web.post("/login", {"username": LDAP_USER, "password": LDAP_PASSWORD})
    assert page.status_code == 503
    assert "Служба каталога (LDAP) недоступна" in page.get_data(as_text=True)
    assert web.post("/login", {"username": "admin", "password": DEMO_PASSWORD}).status_code == 302
    with ldap_app.app_context():
        failed = db.session.execute(
            select(AuditEvent).where(AuditEvent.kind == "login_failed")
        ).scalars()
        assert {e.payload.get("problem") for e in failed} == {"directory_unavailable"}


def test_web_login_through_directory(ldap_app: Any) -> None:
    web = WebClient(ldap_app.test_client())
    resp = web.post("/login", {"username": LDAP_USER, "password": LDAP_PASSWORD})
    assert resp.status_code == 302
    with ldap_app.app_context():
        user = db.session.execute(select(User).where(User.username == LDAP_USER)).scalar_one()
        grants = db.session.execute(select(RoleGrant).where(RoleGrant.user_id == user.id))
        assert grants.first() is None


def test_directory_account_without_ldap_configured(seeded: Any) -> None:
    make_user(seeded, "dir.user", [("teacher", "luga-school-1")], auth_source="ldap")
    resp = _token(seeded.test_client(), "dir.user", "anything-1")
    assert resp.status_code == 503
    assert "не настроен" in resp.get_json()["message"]
