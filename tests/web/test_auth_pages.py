"""Login, logout, sessions, CSRF, the language switch and the error pages."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app import config as app_config
from app import create_app
from tests.conftest import ApiClient
from tests.web.conftest import WebClient


@pytest.mark.parametrize(
    "path", ["/", "/?tab=available", "/tasks/1", "/processes", "/processes/x/start", "/instances/1"]
)
def test_anonymous_is_sent_to_login(web: WebClient, path: str) -> None:
    resp = web.get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


def test_login_page_is_russian_with_csrf(web: WebClient) -> None:
    html = web.get("/login").get_data(as_text=True)
    assert '<html lang="ru">' in html
    assert "Вход в систему" in html and 'name="csrf_token"' in html


def test_wrong_password_is_refused_and_audited(web: WebClient, api: ApiClient) -> None:
    resp = web.post("/login", {"username": "director.gatchina-school-1", "password": "nope"})
    assert resp.status_code == 401
    html = resp.get_data(as_text=True)
    assert "Неверное имя пользователя или пароль." in html
    assert 'value="director.gatchina-school-1"' in html  # the username is kept
    events = api.get("/audit?kind=login_failed", "auditor").get_json()["items"]
    assert [e["payload"] for e in events] == [
        {"username": "director.gatchina-school-1", "channel": "web"}
    ]


def test_login_goes_to_next_and_is_audited(web: WebClient, api: ApiClient) -> None:
    resp = web.post(
        "/login",
        {"username": "director.gatchina-school-1", "password": _password(), "next": "/processes"},
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/processes"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert web.get("/processes").status_code == 200
    events = api.get("/audit?kind=login_succeeded", "auditor").get_json()["items"]
    assert [(e["actor"], e["payload"]["channel"]) for e in events] == [
        ("director.gatchina-school-1", "web"),
        ("auditor", "api"),
    ]


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_login_never_redirects_off_site(web: WebClient, target: str) -> None:
    resp = web.post("/login", {"username": "admin", "password": _password(), "next": target})
    assert resp.headers["Location"] == "/"


def test_inactive_user_cannot_log_in(web: WebClient, seeded: Flask) -> None:
    from app.extensions import db
    from app.models import User

    with seeded.app_context():
        db.session.query(User).filter_by(username="teacher.luga-school-1").update(
            {"is_active": False}
        )
        db.session.commit()
    resp = web.post("/login", {"username": "teacher.luga-school-1", "password": _password()})
    assert resp.status_code == 401


def test_logout_is_a_post_and_ends_the_session(login_as: Any) -> None:
    web = login_as("director.gatchina-school-1")
    assert web.get("/logout").status_code == 405
    resp = web.post("/logout", page="/")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    assert web.get("/").status_code == 302


def test_post_without_csrf_token_is_refused(login_as: Any) -> None:
    web = login_as("mo_head.gatchina-school-1")
    resp = web.client.post("/logout")
    assert resp.status_code == 400
    assert "Форма устарела" in resp.get_data(as_text=True)
    resp = web.client.post("/tasks/1/claim")
    assert resp.status_code == 400
    anonymous = WebClient(web.client.application.test_client())
    resp = anonymous.client.post("/login", data={"username": "admin", "password": _password()})
    assert resp.status_code == 400


def test_api_needs_no_csrf_token(api: ApiClient) -> None:
    assert api.get("/me", "admin").status_code == 200  # token obtained by a POST without CSRF


def test_secure_cookie_outside_debug_and_testing(database_url: str) -> None:
    config = app_config.TestConfig(database_url)
    config.TESTING = False  # type: ignore[misc]
    assert create_app(config).config["SESSION_COOKIE_SECURE"] is True
    testing = app_config.TestConfig(database_url)
    assert create_app(testing).config["SESSION_COOKIE_SECURE"] is False


def test_language_switch_is_kept_in_the_session(login_as: Any, english_catalog: None) -> None:
    web = login_as("mo_head.gatchina-school-1")
    resp = web.post("/language", {"lang": "en", "next": "/processes"}, page="/")
    assert resp.status_code == 302 and resp.headers["Location"] == "/processes"
    html = web.get("/processes").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Start a process" in html and "Log out" in html
    web.post("/language", {"lang": "ru"}, page="/")
    html = web.get("/processes").get_data(as_text=True)
    assert '<html lang="ru">' in html and "Выйти" in html
    web.post("/language", {"lang": "xx"}, page="/")
    assert '<html lang="ru">' in web.get("/").get_data(as_text=True)


def test_not_found_page_is_html_and_api_stays_json(web: WebClient, login_as: Any) -> None:
    resp = web.get("/no-such-page")
    assert resp.status_code == 404
    assert "Страница не найдена" in resp.get_data(as_text=True)
    api_resp = web.get("/api/v1/no-such-thing")
    assert api_resp.status_code == 404 and api_resp.get_json()["message"] == "Не найдено."
    user = login_as("teacher.luga-school-1")
    resp = user.get("/tasks/999999")
    assert resp.status_code == 404 and "Страница не найдена" in resp.get_data(as_text=True)


def _password() -> str:
    from tests.conftest import DEMO_PASSWORD

    return DEMO_PASSWORD
