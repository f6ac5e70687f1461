"""The administration pages: tree, users, grants with confirmation, substitutions, import."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import OrgUnit, RoleGrant, User
from app.services import admin
from tests.web.conftest import WebClient

from .conftest import make_user, user_id

PAGE = "/admin/"


@pytest.fixture()
def web_admin(gatchina_admin: str, seeded: Flask) -> WebClient:
    session = WebClient(seeded.test_client())
    session.login(gatchina_admin)
    return session


def _post(web: WebClient, path: str, data: dict[str, Any], page: str = PAGE) -> Any:
    return web.post(path, data, page=page)


def _flash(web: WebClient, path: str) -> str:
    return str(web.get(path).get_data(as_text=True))


def test_non_admin_gets_403_and_no_link(seeded: Flask) -> None:
    web = WebClient(seeded.test_client())
    web.login("teacher.gatchina-school-1")
    assert web.get(PAGE).status_code == 403
    assert web.get("/admin/users").status_code == 403
    assert "Администрирование" not in web.get("/").get_data(as_text=True)


def test_tree_shows_only_the_scope(web_admin: WebClient) -> None:
    html = web_admin.get(PAGE).get_data(as_text=True)
    assert 'data-unit="gatchina-school-1"' in html and 'data-unit="luga"' not in html
    assert "Администрирование" in html  # the navbar link
    with web_admin.client.application.app_context():
        ids = dict(db.session.execute(select(OrgUnit.slug, OrgUnit.id)).all())
    new = {"slug": "gatchina-school-7", "name": "Гатчинская СОШ № 7", "tier": "institution"}
    denied = _post(web_admin, "/admin/units", {**new, "parent_id": str(ids["luga"])})
    assert denied.status_code == 403
    made = _post(web_admin, "/admin/units", {**new, "parent_id": str(ids["gatchina"])})
    assert made.status_code == 303
    html = _flash(web_admin, PAGE)
    assert "создана" in html and 'data-unit="gatchina-school-7"' in html


def test_users_list_search_and_pages(web_admin: WebClient, seeded: Flask) -> None:
    for i in range(30):
        make_user(seeded, f"bulk.{i:02d}", [("teacher", "gatchina-school-2")])
    first = web_admin.get("/admin/users").get_data(as_text=True)
    # 4 municipal roles + 5 roles x 2 schools + the admin + 30 new users
    assert "Найдено: 45" in first
    assert 'aria-current="page">1<' in first and "page=2" in first
    assert 'data-user="teacher.luga-school-1"' not in first
    found = web_admin.get("/admin/users?q=bulk.2").get_data(as_text=True)
    assert 'data-user="bulk.20"' in found and 'data-user="bulk.10"' not in found
    everyone = web_admin.get("/admin/users?q=luga-school-1&all=1").get_data(as_text=True)
    assert 'data-user="teacher.luga-school-1"' in everyone and "скрыто" in everyone


def test_grant_and_revoke_need_reason_and_confirmation(web_admin: WebClient, seeded: Flask) -> None:
    uid = user_id(seeded, "teacher.gatchina-school-1")
    page = f"/admin/users/{uid}"
    with seeded.app_context():
        school = admin.require_unit(
            db.session.execute(
                select(RoleGrant.org_unit_id).where(RoleGrant.user_id == uid)
            ).scalar_one(),
            admin.scope_of(
                db.session.execute(select(User).where(User.username == "admin")).scalar_one()
            ),
        ).id
    resp = _post(
        web_admin,
        f"/admin/users/{uid}/grants",
        {
            "role": "mo_head",
            "org_unit_id": str(school),
            "valid_from": "2030-01-01T08:00",
            "valid_to": "2030-06-01T08:00",
            "reason": "Приказ № 15",
        },
        page,
    )
    assert resp.status_code == 303
    html = _flash(web_admin, page)
    assert "Роль назначена." in html and 'data-status="planned"' in html
    with seeded.app_context():
        grant = db.session.execute(
            select(RoleGrant).where(RoleGrant.user_id == uid, RoleGrant.role == "mo_head")
        ).scalar_one()
        gid = grant.id
        assert grant.valid_from is not None and grant.valid_from.hour == 5  # 08:00 Moscow
    revoke = {"user_id": str(uid), "reason": "Ошибка в приказе"}
    _post(web_admin, f"/admin/grants/{gid}/revoke", revoke, page)
    assert "Подтвердите отзыв роли." in _flash(web_admin, page)
    with seeded.app_context():
        assert db.session.get(RoleGrant, gid).revoked_at is None
    _post(web_admin, f"/admin/grants/{gid}/revoke", {**revoke, "confirm": "yes"}, page)
    assert "Роль отозвана." in _flash(web_admin, page)
    with seeded.app_context():
        assert db.session.get(RoleGrant, gid).revoked_at is not None


def test_deactivate_needs_confirmation(web_admin: WebClient, seeded: Flask) -> None:
    uid = user_id(seeded, "mo_head.gatchina-school-2")
    page = f"/admin/users/{uid}"
    body = {"action": "deactivate", "reason": "Увольнение"}
    _post(web_admin, f"/admin/users/{uid}/action", body, page)
    assert "Подтвердите отключение" in _flash(web_admin, page)
    _post(web_admin, f"/admin/users/{uid}/action", {**body, "confirm": "yes"}, page)
    assert "Учётная запись изменена." in _flash(web_admin, page)
    with seeded.app_context():
        assert db.session.get(User, uid).is_active is False


def test_out_of_scope_user_page_is_brief(web_admin: WebClient, seeded: Flask) -> None:
    uid = user_id(seeded, "mo_head.luga-school-1")
    html = web_admin.get(f"/admin/users/{uid}").get_data(as_text=True)
    assert "вне вашей зоны" in html and "@" not in html.split("<main")[1]
    resp = _post(web_admin, f"/admin/users/{uid}/action", {"action": "reset", "confirm": "yes"})
    assert resp.status_code == 403


def test_substitution_from_the_user_page(web_admin: WebClient, seeded: Flask) -> None:
    uid = user_id(seeded, "mo_head.gatchina-school-1")
    page = f"/admin/users/{uid}"
    body = {
        "substitute": "deputy_director.gatchina-school-1",
        "valid_from": "2030-07-01T09:00",
        "valid_to": "2030-07-15T09:00",
        "reason": "Отпуск",
    }
    _post(web_admin, f"/admin/users/{uid}/substitutions", body, page)
    html = _flash(web_admin, page)
    assert "Замещение назначено." in html and "запланировано" in html
    assert "deputy_director.gatchina-school-1" in web_admin.get("/admin/substitutions").get_data(
        as_text=True
    )


CSV = (
    "username,full_name,email,password,role,org_unit_slug\n"
    "web.one,Первый,,,teacher,gatchina-school-1\n"
    "web.two,Второй,,,teacher,gatchina-school-2\n"
)


def _upload(web: WebClient, text: str, dry_run: str) -> Any:
    data = {
        "file": (io.BytesIO(text.encode("utf-8")), "users.csv"),
        "dry_run": dry_run,
        "csrf_token": web.token("/admin/import"),
    }
    return web.client.post("/admin/import", data=data, content_type="multipart/form-data")


def test_import_dry_run_and_errors(web_admin: WebClient, seeded: Flask) -> None:
    dry = _upload(web_admin, CSV, "yes")
    assert dry.status_code == 200
    assert "пользователей 2, назначений ролей 2" in dry.get_data(as_text=True)
    bad = _upload(web_admin, CSV + "web.three,Третий,,,teacher,luga-school-1\n", "yes")
    assert bad.status_code == 422 and "Строка 4" in bad.get_data(as_text=True)
    with seeded.app_context():
        assert db.session.execute(select(User).where(User.username == "web.one")).first() is None


def test_import_runs_with_progress_and_tokens_once(web_admin: WebClient, seeded: Flask) -> None:
    resp = _upload(web_admin, CSV, "no")
    assert resp.status_code == 303
    job_page = resp.headers["Location"]
    assert "import-progress.js" in web_admin.get(job_page).get_data(as_text=True)
    deadline = time.monotonic() + 60
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = web_admin.get(job_page + "/status").get_json()
        if status["state"] != "running":
            break
        time.sleep(0.2)
    assert status["state"] == "done", status
    assert status["percent"] == 100 and status["users_created"] == 2
    assert "setup_tokens" not in status
    page = job_page
    tokens = web_admin.post(job_page + "/tokens", {}, page=page)
    lines = tokens.get_data(as_text=True).splitlines()
    assert lines[0] == "username,setup_token" and len(lines) == 3
    again = web_admin.post(job_page + "/tokens", {}, page=page)
    assert again.get_data(as_text=True).splitlines() == ["username,setup_token"]
    # Someone else cannot read the job.
    other = WebClient(seeded.test_client())
    other.login("admin")
    assert other.get(job_page + "/status").status_code == 404
