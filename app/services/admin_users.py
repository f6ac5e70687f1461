"""Administration of user accounts in the admin's scope, and what a user record shows to whom.

Personal data: an admin who manages the user sees the full record (e-mail, status, how they
log in, every grant with its period); everyone else sees the name and the current roles only.
Opening a full record of someone else is audited (`user_record_viewed`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import false, func, or_, select, update

from ..extensions import db
from ..models import ApiToken, OrgUnit, RoleGrant, User
from ..models.base import utcnow
from . import admin, audit
from .auth import hash_password
from .errors import AuthenticationFailed, Conflict, NotFound, ValidationFailed
from .uow import transaction

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,149}$")
MIN_PASSWORD = 8
SETUP_TOKEN_TTL = timedelta(hours=72)
AUTH_SOURCES = ("local", "ldap")


def setup_digest(token: str) -> str:
    """SHA-256 of a one-time setup token (the token itself is never stored)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_setup_token(user: User, ttl: timedelta = SETUP_TOKEN_TTL) -> str:
    """Give user a fresh one-time password setup token (replacing any earlier one)."""
    token = secrets.token_urlsafe(32)
    user.password_setup_hash = setup_digest(token)
    user.password_setup_expires_at = utcnow() + ttl
    user.must_set_password = True
    return token


def validate_password(password: str, field_name: str = "password") -> None:
    """Reject passwords shorter than the minimum."""
    if len(password or "") < MIN_PASSWORD:
        raise ValidationFailed(
            "Пароль слишком короткий.",
            {field_name: [f"Не короче {MIN_PASSWORD} символов."]},
        )


def validate_username(username: str) -> str:
    """A trimmed username made of safe characters, else ValidationFailed."""
    name = (username or "").strip()
    if not USERNAME_RE.match(name):
        raise ValidationFailed(
            "Некорректное имя пользователя.",
            {"username": ["Латинские буквы, цифры и . _ @ -, до 150 символов."]},
        )
    return name


@dataclass
class CreatedUser:
    """A new user and, when it has no password yet, its one-time setup token (shown once)."""

    user: User
    setup_token: str | None


def create_user(
    actor: User | None,
    username: str,
    full_name: str,
    email: str | None = None,
    password: str | None = None,
    auth_source: str = "local",
) -> CreatedUser:
    """Create an account; without a password it gets a one-time setup token instead.

    actor None is the command line (the operator), with no scope limit.
    """
    with transaction():
        scope = admin.scope_for(actor)
        username = validate_username(username)
        if auth_source not in AUTH_SOURCES:
            raise ValidationFailed(
                "Неизвестный способ входа.", {"auth_source": ["Допустимо: local, ldap."]}
            )
        if password:
            if auth_source == "ldap":
                raise ValidationFailed(
                    "Пароль пользователя каталога хранится в каталоге.",
                    {"password": ["Не указывайте пароль для auth_source=ldap."]},
                )
            validate_password(password)
        if db.session.execute(select(User.id).where(User.username == username)).first():
            raise Conflict(f"Пользователь {username} уже есть.")
        user = User(
            username=username,
            full_name=(full_name or "").strip()[:300],
            email=(email or "").strip()[:300] or None,
            password_hash=hash_password(password) if password else "",
            auth_source=auth_source,
            created_at=utcnow(),
        )
        token = new_setup_token(user) if not password and auth_source == "local" else None
        db.session.add(user)
        db.session.flush()
        audit.record(
            "user_created",
            actor,
            org_unit_id=min(scope.roots) if scope.roots else None,
            payload={
                "username": username,
                "auth_source": auth_source,
                "must_set_password": token is not None,
            },
        )
    return CreatedUser(user, token)


