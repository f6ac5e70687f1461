"""All-or-nothing CSV import of org units or users with grants, fast enough for 10,000 users.

Every row is checked first against lookups loaded once (units by slug, existing users and
grants), so a bad file is rejected with line-numbered errors before anything is written. The
good file is then written with batched INSERTs in one transaction. Passwords are the slow part:
Argon2 costs ~50 ms a hash by design, and the stored hashes stay exactly as strong as any other.
Rows without a password (the recommended way for bulk loads) create the account with
`must_set_password` and a one-time setup token (returned once; only its SHA-256 is stored);
rows with a password are hashed in a small process pool (IMPORT_HASH_WORKERS, default 2).
A progress callback (stage, done, total) lets the CLI print progress and the UI poll it.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import secrets
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import insert, select

from ..extensions import db
from ..models import TIERS, OrgUnit, RoleGrant, User
from ..models.base import utcnow
from . import admin, audit
from .admin_users import SETUP_TOKEN_TTL, USERNAME_RE, setup_digest
from .auth import hash_password
from .errors import ValidationFailed
from .roles import ROLES
from .uow import transaction

UNIT_COLUMNS = {"slug", "name", "tier", "parent_slug"}
USER_COLUMNS = {"username", "role", "org_unit_slug"}
BATCH = 1000
POOL_THRESHOLD = 16  # fewer passwords than this are hashed in the calling process
IMPORT_REASON = "Импорт CSV"

Progress = Callable[[str, int, int], None]


@dataclass
class ImportReport:
    """What an import did (or would do): counts, errors with line numbers, setup tokens."""

    units_created: int = 0
    users_created: int = 0
    grants_created: int = 0
    errors: list[str] = field(default_factory=list)
    # username -> one-time password setup token, for new accounts imported without a password
    setup_tokens: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def _reject(errors: list[str]) -> ValidationFailed:
    return ValidationFailed(
        "Импорт отклонён: исправьте ошибки, ничего не сохранено.", {"rows": errors}
    )


def import_csv(
    text: str,
    actor: User | None,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import org units (slug,name,tier,parent_slug) or users with grants
    (username,full_name,email,password,role,org_unit_slug[,auth_source,valid_from,valid_to]).

    actor None is the command line (no scope limit); an actor must be an admin and every unit
    and existing user touched must be in their scope. Nothing is written if any row is bad.
    """
    progress = progress or _no_progress
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = {c.strip() for c in (reader.fieldnames or [])}
    if columns >= UNIT_COLUMNS:
        kind = "units"
    elif columns >= USER_COLUMNS:
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
    rows = [
        (line, {(k or "").strip(): (v or "").strip() for k, v in row.items() if k})
        for line, row in enumerate(reader, start=2)
    ]
    scope = admin.require_admin(actor) if actor is not None else None
    report = ImportReport(dry_run=dry_run)
    with transaction():
        if kind == "units":
            _import_units(rows, scope, report, progress, dry_run)
        else:
            _import_users(rows, scope, report, progress, dry_run)
        if report.errors:
            raise _reject(report.errors)
        if dry_run:
            db.session.rollback()
            return report
        progress("аудит", 0, 1)
        audit.record(
            "org_imported",
            actor,
            org_unit_id=min(scope.roots) if scope is not None else None,
            payload={
                "units": report.units_created,
                "users": report.users_created,
                "grants": report.grants_created,
                "must_set_password": sorted(report.setup_tokens),
            },
        )
    progress("готово", 1, 1)
    return report


# --- units ----------------------------------------------------------------------------------


def _import_units(
    rows: list[tuple[int, dict[str, str]]],
    scope: admin.Scope | None,
    report: ImportReport,
    progress: Progress,
    dry_run: bool,
) -> None:
    units = {u.slug: u for u in db.session.execute(select(OrgUnit)).scalars()}
    total = len(rows)
    for done, (line, row) in enumerate(rows, start=1):
        try:
            _unit_row(row, units, scope, report)
        except ValueError as exc:
            report.errors.append(f"Строка {line}: {exc}")
        if done % 200 == 0 or done == total:
            progress("организации", done, total)
    if not report.errors:
        db.session.flush()


