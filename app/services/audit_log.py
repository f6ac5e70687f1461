"""Reading the audit log: filtered, paginated, limited to the reader's scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select

from ..extensions import db
from ..models import AuditEvent, OrgUnit, User
from . import assignment
from .errors import NotAllowed
from .tasks import Page

READER_ROLES = ("auditor", "admin")


def readable_units(actor: User) -> tuple[set[int], bool]:
    """Units whose events the actor may read, and whether unit-less events are included."""
    roots = assignment.units_with_role(actor, READER_ROLES)
    if not roots:
        raise NotAllowed("Журнал аудита доступен аудиторам и администраторам.")
    top_level = db.session.execute(
        select(OrgUnit.id).where(OrgUnit.id.in_(roots), OrgUnit.parent_id.is_(None))
    ).first()
    return assignment.subtree_ids(roots), top_level is not None


def events(
    actor: User,
    *,
    instance_id: int | None = None,
    actor_name: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """A page of audit events, newest last, visible to the actor."""
    units, global_events = readable_units(actor)
    scope: Any = AuditEvent.org_unit_id.in_(units)
    if global_events:
        scope = or_(scope, AuditEvent.org_unit_id.is_(None))
    query = select(AuditEvent).where(scope)
    if instance_id is not None:
        query = query.where(AuditEvent.instance_id == instance_id)
    if actor_name:
        query = query.where(AuditEvent.actor_username == actor_name)
    if kind:
        query = query.where(AuditEvent.kind == kind)
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= since)
    if until is not None:
        query = query.where(AuditEvent.occurred_at < until)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows: list[Any] = list(
        db.session.execute(
            query.order_by(AuditEvent.seq).offset((page - 1) * per_page).limit(per_page)
        ).scalars()
    )
    return Page(rows, total, page, per_page)


def require_reader(actor: User) -> None:
    """Only auditors and admins may verify the chain."""
    readable_units(actor)
