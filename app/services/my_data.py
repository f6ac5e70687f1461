"""What the system holds about a person, for that person (right of access to personal data).

Profile, role grants with their periods, substitutions, the tasks offered to, taken or
completed by them, and the audit events where they are the actor. The request itself is
audited (`own_data_requested`), so an auditor can see that it was made.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from ..extensions import db
from ..models import AuditEvent, HumanTask, Substitution, TaskCandidate, User
from ..models.base import utcnow
from . import admin, audit
from .admin_users import describe_grant
from .uow import transaction


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value


def collect(actor: User, *, download: bool = False) -> dict[str, Any]:
    """Everything held about actor, as plain JSON-ready data."""
    with transaction():
        audit.record("own_data_requested", actor, payload={"download": download})
    grants = [{k: _iso(v) for k, v in describe_grant(g).items()} for g in admin.grants_of(actor)]
    tasks = (
        db.session.execute(
            select(HumanTask)
            .where(
                or_(
                    HumanTask.claimed_by_id == actor.id,
                    HumanTask.completed_by_id == actor.id,
                    HumanTask.id.in_(
                        select(TaskCandidate.human_task_id).where(TaskCandidate.user_id == actor.id)
                    ),
                )
            )
            .order_by(HumanTask.id)
        )
        .scalars()
        .all()
    )
    subs = (
        db.session.execute(
            select(Substitution)
            .where(
                or_(Substitution.away_user_id == actor.id, Substitution.substitute_id == actor.id)
            )
            .order_by(Substitution.id)
        )
        .scalars()
        .all()
    )
    events = (
        db.session.execute(
            select(AuditEvent).where(AuditEvent.actor_id == actor.id).order_by(AuditEvent.seq)
        )
        .scalars()
        .all()
    )
    return {
        "generated_at": utcnow().isoformat(),
        "profile": {
            "id": actor.id,
            "username": actor.username,
            "full_name": actor.full_name,
            "email": actor.email,
            "is_active": actor.is_active,
            "auth_source": actor.auth_source,
            "created_at": _iso(actor.created_at),
        },
        "grants": grants,
        "substitutions": [
            {
                "id": s.id,
                "away": s.away_user.username,
                "substitute": s.substitute.username,
                "valid_from": _iso(s.valid_from),
                "valid_to": _iso(s.valid_to),
                "reason": s.reason,
                "cancelled_at": _iso(s.cancelled_at),
            }
            for s in subs
        ],
        "tasks": [
            {
                "id": t.id,
                "instance_id": t.instance_id,
                "process_key": t.process_key,
                "name": t.name,
                "status": t.status,
                "created_at": _iso(t.created_at),
                "claimed_by_me": t.claimed_by_id == actor.id,
                "completed_by_me": t.completed_by_id == actor.id,
                "completed_at": _iso(t.completed_at),
            }
            for t in tasks
        ],
        "audit_events": [
            {
                "seq": e.seq,
                "occurred_at": _iso(e.occurred_at),
                "kind": e.kind,
                "instance_id": e.instance_id,
                "task_id": e.task_id,
                "org_unit_id": e.org_unit_id,
                "payload": e.payload,
            }
            for e in events
        ],
    }