def _unit_row(
    row: dict[str, str],
    units: dict[str, OrgUnit],
    scope: admin.Scope | None,
    report: ImportReport,
) -> None:
    slug, name, tier = row.get("slug", ""), row.get("name", ""), row.get("tier", "")
    parent_slug = row.get("parent_slug", "")
    if not slug or not name:
        raise ValueError("пустые slug или name.")
    if not admin.SLUG_RE.match(slug):
        raise ValueError(f"код «{slug}»: только латинские строчные буквы, цифры и дефис.")
    if tier not in TIERS:
        raise ValueError(f"неизвестный уровень «{tier}» (допустимо: {', '.join(TIERS)}).")
    parent = None
    if parent_slug:
        parent = units.get(parent_slug)
        if parent is None:
            raise ValueError(f"родительская организация «{parent_slug}» не найдена.")
        if parent.tier and TIERS.index(parent.tier) >= TIERS.index(tier):
            raise ValueError(f"организация уровня «{tier}» не может входить в «{parent.tier}».")
    elif tier != "region":
        raise ValueError("у муниципалитета и школы должен быть parent_slug.")
    existing = units.get(slug)
    if scope is not None:
        target = existing if existing is not None else parent
        if target is None or (target.id is not None and target.id not in scope):
            raise ValueError(f"организация «{slug}» вне вашей зоны администрирования.")
    if existing is not None:
        existing.name = name
        return
    unit = OrgUnit(slug=slug, name=name, tier=tier, parent=parent, created_at=utcnow())
    db.session.add(unit)
    units[slug] = unit
    report.units_created += 1


# --- users ----------------------------------------------------------------------------------


@dataclass
class _NewUser:
    username: str
    full_name: str
    email: str | None
    password: str
    auth_source: str