def _revoke_tokens(user: User) -> None:
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def deactivate_user(actor: User | None, user_id: int, reason: str) -> User:
    """Switch an account off: it can no longer log in, its API tokens are revoked."""
    with transaction():
        scope = admin.scope_for(actor)
        user = admin.require_user(user_id, scope)
        text = admin.reason_text(reason)
        if actor is not None and user.id == actor.id:
            raise Conflict("Нельзя отключить собственную учётную запись.")
        if not user.is_active:
            raise Conflict("Учётная запись уже отключена.")
        user.is_active = False
        _revoke_tokens(user)
        audit.record(
            "user_deactivated",
            actor,
            org_unit_id=admin.home_unit_id(user, scope),
            payload={"username": user.username, "reason": text},
        )
    return user


def activate_user(actor: User, user_id: int, reason: str) -> User:
    """Switch a deactivated account on again."""
    with transaction():
        scope = admin.require_admin(actor)
        user = admin.require_user(user_id, scope)
        text = admin.reason_text(reason)
        if user.is_active:
            raise Conflict("Учётная запись уже включена.")
        user.is_active = True
        audit.record(
            "user_activated",
            actor,
            org_unit_id=admin.home_unit_id(user, scope),
            payload={"username": user.username, "reason": text},
        )
    return user


def reset_password(actor: User, user_id: int) -> str:
    """Invalidate the password and issue a one-time setup token (returned once, stored hashed)."""
    with transaction():
        scope = admin.require_admin(actor)
        user = admin.require_user(user_id, scope)
        if user.auth_source == "ldap":
            raise Conflict("Пароль этого пользователя хранится в каталоге (LDAP): смените его там.")
        if user.id == actor.id:
            raise Conflict("Свой пароль сбрасывает другой администратор.")
        user.password_hash = ""
        token = new_setup_token(user)
        _revoke_tokens(user)
        audit.record(
            "user_password_reset",
            actor,
            org_unit_id=admin.home_unit_id(user, scope),
            payload={"username": user.username, "expires_at": str(user.password_setup_expires_at)},
        )
    return token


def set_password_with_token(token: str, password: str) -> User:
    """The user sets their own password with the one-time token from an admin."""
    with transaction():
        user = db.session.execute(
            select(User).where(User.password_setup_hash == setup_digest(token or ""))
        ).scalar_one_or_none()
        if (
            user is None
            or not user.is_active
            or user.password_setup_expires_at is None
            or user.password_setup_expires_at <= utcnow()
        ):
            raise AuthenticationFailed(
                "Ссылка для установки пароля недействительна или устарела. "
                "Попросите администратора выдать новую."
            )
        validate_password(password)
        user.password_hash = hash_password(password)
        user.password_setup_hash = None
        user.password_setup_expires_at = None
        user.must_set_password = False
        audit.record("user_password_set", user, payload={"username": user.username})
    return user


# --- reading users --------------------------------------------------------------------------


@dataclass
class UserRecord:
    """A user as one viewer may see them: full for their admin (and themselves), else brief."""

    user: User
    full: bool
    grants: list[RoleGrant] = field(default_factory=list)

    @property
    def current_grants(self) -> list[RoleGrant]:
        """The grants in force now."""
        now = utcnow()
        return [g for g in self.grants if admin.grant_status(g, now) == "active"]


@dataclass
class UserPage:
    """One page of user records."""

    items: list[UserRecord]
    total: int
    page: int
    per_page: int


