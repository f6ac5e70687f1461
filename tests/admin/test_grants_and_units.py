"""Grant periods drive the assignment rule; org unit rules (tree, close, move)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from app.extensions import db
from app.models import OrgUnit, ProcessInstance, RoleGrant, User
from app.services import admin, assignment, instances, org
from app.services.errors import Conflict, NotAllowed, ValidationFailed

from .conftest import make_user

T0 = datetime(2030, 9, 1, 8, 0, tzinfo=UTC)


def _user(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def _unit(slug: str) -> OrgUnit:
    return db.session.execute(select(OrgUnit).where(OrgUnit.slug == slug)).scalar_one()


def _holders(role: str, slug: str) -> list[str]:
    _, users = assignment.offer(role, _unit(slug))
    return [u.username for u in users]


def test_grant_period_is_used_by_the_assignment_rule(ctx: Any) -> None:
    make_user(ctx, "new.director")
    with time_machine.travel(T0, tick=False):
        actor = _user("admin")
        admin.grant_role(
            actor,
            _user("new.director").id,
            "director",
            _unit("gatchina-school-1").id,
            "Приказ о назначении № 9",
            valid_from=T0 + timedelta(days=10),
            valid_to=T0 + timedelta(days=40),
        )
        assert _holders("director", "gatchina-school-1") == ["director.gatchina-school-1"]
    with time_machine.travel(T0 + timedelta(days=10), tick=False):
        assert _holders("director", "gatchina-school-1") == [
            "director.gatchina-school-1",
            "new.director",
        ]
    with time_machine.travel(T0 + timedelta(days=40), tick=False):
        assert _holders("director", "gatchina-school-1") == ["director.gatchina-school-1"]


def test_revoked_grant_stops_offers_at_once_and_is_kept(ctx: Any) -> None:
    actor = _user("admin")
    grant = db.session.execute(
        select(RoleGrant).where(RoleGrant.user_id == _user("director.luga-school-1").id)
    ).scalar_one()
    admin.revoke_grant(actor, grant.id, "Освобождён от должности")
    # The region's director role is nowhere else on the path: nobody is offered the task.
    assert _holders("director", "luga-school-1") == []
    kept = db.session.get(RoleGrant, grant.id)
    assert kept is not None and kept.revoked_at is not None and kept.valid_to is not None
    assert admin.grant_status(kept) == "revoked"


def test_planned_grant_revoked_before_it_starts_never_applies(ctx: Any) -> None:
    make_user(ctx, "future.teacher")
    with time_machine.travel(T0, tick=False):
        grant = admin.grant_role(
            _user("admin"),
            _user("future.teacher").id,
            "teacher",
            _unit("luga-school-2").id,
            "Приём на работу с 15.09",
            valid_from=T0 + timedelta(days=14),
        )
        assert admin.grant_status(grant) == "planned"
        admin.revoke_grant(_user("admin"), grant.id, "Отказ от должности")
    with time_machine.travel(T0 + timedelta(days=20), tick=False):
        assert "future.teacher" not in _holders("teacher", "luga-school-2")


def test_grant_with_end_before_start_is_rejected(ctx: Any) -> None:
    make_user(ctx, "x.user")
    with pytest.raises(ValidationFailed) as exc:
        admin.grant_role(
            _user("admin"),
            _user("x.user").id,
            "teacher",
            _unit("luga-school-2").id,
            "r",
            valid_from=T0 + timedelta(days=5),
            valid_to=T0 + timedelta(days=1),
        )
    assert "valid_to" in exc.value.errors


def test_close_unit_rules(ctx: Any) -> None:
    actor = _user("admin")
    with pytest.raises(Conflict, match="подчинённые"):
        admin.close_unit(actor, _unit("luga").id, "Реорганизация")
    school = _unit("luga-school-2")
    instance = instances.start_instance(
        _user("mo_head.luga-school-2"), "mo_plan_approval", school.id, {}
    )
    with pytest.raises(Conflict, match="незавершённые процессы"):
        admin.close_unit(actor, school.id, "Реорганизация")
    db.session.get(ProcessInstance, instance.id).status = "terminated"
    db.session.commit()
    closed = admin.close_unit(actor, school.id, "Реорганизация")
    assert closed.closed_at is not None
    grants = db.session.execute(select(RoleGrant).where(RoleGrant.org_unit_id == school.id))
    assert all(admin.grant_status(g) == "revoked" for g in grants.scalars())
    with pytest.raises(Conflict, match="закрыта"):
        admin.rename_unit(actor, school.id, "Новое имя")
    assert school.slug not in {u.slug for u in org.list_units()}


def test_move_into_own_subtree_and_wrong_tier_rejected(ctx: Any) -> None:
    actor = _user("admin")
    with pytest.raises(ValidationFailed):
        admin.move_unit(actor, _unit("gatchina").id, _unit("gatchina-school-1").id)
    with pytest.raises(NotAllowed):
        admin.move_unit(actor, _unit("lenobl").id, _unit("gatchina").id)
    with pytest.raises(ValidationFailed):
        admin.create_unit(actor, "Bad Slug", "Плохой код", "institution", _unit("luga").id)
    with pytest.raises(ValidationFailed):
        admin.create_unit(
            actor, "luga-mun-2", "Муниципалитет в школе", "municipality", _unit("luga-school-1").id
        )


def test_users_without_grants_are_in_every_admins_scope(ctx: Any) -> None:
    make_user(ctx, "admin.gatchina", [("admin", "gatchina")])
    make_user(ctx, "fresh.user")
    make_user(ctx, "two.places", [("teacher", "gatchina-school-1"), ("teacher", "luga-school-1")])
    scope = admin.scope_of(_user("admin.gatchina"))
    assert admin.manages(scope, _user("fresh.user"))
    assert admin.manages(scope, _user("teacher.gatchina-school-2"))
    assert not admin.manages(scope, _user("teacher.luga-school-2"))
    assert not admin.manages(scope, _user("two.places"))  # only the region's admin
    assert admin.manages(admin.scope_of(_user("admin")), _user("two.places"))
