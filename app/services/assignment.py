"""Who is offered a task: the nearest unit up the tree where someone holds the lane's role."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from ..extensions import db
from ..models import OrgUnit, RoleGrant, User
from ..models.base import utcnow


def grant_in_force(moment: datetime) -> Any:
    """SQL condition: the role grant is valid at moment (revoking ends its period)."""
    return and_(
        or_(RoleGrant.valid_from.is_(None), RoleGrant.valid_from <= moment),
        or_(RoleGrant.valid_to.is_(None), RoleGrant.valid_to > moment),
    )


def holders(
    role: str, unit_ids: Iterable[int], moment: datetime | None = None
) -> dict[int, list[User]]:
    """Active users holding role at each of the given units, by unit id."""
    moment = moment or utcnow()
    ids = list(unit_ids)
    rows = db.session.execute(
        select(RoleGrant.org_unit_id, User)
        .join(User, User.id == RoleGrant.user_id)
        .where(
            RoleGrant.role == role,
            RoleGrant.org_unit_id.in_(ids),
            User.is_active.is_(True),
            grant_in_force(moment),
        )
        .order_by(User.username)
    ).all()
    result: dict[int, list[User]] = {}
    for unit_id, user in rows:
        result.setdefault(unit_id, []).append(user)
    return result


def offer(role: str, unit: OrgUnit) -> tuple[OrgUnit | None, list[User]]:
    """The unit where the role is found first going up from unit, and its holders."""
    chain = unit.ancestors()
    found = holders(role, [u.id for u in chain])
    for candidate_unit in chain:
        if found.get(candidate_unit.id):
            return candidate_unit, found[candidate_unit.id]
    return None, []


def holds_role_on_path(user: User, role: str, unit: OrgUnit) -> bool:
    """True when user holds role (valid now) at unit or one of its ancestors."""
    chain_ids = [u.id for u in unit.ancestors()]
    return (
        db.session.execute(
            select(RoleGrant.id)
            .where(
                RoleGrant.user_id == user.id,
                RoleGrant.role == role,
                RoleGrant.org_unit_id.in_(chain_ids),
                grant_in_force(utcnow()),
            )
            .limit(1)
        ).first()
        is not None
    )


def roles_on_path(user: User, unit: OrgUnit) -> set[str]:
    """The roles user holds (valid now) at unit or above it."""
    chain_ids = [u.id for u in unit.ancestors()]
    return set(
        db.session.execute(
            select(RoleGrant.role).where(
                RoleGrant.user_id == user.id,
                RoleGrant.org_unit_id.in_(chain_ids),
                grant_in_force(utcnow()),
            )
        ).scalars()
    )


def subtree_ids(root_ids: Iterable[int]) -> set[int]:
    """Ids of the given units and all their descendants."""
    result = set(root_ids)
    frontier = set(result)
    while frontier:
        children = set(
            db.session.execute(select(OrgUnit.id).where(OrgUnit.parent_id.in_(frontier))).scalars()
        )
        frontier = children - result
        result |= frontier
    return result


def roles_held(user: User) -> set[str]:
    """Roles the user holds now at any unit (one query; for menus and quick checks)."""
    return set(
        db.session.execute(
            select(RoleGrant.role)
            .where(RoleGrant.user_id == user.id, grant_in_force(utcnow()))
            .distinct()
        ).scalars()
    )


def units_with_role(user: User, roles: Iterable[str]) -> set[int]:
    """Units where user holds any of roles (valid now)."""
    return set(
        db.session.execute(
            select(RoleGrant.org_unit_id).where(
                RoleGrant.user_id == user.id,
                RoleGrant.role.in_(list(roles)),
                grant_in_force(utcnow()),
            )
        ).scalars()
    )
