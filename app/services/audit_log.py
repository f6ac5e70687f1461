"""Reading the audit log: filtered, paginated, limited to the reader's scope."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, or_, select

from ..extensions import db
from ..models import AuditEvent, AuditHead, OrgUnit, ProcessInstance, User
from ..models.base import utcnow
from . import assignment
from .errors import NotAllowed, NotFound
from .tasks import Page

READER_ROLES = ("auditor", "admin")
# Roles that never change anything: a user holding only these is refused every write.
READ_ONLY_ROLES = frozenset({"auditor"})
EXPORT_BATCH = 1000
# Kinds recorded by the product (docs/audit.md lists who records each); filters accept any.
KNOWN_KINDS = (
    "instance_started",
    "instance_completed",
    "instance_migrated",
    "task_offered",
    "task_claimed",
    "task_unclaimed",
    "task_delegated",
    "task_reassigned",
    "task_reoffered",
    "task_completed",
    "task_cancelled",
    "timer_fired",
    "timer_failed",
    "reminder_sent",
    "escalation",
    "scheduled_start_failed",
    "signature_given",
    "attachment_added",
    "comment_added",
    "document_generated",
    "notification_sent",
    "personal_data_viewed",
    "user_record_viewed",
    "own_data_requested",
    "mma_register_exported",
    "audit_exported",
    "retention_purged",
    "process_deployed",
    "role_granted",
    "role_revoked",
    "substitution_created",
    "substitution_cancelled",
    "org_unit_created",
    "org_unit_renamed",
    "org_unit_moved",
    "org_unit_closed",
    "org_imported",
    "user_created",
    "user_activated",
    "user_deactivated",
    "user_password_reset",
    "user_password_set",
    "login_succeeded",
    "login_failed",
    "login_locked",
    "logout",
    "demo_seeded",
)


@dataclass(frozen=True)
class ReaderScope:
    """Which events a reader may see: units of their subtree, and unit-less ones at the root."""

    unit_ids: frozenset[int] | None  # None: everything (the command line operator)
    includes_unitless: bool
    roots: frozenset[int] = frozenset()
    complete: bool = False  # every unit and the unit-less events: the whole log

    def condition(self) -> Any:
        """The WHERE clause limiting events to the scope (None: no limit)."""
        if self.unit_ids is None or self.complete:
            return None
        cond: Any = AuditEvent.org_unit_id.in_(sorted(self.unit_ids))
        if self.includes_unitless:
            cond = or_(cond, AuditEvent.org_unit_id.is_(None))
        return cond

    def sees_unit(self, unit_id: int | None) -> bool:
        """True when events of this unit (None: unit-less) are in scope."""
        if self.unit_ids is None:
            return True
        return self.includes_unitless if unit_id is None else unit_id in self.unit_ids


EVERYTHING = ReaderScope(unit_ids=None, includes_unitless=True, complete=True)


@dataclass(frozen=True)
class AuditFilter:
    """The filters of the audit log; every one is optional and they combine with AND."""

    process_key: str | None = None
    instance_id: int | None = None
    task_id: int | None = None
    actor: str | None = None
    org_unit_id: int | None = None
    kinds: tuple[str, ...] = field(default_factory=tuple)
    since: datetime | None = None
    until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """The filters that are set, JSON-ready (for export headers and audit payloads)."""
        result: dict[str, Any] = {}
        for name in (
            "process_key",
            "instance_id",
            "task_id",
            "actor",
            "org_unit_id",
            "since",
            "until",
        ):
            value = getattr(self, name)
            if value is not None and value != "":
                result[name] = value.isoformat() if isinstance(value, datetime) else value
        if self.kinds:
            result["kinds"] = list(self.kinds)
        return result

    @property
    def is_filtered(self) -> bool:
        """True when any filter narrows the log (gaps between exported events are expected)."""
        return bool(self.as_dict())


def parse_kinds(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Event kinds from `a,b` or a repeated parameter, without blanks and duplicates."""
    if not value:
        return ()
    parts = [value] if isinstance(value, str) else list(value)
    kinds: list[str] = []
    for part in parts:
        for kind in str(part).split(","):
            kind = kind.strip()
            if kind and kind not in kinds:
                kinds.append(kind)
    return tuple(kinds)


