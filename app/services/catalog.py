"""The catalogue of processes an official may start, and where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import OrgUnit, ProcessVersion, RoleGrant, User
from ..models.base import utcnow
from . import assignment
from .deployment import definition_for, latest_version, latest_versions
from .errors import NotAllowed, NotFound
from .org import list_units


@dataclass(frozen=True)
class StartableProcess:
    """A latest process version the actor may start, with the units they may start it at."""

    key: str
    name: str
    description: str
    version: int
    scope_tier: str | None
    units: list[OrgUnit]


@dataclass(frozen=True)
class StartForm:
    """What the start page needs: the process, the actor's units and the start form schema."""

    process: StartableProcess
    schema: dict[str, Any] | None


def _start_roles(actor: User) -> dict[str, set[int]]:
    """Units where the actor holds each role (grants in force now)."""
    moment = utcnow()
    rows = db.session.execute(
        select(RoleGrant.role, RoleGrant.org_unit_id).where(
            RoleGrant.user_id == actor.id,
            assignment.grant_in_force(moment),
        )
    ).all()
    result: dict[str, set[int]] = {}
    for role, unit_id in rows:
        result.setdefault(role, set()).add(unit_id)
    return result


def _units_for(
    version: ProcessVersion, roles: dict[str, set[int]], units: list[OrgUnit]
) -> list[OrgUnit]:
    """Units of the process's tier at or under a unit where the actor holds its start role,
    or above one (a teacher applies to the ММА of the school's municipality), as
    instances.start_instance allows."""
    roots = roles.get(version.start_role or "", set())
    if not roots:
        return []
    parent = {u.id: u.parent_id for u in units}
    above_roots: set[int] = set()
    for root in roots:
        current_id: int | None = parent.get(root)
        while current_id is not None and current_id not in above_roots:
            above_roots.add(current_id)
            current_id = parent.get(current_id)
    result = []
    for unit in units:
        if unit.id in above_roots and (not version.scope_tier or unit.tier == version.scope_tier):
            result.append(unit)
            continue
        if version.scope_tier and unit.tier != version.scope_tier:
            continue
        current: int | None = unit.id
        seen: set[int] = set()
        while current is not None and current not in seen:
            if current in roots:
                result.append(unit)
                break
            seen.add(current)
            current = parent.get(current)
    return sorted(result, key=lambda u: u.name)


def _startable(version: ProcessVersion, roles: dict[str, set[int]], units: list[OrgUnit]) -> Any:
    found = _units_for(version, roles, units)
    if not found:
        return None
    return StartableProcess(
        key=version.key,
        name=version.name,
        description=version.description,
        version=version.version,
        scope_tier=version.scope_tier,
        units=found,
    )


def startable_processes(actor: User) -> list[StartableProcess]:
    """Latest versions whose start role the actor holds at or above a unit of their tier."""
    roles = _start_roles(actor)
    units = list_units()
    result = [_startable(v, roles, units) for v in latest_versions()]
    return sorted((p for p in result if p is not None), key=lambda p: p.name)


def start_form(actor: User, key: str) -> StartForm:
    """The start page of one process, if the actor may start it somewhere."""
    version = latest_version(key)
    if version is None:
        raise NotFound(f"Процесс «{key}» не найден.")
    process = _startable(version, _start_roles(actor), list_units())
    if process is None:
        raise NotAllowed(f"У вас нет права запускать процесс «{version.name}».")
    definition = definition_for(version)
    schema = version.forms.get(definition.start_form) if definition.start_form else None
    return StartForm(process=process, schema=schema)
