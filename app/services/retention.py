"""Retention of the audit log: what is past its retention period, and the audited purge.

Each process key has a retention period in years (config RETENTION_YEARS, "default" for the
rest). An instance is past retention when it ended before `as_of` minus its process's period.
Nothing is deleted by the report; `purge` without confirm reports what it would delete. With
confirm=True it deletes such instances: their audit events and their own rows (the instance,
its human tasks and their candidates, drafts and reminders, attachments and the file contents
no other attachment uses, comments, signatures, notifications, facts …), refuses to run on a
chain that does not verify, and records a `retention_purged` checkpoint in the same
transaction. The checkpoint holds what verification needs to go on working without the deleted
events (see audit.verify and docs/audit.md):

- through_seq / through_hash: the highest seq the purges have reached and that event's hash,
  from which the links of every later event are checked as before;
- retained_count / retained_digest: the number of kept events up to through_seq and a SHA-256
  over their "seq:hash" lines, so a kept event removed or altered later is still detected.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, Table, and_, delete, exists, false, func, or_, select, update

from ..extensions import db
from ..models import Attachment, AuditEvent, AuditHead, Blob, HumanTask, ProcessInstance, User
from ..models.base import utcnow
from . import audit
from .errors import Conflict, ValidationFailed
from .uow import transaction

DEFAULT_KEY = "default"
_BATCH = 2000


def retention_years(process_key: str) -> int:
    """The retention period of a process, in years."""
    table: dict[str, int] = current_app.config.get("RETENTION_YEARS", {}) or {}
    return int(table.get(process_key, table.get(DEFAULT_KEY, 5)))


def years_before(moment: datetime, years: int) -> datetime:
    """The same calendar moment `years` earlier (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def _expired_condition(as_of: datetime) -> Any:
    """Instances past retention at as_of: ended before as_of minus their process's period."""
    keys = db.session.execute(select(ProcessInstance.process_key).distinct()).scalars().all()
    if not keys:
        return false()
    return or_(
        *[
            and_(
                ProcessInstance.process_key == key,
                ProcessInstance.ended_at.is_not(None),
                ProcessInstance.ended_at < years_before(as_of, retention_years(key)),
            )
            for key in keys
        ]
    )


@dataclass
class RetentionRow:
    """Per process: its period, and the instances and events past it."""

    process_key: str
    years: int
    cutoff: datetime
    instances: int = 0
    events: int = 0
    oldest_end: datetime | None = None
    newest_end: datetime | None = None


@dataclass
class RetentionReport:
    """What is past retention at a moment; nothing is deleted by producing it."""

    as_of: datetime
    rows: list[RetentionRow] = field(default_factory=list)

    @property
    def instances(self) -> int:
        """Instances past retention, all processes."""
        return sum(r.instances for r in self.rows)

    @property
    def events(self) -> int:
        """Audit events of those instances."""
        return sum(r.events for r in self.rows)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "as_of": self.as_of,
            "instances": self.instances,
            "events": self.events,
            "processes": [r.__dict__ for r in self.rows],
        }


def _check_as_of(as_of: datetime | None) -> datetime:
    now = utcnow()
    if as_of is None:
        return now
    if as_of.tzinfo is None:
        raise ValidationFailed(
            "Укажите дату с часовым поясом.", {"before": ["Нет часового пояса."]}
        )
    if as_of > now:
        raise ValidationFailed(
            "Дата не может быть в будущем.",
            {"before": ["Сроки хранения считаются не позже текущего момента."]},
        )
    return as_of


def report(as_of: datetime | None = None, unit_ids: set[int] | None = None) -> RetentionReport:
    """Per process: instances past retention at as_of (default now) and their event counts."""
    moment = _check_as_of(as_of)
    scope: list[Any] = []
    if unit_ids is not None:
        scope.append(ProcessInstance.org_unit_id.in_(sorted(unit_ids)))
    keys = (
        db.session.execute(
            select(ProcessInstance.process_key).where(*scope).distinct().order_by("process_key")
        )
        .scalars()
        .all()
    )
    result = RetentionReport(as_of=moment)
    for key in keys:
        years = retention_years(key)
        cutoff = years_before(moment, years)
        expired = and_(
            ProcessInstance.process_key == key,
            ProcessInstance.ended_at.is_not(None),
            ProcessInstance.ended_at < cutoff,
            *scope,
        )
        count, oldest, newest = db.session.execute(
            select(
                func.count(ProcessInstance.id),
                func.min(ProcessInstance.ended_at),
                func.max(ProcessInstance.ended_at),
            ).where(expired)
        ).one()
        events = db.session.execute(
            select(func.count(AuditEvent.seq)).where(
                AuditEvent.instance_id.in_(select(ProcessInstance.id).where(expired))
            )
        ).scalar_one()
        result.rows.append(
            RetentionRow(
                process_key=key,
                years=years,
                cutoff=cutoff,
                instances=int(count),
                events=int(events),
                oldest_end=oldest,
                newest_end=newest,
            )
        )
    return result


