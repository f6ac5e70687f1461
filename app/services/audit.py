"""Appending to and verifying the hash-chained audit log (events are chained at commit)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from ..extensions import db
from ..models import AuditEvent, AuditHead, User
from ..models.base import utcnow

GENESIS_HASH = "0" * 64


def _canonical(event: dict[str, Any]) -> bytes:
    return json.dumps(
        event, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    ).encode("utf-8")


def compute_hash(
    seq: int,
    occurred_at: datetime,
    actor_username: str | None,
    kind: str,
    instance_id: int | None,
    task_id: int | None,
    org_unit_id: int | None,
    payload: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 over the event's fields and the previous hash (the chain link)."""
    body = {
        "seq": seq,
        "occurred_at": occurred_at.isoformat(),
        "actor": actor_username,
        "kind": kind,
        "instance_id": instance_id,
        "task_id": task_id,
        "org_unit_id": org_unit_id,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(_canonical(body)).hexdigest()


_PENDING = "rsnms.audit_pending"
_LOCKED = "rsnms.audit_head_locked"


def _locked_head(session: Session) -> AuditHead:
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, last_seq=0, last_hash=GENESIS_HASH)
        session.add(head)
        session.flush()
    return head


def record(
    kind: str,
    actor: User | None,
    *,
    instance_id: int | None = None,
    task_id: int | None = None,
    org_unit_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the caller's transaction; it is chained and written at its commit.

    The event waits in the session until the transaction commits; then `_append_pending`
    takes the chain lock (the audit_head row), numbers and hashes the transaction's events
    and inserts them in the same transaction, just before COMMIT. So the lock is held for the
    append only, not for the whole use case, and one transaction costs one lock, one
    multi-row INSERT and one UPDATE of the head whatever the number of its events. A
    rollback drops the waiting events with everything else.

    A transaction that already holds the chain lock (it selected audit_head FOR UPDATE, as
    the retention purge does) gets its events chained at once, so `seq` and `hash` of the
    returned event are set; otherwise they are set when the transaction commits.
    """
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_username=actor.username if actor is not None else None,
        instance_id=instance_id,
        task_id=task_id,
        org_unit_id=org_unit_id,
        kind=kind,
        payload=json.loads(_canonical(payload or {})),
    )
    session = db.session()
    pending = session.info.setdefault(_PENDING, [])
    pending.append(event)
    if session.info.get(_LOCKED):
        _chain(session, session.info.pop(_PENDING))
    return event


def record_task(kind: str, actor: User | None, task: Any, **payload: Any) -> AuditEvent:
    """An event about a human task: its instance, id and unit, its bpmn_id in the payload."""
    return record(
        kind,
        actor,
        instance_id=task.instance_id,
        task_id=task.id,
        org_unit_id=task.org_unit_id,
        payload={"bpmn_id": task.bpmn_id, **payload},
    )


def has_pending(session: Session | None = None) -> bool:
    """True when the current transaction recorded events that are not written yet."""
    return bool((session or db.session()).info.get(_PENDING))


def _chain(session: Session, events: list[AuditEvent]) -> None:
    """Number, hash and add events after the chain's head (taking its lock)."""
    head = _locked_head(session)
    seq, prev_hash = head.last_seq, head.last_hash
    for event in events:
        seq += 1
        event.seq = seq
        event.prev_hash = prev_hash
        event.hash = event_hash(event)
        prev_hash = event.hash
    session.add_all(events)
    head.last_seq = seq
    head.last_hash = prev_hash


def _append_pending(session: Session) -> None:
    """before_commit: chain and insert the transaction's waiting events (see record)."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    # Write the use case's own rows first: the head lock is then always taken last, after
    # any row lock of the transaction, so two transactions cannot wait for each other.
    session.flush()
    _chain(session, pending)


def _watch_head_lock(state: ORMExecuteState) -> None:
    if state.is_select and getattr(state.statement, "_for_update_arg", None) is not None:
        descriptions = getattr(state.statement, "column_descriptions", [])
        entities = [d.get("entity") for d in descriptions]
        if AuditHead in entities:
            state.session.info[_LOCKED] = True


def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # committed, rolled back or closed: start afresh
        session.info.pop(_PENDING, None)
        session.info.pop(_LOCKED, None)


sa_event.listen(Session, "before_commit", _append_pending)
sa_event.listen(Session, "do_orm_execute", _watch_head_lock)
sa_event.listen(Session, "after_transaction_end", _transaction_ended)


def event_hash(event: AuditEvent) -> str:
    """Recompute the hash of a stored event from its fields."""
    return compute_hash(
        event.seq,
        event.occurred_at,
        event.actor_username,
        event.kind,
        event.instance_id,
        event.task_id,
        event.org_unit_id,
        event.payload,
        event.prev_hash,
    )


def _iter_events(batch: int = 2000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = (
            db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.seq > last)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        for row in rows:  # only our rows: the caller's objects stay in its session
            db.session.expunge(row)


CHECKPOINT_KIND = "retention_purged"


def retained_digest_line(seq: int, digest: str) -> bytes:
    """One line of the digest over the events kept below a retention checkpoint."""
    return f"{seq}:{digest}\n".encode("ascii")


def latest_checkpoint() -> tuple[int, dict[str, Any]] | None:
    """The newest retention checkpoint (its seq and payload), if events were ever purged."""
    row = db.session.execute(
        select(AuditEvent.seq, AuditEvent.payload)
        .where(AuditEvent.kind == CHECKPOINT_KIND)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    return (int(row[0]), dict(row[1])) if row is not None else None


def _broken(checked: int, seq: int, reason: str) -> dict[str, Any]:
    return {"ok": False, "checked": checked, "first_bad_seq": seq, "reason": reason}


def verify() -> dict[str, Any]:
    """Recompute the whole chain; report the first sequence number whose link is broken.

    After a retention purge the events up to the latest checkpoint's `through_seq` are no
    longer contiguous: there each kept event's own hash is checked (and its link where its
    predecessor was kept too), and together they must match the checkpoint's count and
    digest; from `through_seq` + 1 on, every link is checked from the checkpoint's hash.
    """
    checkpoint = latest_checkpoint()
    through = int(checkpoint[1].get("through_seq", 0)) if checkpoint else 0
    kept = hashlib.sha256()
    kept_count = 0
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    segment_open = checkpoint is not None and through > 0
    for event in _iter_events():
        if event.seq <= through:
            if event_hash(event) != event.hash:
                return _broken(checked, event.seq, "hash")
            if event.seq == expected_seq and event.prev_hash != expected_prev:
                return _broken(checked, event.seq, "link")
            kept.update(retained_digest_line(event.seq, event.hash))
            kept_count += 1
        else:
            if segment_open and checkpoint is not None:
                segment_open = False
                problem = _checkpoint_mismatch(checkpoint, kept_count, kept.hexdigest())
                if problem is not None:
                    return _broken(checked, problem, "checkpoint")
                expected_prev, expected_seq = checkpoint[1]["through_hash"], through + 1
            if event.seq != expected_seq:
                return _broken(checked, expected_seq, "missing")
            if event.prev_hash != expected_prev:
                return _broken(checked, event.seq, "link")
            if event_hash(event) != event.hash:
                return _broken(checked, event.seq, "hash")
        checked += 1
        expected_prev = event.hash
        expected_seq = event.seq + 1
    if segment_open and checkpoint is not None:
        # Nothing after the purged stretch: the checkpoint itself is gone.
        return _broken(checked, checkpoint[0], "checkpoint")
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.last_seq != expected_seq - 1 or head.last_hash != expected_prev):
        return _broken(checked, expected_seq, "missing")
    return {"ok": True, "checked": checked, "first_bad_seq": None, "reason": None}


def _checkpoint_mismatch(
    checkpoint: tuple[int, dict[str, Any]], kept_count: int, kept_digest: str
) -> int | None:
    """The checkpoint's seq when the kept events below it are not those it recorded."""
    seq, payload = checkpoint
    if payload.get("retained_count") != kept_count or payload.get("retained_digest") != kept_digest:
        return seq
    return None


def serialize(event: AuditEvent) -> dict[str, Any]:
    """The event as shown in the API."""
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": event.actor_username,
        "kind": event.kind,
        "instance_id": event.instance_id,
        "task_id": event.task_id,
        "org_unit_id": event.org_unit_id,
        "payload": event.payload,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