def readable_units(actor: User) -> tuple[set[int], bool]:
    """Units whose events the actor may read, and whether unit-less events are included."""
    roots = assignment.units_with_role(actor, READER_ROLES)
    if not roots:
        raise NotAllowed("Журнал аудита доступен аудиторам и администраторам.")
    top_level = db.session.execute(
        select(OrgUnit.id).where(OrgUnit.id.in_(roots), OrgUnit.parent_id.is_(None))
    ).first()
    return assignment.subtree_ids(roots), top_level is not None


def reader_scope(actor: User | None) -> ReaderScope:
    """The actor's scope (NotAllowed unless auditor or admin); None is the CLI operator."""
    if actor is None:
        return EVERYTHING
    units, unitless = readable_units(actor)
    roots = assignment.units_with_role(actor, READER_ROLES)
    complete = (
        unitless and len(units) == db.session.execute(select(func.count(OrgUnit.id))).scalar()
    )
    return ReaderScope(frozenset(units), unitless, frozenset(roots), complete)


def require_reader(actor: User) -> None:
    """Only auditors and admins may read or verify the log."""
    readable_units(actor)


def is_read_only(user: User) -> bool:
    """True when every role the user holds now is a read-only one (an auditor and no more)."""
    moment = utcnow()
    roles = {g.role for g in user.grants if g.is_valid_at(moment)}
    return bool(roles) and roles <= READ_ONLY_ROLES


def conditions(scope: ReaderScope, flt: AuditFilter) -> list[Any]:
    """The WHERE clauses of a filtered view in a scope."""
    where: list[Any] = []
    scope_cond = scope.condition()
    if scope_cond is not None:
        where.append(scope_cond)
    if flt.process_key:
        where.append(
            AuditEvent.instance_id.in_(
                select(ProcessInstance.id).where(ProcessInstance.process_key == flt.process_key)
            )
        )
    if flt.instance_id is not None:
        where.append(AuditEvent.instance_id == flt.instance_id)
    if flt.task_id is not None:
        where.append(AuditEvent.task_id == flt.task_id)
    if flt.actor:
        where.append(AuditEvent.actor_username == flt.actor)
    if flt.org_unit_id is not None:
        where.append(AuditEvent.org_unit_id.in_(sorted(assignment.subtree_ids([flt.org_unit_id]))))
    if flt.kinds:
        where.append(AuditEvent.kind.in_(list(flt.kinds)))
    if flt.since is not None:
        where.append(AuditEvent.occurred_at >= flt.since)
    if flt.until is not None:
        where.append(AuditEvent.occurred_at < flt.until)
    return where


