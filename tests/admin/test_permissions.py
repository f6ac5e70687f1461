"""Every admin action in scope and out of it: the admin of gatchina cannot touch luga."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, OrgUnit, RoleGrant, User
from app.models.base import utcnow

from .conftest import GATCHINA_ADMIN, make_user, user_id

ADMIN = GATCHINA_ADMIN


def _kinds(app: Any) -> list[str]:
    with app.app_context():
        return list(db.session.execute(select(AuditEvent.kind).order_by(AuditEvent.seq)).scalars())


def _grant_id(app: Any, username: str, role: str) -> int:
    with app.app_context():
        return int(
            db.session.execute(
                select(RoleGrant.id)
                .join(User, User.id == RoleGrant.user_id)
                .where(User.username == username, RoleGrant.role == role)
            ).scalar_one()
        )


def test_non_admin_gets_403_on_every_mutation(api: Any, gatchina_admin: str) -> None:
    teacher = "teacher.gatchina-school-1"
    uid = user_id(api.client.application, "mo_head.gatchina-school-1")
    school = api.unit_id("gatchina-school-1")
    gid = _grant_id(api.client.application, "mo_head.gatchina-school-1", "mo_head")
    calls = [
        ("GET", "/admin/org-units", None),
        (
            "POST",
            "/admin/org-units",
            {"slug": "x", "name": "X", "tier": "institution", "parent_id": school},
        ),
        ("PATCH", f"/admin/org-units/{school}", {"name": "Новое имя"}),
        ("POST", f"/admin/org-units/{school}/close", {"reason": "r"}),
        ("POST", "/admin/users", {"username": "new.user", "full_name": "Н"}),
        ("POST", f"/admin/users/{uid}/deactivate", {"reason": "r"}),
        ("POST", f"/admin/users/{uid}/activate", {"reason": "r"}),
        ("POST", f"/admin/users/{uid}/reset-password", None),
        ("GET", f"/admin/users/{uid}/grants", None),
        (
            "POST",
            "/admin/grants",
            {"user_id": uid, "role": "teacher", "org_unit_id": school, "reason": "r"},
        ),
        ("POST", f"/admin/grants/{gid}/revoke", {"reason": "r"}),
        ("GET", "/admin/substitutions", None),
        (
            "POST",
            "/admin/substitutions",
            {
                "away_user_id": uid,
                "substitute_id": uid,
                "valid_from": "2030-01-01T00:00:00Z",
                "valid_to": "2030-02-01T00:00:00Z",
                "reason": "r",
            },
        ),
    ]
    for method, path, body in calls:
        resp = (
            api.call(method, path, teacher, json=body) if body else api.call(method, path, teacher)
        )
        assert resp.status_code == 403, (method, path, resp.get_json())
        assert "администратор" in resp.get_json()["message"]
    data = {"file": (io.BytesIO(b"slug,name,tier,parent_slug\n"), "u.csv")}
    resp = api.post("/admin/import", teacher, data=data, content_type="multipart/form-data")
    assert resp.status_code == 403


def test_org_units_in_and_out_of_scope(api: Any, gatchina_admin: str) -> None:
    app = api.client.application
    gatchina, luga = api.unit_id("gatchina"), api.unit_id("luga")
    tree = api.get("/admin/org-units", ADMIN).get_json()
    assert {u["slug"] for u in tree} == {"gatchina", "gatchina-school-1", "gatchina-school-2"}
    assert tree[0]["slug"] == "gatchina" and tree[0]["depth"] == 0

    new = {"slug": "gatchina-school-3", "name": "Гатчинская СОШ № 3", "tier": "institution"}
    assert api.post("/admin/org-units", ADMIN, json={**new, "parent_id": luga}).status_code == 403
    created = api.post("/admin/org-units", ADMIN, json={**new, "parent_id": gatchina})
    assert created.status_code == 201, created.get_json()
    school3 = created.get_json()["id"]
    # A new region (no parent) needs the admin of a root unit.
    region = {"slug": "spb", "name": "СПб", "tier": "region", "parent_id": None}
    assert api.post("/admin/org-units", ADMIN, json=region).status_code == 403

    luga_school = api.unit_id("luga-school-1")
    rename = {"name": "Переименованная"}
    assert (
        api.call("PATCH", f"/admin/org-units/{luga_school}", ADMIN, json=rename).status_code == 403
    )
    resp = api.call("PATCH", f"/admin/org-units/{school3}", ADMIN, json={"name": "СОШ № 3"})
    assert resp.status_code == 200 and resp.get_json()["name"] == "СОШ № 3"

    # Move: both the unit and its new parent must be in scope.
    move_out = {"parent_id": luga}
    assert api.call("PATCH", f"/admin/org-units/{school3}", ADMIN, json=move_out).status_code == 403
    move_in = {"parent_id": gatchina}
    assert (
        api.call("PATCH", f"/admin/org-units/{luga_school}", ADMIN, json=move_in).status_code == 403
    )
    assert (
        api.call("PATCH", f"/admin/org-units/{luga_school}", "admin", json=move_in).status_code
        == 200
    )

    assert (
        api.post(f"/admin/org-units/{luga}/close", ADMIN, json={"reason": "r"}).status_code == 403
    )
    assert (
        api.post(f"/admin/org-units/{gatchina}/close", ADMIN, json={"reason": "r"}).status_code
        == 403
    )
    closed = api.post(f"/admin/org-units/{school3}/close", ADMIN, json={"reason": "Реорганизация"})
    assert closed.status_code == 200 and closed.get_json()["closed_at"]

    kinds = _kinds(app)
    for kind in ("org_unit_created", "org_unit_renamed", "org_unit_moved", "org_unit_closed"):
        assert kind in kinds


def test_users_in_and_out_of_scope(api: Any, gatchina_admin: str) -> None:
    app = api.client.application
    ours = user_id(app, "mo_head.gatchina-school-1")
    theirs = user_id(app, "mo_head.luga-school-1")
    reason = {"reason": "Увольнение, приказ № 12"}
    assert api.post(f"/admin/users/{theirs}/deactivate", ADMIN, json=reason).status_code == 403
    assert api.post(f"/admin/users/{theirs}/reset-password", ADMIN).status_code == 403
    assert api.get(f"/admin/users/{theirs}/grants", ADMIN).status_code == 403

    resp = api.post(f"/admin/users/{ours}/deactivate", ADMIN, json=reason)
    assert resp.status_code == 200 and resp.get_json()["is_active"] is False
    assert api.post(f"/admin/users/{ours}/deactivate", ADMIN, json=reason).status_code == 409
    login = api.client.post(
        "/api/v1/auth/token",
        json={"username": "mo_head.gatchina-school-1", "password": "demo-test-password"},
    )
    assert login.status_code == 401
    assert api.post(f"/admin/users/{ours}/activate", ADMIN, json=reason).status_code == 200

    reset = api.post(f"/admin/users/{ours}/reset-password", ADMIN)
    assert reset.status_code == 200 and len(reset.get_json()["setup_token"]) > 20
    # Self-service is refused: an admin does not deactivate or reset themselves.
    me = user_id(app, ADMIN)
    assert api.post(f"/admin/users/{me}/deactivate", ADMIN, json=reason).status_code == 409

    created = api.post(
        "/admin/users", ADMIN, json={"username": "new.teacher", "full_name": "Новая"}
    )
    assert created.status_code == 201
    assert created.get_json()["setup_token"] and created.get_json()["user"]["must_set_password"]
    assert api.post("/admin/users", ADMIN, json={"username": "new.teacher"}).status_code == 409

    kinds = _kinds(app)
    for kind in ("user_created", "user_deactivated", "user_password_reset", "user_activated"):
        assert kind in kinds


def test_grants_in_and_out_of_scope(api: Any, gatchina_admin: str) -> None:
    app = api.client.application
    ours = user_id(app, "teacher.gatchina-school-1")
    theirs = user_id(app, "teacher.luga-school-1")
    school, luga_school = api.unit_id("gatchina-school-1"), api.unit_id("luga-school-1")
    body = {"role": "mo_head", "reason": "Приказ № 5 от 01.09"}
    # Unit out of scope, user out of scope: both refused.
    out_unit = {**body, "user_id": ours, "org_unit_id": luga_school}
    assert api.post("/admin/grants", ADMIN, json=out_unit).status_code == 403
    out_user = {**body, "user_id": theirs, "org_unit_id": school}
    assert api.post("/admin/grants", ADMIN, json=out_user).status_code == 403
    # Wrong tier and unknown role are validation errors.
    wrong_tier = {**body, "role": "mms_head", "user_id": ours, "org_unit_id": school}
    assert api.post("/admin/grants", ADMIN, json=wrong_tier).status_code == 422
    until = (utcnow() + timedelta(days=30)).isoformat()
    ok = api.post(
        "/admin/grants",
        ADMIN,
        json={**body, "user_id": ours, "org_unit_id": school, "valid_to": until},
    )
    assert ok.status_code == 201, ok.get_json()
    grant = ok.get_json()
    assert grant["status"] == "active" and grant["valid_to"]
    # The same role at the same unit for an overlapping period is a conflict.
    again = {**body, "user_id": ours, "org_unit_id": school}
    assert api.post("/admin/grants", ADMIN, json=again).status_code == 409
    # No role grants to oneself.
    me = user_id(app, ADMIN)
    self_grant = {**body, "role": "director", "user_id": me, "org_unit_id": school}
    assert api.post("/admin/grants", ADMIN, json=self_grant).status_code == 403

    luga_grant = _grant_id(app, "teacher.luga-school-1", "teacher")
    revoke = {"reason": "Перевод в другую школу"}
    assert api.post(f"/admin/grants/{luga_grant}/revoke", ADMIN, json=revoke).status_code == 403
    done = api.post(f"/admin/grants/{grant['id']}/revoke", ADMIN, json=revoke)
    assert done.status_code == 200 and done.get_json()["status"] == "revoked"
    assert done.get_json()["revoke_reason"] == "Перевод в другую школу"
    assert api.post(f"/admin/grants/{grant['id']}/revoke", ADMIN, json=revoke).status_code == 409
    assert {"role_granted", "role_revoked"} <= set(_kinds(app))


def test_substitutions_in_and_out_of_scope(api: Any, gatchina_admin: str) -> None:
    app = api.client.application
    away = user_id(app, "mo_head.gatchina-school-1")
    deputy = user_id(app, "deputy_director.gatchina-school-1")
    stranger = user_id(app, "mo_head.luga-school-1")
    period = {
        "valid_from": utcnow().isoformat(),
        "valid_to": (utcnow() + timedelta(days=7)).isoformat(),
        "reason": "Отпуск, приказ № 7",
    }
    out = {**period, "away_user_id": away, "substitute_id": stranger}
    assert api.post("/admin/substitutions", ADMIN, json=out).status_code == 403
    out = {**period, "away_user_id": stranger, "substitute_id": deputy}
    assert api.post("/admin/substitutions", ADMIN, json=out).status_code == 403
    same = {**period, "away_user_id": away, "substitute_id": away}
    assert api.post("/admin/substitutions", ADMIN, json=same).status_code == 422
    made = api.post(
        "/admin/substitutions",
        ADMIN,
        json={**period, "away_user_id": away, "substitute_id": deputy},
    )
    assert made.status_code == 201, made.get_json()
    sub = made.get_json()
    assert (
        sub["status"] == "active"
        and sub["substitute_username"] == "deputy_director.gatchina-school-1"
    )
    listed = api.get("/admin/substitutions", ADMIN).get_json()
    assert [s["id"] for s in listed["items"]] == [sub["id"]]
    # The luga admin's view (region admin sees it too; a luga-only admin would not).
    make_user(app, "admin.luga", [("admin", "luga")])
    assert api.get("/admin/substitutions", "admin.luga").get_json()["items"] == []
    cancel = {"reason": "Вышел из отпуска раньше"}
    assert (
        api.post(f"/admin/substitutions/{sub['id']}/cancel", "admin.luga", json=cancel).status_code
        == 403
    )
    done = api.post(f"/admin/substitutions/{sub['id']}/cancel", ADMIN, json=cancel)
    assert done.status_code == 200 and done.get_json()["status"] == "cancelled"
    assert {"substitution_created", "substitution_cancelled"} <= set(_kinds(app))


def test_import_out_of_scope_rows_are_rejected(api: Any, gatchina_admin: str) -> None:
    app = api.client.application
    csv_text = (
        "username,full_name,email,password,role,org_unit_slug\n"
        "g.teacher,Учитель Г,,,teacher,gatchina-school-1\n"
        "l.teacher,Учитель Л,,,teacher,luga-school-1\n"
        "mo_head.luga-school-1,,,,teacher,gatchina-school-2\n"
    )
    data = {"file": (io.BytesIO(csv_text.encode()), "users.csv")}
    resp = api.post("/admin/import", ADMIN, data=data, content_type="multipart/form-data")
    assert resp.status_code == 422
    rows = resp.get_json()["errors"]["rows"]
    assert rows[0].startswith("Строка 3") and "luga-school-1" in rows[0]
    assert rows[1].startswith("Строка 4") and "вне вашей зоны" in rows[1]
    with app.app_context():
        assert (
            db.session.execute(
                select(func.count(User.id)).where(User.username == "g.teacher")
            ).scalar_one()
            == 0
        )
    units = "slug,name,tier,parent_slug\nluga-school-9,Лужская 9,institution,luga\n"
    data = {"file": (io.BytesIO(units.encode()), "units.csv")}
    resp = api.post("/admin/import", ADMIN, data=data, content_type="multipart/form-data")
    assert resp.status_code == 422
    with app.app_context():
        assert (
            db.session.execute(select(OrgUnit.id).where(OrgUnit.slug == "luga-school-9")).first()
            is None
        )


@pytest.mark.parametrize("viewer", ["teacher.gatchina-school-1", "admin.luga"])
def test_records_outside_scope_show_name_and_role_only(
    api: Any, gatchina_admin: str, viewer: str
) -> None:
    app = api.client.application
    if viewer == "admin.luga":
        make_user(app, "admin.luga", [("admin", "luga")])
    target = user_id(app, "mo_head.gatchina-school-1")
    record = api.get(f"/admin/users/{target}", viewer).get_json()
    assert record["full"] is False
    assert set(record) == {"id", "username", "full_name", "roles", "full"}
    assert record["roles"][0]["role"] == "mo_head"
    found = api.get("/admin/users?q=gatchina-school-1", viewer).get_json()["items"]
    assert found and all("email" not in r for r in found if r["username"] != viewer)


def test_admin_sees_full_record_in_scope_and_the_view_is_audited(
    api: Any, gatchina_admin: str
) -> None:
    app = api.client.application
    target = user_id(app, "mo_head.gatchina-school-1")
    record = api.get(f"/admin/users/{target}", ADMIN).get_json()
    assert (
        record["full"] is True and "email" in record and record["grants"][0]["status"] == "active"
    )
    assert "user_record_viewed" in _kinds(app)
    luga = user_id(app, "mo_head.luga-school-1")
    assert api.get(f"/admin/users/{luga}", ADMIN).get_json()["full"] is False
    # Search marks which records the admin manages.
    items = api.get("/admin/users?q=mo_head&per_page=100", ADMIN).get_json()["items"]
    full = {r["username"] for r in items if r["full"]}
    assert full == {"mo_head.gatchina-school-1", "mo_head.gatchina-school-2"}
    scoped = api.get("/admin/users?in_scope=true&per_page=200", ADMIN).get_json()["items"]
    assert all(r["full"] for r in scoped)
    assert "mo_head.luga-school-1" not in {r["username"] for r in scoped}
