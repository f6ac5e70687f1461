"""Monitoring across tiers: the state of the five procedures per municipality and per school.

Every figure is an aggregate SQL query over the monitoring summary (`instance_fact`,
`roadmap_measure_fact`, kept by `monitoring_facts`), the instance rows, the human-task mirror
and the role grants. No workflow is ever loaded. Scope: `region_official` and `cnppm_head`
see every municipality under their region, `municipal_head` and `mms_head` their
municipality, a `director` their school; nobody else sees the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, false, func, or_, select

from .. import parallel_reads
from ..extensions import db
from ..models import (
    HumanTask,
    InstanceFact,
    OrgUnit,
    RoadmapMeasureFact,
    RoleGrant,
    User,
)
from ..models.base import utcnow
from . import assignment
from .errors import NotAllowed, NotFound
from .monitoring_cycles import ProcessCycle, StepCycle, cycle_times, process_names
from .monitoring_facts import SchoolYear

DASHBOARD_ROLES = ("region_official", "cnppm_head", "municipal_head", "mms_head", "director")
UNFINISHED = ("running", "waiting", "error")
DENIED = "Мониторинг доступен руководителям регионального, муниципального и школьного уровней."


@dataclass(frozen=True)
class Scope:
    """Municipalities seen whole, and schools seen without the rest of their municipality."""

    municipalities: frozenset[int]
    schools: frozenset[int]

    def condition(self) -> Any:
        """WHERE clause on `instance_fact` selecting the instances in scope."""
        parts = []
        if self.municipalities:
            parts.append(InstanceFact.municipality_id.in_(self.municipalities))
        if self.schools:
            parts.append(InstanceFact.school_id.in_(self.schools))
        return or_(*parts) if parts else false()


@dataclass
class Agreement:
    instance_id: int
    outcome: str
    since: datetime | None
    detail: str | None


@dataclass
class Roadmap:
    instance_id: int
    approved_at: datetime | None
    detail: str | None
    measures: dict[str, int] = field(default_factory=dict)
    overdue: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.measures.values())

    @property
    def total_overdue(self) -> int:
        return sum(self.overdue.values())


@dataclass
class Counts:
    """Figures shared by a municipality row and a school row."""

    plans_approved: int = 0
    plans_open: int = 0
    attestation_open: int = 0
    attestation_granted: int = 0
    attestation_refused: int = 0
    overdue_tasks: int = 0
    mma_members: int = 0


@dataclass
class SchoolRow(Counts):
    id: int = 0
    name: str = ""
    slug: str = ""
    municipality_id: int | None = None

    @property
    def status(self) -> str:
        """Colour of the school in the grid: overdue work first, then the МО plans."""
        if self.overdue_tasks:
            return "overdue"
        if self.plans_approved:
            return "approved"
        if self.plans_open:
            return "in_progress"
        return "none"


@dataclass
class MunicipalityRow(Counts):
    id: int = 0
    name: str = ""
    slug: str = ""
    whole: bool = True  # False: only some schools are in scope (a director's view)
    agreement: Agreement | None = None
    agreements_open: int = 0
    roadmap: Roadmap | None = None
    roadmaps_open: int = 0
    mma_schools: int = 0
    mma_selections_open: int = 0
    schools: list[SchoolRow] = field(default_factory=list)

    @property
    def schools_with_plan(self) -> int:
        return sum(1 for s in self.schools if s.plans_approved)


@dataclass
class Dashboard:
    year: SchoolYear
    years: list[SchoolYear]
    generated_at: datetime
    municipalities: list[MunicipalityRow]
    processes: list[ProcessCycle]
    steps: list[StepCycle]
    process_names: dict[str, str]
    selected: int | None = None
    # Municipalities of the whole scope (id, name): the selector's choices.
    choices: list[tuple[int, str]] = field(default_factory=list)

    @property
    def schools(self) -> list[SchoolRow]:
        return [s for m in self.municipalities for s in m.schools]

    @property
    def totals(self) -> Counts:
        total = Counts()
        for row in self.municipalities:
            for name in Counts.__dataclass_fields__:
                setattr(total, name, getattr(total, name) + getattr(row, name))
        return total


# --- scope ---------------------------------------------------------------------------------


def scope_of(actor: User) -> Scope:
    """The actor's dashboard scope; NotAllowed (403) without one of the five roles."""
    held = assignment.units_with_role(actor, DASHBOARD_ROLES)
    if not held:
        raise NotAllowed(DENIED)
    units = db.session.execute(select(OrgUnit).where(OrgUnit.id.in_(held))).scalars().all()
    municipalities: set[int] = set()
    schools: set[int] = set()
    regions = [u.id for u in units if u.tier == "region"]
    if regions:
        # Three tiers (DOMAIN.md): a region's municipalities are its direct children.
        municipalities |= set(
            db.session.execute(
                select(OrgUnit.id).where(
                    OrgUnit.parent_id.in_(regions), OrgUnit.tier == "municipality"
                )
            ).scalars()
        )
    municipalities |= {u.id for u in units if u.tier == "municipality"}
    schools |= {u.id for u in units if u.tier == "institution"}
    if municipalities:
        schools -= set(
            db.session.execute(
                select(OrgUnit.id).where(OrgUnit.parent_id.in_(municipalities))
            ).scalars()
        )
    if not municipalities and not schools:
        raise NotAllowed(DENIED)
    return Scope(frozenset(municipalities), frozenset(schools))


