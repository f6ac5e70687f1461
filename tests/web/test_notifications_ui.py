"""Notifications in the UI: the navbar badge, the list, marking read (CSRF), the settings form."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from sqlalchemy import event, select

from app.extensions import db
from app.models import Notification, NotificationPreference, User
from app.services import notifications
from app.services.notifications import Message
from tests.web.conftest import WebClient

USER = "mms_methodist.gatchina"


def _notify(app: Flask, username: str, count: int, title: str = "Сообщение") -> list[int]:
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        for i in range(count):
            notifications.notify(
                [user], Message("process_message", f"{title} {i + 1}", f"Текст {i + 1}"), f"t:{i}"
            )
        db.session.commit()
        ids = list(
            db.session.execute(
                select(Notification.id)
                .where(Notification.user_id == user.id)
                .order_by(Notification.id)
            ).scalars()
        )
        db.session.remove()
        return ids


def _badge(html: str) -> int | None:
    match = re.search(r'id="unread-badge">(\d+)<', html)
    return int(match.group(1)) if match else None


def _unread(app: Flask, ids: list[int]) -> list[int]:
    with app.app_context():
        rows = db.session.execute(
            select(Notification.id).where(Notification.id.in_(ids), Notification.read_at.is_(None))
        ).scalars()
        result = sorted(rows)
        db.session.remove()
        return result


def test_badge_on_every_page_and_the_list(seeded: Flask, login_as: Any) -> None:
    web = login_as(USER)
    assert _badge(web.get("/").get_data(as_text=True)) is None  # nothing unread: no badge
    _notify(seeded, USER, 3)
    _notify(seeded, "mms_head.gatchina", 1, title="Чужое")
    html = web.get("/").get_data(as_text=True)
    assert _badge(html) == 3
    assert 'href="/notifications"' in html
    page = web.get("/notifications").get_data(as_text=True)
    assert re.findall(r"<strong>(Сообщение \d)</strong>", page) == [
        "Сообщение 3",
        "Сообщение 2",
        "Сообщение 1",
    ]
    assert "Чужое" not in page
    assert "Сообщение процесса" in page  # the kind, in Russian
    assert 'data-count="unread">3<' in page


def test_titles_are_escaped(seeded: Flask, login_as: Any) -> None:
    _notify(seeded, USER, 1, title="<script>alert(1)</script>")
    page = login_as(USER).get("/notifications").get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_mark_one_read_needs_csrf_and_ownership(seeded: Flask, login_as: Any) -> None:
    first, second = _notify(seeded, USER, 2)
    [foreign] = _notify(seeded, "mms_head.gatchina", 1)
    web = login_as(USER)
    no_token = web.client.post(f"/notifications/{first}/read")
    assert no_token.status_code == 400
    assert _unread(seeded, [first, second]) == [first, second]
    resp = web.post(
        f"/notifications/{first}/read", {"next": "/notifications?unread=1"}, page="/notifications"
    )
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/notifications?unread=1")
    assert _unread(seeded, [first, second]) == [second]
    assert _badge(web.get("/notifications").get_data(as_text=True)) == 1
    unread_page = web.get("/notifications?unread=1").get_data(as_text=True)
    assert f'data-notification="{second}"' in unread_page
    assert f'data-notification="{first}"' not in unread_page
    # Another user's notification looks like it does not exist, and stays unread.
    assert web.post(f"/notifications/{foreign}/read", page="/notifications").status_code == 404
    assert _unread(seeded, [foreign]) == [foreign]
    # An outside address in `next` is not followed.
    resp = web.post(
        f"/notifications/{second}/read", {"next": "https://evil.example/"}, page="/notifications"
    )
    assert resp.headers["Location"].endswith("/notifications")


def test_mark_all_read(seeded: Flask, login_as: Any) -> None:
    ids = _notify(seeded, USER, 4)
    [foreign] = _notify(seeded, "mms_head.gatchina", 1)
    web = login_as(USER)
    assert web.client.post("/notifications/read-all").status_code == 400  # no CSRF token
    assert len(_unread(seeded, ids)) == 4
    resp = web.post("/notifications/read-all", page="/notifications", follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "Отмечено прочитанными: 4." in html
    assert _badge(html) is None
    assert _unread(seeded, ids) == [] and _unread(seeded, [foreign]) == [foreign]
    assert 'id="mark-all-read"' not in html


def test_pages(seeded: Flask, login_as: Any, monkeypatch) -> None:
    monkeypatch.setitem(seeded.config, "NOTIFICATIONS_PER_PAGE", 2)
    _notify(seeded, USER, 5)
    web = login_as(USER)
    second = web.get("/notifications?page=2").get_data(as_text=True)
    assert re.findall(r"<strong>(Сообщение \d)</strong>", second) == ["Сообщение 3", "Сообщение 2"]
    assert 'aria-current="page">2<' in second
    assert "Показано 2 из 5." in second


def test_navbar_state_is_one_query(seeded: Flask) -> None:
    _notify(seeded, USER, 2)
    with seeded.app_context():
        user = db.session.execute(select(User).where(User.username == USER)).scalar_one()
        head = db.session.execute(
            select(User).where(User.username == "mms_head.gatchina")
        ).scalar_one()
        statements: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            state = notifications.navbar_state(user)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len(statements) == 1
        assert state == notifications.NavbarState(2, False)
        assert notifications.navbar_state(head) == notifications.NavbarState(0, True)
        db.session.remove()


def _prefs(app: Flask, username: str) -> tuple[str, bool] | None:
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        pref = db.session.get(NotificationPreference, user.id)
        result = (pref.channel, pref.daily_digest) if pref else None
        db.session.remove()
        return result


def test_settings_form(seeded: Flask, login_as: Any) -> None:
    with seeded.app_context():
        user = db.session.execute(select(User).where(User.username == USER)).scalar_one()
        user.email = "methodist@example.test"
        db.session.commit()
        db.session.remove()
    web = login_as(USER)
    page = web.get("/notifications/settings").get_data(as_text=True)
    assert 'id="channel-email" value="email"\n             checked' in page
    assert "methodist@example.test" in page
    assert web.client.post("/notifications/settings", data={"channel": "in_app"}).status_code == 400
    assert _prefs(seeded, USER) is None
    resp = web.post(
        "/notifications/settings",
        {"channel": "email", "daily_digest": "1"},
        page="/notifications/settings",
        follow_redirects=True,
    )
    assert "Настройки уведомлений сохранены." in resp.get_data(as_text=True)
    assert _prefs(seeded, USER) == ("email", True)
    web.post("/notifications/settings", {"channel": "in_app"}, page="/notifications/settings")
    assert _prefs(seeded, USER) == ("in_app", False)


def test_settings_without_an_address(seeded: Flask, login_as: Any) -> None:
    web = login_as("mms_head.gatchina")  # demo users have no e-mail address
    page = web.get("/notifications/settings").get_data(as_text=True)
    assert "нет адреса электронной почты" in page
    resp = web.post("/notifications/settings", {"channel": "email"}, page="/notifications/settings")
    assert resp.status_code == 422
    assert "Не указан адрес электронной почты." in resp.get_data(as_text=True)
    assert _prefs(seeded, "mms_head.gatchina") is None
    bad = web.post("/notifications/settings", {"channel": "pigeon"}, page="/notifications/settings")
    assert bad.status_code == 422


def test_anonymous_is_sent_to_login(web: WebClient) -> None:
    for path in ("/notifications", "/notifications/settings"):
        resp = web.get(path)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert _badge(web.get("/login").get_data(as_text=True)) is None


def test_an_auditor_manages_own_notifications(seeded: Flask, login_as: Any) -> None:
    # Auditors may change nothing in the system, but their own notifications are their account.
    [note] = _notify(seeded, "auditor", 1)
    web = login_as("auditor")
    assert web.post(f"/notifications/{note}/read", page="/notifications").status_code == 303
    assert _unread(seeded, [note]) == []
    resp = web.post(
        "/notifications/settings", {"channel": "in_app"}, page="/notifications/settings"
    )
    assert resp.status_code == 303
    assert _prefs(seeded, "auditor") == ("in_app", False)
