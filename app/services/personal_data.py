"""Access records: every view of an instance by someone who is not a participant is audited.

Instances hold teachers' personal data (names, plans, attestation materials), so a read by a
supervisor, an auditor or a lane-role holder not (yet) involved leaves a `personal_data_viewed`
event. The read services call `record_view` once they have decided the actor may see the
record. Reads do not commit, so the event is written in its own short transaction; when the
caller is already in the middle of a write transaction, the event joins it instead (a second
transaction would wait for the chain lock the caller may hold).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from ..extensions import db
from ..models import HumanTask, ProcessInstance, TaskCandidate, User
from . import assignment, audit
from .uow import transaction

VIEW_KIND = "personal_data_viewed"
_WROTE = "rsnms.wrote"
_SEEN = "rsnms.personal_data_seen"


def _flushed(session: Session, _flush_context: Any) -> None:
    session.info[_WROTE] = True


def _executed(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


def _ended(session: Session, trans: SessionTransaction) -> None:
    if trans.parent is None:
        session.info.pop(_WROTE, None)


# Registered once at import: the flag must be tracked from the first statement of a transaction.
event.listen(Session, "after_flush", _flushed)
event.listen(Session, "do_orm_execute", _executed)
event.listen(Session, "after_transaction_end", _ended)


def _in_write_transaction() -> bool:
    session = db.session()
    return bool(
        session.new
        or session.dirty
        or session.deleted
        or session.info.get(_WROTE)
        or audit.has_pending(session)  # events wait in the session until commit (audit.py)
    )


def is_participant(actor: User, instance: ProcessInstance) -> bool:
    """True for whoever started the instance or was offered, took or completed one of its tasks."""
    if instance.started_by_id == actor.id:
        return True
    offered = (
        select(HumanTask.id)
        .join(TaskCandidate, TaskCandidate.human_task_id == HumanTask.id)
        .where(HumanTask.instance_id == instance.id, TaskCandidate.user_id == actor.id)
    )
    handled = select(HumanTask.id).where(
        HumanTask.instance_id == instance.id,
        or_(HumanTask.claimed_by_id == actor.id, HumanTask.completed_by_id == actor.id),
    )
    return db.session.execute(offered.union(handled).limit(1)).first() is not None


def record_view(
    actor: User,
    instance: ProcessInstance,
    *,
    resource: str,
    task_id: int | None = None,
) -> None:
    """Audit a non-participant's view of an instance (once per instance per request)."""
    seen: set[tuple[int, int]] = db.session().info.setdefault(_SEEN, set())
    key = (actor.id, instance.id)
    if key in seen or is_participant(actor, instance):
        return
    payload = {
        "resource": resource,
        "process_key": instance.process_key,
        "viewer_roles": sorted(assignment.roles_on_path(actor, instance.org_unit)),
    }
    details: dict[str, Any] = {
        "instance_id": instance.id,
        "task_id": task_id,
        "org_unit_id": instance.org_unit_id,
        "payload": payload,
    }
    if _in_write_transaction():
        audit.record(VIEW_KIND, actor, **details)
        return
    with transaction():
        audit.record(VIEW_KIND, actor, **details)
    seen.add(key)