def narrow(scope: Scope, municipality_id: int | None) -> Scope:
    """The scope limited to one municipality; NotAllowed when it lies outside the scope."""
    if municipality_id is None:
        return scope
    unit = db.session.get(OrgUnit, municipality_id)
    if unit is None or unit.tier != "municipality":
        raise NotFound("Муниципалитет не найден.", {"municipality": ["Нет такого муниципалитета."]})
    if municipality_id in scope.municipalities:
        return Scope(frozenset({municipality_id}), frozenset())
    schools = set(
        db.session.execute(
            select(OrgUnit.id).where(
                OrgUnit.id.in_(scope.schools), OrgUnit.parent_id == municipality_id
            )
        ).scalars()
    )
    if not schools:
        raise NotAllowed(f"Муниципалитет «{unit.name}» не входит в вашу зону мониторинга.")
    return Scope(frozenset(), frozenset(schools))


def municipality_by_slug(slug: str) -> int:
    """Id of a municipality by its slug (NotFound otherwise)."""
    unit_id = db.session.execute(
        select(OrgUnit.id).where(OrgUnit.slug == slug, OrgUnit.tier == "municipality")
    ).scalar_one_or_none()
    if unit_id is None:
        raise NotFound("Муниципалитет не найден.", {"municipality": ["Нет такого муниципалитета."]})
    return int(unit_id)


def available_years(now: datetime | None = None) -> list[SchoolYear]:
    """School years from the earliest instance to the latest, and the current one, newest first."""
    current = SchoolYear.of(now or utcnow())
    low, high = db.session.execute(
        select(func.min(InstanceFact.school_year), func.max(InstanceFact.school_year))
    ).one()
    years = set(range(low, high + 1)) if low is not None else set()
    years.add(current.first)
    return [SchoolYear(y) for y in sorted(years, reverse=True)]


# --- the dashboard --------------------------------------------------------------------------


