"""Administration in scope: org units and role grants (users: admin_users.py).

An admin acts in the subtree of every unit where they hold the `admin` role now. A user is in
that scope when all of the user's current grants (not ended) are at units of the subtree; a
user with no current grants is judged by their past ones; a user who never had a grant (just
created, or created by a first directory login) is in every admin's scope, so that any admin
can give them their first role. Out of scope is 403, with a message saying why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select

from ..extensions import db
from ..models import TIERS, OrgUnit, ProcessInstance, RoleGrant, User
from ..models.base import utcnow
from . import assignment, audit
from .errors import Conflict, NotAllowed, NotFound, ValidationFailed
from .roles import ROLES
from .uow import transaction

ADMIN_ROLE = "admin"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
MAX_NAME = 300
MAX_REASON = 2000


@dataclass(frozen=True)
class Scope:
    """Where an admin acts: the units where they hold `admin` and everything below them."""

    roots: frozenset[int]
    units: frozenset[int]

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self.units


def aware(moment: datetime) -> datetime:
    """A datetime with a zone; a naive one is taken as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def scope_of(actor: User) -> Scope:
    """The admin scope of actor (empty when actor is not an admin anywhere)."""
    roots = assignment.units_with_role(actor, [ADMIN_ROLE])
    return Scope(frozenset(roots), frozenset(assignment.subtree_ids(roots)))


def is_admin(actor: User) -> bool:
    """True when actor holds the admin role somewhere now."""
    return bool(assignment.units_with_role(actor, [ADMIN_ROLE]))


def require_admin(actor: User) -> Scope:
    """The actor's scope, or NotAllowed when they are not an admin."""
    scope = scope_of(actor)
    if not scope.roots:
        raise NotAllowed("Действие доступно только администратору.")
    return scope


def scope_for(actor: User | None) -> Scope:
    """The actor's admin scope; None (the command line, run by the operator) is everything."""
    if actor is not None:
        return require_admin(actor)
    roots = db.session.execute(select(OrgUnit.id).where(OrgUnit.parent_id.is_(None))).scalars()
    return Scope(frozenset(roots), frozenset(db.session.execute(select(OrgUnit.id)).scalars()))


def require_unit(unit_id: int, scope: Scope, *, open_only: bool = True) -> OrgUnit:
    """The unit, if it is in the scope (and open); else NotFound / NotAllowed / Conflict."""
    unit = db.session.get(OrgUnit, unit_id)
    if unit is None:
        raise NotFound("Организация не найдена.")
    if unit.id not in scope:
        raise NotAllowed(f"Организация «{unit.name}» вне вашей зоны администрирования.")
    if open_only and unit.closed_at is not None:
        raise Conflict(f"Организация «{unit.name}» закрыта.")
    return unit


def _current(moment: datetime) -> Any:
    return or_(RoleGrant.valid_to.is_(None), RoleGrant.valid_to > moment)


def user_scope_condition(scope: Scope, moment: datetime | None = None) -> Any:
    """SQL over User: the user is managed by an admin with this scope (see the module doc)."""
    moment = moment or utcnow()
    units = sorted(scope.units)

    def grant(*conds: Any) -> Any:
        return exists().where(RoleGrant.user_id == User.id, *conds)

    current_outside = grant(_current(moment), RoleGrant.org_unit_id.not_in(units))
    any_current = grant(_current(moment))
    any_outside = grant(RoleGrant.org_unit_id.not_in(units))
    return and_(~current_outside, or_(any_current, ~any_outside))


def users_in_scope(scope: Scope) -> Any:
    """SQL: ids of the users an admin with this scope manages."""
    return select(User.id).where(user_scope_condition(scope))


def manages(scope: Scope, user: User) -> bool:
    """True when an admin with this scope manages user."""
    if not scope.roots:
        return False
    row = db.session.execute(
        select(User.id).where(User.id == user.id, user_scope_condition(scope))
    ).first()
    return row is not None


