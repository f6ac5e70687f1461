"""Web UI fixtures: a browser-like test client that logs in through the form with CSRF."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from tests.conftest import DEMO_PASSWORD, ROOT

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a rendered page."""
    match = _TOKEN.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class WebClient:
    """A logged-in (or anonymous) session of the UI, posting forms with their CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def token(self, page: str = "/login") -> str:
        return csrf_token(self.client.get(page).get_data(as_text=True))

    def post(self, path: str, data: Any = None, *, page: str | None = None, **kw: Any) -> Any:
        """POST a form; the token is taken from `page` (default: the login page)."""
        pairs = list(data.items()) if isinstance(data, dict) else list(data or [])
        pairs.append(("csrf_token", self.token(page or "/login")))
        return self.client.post(path, data=MultiDict(pairs), **kw)

    def login(self, username: str, password: str = DEMO_PASSWORD) -> Any:
        resp = self.post("/login", {"username": username, "password": password})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return resp


@pytest.fixture(scope="session")
def english_catalog() -> None:
    """The compiled English catalogue: `make setup` builds it; this covers a bare pytest run."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = ROOT / "app" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        with po.open("rb") as source:
            catalog = read_po(source)
        with mo.open("wb") as target:
            write_mo(target, catalog)


@pytest.fixture()
def web(seeded: Flask) -> WebClient:
    """An anonymous UI session over the seeded database."""
    return WebClient(seeded.test_client())


@pytest.fixture()
def login_as(seeded: Flask) -> Any:
    """Factory: a UI session logged in as the given demo user."""

    def make(username: str) -> WebClient:
        session = WebClient(seeded.test_client())
        session.login(username)
        return session

    return make


SCHOOL = "gatchina-school-1"


def start_plans(app: Flask, count: int = 1, username: str = f"mo_head.{SCHOOL}") -> list[int]:
    """Start МО plan approvals through the service layer; the ids of their first tasks."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import HumanTask, OrgUnit, User
    from app.services import instances

    with app.app_context():
        actor = db.session.execute(select(User).where(User.username == username)).scalar_one()
        unit = db.session.execute(select(OrgUnit).where(OrgUnit.slug == SCHOOL)).scalar_one()
        ids = []
        for _ in range(count):
            instance = instances.start_instance(actor, "mo_plan_approval", unit.id, {})
            ids.append(
                db.session.execute(
                    select(HumanTask.id).where(
                        HumanTask.instance_id == instance.id, HumanTask.status == "open"
                    )
                ).scalar_one()
            )
        db.session.remove()
        return ids


def add_colleague(app: Flask, username: str, role: str, slug: str = SCHOOL) -> None:
    """A second holder of a role at a unit (for delegation and claim conflicts)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import OrgUnit, RoleGrant, User
    from app.services.auth import hash_password

    with app.app_context():
        unit = db.session.execute(select(OrgUnit).where(OrgUnit.slug == slug)).scalar_one()
        user = User(
            username=username,
            full_name=f"Коллега {username}",
            password_hash=hash_password(DEMO_PASSWORD),
        )
        db.session.add(user)
        db.session.flush()
        db.session.add(RoleGrant(user_id=user.id, role=role, org_unit_id=unit.id))
        db.session.commit()
        db.session.remove()
