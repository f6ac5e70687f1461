"""A grant made by a process (ММА selection) is shown with the instance that made it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import OrgUnit, ProcessInstance, RoleGrant, User
from tests.web.conftest import WebClient


def test_user_page_links_grant_to_its_instance(seeded: Any) -> None:
    with seeded.app_context():
        teacher = db.session.execute(
            select(User).where(User.username == "teacher.gatchina-school-1")
        ).scalar_one()
        unit = db.session.execute(select(OrgUnit).where(OrgUnit.slug == "gatchina")).scalar_one()
        starter = db.session.execute(
            select(User).where(User.username == "mo_head.gatchina-school-1")
        ).scalar_one()
        from app.services import instances

        school = db.session.execute(
            select(OrgUnit).where(OrgUnit.slug == "gatchina-school-1")
        ).scalar_one()
        instance = instances.start_instance(starter, "mo_plan_approval", school.id, {})
        db.session.add(
            RoleGrant(
                user_id=teacher.id,
                role="mma_member",
                org_unit_id=unit.id,
                reason="Решение по экземпляру процесса",
                source_instance_id=instance.id,
            )
        )
        db.session.commit()
        teacher_id, instance_id = teacher.id, instance.id
        assert db.session.get(ProcessInstance, instance_id) is not None
    client = WebClient(seeded.test_client())
    client.login("admin")  # asserts the login redirect
    user_page = client.get(f"/admin/users/{teacher_id}").get_data(as_text=True)
    assert f"/instances/{instance_id}" in user_page