def require_user(user_id: int, scope: Scope) -> User:
    """The user, if the admin manages them; else NotFound / NotAllowed."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("Пользователь не найден.")
    if not manages(scope, user):
        raise NotAllowed(
            f"Пользователь {user.username} вне вашей зоны администрирования: "
            "у него есть роли в других организациях."
        )
    return user


def home_unit_id(user: User, scope: Scope) -> int | None:
    """The unit an event about user is filed under: a current grant in scope, else a scope root."""
    unit_id = db.session.execute(
        select(RoleGrant.org_unit_id)
        .where(
            RoleGrant.user_id == user.id,
            RoleGrant.org_unit_id.in_(sorted(scope.units)),
            _current(utcnow()),
        )
        .order_by(RoleGrant.id)
        .limit(1)
    ).scalar_one_or_none()
    if unit_id is not None:
        return int(unit_id)
    return min(scope.roots) if scope.roots else None


def reason_text(reason: str | None, field: str = "reason") -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed("Укажите основание.", {field: ["Обязательное поле."]})
    if len(text) > MAX_REASON:
        raise ValidationFailed(
            "Основание слишком длинное.", {field: [f"До {MAX_REASON} символов."]}
        )
    return text


def _name(name: str | None) -> str:
    text = (name or "").strip()
    if not text or len(text) > MAX_NAME:
        raise ValidationFailed(
            "Некорректное название.", {"name": [f"Обязательное поле, до {MAX_NAME} символов."]}
        )
    return text


# --- org units ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeNode:
    """A unit of the admin's tree with its depth below the scope root."""

    unit: OrgUnit
    depth: int


def tree(actor: User, *, include_closed: bool = True) -> list[TreeNode]:
    """The units of the admin's scope, depth-first, children by name."""
    scope = require_admin(actor)
    units = (
        db.session.execute(select(OrgUnit).where(OrgUnit.id.in_(sorted(scope.units))))
        .scalars()
        .all()
    )
    children: dict[int | None, list[OrgUnit]] = {}
    for unit in units:
        if include_closed or unit.closed_at is None:
            parent = unit.parent_id if unit.parent_id in scope else None
            children.setdefault(parent, []).append(unit)
    result: list[TreeNode] = []

    def walk(parent: int | None, depth: int) -> None:
        for unit in sorted(children.get(parent, []), key=lambda u: (u.name, u.id)):
            result.append(TreeNode(unit, depth))
            walk(unit.id, depth + 1)

    walk(None, 0)
    return result


def _tier_below(parent: OrgUnit | None, tier: str) -> None:
    if tier not in TIERS:
        raise ValidationFailed(
            "Неизвестный уровень.", {"tier": [f"Допустимо: {', '.join(TIERS)}."]}
        )
    if parent is None:
        if tier != "region":
            raise ValidationFailed(
                "Нужна вышестоящая организация.",
                {"parent_id": ["У муниципалитета и школы должна быть вышестоящая организация."]},
            )
        return
    if TIERS.index(parent.tier) >= TIERS.index(tier):
        raise ValidationFailed(
            "Уровень не подходит к вышестоящей организации.",
            {"parent_id": [f"Организация уровня «{tier}» не может входить в «{parent.tier}»."]},
        )


def create_unit(actor: User, slug: str, name: str, tier: str, parent_id: int | None) -> OrgUnit:
    """Create an org unit under a unit of the admin's scope."""
    with transaction():
        scope = require_admin(actor)
        slug = (slug or "").strip()
        if not SLUG_RE.match(slug):
            raise ValidationFailed(
                "Некорректный код организации.",
                {"slug": ["Латинские строчные буквы, цифры и дефис, до 100 символов."]},
            )
        name = _name(name)
        if parent_id is None:
            top = db.session.execute(
                select(OrgUnit.id).where(
                    OrgUnit.id.in_(sorted(scope.roots)), OrgUnit.parent_id.is_(None)
                )
            ).first()
            if top is None:
                raise NotAllowed(
                    "Создать организацию верхнего уровня может только администратор региона."
                )
            parent = None
        else:
            parent = require_unit(parent_id, scope)
        _tier_below(parent, tier)
        if db.session.execute(select(OrgUnit.id).where(OrgUnit.slug == slug)).first():
            raise Conflict(f"Организация с кодом «{slug}» уже есть.")
        unit = OrgUnit(slug=slug, name=name, tier=tier, parent=parent, created_at=utcnow())
        db.session.add(unit)
        db.session.flush()
        audit.record(
            "org_unit_created",
            actor,
            org_unit_id=unit.id,
            payload={"slug": slug, "name": name, "tier": tier, "parent_id": parent_id},
        )
    return unit


