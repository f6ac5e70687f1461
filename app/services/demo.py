"""Demo data of the DESIGN contract: Leningrad oblast, two municipalities, four schools."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import OrgUnit, RoleGrant, User
from . import audit
from .auth import hash_password
from .roles import ROLES
from .uow import transaction

UNITS = [
    ("lenobl", "Ленинградская область", "region", None),
    ("gatchina", "Гатчинский муниципальный округ", "municipality", "lenobl"),
    ("luga", "Лужский муниципальный район", "municipality", "lenobl"),
    ("gatchina-school-1", "МБОУ «Гатчинская СОШ № 1»", "institution", "gatchina"),
    ("gatchina-school-2", "МБОУ «Гатчинская СОШ № 2»", "institution", "gatchina"),
    ("luga-school-1", "МОУ «Лужская СОШ № 1»", "institution", "luga"),
    ("luga-school-2", "МОУ «Лужская СОШ № 2»", "institution", "luga"),
]
EXTRA_USERS = [("designer", "process_designer"), ("auditor", "auditor"), ("admin", "admin")]


def demo_usernames() -> list[tuple[str, str, str]]:
    """(username, role, unit slug) for every demo user."""
    result = []
    for slug, _name, tier, _parent in UNITS:
        for role in ROLES.values():
            if role.tier == tier and role.code != "mma_member":
                result.append((f"{role.code}.{slug}", role.code, slug))
    result.extend((username, role, "lenobl") for username, role in EXTRA_USERS)
    return result


def seed(password: str) -> bool:
    """Create the demo org tree and users on an empty database; False if data exists."""
    if db.session.execute(select(OrgUnit.id).limit(1)).first() is not None:
        return False
    with transaction():
        units: dict[str, OrgUnit] = {}
        for slug, name, tier, parent in UNITS:
            unit = OrgUnit(
                slug=slug, name=name, tier=tier, parent=units[parent] if parent else None
            )
            db.session.add(unit)
            units[slug] = unit
        db.session.flush()
        password_hash = hash_password(password)
        for username, role, slug in demo_usernames():
            user = User(
                username=username,
                full_name=_full_name(role, units[slug]),
                password_hash=password_hash,
            )
            db.session.add(user)
            db.session.flush()
            db.session.add(
                RoleGrant(
                    user_id=user.id,
                    role=role,
                    org_unit_id=units[slug].id,
                    reason="Демонстрационные данные",
                )
            )
        audit.record(
            "demo_seeded", None, payload={"units": len(UNITS), "users": len(demo_usernames())}
        )
    return True


def _full_name(role: str, unit: OrgUnit) -> str:
    return f"{ROLES[role].title} ({unit.name})"
