"""Org units, users and grants: listing, creation and all-or-nothing CSV import."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import select

from ..extensions import db
from ..models import TIERS, OrgUnit, RoleGrant, User
from . import audit
from .auth import hash_password
from .errors import ValidationFailed
from .roles import ROLES
from .uow import transaction

_ORG_COLUMNS = {"slug", "name", "tier", "parent_slug"}
_USER_COLUMNS = {"username", "full_name", "email", "password", "role", "org_unit_slug"}


def list_units() -> list[OrgUnit]:
    """All open org units, parents before children."""
    units = (
        db.session.execute(select(OrgUnit).where(OrgUnit.closed_at.is_(None)).order_by(OrgUnit.id))
        .scalars()
        .all()
    )
    return list(units)


@dataclass
class ImportReport:
    """What an import did (or would do): counts and the errors with line numbers."""

    units_created: int = 0
    users_created: int = 0
    grants_created: int = 0
    errors: list[str] = field(default_factory=list)


def import_csv(text: str, actor: User | None, *, dry_run: bool = False) -> ImportReport:
    """Import org units (slug,name,tier,parent_slug) or users with grants
    (username,full_name,email,password,role,org_unit_slug); nothing is written if a row is bad."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = set(reader.fieldnames or [])
    if columns >= _ORG_COLUMNS:
        kind = "units"
    elif {"username", "role", "org_unit_slug"} <= columns:
        kind = "users"
    else:
        raise ValidationFailed(
            "Неизвестный формат CSV.",
            {
                "file": [
                    "Ожидаются столбцы slug,name,tier,parent_slug либо "
                    "username,full_name,email,password,role,org_unit_slug."
                ]
            },
        )
    report = ImportReport()
    with transaction():
        for line, row in enumerate(reader, start=2):
            try:
                if kind == "units":
                    _import_unit(row, report)
                else:
                    _import_user(row, report)
            except ValueError as exc:
                report.errors.append(f"Строка {line}: {exc}")
            db.session.flush()
        if report.errors or dry_run:
            db.session.rollback()
            if report.errors:
                raise ValidationFailed(
                    "Импорт отклонён: исправьте ошибки, ничего не сохранено.",
                    {"rows": report.errors},
                )
            return report
        audit.record(
            "org_imported",
            actor,
            payload={
                "units": report.units_created,
                "users": report.users_created,
                "grants": report.grants_created,
            },
        )
    return report


def _unit_by_slug(slug: str) -> OrgUnit | None:
    return db.session.execute(select(OrgUnit).where(OrgUnit.slug == slug)).scalar_one_or_none()


def _import_unit(row: dict[str, str], report: ImportReport) -> None:
    slug = (row.get("slug") or "").strip()
    name = (row.get("name") or "").strip()
    tier = (row.get("tier") or "").strip()
    parent_slug = (row.get("parent_slug") or "").strip()
    if not slug or not name:
        raise ValueError("пустые slug или name.")
    if tier not in TIERS:
        raise ValueError(f"неизвестный уровень «{tier}» (допустимо: {', '.join(TIERS)}).")
    parent = None
    if parent_slug:
        parent = _unit_by_slug(parent_slug)
        if parent is None:
            raise ValueError(f"родительская организация «{parent_slug}» не найдена.")
    elif tier != "region":
        raise ValueError("у муниципалитета и школы должен быть parent_slug.")
    existing = _unit_by_slug(slug)
    if existing is not None:
        existing.name = name
        return
    db.session.add(OrgUnit(slug=slug, name=name, tier=tier, parent=parent))
    report.units_created += 1


def _import_user(row: dict[str, str], report: ImportReport) -> None:
    username = (row.get("username") or "").strip()
    role = (row.get("role") or "").strip()
    slug = (row.get("org_unit_slug") or "").strip()
    if not username:
        raise ValueError("пустое имя пользователя.")
    if role and role not in ROLES:
        raise ValueError(f"неизвестная роль «{role}».")
    unit = _unit_by_slug(slug) if slug else None
    if role and unit is None:
        raise ValueError(f"организация «{slug}» не найдена.")
    if role and unit is not None and ROLES[role].tier not in (None, unit.tier):
        raise ValueError(f"роль «{role}» не назначается на уровне «{unit.tier}».")
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        password = (row.get("password") or "").strip()
        if len(password) < 8:
            raise ValueError("для нового пользователя нужен пароль не короче 8 символов.")
        user = User(
            username=username,
            full_name=(row.get("full_name") or "").strip(),
            email=(row.get("email") or "").strip() or None,
            password_hash=hash_password(password),
        )
        db.session.add(user)
        db.session.flush()
        report.users_created += 1
    if role and unit is not None:
        exists = db.session.execute(
            select(RoleGrant.id).where(
                RoleGrant.user_id == user.id,
                RoleGrant.role == role,
                RoleGrant.org_unit_id == unit.id,
            )
        ).first()
        if exists is None:
            db.session.add(
                RoleGrant(user_id=user.id, role=role, org_unit_id=unit.id, reason="Импорт CSV")
            )
            report.grants_created += 1