def dashboard(
    actor: User,
    year: SchoolYear | None = None,
    municipality_id: int | None = None,
    now: datetime | None = None,
) -> Dashboard:
    """All figures of the actor's scope for a school year (default: the current one)."""
    now = now or utcnow()
    year = year or SchoolYear.of(now)
    whole_scope = scope_of(actor)
    scope = narrow(whole_scope, municipality_id)
    rows = _municipality_rows(scope)
    by_muni = {r.id: r for r in rows}
    by_school = {s.id: s for r in rows for s in r.schools}
    # Independent aggregates, each filling its own fields of the rows: on PostgreSQL they run
    # at once on separate connections (the page waits for the slowest, not for the sum).
    *_, (processes, steps) = parallel_reads.at_once(
        lambda: _agreements(by_muni, scope, year),
        lambda: _roadmaps(by_muni, scope, year, now),
        lambda: _open_counts(by_muni, scope),
        lambda: _plans_and_attestation(by_muni, by_school, scope, year),
        lambda: _overdue(by_muni, by_school, scope, now),
        lambda: _mma(by_muni, by_school, scope),
        lambda: cycle_times(scope, year),
    )
    return Dashboard(
        year=year,
        years=available_years(now),
        generated_at=now,
        municipalities=rows,
        processes=processes,
        steps=steps,
        process_names=process_names(),
        selected=municipality_id,
        choices=_choices(whole_scope),
    )


def _municipality_rows(scope: Scope) -> list[MunicipalityRow]:
    partial_parents = set(
        db.session.execute(select(OrgUnit.parent_id).where(OrgUnit.id.in_(scope.schools))).scalars()
    )
    units = db.session.execute(
        select(OrgUnit)
        .where(OrgUnit.id.in_(scope.municipalities | partial_parents))
        .order_by(OrgUnit.name)
    ).scalars()
    rows = [
        MunicipalityRow(id=u.id, name=u.name, slug=u.slug, whole=u.id in scope.municipalities)
        for u in units
    ]
    by_id = {r.id: r for r in rows}
    schools = db.session.execute(
        select(OrgUnit.id, OrgUnit.name, OrgUnit.slug, OrgUnit.parent_id)
        .where(
            OrgUnit.tier == "institution",
            OrgUnit.closed_at.is_(None),
            or_(OrgUnit.parent_id.in_(scope.municipalities), OrgUnit.id.in_(scope.schools)),
        )
        .order_by(OrgUnit.name)
    ).all()
    for school_id, name, slug, parent_id in schools:
        if parent_id in by_id:
            by_id[parent_id].schools.append(
                SchoolRow(id=school_id, name=name, slug=slug, municipality_id=parent_id)
            )
    return rows


def _whole(scope: Scope) -> Any:
    return InstanceFact.municipality_id.in_(scope.municipalities)


def _year_end(year: SchoolYear) -> datetime:
    return year.bounds()[1]


def _latest(key: str, outcomes: tuple[str, ...], scope: Scope, year: SchoolYear) -> Any:
    """The latest instance per municipality whose outcome is one of `outcomes` by year end."""
    ranked = (
        select(
            InstanceFact.instance_id,
            InstanceFact.municipality_id,
            InstanceFact.outcome,
            InstanceFact.outcome_at,
            InstanceFact.detail,
            func.row_number()
            .over(
                partition_by=InstanceFact.municipality_id,
                order_by=(InstanceFact.outcome_at.desc(), InstanceFact.instance_id.desc()),
            )
            .label("rank"),
        )
        .where(
            InstanceFact.process_key == key,
            InstanceFact.outcome.in_(outcomes),
            InstanceFact.outcome_at < _year_end(year),
            _whole(scope),
        )
        .subquery()
    )
    return db.session.execute(select(ranked).where(ranked.c.rank == 1)).all()


def _agreements(by_muni: dict[int, MunicipalityRow], scope: Scope, year: SchoolYear) -> None:
    for row in _latest("tripartite_agreement", ("signed", "registered"), scope, year):
        by_muni[row.municipality_id].agreement = Agreement(
            row.instance_id, row.outcome, row.outcome_at, row.detail
        )


