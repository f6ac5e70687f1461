"""Substitutions: while a user is away, their offered tasks are offered to a substitute too.

Two mechanisms, one rule. A task offered while a substitution is in force gets a candidate row
for the substitute (reason "substitute", on_behalf_of_id = the away user) so the substitute is
notified and the offer is audited. Tasks that were already open when the substitution started
are found by the query: a task counts as offered to a user when it is offered to them directly
or to someone they substitute *now*. Materialised substitute rows never grant anything by
themselves, so a substitution that ends (or is cancelled) stops on time without a clean-up job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select

from ..extensions import db
from ..models import HumanTask, Substitution, TaskCandidate, User
from ..models.base import utcnow
from . import admin, audit
from .errors import Conflict, NotFound, ValidationFailed
from .uow import transaction

SUBSTITUTE = "substitute"
MAX_REASON = 2000


def _in_force(moment: datetime) -> Any:
    return and_(
        Substitution.cancelled_at.is_(None),
        Substitution.valid_from <= moment,
        Substitution.valid_to > moment,
    )


def substituted_now(user: User, moment: datetime | None = None) -> Any:
    """SQL: the ids of the users whom user substitutes at the moment (default now)."""
    return select(Substitution.away_user_id).where(
        Substitution.substitute_id == user.id, _in_force(moment or utcnow())
    )


def candidate_match(user: User, moment: datetime | None = None) -> Any:
    """SQL over TaskCandidate: the row makes its task offered to user, directly or as substitute."""
    direct = TaskCandidate.reason != SUBSTITUTE
    return and_(
        direct,
        or_(
            TaskCandidate.user_id == user.id,
            TaskCandidate.user_id.in_(substituted_now(user, moment)),
        ),
    )


def offered_to(user: User, moment: datetime | None = None) -> Any:
    """SQL over HumanTask: the task is offered to user or to someone user substitutes now."""
    return exists().where(
        TaskCandidate.human_task_id == HumanTask.id, candidate_match(user, moment)
    )


def is_offered(task_id: int, user: User) -> bool:
    """True when the task is offered to user, directly or through a substitution in force."""
    row = db.session.execute(
        select(TaskCandidate.user_id)
        .where(TaskCandidate.human_task_id == task_id, candidate_match(user))
        .limit(1)
    ).first()
    return row is not None


def on_behalf_of(user: User, tasks: Sequence[HumanTask]) -> dict[int, str]:
    """For the tasks user sees only as a substitute: task id -> the away user's username."""
    ids = [t.id for t in tasks if t.claimed_by_id != user.id]
    if not ids:
        return {}
    direct = set(
        db.session.execute(
            select(TaskCandidate.human_task_id).where(
                TaskCandidate.human_task_id.in_(ids),
                TaskCandidate.user_id == user.id,
                TaskCandidate.reason != SUBSTITUTE,
            )
        ).scalars()
    )
    rows = db.session.execute(
        select(TaskCandidate.human_task_id, func.min(User.username))
        .join(User, User.id == TaskCandidate.user_id)
        .where(
            TaskCandidate.human_task_id.in_([i for i in ids if i not in direct]),
            TaskCandidate.reason != SUBSTITUTE,
            TaskCandidate.user_id.in_(substituted_now(user)),
        )
        .group_by(TaskCandidate.human_task_id)
    ).all()
    return {int(task_id): str(username) for task_id, username in rows}