def rename_unit(actor: User, unit_id: int, name: str) -> OrgUnit:
    """Rename an org unit of the admin's scope."""
    with transaction():
        scope = require_admin(actor)
        unit = require_unit(unit_id, scope)
        name = _name(name)
        before = unit.name
        if before == name:
            return unit
        unit.name = name
        audit.record(
            "org_unit_renamed",
            actor,
            org_unit_id=unit.id,
            payload={"slug": unit.slug, "before": before, "after": name},
        )
    return unit


def move_unit(actor: User, unit_id: int, parent_id: int) -> OrgUnit:
    """Move an org unit under another parent; both must be in the admin's scope."""
    with transaction():
        scope = require_admin(actor)
        unit = require_unit(unit_id, scope)
        if unit.id in scope.roots:
            raise NotAllowed("Нельзя переместить организацию, в которой вы администратор.")
        parent = require_unit(parent_id, scope)
        if unit.id in {u.id for u in parent.ancestors()}:
            raise ValidationFailed(
                "Нельзя переместить организацию внутрь неё самой.",
                {"parent_id": ["Выберите организацию вне перемещаемой ветви."]},
            )
        _tier_below(parent, unit.tier)
        before = unit.parent_id
        if before == parent.id:
            return unit
        unit.parent = parent
        audit.record(
            "org_unit_moved",
            actor,
            org_unit_id=unit.id,
            payload={"slug": unit.slug, "before_parent_id": before, "after_parent_id": parent.id},
        )
    return unit


def close_unit(actor: User, unit_id: int, reason: str) -> OrgUnit:
    """Close an org unit without open children or running processes; its grants end now."""
    with transaction():
        scope = require_admin(actor)
        unit = require_unit(unit_id, scope)
        reason = reason_text(reason)
        if unit.id in scope.roots:
            raise NotAllowed("Нельзя закрыть организацию, в которой вы администратор.")
        open_children = db.session.execute(
            select(func.count(OrgUnit.id)).where(
                OrgUnit.parent_id == unit.id, OrgUnit.closed_at.is_(None)
            )
        ).scalar_one()
        if open_children:
            raise Conflict(
                f"Сначала закройте или перенесите подчинённые организации ({open_children})."
            )
        running = db.session.execute(
            select(func.count(ProcessInstance.id)).where(
                ProcessInstance.org_unit_id == unit.id,
                ProcessInstance.status.in_(("running", "waiting", "error")),
            )
        ).scalar_one()
        if running:
            raise Conflict(f"В организации есть незавершённые процессы ({running}).")
        now = utcnow()
        ended = 0
        grants = db.session.execute(
            select(RoleGrant).where(RoleGrant.org_unit_id == unit.id, _current(now))
        ).scalars()
        for grant in grants:
            _end_grant(grant, actor, now, f"Организация закрыта: {reason}")
            ended += 1
        unit.closed_at = now
        audit.record(
            "org_unit_closed",
            actor,
            org_unit_id=unit.id,
            payload={"slug": unit.slug, "reason": reason, "grants_ended": ended},
        )
    return unit


# --- role grants ----------------------------------------------------------------------------


def grant_status(grant: RoleGrant, moment: datetime | None = None) -> str:
    """'active', 'planned', 'ended' or 'revoked' at the moment (default now)."""
    moment = moment or utcnow()
    if grant.revoked_at is not None:
        return "revoked"
    if grant.valid_from is not None and moment < grant.valid_from:
        return "planned"
    return "active" if grant.valid_to is None or moment < grant.valid_to else "ended"


def grants_of(user: User) -> list[RoleGrant]:
    """All grants of a user, current first, then by start."""
    rows = (
        db.session.execute(
            select(RoleGrant).where(RoleGrant.user_id == user.id).order_by(RoleGrant.id)
        )
        .scalars()
        .all()
    )
    order = {"active": 0, "planned": 1, "ended": 2, "revoked": 3}
    return sorted(rows, key=lambda g: (order[grant_status(g)], g.id))