@dataclass
class PurgeResult:
    """What a purge did (or would do, when not confirmed)."""

    before: datetime
    confirmed: bool
    instances: int
    events: int
    checkpoint_seq: int | None = None
    through_seq: int | None = None
    per_process: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted (or to delete)
    detached: dict[str, int] = field(default_factory=dict)  # "table.column" -> links cut


# An instance's own rows are found from the foreign keys: every table that references
# process_instance, or a row owned by it, is owned and deleted with it (so a table added later
# is covered without editing this list) — except these references, which outlive the instance
# and are only cut (set to NULL). audit_event is purged separately, under the checkpoint.
DETACHED = frozenset({("role_grant", "source_instance_id"), ("scheduled_start", "instance_id")})
_NOT_OWNED = frozenset({"audit_event"})
ROOT_TABLE = "process_instance"


@dataclass(frozen=True)
class _Link:
    """A foreign key of an owned (or detached) table to an owned parent table."""

    table: Table
    column: Any
    parent: Table
    referred: Any


def _ownership() -> tuple[list[Table], dict[str, list[_Link]], list[_Link]]:
    """Owned tables children first, each table's links to owned parents, detached links."""
    tables = list(db.Model.metadata.sorted_tables)
    owned: dict[str, list[_Link]] = {ROOT_TABLE: []}
    changed = True
    while changed:
        changed = False
        for table in tables:
            if table.name in _NOT_OWNED:
                continue
            for fk in table.foreign_keys:
                parent = fk.column.table
                key = (table.name, fk.parent.name)
                if parent.name not in owned or key in DETACHED or table.name == parent.name:
                    continue
                links = owned.setdefault(table.name, [])
                if all(link.column is not fk.parent for link in links):
                    links.append(_Link(table, fk.parent, parent, fk.column))
                    changed = True
    detached = [
        _Link(table, fk.parent, fk.column.table, fk.column)
        for table in tables
        for fk in table.foreign_keys
        if (table.name, fk.parent.name) in DETACHED and fk.column.table.name in owned
    ]
    order = [t for t in reversed(tables) if t.name in owned]
    return order, owned, detached


class _Plan:
    """WHERE clauses selecting the rows an instance selection owns, table by table."""

    def __init__(self, expired: Any) -> None:
        self.order, self.links, self.detached = _ownership()
        self.expired = expired
        self._cache: dict[str, Any] = {}

    def where(self, table: Table) -> Any:
        """The rows of an owned table that belong to the expired instances."""
        if table.name not in self._cache:
            clause: Any
            if table.name == ROOT_TABLE:
                clause = table.c.id.in_(self.expired)
            else:
                clause = or_(
                    *[
                        link.column.in_(select(link.referred).where(self.where(link.parent)))
                        for link in self.links[table.name]
                    ]
                )
            self._cache[table.name] = clause
        return self._cache[table.name]

    def events(self) -> Any:
        """The audit events of the expired instances (and of their tasks)."""
        tasks = select(HumanTask.id).where(HumanTask.instance_id.in_(self.expired))
        return or_(AuditEvent.instance_id.in_(self.expired), AuditEvent.task_id.in_(tasks))

    def orphan_blobs(self) -> Any:
        """File contents used only by attachments being deleted."""
        attachments = Attachment.__table__
        doomed = select(Attachment.sha256).where(self.where(attachments))
        kept = exists().where(Attachment.sha256 == Blob.sha256, ~self.where(attachments))
        return and_(Blob.sha256.in_(doomed), ~kept)

    def count(self) -> tuple[dict[str, int], dict[str, int]]:
        """Rows that would be deleted per table, and links that would be cut."""
        rows: dict[str, int] = {}
        for table in self.order:
            n = db.session.execute(
                select(func.count()).select_from(table).where(self.where(table))
            ).scalar_one()
            if n:
                rows[table.name] = int(n)
        blobs = db.session.execute(select(func.count(Blob.sha256)).where(self.orphan_blobs()))
        if n_blobs := int(blobs.scalar_one()):
            rows[Blob.__tablename__] = n_blobs
        detached: dict[str, int] = {}
        for link in self.detached:
            n = db.session.execute(
                select(func.count())
                .select_from(link.table)
                .where(link.column.in_(select(link.referred).where(self.where(link.parent))))
            ).scalar_one()
            if n:
                detached[f"{link.table.name}.{link.column.name}"] = int(n)
        return rows, detached

    def delete_rows(self) -> tuple[dict[str, int], dict[str, int]]:
        """Cut the detached links, delete the owned rows children first, then orphan blobs."""
        detached: dict[str, int] = {}
        for link in self.detached:
            done = db.session.execute(
                update(link.table)
                .where(link.column.in_(select(link.referred).where(self.where(link.parent))))
                .values({link.column.name: None})
            )
            if n := _rowcount(done):
                detached[f"{link.table.name}.{link.column.name}"] = n
        # Blobs are chosen while their attachments still exist, deleted once they are gone.
        orphans = select(Blob.sha256).where(self.orphan_blobs())
        blob_ids = list(db.session.execute(orphans).scalars())
        rows: dict[str, int] = {}
        for table in self.order:
            done = db.session.execute(delete(table).where(self.where(table)))
            if n := _rowcount(done):
                rows[table.name] = n
        for start in range(0, len(blob_ids), 500):
            chunk = blob_ids[start : start + 500]
            done = db.session.execute(delete(Blob).where(Blob.sha256.in_(chunk)))
            rows[Blob.__tablename__] = rows.get(Blob.__tablename__, 0) + _rowcount(done)
        return rows, detached


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)