def substitutes_of(
    user_ids: Iterable[int], moment: datetime | None = None
) -> dict[int, list[User]]:
    """Active substitutes in force for each of the given (away) users."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(Substitution.away_user_id, User)
        .join(User, User.id == Substitution.substitute_id)
        .where(
            Substitution.away_user_id.in_(ids),
            User.is_active.is_(True),
            _in_force(moment or utcnow()),
        )
        .order_by(User.username)
    ).all()
    result: dict[int, list[User]] = {}
    for away_id, substitute in rows:
        result.setdefault(away_id, []).append(substitute)
    return result


def add_substitute_candidates(task: HumanTask, users: Sequence[User]) -> list[tuple[User, User]]:
    """Offer a task being offered to users to their substitutes in force too.

    Returns (substitute, away user) pairs; the caller audits and notifies them.
    """
    found = substitutes_of(u.id for u in users)
    taken = {u.id for u in users}
    added: list[tuple[User, User]] = []
    for away in users:
        for substitute in found.get(away.id, []):
            if substitute.id in taken:
                continue
            taken.add(substitute.id)
            task.candidates.append(
                TaskCandidate(user_id=substitute.id, reason=SUBSTITUTE, on_behalf_of_id=away.id)
            )
            added.append((substitute, away))
    return added


# --- administration of substitutions --------------------------------------------------------


@dataclass
class SubstitutionPage:
    """One page of substitutions."""

    items: list[Substitution]
    total: int
    page: int
    per_page: int


def _payload(sub: Substitution) -> dict[str, Any]:
    return {
        "substitution_id": sub.id,
        "away": sub.away_user.username,
        "substitute": sub.substitute.username,
        "valid_from": sub.valid_from.isoformat(),
        "valid_to": sub.valid_to.isoformat(),
        "reason": sub.reason,
    }


def create(
    actor: User,
    away_user_id: int,
    substitute_id: int,
    valid_from: datetime,
    valid_to: datetime,
    reason: str,
) -> Substitution:
    """Name a substitute for an away user for a period; both must be in the admin's scope."""
    with transaction():
        scope = admin.require_admin(actor)
        away = admin.require_user(away_user_id, scope)
        substitute = admin.require_user(substitute_id, scope)
        errors: dict[str, list[str]] = {}
        reason = (reason or "").strip()
        if not reason:
            errors["reason"] = ["Укажите основание (приказ, отпуск, командировка…)."]
        elif len(reason) > MAX_REASON:
            errors["reason"] = [f"Не длиннее {MAX_REASON} символов."]
        if away.id == substitute.id:
            errors["substitute_id"] = ["Пользователь не может замещать сам себя."]
        elif not substitute.is_active:
            errors["substitute_id"] = ["Замещающий пользователь отключён."]
        valid_from = admin.aware(valid_from)
        valid_to = admin.aware(valid_to)
        if valid_to <= valid_from:
            errors["valid_to"] = ["Окончание периода должно быть позже его начала."]
        elif valid_to <= utcnow():
            errors["valid_to"] = ["Период замещения уже закончился."]
        if errors:
            raise ValidationFailed("Замещение не создано: проверьте поля.", errors)
        overlap = db.session.execute(
            select(Substitution.id).where(
                Substitution.away_user_id == away.id,
                Substitution.substitute_id == substitute.id,
                Substitution.cancelled_at.is_(None),
                Substitution.valid_from < valid_to,
                Substitution.valid_to > valid_from,
            )
        ).first()
        if overlap is not None:
            raise Conflict("Такое замещение на пересекающийся период уже есть.")
        sub = Substitution(
            away_user_id=away.id,
            substitute_id=substitute.id,
            valid_from=valid_from,
            valid_to=valid_to,
            reason=reason,
            created_by_id=actor.id,
            created_at=utcnow(),
        )
        db.session.add(sub)
        db.session.flush()
        audit.record(
            "substitution_created",
            actor,
            org_unit_id=admin.home_unit_id(away, scope),
            payload=_payload(sub),
        )
    return sub


def cancel(actor: User, substitution_id: int, reason: str) -> Substitution:
    """End a substitution now (or drop one that has not started); audited with the reason."""
    with transaction():
        scope = admin.require_admin(actor)
        sub = db.session.get(Substitution, substitution_id)
        if sub is None:
            raise NotFound("Замещение не найдено.")
        admin.require_user(sub.away_user_id, scope)
        reason = (reason or "").strip()
        if not reason:
            raise ValidationFailed(
                "Укажите причину отмены замещения.", {"reason": ["Обязательное поле."]}
            )
        now = utcnow()
        if sub.cancelled_at is not None or sub.valid_to <= now:
            raise Conflict("Замещение уже закончилось или отменено.")
        sub.cancelled_at = now
        sub.cancelled_by_id = actor.id
        audit.record(
            "substitution_cancelled",
            actor,
            org_unit_id=admin.home_unit_id(sub.away_user, scope),
            payload={**_payload(sub), "cancel_reason": reason},
        )
    return sub


def list_for(
    actor: User,
    user_id: int | None = None,
    *,
    current_only: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> SubstitutionPage:
    """Substitutions of users in the admin's scope (newest first), optionally of one user."""
    scope = admin.require_admin(actor)
    page, per_page = max(page, 1), min(max(per_page, 1), 200)
    stmt = select(Substitution)
    if user_id is not None:
        admin.require_user(user_id, scope)
        stmt = stmt.where(
            or_(Substitution.away_user_id == user_id, Substitution.substitute_id == user_id)
        )
    else:
        stmt = stmt.where(Substitution.away_user_id.in_(admin.users_in_scope(scope)))
    if current_only:
        now = utcnow()
        stmt = stmt.where(Substitution.cancelled_at.is_(None), Substitution.valid_to > now)
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    items = (
        db.session.execute(
            stmt.order_by(Substitution.valid_from.desc(), Substitution.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        .scalars()
        .all()
    )
    return SubstitutionPage(list(items), total, page, per_page)


def status(sub: Substitution, moment: datetime | None = None) -> str:
    """'active', 'planned', 'ended' or 'cancelled' at the moment (default now)."""
    moment = moment or utcnow()
    if sub.cancelled_at is not None:
        return "cancelled"
    if moment < sub.valid_from:
        return "planned"
    return "active" if moment < sub.valid_to else "ended"