def grant_role(
    actor: User,
    user_id: int,
    role: str,
    unit_id: int,
    reason: str,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
) -> RoleGrant:
    """Grant a role at a unit of the admin's scope for a period (open-ended when no end)."""
    with transaction():
        scope = require_admin(actor)
        user = require_user(user_id, scope)
        unit = require_unit(unit_id, scope)
        reason = reason_text(reason)
        if user.id == actor.id:
            raise NotAllowed(
                "Нельзя назначать роли самому себе: обратитесь к другому администратору."
            )
        if role not in ROLES:
            raise ValidationFailed(
                "Неизвестная роль.", {"role": [f"Роли «{role}» нет в каталоге."]}
            )
        if ROLES[role].tier not in (None, unit.tier):
            raise ValidationFailed(
                "Роль не назначается на этом уровне.",
                {"org_unit_id": [f"Роль «{role}» назначается на уровне «{ROLES[role].tier}»."]},
            )
        if not user.is_active:
            raise Conflict("Пользователь отключён: сначала включите учётную запись.")
        now = utcnow()
        start = aware(valid_from) if valid_from is not None else now
        end = aware(valid_to) if valid_to is not None else None
        if end is not None and end <= start:
            raise ValidationFailed(
                "Окончание периода должно быть позже его начала.",
                {"valid_to": ["Укажите дату позже начала."]},
            )
        if end is not None and end <= now:
            raise ValidationFailed(
                "Период назначения уже закончился.", {"valid_to": ["Укажите дату в будущем."]}
            )
        overlapping = db.session.execute(
            select(RoleGrant.id).where(
                RoleGrant.user_id == user.id,
                RoleGrant.role == role,
                RoleGrant.org_unit_id == unit.id,
                or_(RoleGrant.valid_to.is_(None), RoleGrant.valid_to > start),
                *(
                    []
                    if end is None
                    else [or_(RoleGrant.valid_from.is_(None), RoleGrant.valid_from < end)]
                ),
            )
        ).first()
        if overlapping is not None:
            raise Conflict("У пользователя уже есть эта роль в этой организации на этот период.")
        grant = RoleGrant(
            user_id=user.id,
            role=role,
            org_unit_id=unit.id,
            valid_from=start,
            valid_to=end,
            reason=reason,
            granted_by_id=actor.id,
            created_at=now,
        )
        db.session.add(grant)
        db.session.flush()
        audit.record(
            "role_granted",
            actor,
            org_unit_id=unit.id,
            payload={
                "grant_id": grant.id,
                "username": user.username,
                "role": role,
                "org_unit": unit.slug,
                "valid_from": start.isoformat(),
                "valid_to": end.isoformat() if end else None,
                "reason": reason,
            },
        )
    return grant


def _end_grant(grant: RoleGrant, actor: User, now: datetime, reason: str) -> None:
    # A grant that has not started ends where it starts: an empty period, kept for history.
    start = grant.valid_from
    grant.valid_to = start if start is not None and start > now else now
    grant.revoked_at = now
    grant.revoked_by_id = actor.id
    grant.revoke_reason = reason


def revoke_grant(actor: User, grant_id: int, reason: str) -> RoleGrant:
    """End a grant now (never deleted: the period stays for history); audited with the reason."""
    with transaction():
        scope = require_admin(actor)
        grant = db.session.get(RoleGrant, grant_id)
        if grant is None:
            raise NotFound("Назначение роли не найдено.")
        if grant.org_unit_id not in scope:
            raise NotAllowed("Назначение роли в организации вне вашей зоны администрирования.")
        reason = reason_text(reason)
        if grant.user_id == actor.id and grant.role == ADMIN_ROLE:
            raise NotAllowed("Нельзя отозвать собственную роль администратора.")
        now = utcnow()
        if grant_status(grant, now) in ("ended", "revoked"):
            raise Conflict("Назначение уже не действует.")
        _end_grant(grant, actor, now, reason)
        audit.record(
            "role_revoked",
            actor,
            org_unit_id=grant.org_unit_id,
            payload={
                "grant_id": grant.id,
                "username": grant.user.username,
                "role": grant.role,
                "org_unit": grant.org_unit.slug,
                "reason": reason,
            },
        )
    return grant