def _kept_digest(through_seq: int) -> tuple[int, str]:
    """Count and SHA-256 of the "seq:hash" lines of the events kept up to through_seq."""
    digest = hashlib.sha256()
    count = 0
    after = 0
    while True:
        rows = db.session.execute(
            select(AuditEvent.seq, AuditEvent.hash)
            .where(AuditEvent.seq > after, AuditEvent.seq <= through_seq)
            .order_by(AuditEvent.seq)
            .limit(_BATCH)
        ).all()
        if not rows:
            return count, digest.hexdigest()
        for seq, digest_hex in rows:
            digest.update(audit.retained_digest_line(seq, digest_hex))
        count += len(rows)
        after = rows[-1].seq


def purge(before: datetime, *, confirm: bool, actor: User | None = None) -> PurgeResult:
    """Delete the instances past retention at `before`, with their events (only with confirm).

    Without confirm it only counts (events, and rows per table). The chain must verify first:
    purging a tampered log would destroy the evidence. The deletion and its checkpoint event
    are one transaction.
    """
    moment = _check_as_of(before)
    expired = select(ProcessInstance.id).where(_expired_condition(moment))
    plan = _Plan(expired)
    per_process = dict(
        db.session.execute(
            select(ProcessInstance.process_key, func.count(AuditEvent.seq))
            .join(AuditEvent, AuditEvent.instance_id == ProcessInstance.id)
            .where(ProcessInstance.id.in_(expired))
            .group_by(ProcessInstance.process_key)
        )
        .tuples()
        .all()
    )
    instance_count = db.session.execute(
        select(func.count()).select_from(expired.subquery())
    ).scalar_one()
    events = db.session.execute(
        select(func.count(AuditEvent.seq)).where(plan.events())
    ).scalar_one()
    result = PurgeResult(moment, confirm, int(instance_count), int(events), per_process=per_process)
    result.rows, result.detached = plan.count()
    if not confirm or (events == 0 and instance_count == 0):
        db.session.rollback()
        return result
    check = audit.verify()
    if not check["ok"]:
        db.session.rollback()
        raise Conflict(
            f"Цепочка аудита нарушена (событие № {check['first_bad_seq']}): удаление по сроку "
            "хранения запрещено, пока нарушение не расследовано."
        )
    with transaction():
        # Take the chain lock first: nothing may be appended while the checkpoint is computed.
        db.session.execute(
            select(AuditHead).where(AuditHead.id == 1).with_for_update()
        ).scalar_one()
        previous = audit.latest_checkpoint()
        prev_through = int(previous[1]["through_seq"]) if previous else 0
        max_purged = db.session.execute(
            select(func.max(AuditEvent.seq)).where(plan.events())
        ).scalar_one()
        if max_purged is not None and max_purged >= prev_through:
            through_seq = int(max_purged)
            through_hash = db.session.execute(
                select(AuditEvent.hash).where(AuditEvent.seq == through_seq)
            ).scalar_one()
        elif previous is not None:
            through_seq, through_hash = prev_through, previous[1]["through_hash"]
        else:  # rows without events (purged by an earlier, events-only purge): no stretch
            through_seq, through_hash = 0, audit.GENESIS_HASH
        instance_ids = sorted(db.session.execute(expired).scalars().all())
        keys = db.session.execute(
            select(ProcessInstance.process_key).where(ProcessInstance.id.in_(expired)).distinct()
        ).scalars()
        years = {k: retention_years(k) for k in sorted(keys)}
        deleted = _rowcount(
            db.session.execute(
                delete(AuditEvent).where(plan.events()).execution_options(synchronize_session=False)
            )
        )
        rows, detached = plan.delete_rows()
        kept_count, kept_digest = _kept_digest(through_seq)
        checkpoint = audit.record(
            audit.CHECKPOINT_KIND,
            actor,
            payload={
                "before": moment.isoformat(),
                "retention_years": years,
                "instances": len(instance_ids),
                "instance_ids": instance_ids,
                "events": deleted,
                "per_process": per_process,
                "rows": rows,
                "detached": detached,
                "through_seq": through_seq,
                "through_hash": through_hash,
                "retained_count": kept_count,
                "retained_digest": kept_digest,
            },
        )
        checkpoint_seq = checkpoint.seq
    db.session.expunge_all()  # rows deleted with Core must not linger in the identity map
    result.events = deleted
    result.rows, result.detached = rows, detached
    result.checkpoint_seq = checkpoint_seq
    result.through_seq = through_seq
    return result
