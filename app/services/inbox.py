"""The officials' task inbox: tabs, filters, sorting, pages and counts, all as SQL.

No list here ever loads a workflow: every figure comes from human_task, its candidates and
process_instance, in a fixed number of statements whatever the number of tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import (
    HumanTask,
    OrgUnit,
    ProcessInstance,
    ProcessVersion,
    RoleGrant,
    TaskCandidate,
    User,
)
from ..models.base import utcnow
from . import assignment, substitution
from .errors import NotAllowed
from .roles import ZONE_ROLES

TABS = ("mine", "available", "zone")
DUE_STATES = ("overdue", "today", "none")
SORT_KEYS = ("process", "task", "subject", "org_unit", "created", "due", "claimed_by")
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class InboxQuery:
    """What the official asked to see: a tab, filters, an order and a page."""

    tab: str = ""  # "": «Мои задачи», or «Доступные» when nothing is claimed yet
    process_key: str | None = None
    org_unit_id: int | None = None
    due: str | None = None
    search: str = ""
    sort: str = "due"
    descending: bool = False
    page: int = 1
    per_page: int = 25

    def normalised(self) -> InboxQuery:
        """The same query with unknown values replaced by the defaults."""
        return replace(
            self,
            tab=self.tab if self.tab in TABS else "",
            due=self.due if self.due in DUE_STATES else None,
            search=self.search.strip()[:200],
            sort=self.sort if self.sort in SORT_KEYS else "due",
            page=max(self.page, 1),
            per_page=min(max(self.per_page, 1), MAX_PER_PAGE),
        )


@dataclass(frozen=True)
class InboxRow:
    """One open task as a line of the inbox."""

    task_id: int
    instance_id: int
    process_key: str
    process_name: str
    task_name: str
    subject: str
    org_unit_name: str
    created_at: datetime
    due_at: datetime | None
    overdue: bool
    claimed_by: str | None
    claimed_by_me: bool
    offered_to_me: bool

    @property
    def actionable(self) -> bool:
        """True when the official may open the task itself (it is offered to or held by them)."""
        return self.claimed_by_me or self.offered_to_me


@dataclass
class InboxPage:
    """A page of the inbox with the counts of every tab and the filter choices."""

    query: InboxQuery
    rows: list[InboxRow]
    total: int
    counts: dict[str, int]
    is_supervisor: bool
    processes: list[tuple[str, str]] = field(default_factory=list)
    org_units: list[tuple[int, str]] = field(default_factory=list)

    @property
    def pages(self) -> int:
        """Number of pages (at least one)."""
        return max(1, -(-self.total // self.query.per_page))


def _zone_units(actor: User, moment: datetime) -> Any:
    """Recursive CTE: the units where actor holds a zone role, and all units below them."""
    roots = select(RoleGrant.org_unit_id.label("id")).where(
        RoleGrant.user_id == actor.id,
        RoleGrant.role.in_(sorted(ZONE_ROLES)),
        assignment.grant_in_force(moment),
    )
    tree = roots.cte("zone_units", recursive=True)
    below = aliased(OrgUnit)
    return tree.union(select(below.id).where(below.parent_id == tree.c.id))


def _answers_for(actor: User) -> Any:
    """SQL: the actor's id and the ids of the users the actor substitutes now."""
    return union_all(
        select(literal(actor.id).label("user_id")), substitution.substituted_now(actor)
    )


def _offered_ids(users: Any) -> Any:
    """SQL: ids of the tasks offered to any of users (substitution.candidate_match, unrolled).

    Driven by ix_human_task_candidate_user; a subquery inside an OR (as in
    substitution.offered_to) makes PostgreSQL hash every candidate row instead.
    """
    return select(TaskCandidate.human_task_id).where(
        TaskCandidate.user_id.in_(users), TaskCandidate.reason != substitution.SUBSTITUTE
    )


def _tab_condition(tab: str, actor: User, moment: datetime, users: Any) -> Any:
    if tab == "mine":
        return HumanTask.claimed_by_id == actor.id
    if tab == "available":
        return and_(HumanTask.claimed_by_id.is_(None), HumanTask.id.in_(_offered_ids(users)))
    zone = select(_zone_units(actor, moment).c.id)
    return or_(HumanTask.org_unit_id.in_(zone), ProcessInstance.org_unit_id.in_(zone))


def _tab_count(tab: str, actor: User, moment: datetime, users: Any) -> Any:
    stmt = select(func.count(HumanTask.id)).select_from(HumanTask)
    if tab == "zone":
        stmt = stmt.join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
    return (
        stmt.where(HumanTask.status == "open", _tab_condition(tab, actor, moment, users))
        .scalar_subquery()
        .label(tab)
    )


def _day_bounds(moment: datetime, tz: str) -> tuple[datetime, datetime]:
    local = moment.astimezone(ZoneInfo(tz))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def _filters(query: InboxQuery, moment: datetime, tz: str) -> list[Any]:
    result: list[Any] = []
    if query.process_key:
        result.append(HumanTask.process_key == query.process_key)
    if query.org_unit_id is not None:
        result.append(ProcessInstance.org_unit_id == query.org_unit_id)
    if query.due == "overdue":
        result.append(HumanTask.due_at < moment)
    elif query.due == "today":
        start, end = _day_bounds(moment, tz)
        result.append(and_(HumanTask.due_at >= start, HumanTask.due_at < end))
    elif query.due == "none":
        result.append(HumanTask.due_at.is_(None))
    if query.search:
        result.append(_subject_matches(query.search))
    return result


