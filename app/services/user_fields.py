"""Form fields that name a user: the value must be an active user where the process works.

A JSON Schema property may carry the annotation `x-user` (jsonschema ignores unknown keywords,
so the form stays valid JSON Schema for bpmn.io, the designer and other tools)::

    "applicant_username": {"type": "string", "x-user": {"within": "subtree"}}
    "expert_username": {"type": "string", "x-user": {"roles": ["mo_head"], "within": "unit"}}

`within` is where the user must hold a role valid now: `unit` — the instance's org unit,
`subtree` (default) — that unit or any unit under it. `roles` limits the roles (any role when
absent). An empty string is accepted only where the schema allows it (an optional field);
whether a value is required stays the schema's business.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import OrgUnit, RoleGrant, User
from ..models.base import utcnow
from . import assignment
from .errors import ValidationFailed
from .roles import ROLES

WITHIN = ("unit", "subtree")


def annotated(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The top-level properties of a form that carry an `x-user` annotation."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    return {
        name: spec["x-user"]
        for name, spec in properties.items()
        if isinstance(spec, dict) and isinstance(spec.get("x-user"), dict)
    }


def check_annotation(spec: dict[str, Any]) -> str | None:
    """A Russian message when an `x-user` annotation is malformed (for the designer)."""
    within = spec.get("within", "subtree")
    if within not in WITHIN:
        return f"x-user.within: ожидается одно из {', '.join(WITHIN)}, получено «{within}»."
    roles = spec.get("roles")
    if roles is not None:
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            return "x-user.roles: ожидается список кодов ролей."
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            return "x-user.roles: неизвестные роли: " + ", ".join(unknown) + "."
    return None


def _role_titles(roles: list[str]) -> str:
    return ", ".join(f"«{ROLES[r].title}»" if r in ROLES else r for r in roles)


def check(schema: dict[str, Any] | None, data: dict[str, Any], unit: OrgUnit) -> None:
    """Raise ValidationFailed for every annotated field naming nobody suitable at `unit`."""
    fields = annotated(schema or {})
    if not fields:
        return
    errors: dict[str, list[str]] = {}
    now = utcnow()
    subtree: set[int] | None = None
    for name, spec in fields.items():
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        title = (schema or {})["properties"][name].get("title") or name
        within = spec.get("within", "subtree")
        if within == "unit":
            units = {unit.id}
        else:
            subtree = subtree if subtree is not None else assignment.subtree_ids([unit.id])
            units = subtree
        query = (
            select(RoleGrant.role)
            .join(User, User.id == RoleGrant.user_id)
            .where(
                User.username == value.strip(),
                User.is_active.is_(True),
                RoleGrant.org_unit_id.in_(units),
                assignment.grant_in_force(now),
            )
        )
        roles = spec.get("roles")
        if roles:
            query = query.where(RoleGrant.role.in_(roles))
        if db.session.execute(query.limit(1)).first() is not None:
            continue
        place = f"«{unit.name}»" if within == "unit" else f"«{unit.name}» и подведомственных"
        needed = f" с ролью {_role_titles(roles)}" if roles else ""
        errors[name] = [
            f"{title}: пользователь «{value.strip()}» не найден среди действующих сотрудников "
            f"{place}{needed}."
        ]
    if errors:
        raise ValidationFailed("Форма заполнена с ошибками.", errors)