def _moment(value: str, field_name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = (
            datetime.fromisoformat(value) if "T" in value or " " in value else None
        ) or datetime.combine(date.fromisoformat(value), datetime.min.time())
    except ValueError as exc:
        raise ValueError(f"{field_name}: ожидается дата ГГГГ-ММ-ДД или дата и время ISO.") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _chunks(items: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing_users(usernames: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(usernames))):
        for uid, name in db.session.execute(
            select(User.id, User.username).where(User.username.in_(chunk))
        ):
            found[name] = uid
    return found


def _import_users(
    rows: list[tuple[int, dict[str, str]]],
    scope: admin.Scope | None,
    report: ImportReport,
    progress: Progress,
    dry_run: bool,
) -> None:
    units = {
        slug: (uid, tier, closed)
        for uid, slug, tier, closed in db.session.execute(
            select(OrgUnit.id, OrgUnit.slug, OrgUnit.tier, OrgUnit.closed_at)
        )
    }
    existing = _existing_users(row.get("username", "") for _, row in rows)
    managed: set[int] = set()
    if scope is not None and existing:
        for chunk in _chunks(sorted(existing.values())):
            managed |= set(
                db.session.execute(
                    select(User.id).where(User.id.in_(chunk), admin.user_scope_condition(scope))
                ).scalars()
            )
    new_users: dict[str, _NewUser] = {}
    wanted: list[tuple[str, str, int, datetime | None, datetime | None]] = []
    seen_grants: set[tuple[str, str, int]] = set()
    total = len(rows)
    for done, (line, row) in enumerate(rows, start=1):
        try:
            grant = _user_row(row, units, existing, managed, scope, new_users)
            if grant is not None and grant[:3] not in seen_grants:
                seen_grants.add(grant[:3])
                wanted.append(grant)
        except ValueError as exc:
            report.errors.append(f"Строка {line}: {exc}")
        if done % 500 == 0 or done == total:
            progress("проверка", done, total)
    if report.errors:
        return
    grants = _drop_existing_grants(wanted, existing)
    report.users_created = len(new_users)
    report.grants_created = len(grants)
    if dry_run:
        return
    user_ids = dict(existing)
    user_ids.update(_insert_users(list(new_users.values()), report, progress))
    now = utcnow()
    grant_rows = [
        {
            "user_id": user_ids[username],
            "role": role,
            "org_unit_id": unit_id,
            "valid_from": start,
            "valid_to": end,
            "reason": IMPORT_REASON,
            "created_at": now,
        }
        for username, role, unit_id, start, end in grants
    ]
    for done, chunk in enumerate(_chunks(grant_rows), start=1):
        db.session.execute(insert(RoleGrant), chunk)
        progress("назначения ролей", min(done * BATCH, len(grant_rows)), len(grant_rows))


def _user_row(
    row: dict[str, str],
    units: dict[str, tuple[int, str, datetime | None]],
    existing: dict[str, int],
    managed: set[int],
    scope: admin.Scope | None,
    new_users: dict[str, _NewUser],
) -> tuple[str, str, int, datetime | None, datetime | None] | None:
    username, role, slug = (
        row.get("username", ""),
        row.get("role", ""),
        row.get("org_unit_slug", ""),
    )
    if not username:
        raise ValueError("пустое имя пользователя.")
    if not USERNAME_RE.match(username):
        raise ValueError(f"имя «{username}»: латинские буквы, цифры и . _ @ -.")
    if role and role not in ROLES:
        raise ValueError(f"неизвестная роль «{role}».")
    unit = units.get(slug) if slug else None
    if role and unit is None:
        raise ValueError(f"организация «{slug}» не найдена.")
    if role and unit is not None:
        if ROLES[role].tier not in (None, unit[1]):
            raise ValueError(f"роль «{role}» не назначается на уровне «{unit[1]}».")
        if unit[2] is not None:
            raise ValueError(f"организация «{slug}» закрыта.")
        if scope is not None and unit[0] not in scope:
            raise ValueError(f"организация «{slug}» вне вашей зоны администрирования.")
    start = _moment(row.get("valid_from", ""), "valid_from")
    end = _moment(row.get("valid_to", ""), "valid_to")
    if start is not None and end is not None and end <= start:
        raise ValueError("valid_to должна быть позже valid_from.")
    if username in existing:
        if scope is not None and existing[username] not in managed:
            raise ValueError(f"пользователь {username} вне вашей зоны администрирования.")
    elif username not in new_users:
        password = row.get("password", "")
        source = row.get("auth_source", "") or "local"
        if source not in ("local", "ldap"):
            raise ValueError(f"auth_source «{source}»: допустимо local или ldap.")
        if password and len(password) < 8:
            raise ValueError("пароль короче 8 символов (оставьте пустым: будет ссылка установки).")
        if password and source == "ldap":
            raise ValueError("пароль пользователя каталога (ldap) хранится в каталоге.")
        new_users[username] = _NewUser(
            username,
            row.get("full_name", "")[:300],
            row.get("email", "")[:300] or None,
            password,
            source,
        )
    if role and unit is not None:
        return username, role, unit[0], start, end
    return None


def _drop_existing_grants(
    wanted: list[tuple[str, str, int, datetime | None, datetime | None]],
    existing: dict[str, int],
) -> list[tuple[str, str, int, datetime | None, datetime | None]]:
    ids = sorted({existing[w[0]] for w in wanted if w[0] in existing})
    have: set[tuple[int, str, int]] = set()
    for chunk in _chunks(ids):
        now = utcnow()
        for uid, role, unit_id in db.session.execute(
            select(RoleGrant.user_id, RoleGrant.role, RoleGrant.org_unit_id).where(
                RoleGrant.user_id.in_(chunk),
                (RoleGrant.valid_to.is_(None)) | (RoleGrant.valid_to > now),
            )
        ):
            have.add((uid, role, unit_id))
    return [w for w in wanted if w[0] not in existing or (existing[w[0]], w[1], w[2]) not in have]


def _hash_all(passwords: list[str], progress: Progress) -> list[str]:
    if len(passwords) < POOL_THRESHOLD:
        return [hash_password(p) for p in passwords]
    workers = max(1, int(current_app.config.get("IMPORT_HASH_WORKERS", 2)))
    # spawn: a forked child would inherit (and might close) the parent's database connections.
    context = multiprocessing.get_context("spawn")
    hashes: list[str] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for done, digest in enumerate(pool.map(hash_password, passwords, chunksize=8), start=1):
            hashes.append(digest)
            if done % 50 == 0 or done == len(passwords):
                progress("пароли", done, len(passwords))
    return hashes


def _insert_users(
    users: list[_NewUser], report: ImportReport, progress: Progress
) -> dict[str, int]:
    with_password = [u for u in users if u.password]
    hashes = dict(
        zip(
            (u.username for u in with_password),
            _hash_all([u.password for u in with_password], progress),
            strict=True,
        )
    )
    now = utcnow()
    expires = now + SETUP_TOKEN_TTL
    rows: list[dict[str, Any]] = []
    for user in users:
        token = None
        if not user.password and user.auth_source == "local":
            token = secrets.token_urlsafe(32)
            report.setup_tokens[user.username] = token
        rows.append(
            {
                "username": user.username,
                "full_name": user.full_name,
                "email": user.email,
                "password_hash": hashes.get(user.username, ""),
                "is_active": True,
                "auth_source": user.auth_source,
                "must_set_password": token is not None,
                "password_setup_hash": setup_digest(token) if token else None,
                "password_setup_expires_at": expires if token else None,
                "created_at": now,
            }
        )
    for done, chunk in enumerate(_chunks(rows), start=1):
        db.session.execute(insert(User), chunk)
        progress("пользователи", min(done * BATCH, len(rows)), len(rows))
    return _existing_users(u.username for u in users)


def parse_failure(exc: ValidationFailed) -> list[str]:
    """The line-numbered errors of a rejected import."""
    return [e for rows in exc.errors.values() for e in rows]