def _subject_matches(text: str) -> Any:
    # SQLite folds case for ASCII only: also try the usual Cyrillic spellings of the words.
    variants = {text, text.lower(), text.upper(), text.capitalize(), text.title()}
    return or_(*(ProcessInstance.title.icontains(v, autoescape=True) for v in sorted(variants)))


def _order(query: InboxQuery, claimant: Any) -> list[Any]:
    columns: dict[str, Any] = {
        "process": ProcessVersion.name,
        "task": HumanTask.name,
        "subject": ProcessInstance.title,
        "org_unit": OrgUnit.name,
        "created": HumanTask.created_at,
        "due": HumanTask.due_at,
        "claimed_by": claimant.username,
    }
    column = columns[query.sort]
    ordered = column.desc() if query.descending else column.asc()
    # Tasks without a due date (or a claimant) go last in both directions.
    return [column.is_(None), ordered, HumanTask.id]


def list_tasks(actor: User, query: InboxQuery, tz: str = "Europe/Moscow") -> InboxPage:
    """One page of the actor's inbox tab with every tab's count and the filter choices."""
    query = query.normalised()
    moment = utcnow()
    is_supervisor = exists().where(
        RoleGrant.user_id == actor.id,
        RoleGrant.role.in_(sorted(ZONE_ROLES)),
        assignment.grant_in_force(moment),
    )
    users = _answers_for(actor)
    head = db.session.execute(
        select(
            _tab_count("mine", actor, moment, users),
            _tab_count("available", actor, moment, users),
            _tab_count("zone", actor, moment, users),
            is_supervisor.label("supervisor"),
        )
    ).one()
    counts = {"mine": head.mine, "available": head.available, "zone": head.zone}
    if not query.tab:
        query = replace(
            query, tab="available" if counts["available"] and not counts["mine"] else "mine"
        )
    if query.tab == "zone" and not head.supervisor:
        raise NotAllowed(
            "Вкладка «Все в моей зоне» доступна руководителям, аудиторам и администраторам."
        )

    claimant = aliased(User)
    in_tab = [HumanTask.status == "open", _tab_condition(query.tab, actor, moment, users)]
    joined = (
        select(HumanTask.id)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .join(ProcessVersion, ProcessVersion.id == ProcessInstance.process_version_id)
        .join(OrgUnit, OrgUnit.id == ProcessInstance.org_unit_id)
        .outerjoin(claimant, claimant.id == HumanTask.claimed_by_id)
    )
    narrowing = _filters(query, moment, tz)
    filtered = joined.where(*in_tab, *narrowing)
    if narrowing:
        total = db.session.execute(
            select(func.count()).select_from(filtered.subquery())
        ).scalar_one()
    else:  # the tab's own count, already read above: no second pass over the tab's tasks
        total = counts[query.tab]
    rows = db.session.execute(
        filtered.add_columns(
            HumanTask.instance_id,
            HumanTask.process_key,
            ProcessVersion.name.label("process_name"),
            HumanTask.name.label("task_name"),
            ProcessInstance.title,
            OrgUnit.name.label("org_unit_name"),
            HumanTask.created_at,
            HumanTask.due_at,
            HumanTask.claimed_by_id,
            claimant.username,
            claimant.full_name,
            HumanTask.id.in_(_offered_ids(users)).label("offered"),
        )
        .order_by(*_order(query, claimant))
        .offset((query.page - 1) * query.per_page)
        .limit(query.per_page)
    ).all()
    choices = db.session.execute(
        joined.with_only_columns(
            HumanTask.process_key, ProcessVersion.name, ProcessInstance.org_unit_id, OrgUnit.name
        )
        .where(*in_tab)
        .distinct()
    ).all()
    processes = sorted({key: name for key, name, _u, _n in choices}.items(), key=lambda p: p[1])
    units = sorted({uid: uname for _k, _p, uid, uname in choices}.items(), key=lambda u: u[1])
    return InboxPage(
        query=query,
        rows=[_row(r, actor, moment) for r in rows],
        total=total,
        counts=counts,
        is_supervisor=bool(head.supervisor),
        processes=processes,
        org_units=units,
    )


def _row(r: Any, actor: User, moment: datetime) -> InboxRow:
    return InboxRow(
        task_id=r.id,
        instance_id=r.instance_id,
        process_key=r.process_key,
        process_name=r.process_name,
        task_name=r.task_name,
        subject=r.title,
        org_unit_name=r.org_unit_name,
        created_at=r.created_at,
        due_at=r.due_at,
        overdue=r.due_at is not None and r.due_at < moment,
        claimed_by=(r.full_name or r.username) if r.claimed_by_id else None,
        claimed_by_me=r.claimed_by_id == actor.id,
        offered_to_me=bool(r.offered),
    )