def _roadmaps(
    by_muni: dict[int, MunicipalityRow], scope: Scope, year: SchoolYear, now: datetime
) -> None:
    latest = _latest("roadmap_approval", ("approved",), scope, year)
    roadmaps = {}
    for row in latest:
        roadmap = Roadmap(row.instance_id, row.outcome_at, row.detail)
        by_muni[row.municipality_id].roadmap = roadmap
        roadmaps[row.instance_id] = roadmap
    if not roadmaps:
        return
    today = now.date()
    measures = db.session.execute(
        select(
            RoadmapMeasureFact.instance_id,
            RoadmapMeasureFact.direction,
            func.count(),
            func.sum(case((RoadmapMeasureFact.deadline < today, 1), else_=0)),
        )
        .where(RoadmapMeasureFact.instance_id.in_(roadmaps))
        .group_by(RoadmapMeasureFact.instance_id, RoadmapMeasureFact.direction)
    ).all()
    for instance_id, direction, count, overdue in measures:
        roadmaps[instance_id].measures[direction] = int(count)
        roadmaps[instance_id].overdue[direction] = int(overdue or 0)


def _open_counts(by_muni: dict[int, MunicipalityRow], scope: Scope) -> None:
    """Municipal procedures still running (any year: an open procedure is open now)."""
    rows = db.session.execute(
        select(InstanceFact.municipality_id, InstanceFact.process_key, func.count())
        .where(
            _whole(scope),
            InstanceFact.school_id.is_(None),
            InstanceFact.status.in_(("running", "waiting")),
        )
        .group_by(InstanceFact.municipality_id, InstanceFact.process_key)
    ).all()
    attribute = {
        "tripartite_agreement": "agreements_open",
        "roadmap_approval": "roadmaps_open",
        "mma_selection": "mma_selections_open",
    }
    for muni_id, key, count in rows:
        if key in attribute and muni_id in by_muni:
            setattr(by_muni[muni_id], attribute[key], int(count))


def _plans_and_attestation(
    by_muni: dict[int, MunicipalityRow],
    by_school: dict[int, SchoolRow],
    scope: Scope,
    year: SchoolYear,
) -> None:
    running = InstanceFact.status.in_(("running", "waiting"))
    rows = db.session.execute(
        select(
            InstanceFact.school_id,
            InstanceFact.process_key,
            func.sum(case((InstanceFact.outcome == "approved", 1), else_=0)),
            func.sum(case((and_(InstanceFact.outcome.is_(None), running), 1), else_=0)),
            func.sum(case((InstanceFact.outcome == "granted", 1), else_=0)),
            func.sum(case((InstanceFact.outcome == "refused", 1), else_=0)),
        )
        .where(
            scope.condition(),
            InstanceFact.school_year == year.first,
            InstanceFact.school_id.is_not(None),
            InstanceFact.process_key.in_(("mo_plan_approval", "attestation_support")),
        )
        .group_by(InstanceFact.school_id, InstanceFact.process_key)
    ).all()
    for school_id, key, approved, still_open, granted, refused in rows:
        school = by_school.get(school_id)
        if school is None:
            continue
        if key == "mo_plan_approval":
            _add(school, by_muni, plans_approved=approved, plans_open=still_open)
        else:
            _add(
                school,
                by_muni,
                attestation_open=still_open,
                attestation_granted=granted,
                attestation_refused=refused,
            )


def _add(school: SchoolRow, by_muni: dict[int, MunicipalityRow], **figures: Any) -> None:
    muni = by_muni.get(school.municipality_id or 0)
    for name, value in figures.items():
        setattr(school, name, getattr(school, name) + int(value or 0))
        if muni is not None:
            setattr(muni, name, getattr(muni, name) + int(value or 0))


