"""Passwords (Argon2id), API bearer tokens (random, stored as SHA-256, expiring, revocable)
and the login lockout: after LOGIN_MAX_FAILURES failed logins of one username within
LOGIN_FAILURE_WINDOW_MINUTES, the web form and the token endpoint refuse that username for
LOGIN_LOCKOUT_MINUTES (audited `login_locked`). The count is read from the audit log, so every
worker process sees the same lockout without a table of its own."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import ApiToken, AuditEvent, User
from ..models.base import utcnow
from . import audit, ldap_auth
from .errors import AuthenticationFailed, DirectoryUnavailable
from .uow import transaction

_LOGIN_KINDS = ("login_failed", "login_locked", "login_succeeded")
_LOOKBACK_ROWS = 2000  # recent login events read to count one username's failures
# Failures that say nothing about the password: refused while locked, directory down.
_NOT_GUESSES = {"locked", "directory_unavailable", "not_configured"}

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


class LoginLocked(AuthenticationFailed):
    """Too many failed logins: the username is refused until the lockout ends."""

    status = 429

    def __init__(self, until: datetime) -> None:
        minutes = max(1, int((until - utcnow()).total_seconds() + 59) // 60)
        super().__init__(
            "Слишком много неудачных попыток входа. Вход под этим именем временно "
            f"заблокирован, повторите через {minutes} мин."
        )
        self.until = until
        self.minutes = minutes


@dataclass(frozen=True)
class _LoginHistory:
    locked_until: datetime | None
    failures: int


def _login_history(username: str) -> _LoginHistory:
    """The lockout in force for a username and its failures since the last success or lock."""
    config = current_app.config
    now = utcnow()
    window = timedelta(minutes=config["LOGIN_FAILURE_WINDOW_MINUTES"])
    lockout = timedelta(minutes=config["LOGIN_LOCKOUT_MINUTES"])
    since = now - max(window, lockout)
    rows = db.session.execute(
        select(
            AuditEvent.kind, AuditEvent.occurred_at, AuditEvent.actor_username, AuditEvent.payload
        )
        .where(AuditEvent.kind.in_(_LOGIN_KINDS))
        .order_by(AuditEvent.seq.desc())
        .limit(_LOOKBACK_ROWS)
    ).all()
    failures = 0
    for kind, at, actor, payload in rows:
        if at < since:
            break
        if (payload or {}).get("username", actor) != username and actor != username:
            continue
        if kind == "login_succeeded":
            break
        if kind == "login_locked":
            if at + lockout > now:
                return _LoginHistory(locked_until=at + lockout, failures=failures)
            break  # failures before a lock that has ended do not count again
        if at >= now - window and (payload or {}).get("problem") not in _NOT_GUESSES:
            failures += 1
    return _LoginHistory(locked_until=None, failures=failures)


@dataclass
class _Attempt:
    user: User | None = None
    error: AuthenticationFailed | None = None


def _attempt(username: str, password: str, channel: str) -> _Attempt:
    """Check a login in the caller's transaction; failures and lockouts are audited."""
    history = _login_history(username)
    if history.locked_until is not None:
        audit.record(
            "login_failed",
            None,
            payload={"username": username[:150], "channel": channel, "problem": "locked"},
        )
        return _Attempt(error=LoginLocked(history.locked_until))
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    check = ldap_auth.check_login(username, password, user)
    if check.ok and check.user is not None:
        audit.record("login_succeeded", check.user, payload={"channel": channel})
        return _Attempt(user=check.user)
    audit.record(
        "login_failed",
        None,
        payload={"username": username[:150], "channel": channel, **check.audit},
    )
    error = check.error or AuthenticationFailed("Неверное имя пользователя или пароль.")
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    if history.failures + 1 >= limit and not isinstance(error, DirectoryUnavailable):
        until = utcnow() + timedelta(minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"])
        audit.record(
            "login_locked",
            None,
            payload={
                "username": username[:150],
                "channel": channel,
                "failures": history.failures + 1,
                "until": until.isoformat(),
            },
        )
    return _Attempt(error=error)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(username: str, password: str, ttl_hours: int) -> tuple[str, User]:
    """Check credentials and issue a bearer token; failures are audited too."""
    with transaction():
        attempt = _attempt(username, password, "api")
        if attempt.user is not None:
            token = secrets.token_urlsafe(32)
            db.session.add(
                ApiToken(
                    user_id=attempt.user.id,
                    token_hash=_digest(token),
                    expires_at=utcnow() + timedelta(hours=ttl_hours),
                )
            )
    if attempt.error is not None or attempt.user is None:
        raise attempt.error or AuthenticationFailed("Неверное имя пользователя или пароль.")
    return token, attempt.user


def user_for_token(token: str) -> User:
    """The user a bearer token belongs to, or AuthenticationFailed."""
    # One statement for the token, its user and the user's grants (every API write checks
    # the roles, most requests need them).
    row = (
        db.session.execute(
            select(ApiToken)
            .options(joinedload(ApiToken.user).joinedload(User.grants))
            .where(ApiToken.token_hash == _digest(token))
        )
        .unique()
        .scalar_one_or_none()
    )
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
        attempt = _attempt(username, password, "web")
    if attempt.error is not None or attempt.user is None:
        raise attempt.error or AuthenticationFailed("Неверное имя пользователя или пароль.")
    return attempt.user


def logout(user: User) -> None:
    """Record the end of a web session."""
    with transaction():
        audit.record("logout", user, payload={"channel": "web"})


def active_user(user_id: int) -> User | None:
    """The active user with this id (the web session's user), or None."""
    user = db.session.get(User, user_id)
    return user if user is not None and user.is_active else None
