"""Single sign-on through the organisation's directory (LDAP), next to local passwords.

Which check applies is decided per user: a user whose `auth_source` is 'ldap' is checked by a
simple bind to the directory as themselves (LDAP_USER_DN_TEMPLATE); a user marked 'local' (the
local admin, for one) keeps the Argon2 password here, so they still log in when the directory
is down. An unknown username is tried against the directory when it is configured; on success
the user record is created here with no role grants (an admin grants roles; grants are never
taken from the directory). A directory that does not answer gives a clear message, never
"wrong password".
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from ldap3 import BASE, Connection, Server
from ldap3.core.exceptions import LDAPException
from ldap3.utils.dn import escape_rdn

from ..extensions import db
from ..models import User
from ..models.base import utcnow
from . import audit
from .errors import AuthenticationFailed, DirectoryUnavailable

# Bind result codes that mean "these credentials are wrong", not "the directory is broken".
_WRONG_CREDENTIALS = {32, 34, 48, 49, 50, 53}
_SAFE_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,149}$")
DOWN_MESSAGE = (
    "Служба каталога (LDAP) недоступна: вход по доменной учётной записи временно невозможен. "
    "Повторите попытку позже или обратитесь к администратору; локальные учётные записи "
    "работают как обычно."
)
NOT_CONFIGURED_MESSAGE = (
    "Вход через каталог (LDAP) для этой учётной записи не настроен. Обратитесь к администратору."
)


@dataclass(frozen=True)
class DirectoryEntry:
    """What the directory says about a user who bound successfully."""

    dn: str
    full_name: str
    email: str | None


class WrongCredentials(Exception):
    """The directory rejected the bind (unknown user or wrong password)."""


@dataclass
class LoginCheck:
    """The outcome of checking credentials: the user (if known), success, and why not."""

    user: User | None
    ok: bool
    error: AuthenticationFailed | None = None
    audit: dict[str, Any] = field(default_factory=dict)


def settings() -> dict[str, Any]:
    """The LDAP settings of the running app."""
    config = current_app.config
    return {
        "url": config.get("LDAP_URL") or "",
        "base_dn": config.get("LDAP_BASE_DN") or "",
        "template": config.get("LDAP_USER_DN_TEMPLATE") or "uid={username},ou=people,{base_dn}",
        "timeout": float(config.get("LDAP_TIMEOUT") or 5),
    }


def is_configured() -> bool:
    """True when LDAP_URL is set."""
    return bool(settings()["url"])


def user_dn(username: str) -> str:
    """The DN a user binds as: the template with the escaped username and the base DN."""
    conf = settings()
    return str(conf["template"]).format(username=escape_rdn(username), base_dn=conf["base_dn"])


def _first(entry_attrs: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = entry_attrs.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value:
            return str(value)
    return None


def bind(username: str, password: str) -> DirectoryEntry:
    """Bind as the user; WrongCredentials when rejected, DirectoryUnavailable when unreachable."""
    # An empty password would be an unauthenticated bind, which directories accept.
    if not password or not _SAFE_USERNAME.match(username or ""):
        raise WrongCredentials()
    conf = settings()
    dn = user_dn(username)
    server = Server(conf["url"], connect_timeout=conf["timeout"], get_info=None)
    conn = Connection(
        server,
        user=dn,
        password=password,
        receive_timeout=max(1, int(conf["timeout"])),  # ldap3 packs it as whole seconds
        read_only=True,
        raise_exceptions=False,
    )
    try:
        if not conn.bind():
            code = int((conn.result or {}).get("result", -1))
            if code in _WRONG_CREDENTIALS:
                raise WrongCredentials()
            current_app.logger.warning("LDAP bind failed: %s", conn.result)
            raise DirectoryUnavailable(DOWN_MESSAGE)
        attrs: dict[str, Any] = {}
        if conn.search(dn, "(objectClass=*)", BASE, attributes=["cn", "displayName", "mail"]):
            attrs = dict(conn.entries[0].entry_attributes_as_dict) if conn.entries else {}
        return DirectoryEntry(
            dn=dn,
            full_name=_first(attrs, "displayName", "cn") or "",
            email=_first(attrs, "mail"),
        )
    except (LDAPException, OSError) as exc:
        current_app.logger.warning("LDAP unavailable: %s", exc)
        raise DirectoryUnavailable(DOWN_MESSAGE) from exc
    finally:
        with contextlib.suppress(LDAPException, OSError):
            conn.unbind()
        # ldap3 keeps the socket of a failed connect open: close it ourselves.
        raw = getattr(conn, "socket", None)
        if raw is not None:
            with contextlib.suppress(OSError):
                raw.close()


def check_login(username: str, password: str, user: User | None) -> LoginCheck:
    """Check credentials locally or against the directory, as the user's auth_source says.

    Runs inside the caller's transaction: a first directory login creates the user (no grants).
    """
    from .auth import check_password

    use_directory = user.auth_source == "ldap" if user is not None else is_configured()
    if not use_directory:
        ok = check_password(user, password) and user is not None and user.is_active
        return LoginCheck(user, ok)
    if not is_configured():
        problem = {"source": "ldap", "problem": "not_configured"}
        return LoginCheck(user, False, DirectoryUnavailable(NOT_CONFIGURED_MESSAGE), problem)
    try:
        entry = bind(username, password)
    except WrongCredentials:
        return LoginCheck(user, False, audit={"source": "ldap"})
    except DirectoryUnavailable as exc:
        return LoginCheck(user, False, exc, {"source": "ldap", "problem": "directory_unavailable"})
    if user is None:
        user = User(
            username=username,
            full_name=entry.full_name[:300],
            email=(entry.email or "")[:300] or None,
            password_hash="",
            auth_source="ldap",
            created_at=utcnow(),
        )
        db.session.add(user)
        db.session.flush()
        audit.record(
            "user_created",
            user,
            payload={"username": username, "auth_source": "ldap", "via": "first_login"},
        )
    else:
        if not user.full_name and entry.full_name:
            user.full_name = entry.full_name[:300]
        if not user.email and entry.email:
            user.email = entry.email[:300]
    return LoginCheck(user, user.is_active, audit={"source": "ldap"})
