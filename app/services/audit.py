"""Appending to and verifying the hash-chained audit log."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select

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


def _locked_head() -> AuditHead:
    head = db.session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, last_seq=0, last_hash=GENESIS_HASH)
        db.session.add(head)
        db.session.flush()
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
    """Append an event in the caller's transaction (the head row lock orders the chain)."""
    head = _locked_head()
    seq = head.last_seq + 1
    occurred_at = utcnow()
    clean_payload = json.loads(_canonical(payload or {}))
    username = actor.username if actor is not None else None
    digest = compute_hash(
        seq,
        occurred_at,
        username,
        kind,
        instance_id,
        task_id,
        org_unit_id,
        clean_payload,
        head.last_hash,
    )
    event = AuditEvent(
        seq=seq,
        occurred_at=occurred_at,
        actor_id=actor.id if actor else None,
        actor_username=username,
        instance_id=instance_id,
        task_id=task_id,
        org_unit_id=org_unit_id,
        kind=kind,
        payload=clean_payload,
        prev_hash=head.last_hash,
        hash=digest,
    )
    db.session.add(event)
    head.last_seq = seq
    head.last_hash = digest
    return event


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
        db.session.expunge_all()


def verify() -> dict[str, Any]:
    """Recompute the whole chain; report the first sequence number whose link is broken."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for event in _iter_events():
        broken = (
            event.seq != expected_seq
            or event.prev_hash != expected_prev
            or event_hash(event) != event.hash
        )
        if broken:
            return {"ok": False, "checked": checked, "first_bad_seq": event.seq}
        checked += 1
        expected_prev = event.hash
        expected_seq = event.seq + 1
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.last_seq != checked or head.last_hash != expected_prev):
        return {"ok": False, "checked": checked, "first_bad_seq": checked + 1}
    return {"ok": True, "checked": checked, "first_bad_seq": None}


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
