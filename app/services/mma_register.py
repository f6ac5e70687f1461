"""The municipal register of methodists: members of the municipal methodical active (ММА).

Seed 001 §3.1: the municipal methodical institution «формирует муниципальную базу муниципальных
методистов — членов ММА» and publishes its composition. A member is a user holding `mma_member`
at the municipality; the grant names the ММА selection instance that made the decision.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from ..extensions import db
from ..models import AuditEvent, OrgUnit, RoleGrant, User
from ..models.base import utcnow
from . import assignment, audit
from .errors import NotAllowed, NotFound
from .roles import ROLES
from .uow import transaction

MEMBER_ROLE = "mma_member"
REGISTER_TASK = "Task_register"
CSV_COLUMNS = [
    "№ п/п",
    "ФИО",
    "Пользователь",
    "Образовательная организация",
    "Дата включения",
    "Номер записи в муниципальной базе",
    "Основание (экземпляр процесса)",
]


@dataclass
class RegisterEntry:
    """One methodist of the register."""

    number: int
    username: str
    full_name: str
    school_slug: str | None
    school_name: str | None
    included_at: datetime
    source_instance_id: int | None
    entry_number: str | None


@dataclass
class RegisterPage:
    """One page of a municipality's register."""

    municipality: OrgUnit
    items: list[RegisterEntry]
    total: int
    page: int
    per_page: int


def _municipality(slug: str) -> OrgUnit:
    unit = db.session.execute(select(OrgUnit).where(OrgUnit.slug == slug)).scalar_one_or_none()
    if unit is None or unit.tier != "municipality" or unit.closed_at is not None:
        raise NotFound(
            "Муниципалитет не найден.",
            {"municipality": ["Нет муниципалитета с таким кодом."]},
        )
    return unit


def _require_reader(actor: User, unit: OrgUnit) -> None:
    """Roles in the municipality (itself or its schools) and at the region may read."""
    allowed = assignment.subtree_ids([unit.id]) | {u.id for u in unit.ancestors()}
    if not assignment.units_with_role(actor, ROLES) & allowed:
        raise NotAllowed(
            f"Муниципальную базу методистов «{unit.name}» видят сотрудники этого муниципалитета "
            "и регионального уровня."
        )


def readable_municipalities(actor: User) -> list[OrgUnit]:
    """Open municipalities whose register the actor may read, by name.

    The same rule as `_require_reader`: a role at the municipality or one of its schools, or at
    the region above it (which opens every municipality under that region).
    """
    held = assignment.units_with_role(actor, ROLES)
    if not held:
        return []
    municipalities = db.session.execute(
        select(OrgUnit)
        .where(OrgUnit.tier == "municipality", OrgUnit.closed_at.is_(None))
        .order_by(OrgUnit.name)
    ).scalars()
    held_units = db.session.execute(select(OrgUnit).where(OrgUnit.id.in_(held))).scalars()
    above_held = {u.id for unit in held_units for u in unit.ancestors()}
    return [
        unit
        for unit in municipalities
        if unit.id in above_held or held & {u.id for u in unit.ancestors()}
    ]


def _member_grants(unit: OrgUnit) -> Any:
    """The first grant in force of each member (a member selected twice is listed once)."""
    now = utcnow()
    in_force = (
        RoleGrant.role == MEMBER_ROLE,
        RoleGrant.org_unit_id == unit.id,
        assignment.grant_in_force(now),
    )
    first = select(func.min(RoleGrant.id)).where(*in_force).group_by(RoleGrant.user_id)
    return (
        select(RoleGrant, User)
        .join(User, User.id == RoleGrant.user_id)
        .where(RoleGrant.id.in_(first), User.is_active.is_(True))
    )


def _schools(unit: OrgUnit, user_ids: list[int]) -> dict[int, OrgUnit]:
    """The school (institution under the municipality) where each user holds a role."""
    schools = assignment.subtree_ids([unit.id]) - {unit.id}
    rows = db.session.execute(
        select(RoleGrant.user_id, OrgUnit)
        .join(OrgUnit, OrgUnit.id == RoleGrant.org_unit_id)
        .where(
            RoleGrant.user_id.in_(user_ids),
            RoleGrant.org_unit_id.in_(schools),
            OrgUnit.tier == "institution",
        )
        .order_by(RoleGrant.id)
    ).all()
    result: dict[int, OrgUnit] = {}
    for user_id, school in rows:
        result.setdefault(user_id, school)
    return result


def _entry_numbers(instance_ids: list[int]) -> dict[int, str]:
    """The register entry number recorded by each selection's «Внесение в базу» step."""
    if not instance_ids:
        return {}
    events = db.session.execute(
        select(AuditEvent.instance_id, AuditEvent.payload)
        .where(AuditEvent.kind == "task_completed", AuditEvent.instance_id.in_(instance_ids))
        .order_by(AuditEvent.seq)
    ).all()
    result: dict[int, str] = {}
    for instance_id, payload in events:
        if (payload or {}).get("bpmn_id") == REGISTER_TASK:
            number = (payload.get("data") or {}).get("register_entry_number")
            if number:
                result[instance_id] = str(number)
    return result


def _entries(unit: OrgUnit, offset: int, limit: int | None) -> list[RegisterEntry]:
    query = _member_grants(unit).order_by(RoleGrant.created_at, RoleGrant.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = db.session.execute(query).all()
    schools = _schools(unit, [user.id for _, user in rows])
    numbers = _entry_numbers([g.source_instance_id for g, _ in rows if g.source_instance_id])
    entries = []
    for index, (grant, user) in enumerate(rows, start=offset + 1):
        school = schools.get(user.id)
        entries.append(
            RegisterEntry(
                number=index,
                username=user.username,
                full_name=user.full_name,
                school_slug=school.slug if school else None,
                school_name=school.name if school else None,
                included_at=grant.valid_from or grant.created_at,
                source_instance_id=grant.source_instance_id,
                entry_number=numbers.get(grant.source_instance_id or 0),
            )
        )
    return entries


def register_page(actor: User, slug: str, page: int = 1, per_page: int = 50) -> RegisterPage:
    """One page of the municipality's register of methodists, oldest inclusion first."""
    unit = _municipality(slug)
    _require_reader(actor, unit)
    page, per_page = max(page, 1), min(max(per_page, 1), 200)
    total = db.session.execute(
        select(func.count()).select_from(_member_grants(unit).subquery())
    ).scalar_one()
    items = _entries(unit, (page - 1) * per_page, per_page)
    return RegisterPage(unit, items, total, page, per_page)


def register_csv(actor: User, slug: str) -> tuple[OrgUnit, str]:
    """The whole register as CSV (semicolon-separated, for spreadsheets); the export is audited."""
    unit = _municipality(slug)
    _require_reader(actor, unit)
    entries = _entries(unit, 0, None)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow(
            [
                entry.number,
                entry.full_name,
                entry.username,
                entry.school_name or "",
                entry.included_at.date().isoformat(),
                entry.entry_number or "",
                entry.source_instance_id or "",
            ]
        )
    with transaction():
        # A bulk export of personal data: an auditor will ask who took it and when.
        audit.record(
            "mma_register_exported",
            actor,
            org_unit_id=unit.id,
            payload={"municipality": unit.slug, "rows": len(entries), "format": "csv"},
        )
    return unit, buffer.getvalue()