def events(
    actor: User,
    flt: AuditFilter | None = None,
    *,
    instance_id: int | None = None,
    actor_name: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """A page of audit events, oldest first, visible to the actor.

    The keyword filters are the original signature; `flt` carries all of them.
    """
    if flt is None:
        flt = AuditFilter(
            instance_id=instance_id,
            actor=actor_name,
            kinds=parse_kinds(kind),
            since=since,
            until=until,
        )
    page = max(page, 1)
    per_page = min(max(per_page, 1), 500)
    query = select(AuditEvent).where(*conditions(reader_scope(actor), flt))
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows: list[Any] = list(
        db.session.execute(
            query.order_by(AuditEvent.seq).offset((page - 1) * per_page).limit(per_page)
        ).scalars()
    )
    return Page(rows, total, page, per_page)


def last_seq() -> int:
    """The sequence number of the newest event (0 when the log is empty)."""
    head = db.session.execute(select(AuditHead.last_seq).where(AuditHead.id == 1)).scalar()
    return int(head or 0)


def iter_rows(
    scope: ReaderScope,
    flt: AuditFilter,
    *,
    upto_seq: int | None = None,
    batch: int = EXPORT_BATCH,
) -> Iterator[Row[Any]]:
    """Every event of a filtered view, oldest first, read in keyset batches by seq.

    Plain rows (no ORM objects, no identity map), so memory stays flat however long the log.
    """
    table = AuditEvent.__table__
    where = conditions(scope, flt)
    if upto_seq is not None:
        where.append(AuditEvent.seq <= upto_seq)
    after = 0
    while True:
        rows = db.session.execute(
            select(table)
            .where(AuditEvent.seq > after, *where)
            .order_by(AuditEvent.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq
        if len(rows) < batch:
            return


def unit_id_for_slug(slug: str) -> int:
    """The id of an org unit named by slug (NotFound otherwise), for filters given by slug."""
    unit_id = db.session.execute(select(OrgUnit.id).where(OrgUnit.slug == slug)).scalar()
    if unit_id is None:
        raise NotFound(
            f"Организация «{slug}» не найдена.", {"org_unit": ["Нет такой организации."]}
        )
    return int(unit_id)


@dataclass(frozen=True)
class Change:
    """One changed value of an event that records a change (before → after)."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class EventRow:
    """An event as the auditor's page shows it, with the names its ids stand for."""

    event: AuditEvent
    org_unit_name: str | None
    instance_title: str | None
    process_key: str | None
    changes: list[Change]
    data: dict[str, Any] | None
    legal_basis: str | None
    details: dict[str, Any]  # the payload without what is shown on its own (legal basis)


def changes_of(payload: dict[str, Any]) -> list[Change]:
    """Before/after pairs of a payload: whole values, or per key when both are objects."""
    if "before" not in payload and "after" not in payload:
        return []
    before, after = payload.get("before"), payload.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(set(before) | set(after))
        return [
            Change(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)
        ]
    return [Change("", before, after)]


def describe(events: list[AuditEvent]) -> list[EventRow]:
    """Rows for a page of events: unit names, instance titles and process keys in two queries."""
    unit_ids = {e.org_unit_id for e in events if e.org_unit_id is not None}
    instance_ids = {e.instance_id for e in events if e.instance_id is not None}
    units = dict(
        db.session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(unit_ids)))
        .tuples()
        .all()
    )
    instances = {
        row.id: (row.title, row.process_key)
        for row in db.session.execute(
            select(ProcessInstance.id, ProcessInstance.title, ProcessInstance.process_key).where(
                ProcessInstance.id.in_(instance_ids)
            )
        )
    }
    rows = []
    for e in events:
        title, key = instances.get(e.instance_id, (None, None)) if e.instance_id else (None, None)
        payload = e.payload or {}
        data = payload.get("data")
        rows.append(
            EventRow(
                event=e,
                org_unit_name=units.get(e.org_unit_id) if e.org_unit_id else None,
                instance_title=title,
                process_key=key,
                changes=changes_of(payload),
                data=data if isinstance(data, dict) else None,
                legal_basis=payload.get("legal_basis") or None,
                details={k: v for k, v in payload.items() if k != "legal_basis"},
            )
        )
    return rows


@dataclass(frozen=True)
class FilterChoices:
    """What the filter form offers: processes, units in scope, event kinds."""

    processes: list[tuple[str, str]]
    org_units: list[tuple[int, str]]
    kinds: tuple[str, ...] = KNOWN_KINDS


def filter_choices(actor: User) -> FilterChoices:
    """The choices of the log's filter form for this reader (NotAllowed for others)."""
    from .deployment import latest_versions

    scope = reader_scope(actor)
    rows = db.session.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.parent_id)).tuples().all()
    children: dict[int | None, list[tuple[int, str]]] = {}
    for unit_id, name, parent_id in rows:
        children.setdefault(parent_id, []).append((unit_id, name))
    units: list[tuple[int, str]] = []

    def walk(parent: int | None, depth: int) -> None:
        for unit_id, name in sorted(children.get(parent, []), key=lambda u: u[1]):
            if scope.sees_unit(unit_id):
                units.append((unit_id, "\u2003" * depth + name))
            walk(unit_id, depth + 1)

    walk(None, 0)
    processes = [(v.key, v.name) for v in latest_versions()]
    # Kinds someone added after this list was written still show up (index-only scan).
    present = set(db.session.execute(select(AuditEvent.kind).distinct()).scalars())
    kinds = KNOWN_KINDS + tuple(sorted(present - set(KNOWN_KINDS)))
    return FilterChoices(processes=processes, org_units=units, kinds=kinds)


def is_reader(user: User) -> bool:
    """True when the user may read the audit log now (auditor or admin somewhere)."""
    return bool(assignment.units_with_role(user, READER_ROLES))
