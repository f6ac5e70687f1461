"""The ММА register page: who may open it, what it lists, paging and the audited CSV download."""

from __future__ import annotations

import csv
import io

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, OrgUnit, RoleGrant, User

UNIT = "gatchina"


def _member(app: Flask, username: str, full_name: str, school: str | None) -> None:
    """A methodist in the register: `mma_member` at the municipality, a role at a school."""
    from app.services.auth import hash_password

    with app.app_context():
        unit = db.session.execute(select(OrgUnit).where(OrgUnit.slug == UNIT)).scalar_one()
        user = User(username=username, full_name=full_name, password_hash=hash_password("x"))
        db.session.add(user)
        db.session.flush()
        db.session.add(RoleGrant(user_id=user.id, role="mma_member", org_unit_id=unit.id))
        if school:
            place = db.session.execute(select(OrgUnit).where(OrgUnit.slug == school)).scalar_one()
            db.session.add(RoleGrant(user_id=user.id, role="teacher", org_unit_id=place.id))
        db.session.commit()
        db.session.remove()


def test_register_lists_members_with_their_schools(seeded: Flask, login_as) -> None:
    _member(seeded, "petrova", "Петрова Мария Ивановна", "gatchina-school-1")
    _member(seeded, "ivanov", "Иванов Пётр Сергеевич", None)
    page = login_as(f"mms_head.{UNIT}").get(f"/register/mma?municipality={UNIT}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-user="petrova"' in html and 'data-user="ivanov"' in html
    assert "Петрова Мария Ивановна" in html and "Методистов в базе: 2" in html
    row = html[html.index('data-user="petrova"') :].split("</tr>")[0]
    with seeded.app_context():
        school = db.session.execute(
            select(OrgUnit.name).where(OrgUnit.slug == "gatchina-school-1")
        ).scalar_one()
    assert school in row
    assert f"/register/mma.csv?municipality={UNIT}" in html
    assert ">Реестр ММА<" in html  # the navbar link


def test_single_municipality_goes_straight_to_its_register(seeded: Flask, login_as) -> None:
    resp = login_as("teacher.gatchina-school-2").get("/register/mma")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/register/mma?municipality={UNIT}")


def test_region_chooses_among_all_municipalities(seeded: Flask, login_as) -> None:
    html = login_as("region_official.lenobl").get("/register/mma").get_data(as_text=True)
    with seeded.app_context():
        names = db.session.execute(
            select(OrgUnit.name).where(OrgUnit.tier == "municipality")
        ).scalars()
        for name in names:
            assert name in html


def test_outsiders_are_refused_in_russian(seeded: Flask, login_as) -> None:
    _member(seeded, "petrova", "Петрова Мария Ивановна", "gatchina-school-1")
    outsider = login_as("mms_head.luga")
    resp = outsider.get(f"/register/mma?municipality={UNIT}")
    assert resp.status_code == 403
    text = resp.get_data(as_text=True)
    assert "Петрова" not in text and "видят сотрудники" in text
    assert outsider.get(f"/register/mma.csv?municipality={UNIT}").status_code == 403
    # Their own municipality's choice offers only Luga.
    own = outsider.get("/register/mma")
    assert own.headers["Location"].endswith("/register/mma?municipality=luga")
    assert outsider.get("/register/mma?municipality=nowhere").status_code == 404


def test_anonymous_is_sent_to_login(seeded: Flask, web) -> None:
    resp = web.get("/register/mma")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_pages_of_fifty(seeded: Flask, login_as) -> None:
    for n in range(51):
        _member(seeded, f"m{n:02d}", f"Методист {n:02d}", None)
    head = login_as(f"mms_head.{UNIT}")
    first = head.get(f"/register/mma?municipality={UNIT}").get_data(as_text=True)
    assert first.count('data-user="m') == 50 and "page=2" in first
    second = head.get(f"/register/mma?municipality={UNIT}&page=2").get_data(as_text=True)
    assert second.count('data-user="m') == 1 and 'data-user="m50"' in second
    huge = head.get(f"/register/mma?municipality={UNIT}&page=99999999999999999999")
    assert huge.status_code == 200  # an absurd page number falls back to the first page


def test_csv_download_is_audited(seeded: Flask, login_as) -> None:
    _member(seeded, "petrova", "Петрова Мария Ивановна", "gatchina-school-1")
    resp = login_as(f"municipal_head.{UNIT}").get(f"/register/mma.csv?municipality={UNIT}")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][1] == "ФИО" and rows[1][1:3] == ["Петрова Мария Ивановна", "petrova"]
    with seeded.app_context():
        exported = db.session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.kind == "mma_register_exported")
        ).scalar_one()
    assert exported == 1