def search_users(
    actor: User,
    query: str = "",
    *,
    org_unit_id: int | None = None,
    active: bool | None = None,
    in_scope_only: bool = False,
    page: int = 1,
    per_page: int = 25,
) -> UserPage:
    """Users matching the text (username, name, e-mail), newest first in a stable order."""
    page, per_page = max(page, 1), min(max(per_page, 1), 200)
    scope = admin.scope_of(actor)
    stmt = select(User)
    text = (query or "").strip()[:200]
    if text:
        like = f"%{text.lower()}%"
        fields = [func.lower(User.username).like(like), func.lower(User.full_name).like(like)]
        if scope.roots:
            fields.append(func.lower(func.coalesce(User.email, "")).like(like))
        stmt = stmt.where(or_(*fields))
    if org_unit_id is not None:
        stmt = stmt.where(
            User.id.in_(
                select(RoleGrant.user_id).where(
                    RoleGrant.org_unit_id == org_unit_id,
                    or_(RoleGrant.valid_to.is_(None), RoleGrant.valid_to > utcnow()),
                )
            )
        )
    if active is not None:
        stmt = stmt.where(User.is_active.is_(active))
    if in_scope_only:
        stmt = stmt.where(admin.user_scope_condition(scope) if scope.roots else false())
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    users = list(
        db.session.execute(
            stmt.order_by(User.username).offset((page - 1) * per_page).limit(per_page)
        )
        .scalars()
        .all()
    )
    managed: set[int] = set()
    if scope.roots and users:
        managed = set(
            db.session.execute(
                select(User.id).where(
                    User.id.in_([u.id for u in users]), admin.user_scope_condition(scope)
                )
            ).scalars()
        )
    grants = _grants_by_user([u.id for u in users])
    items = [
        UserRecord(u, u.id in managed or u.id == actor.id, grants.get(u.id, [])) for u in users
    ]
    return UserPage(items, total, page, per_page)


def _grants_by_user(user_ids: list[int]) -> dict[int, list[RoleGrant]]:
    if not user_ids:
        return {}
    rows = (
        db.session.execute(
            select(RoleGrant)
            .join(OrgUnit, OrgUnit.id == RoleGrant.org_unit_id)
            .where(RoleGrant.user_id.in_(user_ids))
            .order_by(RoleGrant.id)
        )
        .scalars()
        .all()
    )
    result: dict[int, list[RoleGrant]] = {}
    for grant in rows:
        result.setdefault(grant.user_id, []).append(grant)
    return result


def get_user(actor: User, user_id: int) -> UserRecord:
    """One user as the actor may see them; a full view of someone else's record is audited."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("Пользователь не найден.")
    scope = admin.scope_of(actor)
    full = user.id == actor.id or admin.manages(scope, user)
    record = UserRecord(user, full, admin.grants_of(user))
    if full and user.id != actor.id:
        with transaction():
            audit.record(
                "user_record_viewed",
                actor,
                org_unit_id=admin.home_unit_id(user, scope),
                payload={"username": user.username},
            )
    return record


def by_username(username: str) -> User | None:
    """The user with this username, if any."""
    return db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def setup_expiry(user: User) -> datetime | None:
    """When the user's pending setup token expires (None when there is none)."""
    return user.password_setup_expires_at if user.must_set_password else None


def describe(record: UserRecord) -> dict[str, Any]:
    """The record as plain data, limited to what the viewer may see (used by API and UI)."""
    user = record.user
    roles = [
        {
            "role": g.role,
            "org_unit_id": g.org_unit_id,
            "org_unit_slug": g.org_unit.slug,
            "org_unit_name": g.org_unit.name,
        }
        for g in record.current_grants
    ]
    brief: dict[str, Any] = {
        "id": user.id,
        "username": user.username,
        "full_name": user.full_name,
        "roles": roles,
        "full": record.full,
    }
    if not record.full:
        return brief
    return {
        **brief,
        "email": user.email,
        "is_active": user.is_active,
        "auth_source": user.auth_source,
        "must_set_password": user.must_set_password,
        "created_at": user.created_at,
        "grants": [describe_grant(g) for g in record.grants],
    }


def describe_grant(grant: RoleGrant) -> dict[str, Any]:
    """A grant with its period, status and reasons."""
    return {
        "id": grant.id,
        "user_id": grant.user_id,
        "role": grant.role,
        "org_unit_id": grant.org_unit_id,
        "org_unit_slug": grant.org_unit.slug,
        "org_unit_name": grant.org_unit.name,
        "valid_from": grant.valid_from,
        "valid_to": grant.valid_to,
        "reason": grant.reason,
        "status": admin.grant_status(grant),
        "revoked_at": grant.revoked_at,
        "revoke_reason": grant.revoke_reason,
        "created_at": grant.created_at,
    }