def _overdue(
    by_muni: dict[int, MunicipalityRow],
    by_school: dict[int, SchoolRow],
    scope: Scope,
    now: datetime,
) -> None:
    """Open tasks past their due date, now (not limited to the school year)."""
    late = (
        select(HumanTask.instance_id, func.count().label("tasks"))
        .where(HumanTask.status == "open", HumanTask.due_at < now)
        .group_by(HumanTask.instance_id)
        .subquery()
    )
    rows = db.session.execute(
        select(InstanceFact.municipality_id, InstanceFact.school_id, func.sum(late.c.tasks))
        .join(late, late.c.instance_id == InstanceFact.instance_id)
        # Only unfinished instances have open tasks; the status index keeps the join small.
        .where(scope.condition(), InstanceFact.status.in_(UNFINISHED))
        .group_by(InstanceFact.municipality_id, InstanceFact.school_id)
    ).all()
    for muni_id, school_id, count in rows:
        if school_id is not None and school_id in by_school:
            _add(by_school[school_id], by_muni, overdue_tasks=count)
        elif school_id is None and muni_id in by_muni:
            by_muni[muni_id].overdue_tasks += int(count)


def _mma(
    by_muni: dict[int, MunicipalityRow], by_school: dict[int, SchoolRow], scope: Scope
) -> None:
    """Members of each ММА (mma_member at the municipality) and the schools they work at."""
    now = utcnow()
    munis = set(by_muni)
    members = (
        select(RoleGrant.user_id, RoleGrant.org_unit_id.label("municipality_id"))
        .join(User, User.id == RoleGrant.user_id)
        .where(
            RoleGrant.role == "mma_member",
            RoleGrant.org_unit_id.in_(munis),
            User.is_active.is_(True),
            assignment.grant_in_force(now),
        )
        .distinct()
        .subquery()
    )
    for muni_id, count in db.session.execute(
        select(members.c.municipality_id, func.count()).group_by(members.c.municipality_id)
    ).all():
        if by_muni[muni_id].whole:
            by_muni[muni_id].mma_members = int(count)
    workplaces = (
        select(RoleGrant.user_id, OrgUnit.id.label("school_id"), OrgUnit.parent_id)
        .join(OrgUnit, OrgUnit.id == RoleGrant.org_unit_id)
        .where(
            OrgUnit.tier == "institution",
            OrgUnit.parent_id.in_(munis),
            assignment.grant_in_force(now),
        )
        .distinct()
        .subquery()
    )
    per_school = db.session.execute(
        select(workplaces.c.school_id, workplaces.c.parent_id, func.count(members.c.user_id))
        .join(
            members,
            and_(
                members.c.user_id == workplaces.c.user_id,
                members.c.municipality_id == workplaces.c.parent_id,
            ),
        )
        .group_by(workplaces.c.school_id, workplaces.c.parent_id)
    ).all()
    for school_id, muni_id, count in per_school:
        if school_id in by_school:
            by_school[school_id].mma_members = int(count)
            if not by_muni[muni_id].whole:
                by_muni[muni_id].mma_members += int(count)
        if by_muni[muni_id].whole:
            by_muni[muni_id].mma_schools += 1


def may_view(actor: User) -> bool:
    """True when the actor holds one of the five roles the dashboard is open to."""
    return bool(assignment.units_with_role(actor, DASHBOARD_ROLES))


def _choices(scope: Scope) -> list[tuple[int, str]]:
    parents = select(OrgUnit.parent_id).where(OrgUnit.id.in_(scope.schools))
    rows = db.session.execute(
        select(OrgUnit.id, OrgUnit.name)
        .where(or_(OrgUnit.id.in_(scope.municipalities), OrgUnit.id.in_(parents)))
        .order_by(OrgUnit.name)
    ).all()
    return [(int(unit_id), str(name)) for unit_id, name in rows]


def school_by_slug(slug: str) -> int:
    """Id of a school by its slug (NotFound otherwise)."""
    unit_id = db.session.execute(
        select(OrgUnit.id).where(OrgUnit.slug == slug, OrgUnit.tier == "institution")
    ).scalar_one_or_none()
    if unit_id is None:
        raise NotFound("Организация не найдена.", {"school": ["Нет такой организации."]})
    return int(unit_id)
