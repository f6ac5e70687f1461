"""The navbar of a user with every menu entry fits laptop and tablet widths without overflow."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import OrgUnit, RoleGrant, User

pytestmark = pytest.mark.browser

LINKS = ("Задачи", "Реестр ММА", "Мониторинг", "Просроченные", "Аудит", "Процессы")


def _give_admin_every_menu(app: Flask) -> None:
    """The demo admin also a region official: register, monitoring, overdue, audit, designer."""
    with app.app_context():
        admin = db.session.execute(select(User).where(User.username == "admin")).scalar_one()
        region = db.session.execute(select(OrgUnit).where(OrgUnit.tier == "region")).scalar_one()
        db.session.add(RoleGrant(user_id=admin.id, role="region_official", org_unit_id=region.id))
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize("width", [1366, 1024])
def test_every_link_is_inside_the_window(seeded: Flask, open_session: Any, width: int) -> None:
    _give_admin_every_menu(seeded)
    session = open_session({"width": width, "height": 800})
    page = session.login("admin")
    nav = page.locator("#main-nav")
    for name in (*LINKS, "Администрирование"):
        assert nav.get_by_role("link", name=name, exact=True).is_visible(), name
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
    logout = nav.get_by_role("button", name="Выйти").bounding_box()
    assert logout is not None and logout["x"] + logout["width"] <= width
    session.shot(f"navbar-{width}", full_page=False)
