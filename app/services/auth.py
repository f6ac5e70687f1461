"""Passwords (Argon2id) and API bearer tokens (random, stored as SHA-256, expiring, revocable)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from ..extensions import db
from ..models import ApiToken, User
from ..models.base import utcnow
from . import audit, ldap_auth
from .errors import AuthenticationFailed
from .uow import transaction

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("timing-equaliser")


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    return _HASHER.hash(password)


def check_password(user: User | None, password: str) -> bool:
    """Verify a password; spends the same time whether or not the user exists."""
    try:
        return _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password) and bool(user)
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(username: str, password: str, ttl_hours: int) -> tuple[str, User]:
    """Check credentials and issue a bearer token; failures are audited too."""
    with transaction():
        user = db.session.execute(
            select(User).where(User.username == username)
        ).scalar_one_or_none()
        check = ldap_auth.check_login(username, password, user)
        user, ok = check.user, check.ok
        if not ok or user is None:
            audit.record(
                "login_failed",
                None,
                payload={"username": username[:150], "channel": "api", **check.audit},
            )
            failed = True
        else:
            failed = False
            token = secrets.token_urlsafe(32)
            db.session.add(
                ApiToken(
                    user_id=user.id,
                    token_hash=_digest(token),
                    expires_at=utcnow() + timedelta(hours=ttl_hours),
                )
            )
            audit.record("login_succeeded", user, payload={"channel": "api"})
    if failed:
        raise check.error or AuthenticationFailed("Неверное имя пользователя или пароль.")
    assert user is not None
    return token, user


def user_for_token(token: str) -> User:
    """The user a bearer token belongs to, or AuthenticationFailed."""
    row = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == _digest(token))
    ).scalar_one_or_none()
    if row is None:
        raise AuthenticationFailed("Недействительный токен доступа.")
    if row.revoked_at is not None:
        raise AuthenticationFailed("Токен доступа отозван. Войдите снова.")
    if row.expires_at <= utcnow():
        raise AuthenticationFailed("Срок действия токена истёк. Войдите снова.")
    if not row.user.is_active:
        raise AuthenticationFailed("Учётная запись отключена.")
    return row.user


def revoke_token(token: str) -> None:
    """Revoke a token (logout)."""
    with transaction():
        row = db.session.execute(
            select(ApiToken).where(ApiToken.token_hash == _digest(token))
        ).scalar_one_or_none()
        if row is not None and row.revoked_at is None:
            row.revoked_at = utcnow()
            audit.record("logout", row.user, payload={"channel": "api"})


def login(username: str, password: str) -> User:
    """Check web credentials and return the user; success and failure are audited (web)."""
    with transaction():
        user = db.session.execute(
            select(User).where(User.username == username)
        ).scalar_one_or_none()
        check = ldap_auth.check_login(username, password, user)
        user, ok = check.user, check.ok
        if ok:
            audit.record("login_succeeded", user, payload={"channel": "web"})
        else:
            audit.record(
                "login_failed",
                None,
                payload={"username": username[:150], "channel": "web", **check.audit},
            )
    if not ok or user is None:
        raise check.error or AuthenticationFailed("Неверное имя пользователя или пароль.")
    return user


def logout(user: User) -> None:
    """Record the end of a web session."""
    with transaction():
        audit.record("logout", user, payload={"channel": "web"})


def active_user(user_id: int) -> User | None:
    """The active user with this id (the web session's user), or None."""
    user = db.session.get(User, user_id)
    return user if user is not None and user.is_active else None
