"""Timer start events as schedules: the runner creates instances when an occurrence comes.

A process whose start event carries a timer with a *literal* `timeDate` or `timeCycle`
("every 1 September") is started by the system, not by a person: for each occurrence, one
instance per org unit named by the start event's property `scheduleUnits`. The row
`scheduled_start` (UNIQUE process, occurrence, unit) is inserted in the transaction that starts
the instance, so with any number of runners each instance is created exactly once.

Timers whose expression is a data key (`start_at`) stay what they were: a delayed start of an
instance someone started.
"""

from __future__ import annotations

import ast
import calendar as monthly
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from .. import engine
from ..extensions import db
from ..models import OrgUnit, ProcessInstance, ProcessVersion, ScheduledStart
from ..models.base import utcnow
from . import audit, upserts
from .deployment import definition_for, latest_versions
from .errors import ValidationFailed
from .instances import _start_data
from .operations import OperationContext
from .progress import persist, run_engine
from .uow import transaction

log = logging.getLogger(__name__)

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
UNITS_PROPERTY = "scheduleUnits"
ALL_UNITS = "all"

_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


class ScheduleError(ValueError):
    """The start timer cannot be read as a schedule."""


@dataclass(frozen=True)
class Period:
    """An ISO 8601 duration kept in calendar parts: P1Y is "the same day next year"."""

    months: int = 0
    delta: timedelta = timedelta()

    def times(self, k: int, start: datetime) -> datetime:
        """start + k periods; a day past the month's end falls back to its last day."""
        moment = start
        if self.months:
            total = start.month - 1 + self.months * k
            year, month = start.year + total // 12, total % 12 + 1
            day = min(start.day, monthly.monthrange(year, month)[1])
            moment = start.replace(year=year, month=month, day=day)
        return moment + self.delta * k

    def approx(self) -> timedelta:
        """Roughly how long one period is (to skip ahead without stepping through years)."""
        return timedelta(days=self.months * 30.4) + self.delta


def parse_period(text: str) -> Period:
    """Parse PnYnMnWnDTnHnMnS into calendar months and an exact remainder."""
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT"):
        raise ScheduleError(f"неверная длительность ISO 8601: {text!r}")
    p = {k: int(v) for k, v in match.groupdict().items() if v}
    period = Period(
        months=p.get("years", 0) * 12 + p.get("months", 0),
        delta=timedelta(
            weeks=p.get("weeks", 0),
            days=p.get("days", 0),
            hours=p.get("hours", 0),
            minutes=p.get("minutes", 0),
            seconds=p.get("seconds", 0),
        ),
    )
    if not period.months and not period.delta:
        raise ScheduleError("нулевой период повторения")
    return period


def _moment(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ScheduleError(f"неверная дата ISO 8601: {text!r}") from exc
    if value.tzinfo is None:
        raise ScheduleError(f"у даты {text!r} не указан часовой пояс")
    return value


@dataclass(frozen=True)
class Schedule:
    """When a timer start event occurs: once (timeDate) or repeatedly (timeCycle)."""

    expression: str
    first: datetime
    period: Period | None = None
    repetitions: int = 1  # -1: without end

    def latest(self, now: datetime, not_before: datetime) -> datetime | None:
        """The last occurrence at or before `now`, if it is not earlier than `not_before`."""
        if self.first > now:
            return None
        if self.period is None:
            return self.first.astimezone(UTC) if self.first >= not_before else None
        k = max(int((now - self.first) / self.period.approx()) - 2, 0)
        while self.period.times(k + 1, self.first) <= now:
            k += 1
        if self.repetitions >= 0:
            k = min(k, self.repetitions - 1)
        moment = self.period.times(k, self.first)
        return moment.astimezone(UTC) if moment >= not_before else None


def parse_schedule(kind: str, expression: str) -> Schedule:
    """A start timer's expression as a schedule; only literal strings can be scheduled.

    timeDate: `"2026-09-01T09:00:00+03:00"`; timeCycle: `"R/2026-09-01T09:00:00+03:00/P1Y"`
    (R without a number: no end; Rn: n occurrences).
    """
    try:
        value = ast.literal_eval(expression.strip())
    except (ValueError, SyntaxError) as exc:
        raise ScheduleError("выражение не строковый литерал") from exc
    if not isinstance(value, str):
        raise ScheduleError("выражение не строковый литерал")
    if kind == "timeDate":
        return Schedule(value, _moment(value))
    if kind != "timeCycle":
        raise ScheduleError(f"{kind} задаёт отложенный, а не плановый запуск")
    parts = value.strip().split("/")
    if len(parts) != 3 or not parts[0].upper().startswith("R"):
        raise ScheduleError("цикл должен иметь вид R[n]/<начало>/<период>")
    count = parts[0][1:]
    if count and not count.isdigit():
        raise ScheduleError(f"неверное число повторений: {parts[0]!r}")
    return Schedule(value, _moment(parts[1]), parse_period(parts[2]), int(count) if count else -1)


_schedules: dict[tuple[int, str], Schedule | None] = {}


def schedule_of(version: ProcessVersion) -> Schedule | None:
    """The schedule of a version's timer start event (None: not started by the scheduler)."""
    cache_key = (version.id, version.sha256)
    if cache_key in _schedules:
        return _schedules[cache_key]
    found: Schedule | None = None
    for name, source in sorted(version.files.items()):
        if not name.endswith(".bpmn"):
            continue
        root = engine.parse_xml(source.encode("utf-8"))
        for process in root.iter(f"{BPMN}process"):
            if process.get("id") != version.key:
                continue
            for start in process.findall(f"{BPMN}startEvent"):
                timer = start.find(f"{BPMN}timerEventDefinition")
                if timer is None:
                    continue
                for child in timer:
                    kind = str(child.tag).replace(BPMN, "")
                    try:
                        found = parse_schedule(kind, child.text or "")
                    except ScheduleError as exc:
                        log.debug("%s: start timer is not a schedule (%s)", version.key, exc)
    _schedules[cache_key] = found
    return found


def target_units(version: ProcessVersion) -> list[OrgUnit]:
    """The units one occurrence starts an instance for (start event property scheduleUnits).

    `all` (the default): every open unit of the process's scope tier (e.g. every school);
    otherwise a comma-separated list of unit slugs (units of another tier are skipped).
    """
    definition = definition_for(version)
    spec = (definition.start_properties.get(UNITS_PROPERTY) or ALL_UNITS).strip()
    tier = version.scope_tier
    query = select(OrgUnit).where(OrgUnit.closed_at.is_(None)).order_by(OrgUnit.id)
    if spec == ALL_UNITS:
        if not tier:
            log.warning("%s: scheduleUnits=all needs the start property scopeTier", version.key)
            return []
        return list(db.session.execute(query.where(OrgUnit.tier == tier)).scalars())
    slugs = [s for s in re.split(r"[\s,;]+", spec) if s]
    units = list(db.session.execute(query.where(OrgUnit.slug.in_(slugs))).scalars())
    wrong = {u.slug for u in units if tier and u.tier != tier}
    missing = set(slugs) - {u.slug for u in units}
    if wrong or missing:
        log.warning("%s: scheduleUnits skips %s", version.key, ", ".join(sorted(wrong | missing)))
    return [u for u in units if u.slug not in wrong]


@dataclass
class ScheduleReport:
    """Instances a run created for timer start events, and the starts that failed."""

    started: list[int] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (process key, unit slug)


def start_due(now: datetime | None = None, limit: int = 200) -> ScheduleReport:
    """Create the instances of every timer start occurrence that has come (up to `limit`).

    Only the latest occurrence of a cycle is considered, and none before the process was
    first deployed: occurrences missed while no runner ran are not made up.
    """
    moment = now or utcnow()
    report = ScheduleReport()
    for version in latest_versions():
        schedule = schedule_of(version)
        if schedule is None:
            continue
        first_deployed = db.session.execute(
            select(func.min(ProcessVersion.deployed_at)).where(ProcessVersion.key == version.key)
        ).scalar_one()
        occurs_at = schedule.latest(moment, first_deployed)
        if occurs_at is None:
            continue
        done = set(
            db.session.execute(
                select(ScheduledStart.org_unit_id).where(
                    ScheduledStart.process_key == version.key,
                    ScheduledStart.occurs_at == occurs_at,
                )
            ).scalars()
        )
        for unit in target_units(version):
            if unit.id in done:
                continue
            if len(report.started) + len(report.failed) >= limit:
                return report
            _start_one(version.id, unit.id, occurs_at, schedule, report)
    return report


def _claim(key: str, occurs_at: datetime, unit_id: int, instance_id: int | None) -> bool:
    """Insert the occurrence row; False if another runner has it (it waits for that commit)."""
    row = {
        "process_key": key,
        "occurs_at": occurs_at,
        "org_unit_id": unit_id,
        "instance_id": instance_id,
        "created_at": utcnow(),
    }
    inserted = upserts.insert_ignoring_duplicates(
        ScheduledStart, [row], ["process_key", "occurs_at", "org_unit_id"]
    )
    if inserted is not None:
        return inserted == 1
    exists = db.session.execute(
        select(ScheduledStart.id).where(
            ScheduledStart.process_key == key,
            ScheduledStart.occurs_at == occurs_at,
            ScheduledStart.org_unit_id == unit_id,
        )
    ).first()
    if exists is not None:
        return False
    db.session.add(ScheduledStart(**row))
    return True


def _start_one(
    version_id: int, unit_id: int, occurs_at: datetime, schedule: Schedule, report: ScheduleReport
) -> None:
    version = db.session.get(ProcessVersion, version_id)
    unit = db.session.get(OrgUnit, unit_id)
    assert version is not None and unit is not None
    key, slug = version.key, unit.slug
    occurrence = {"occurs_at": occurs_at.isoformat(), "timer": schedule.expression}
    try:
        with transaction():
            if not _claim(key, occurs_at, unit_id, None):
                return
            instance = _create(version, unit, occurrence)
            db.session.execute(
                update(ScheduledStart)
                .where(
                    ScheduledStart.process_key == key,
                    ScheduledStart.occurs_at == occurs_at,
                    ScheduledStart.org_unit_id == unit_id,
                )
                .values(instance_id=instance.id)
            )
        report.started.append(instance.id)
    except ValidationFailed as exc:
        # The process cannot start (bad start data, a failing first step): record it once
        # instead of retrying every run.
        log.error("Scheduled start of %s for %s failed: %s", key, slug, exc.message)
        with transaction():
            if _claim(key, occurs_at, unit_id, None):
                audit.record(
                    "scheduled_start_failed",
                    None,
                    org_unit_id=unit_id,
                    payload={"process_key": key, **occurrence, "error": exc.message},
                )
        report.failed.append((key, slug))


def _create(version: ProcessVersion, unit: OrgUnit, occurrence: dict[str, Any]) -> ProcessInstance:
    """Start an instance as the system (no starter), past its timer start event."""
    definition = definition_for(version)
    start_data = _start_data(version.forms, definition, {})
    instance = ProcessInstance(
        process_version_id=version.id,
        process_key=version.key,
        org_unit_id=unit.id,
        status="running",
        title=f"{version.name} — {unit.name}",
        started_by_id=None,
        state="",
    )
    instance.version = version
    instance.org_unit = unit
    db.session.add(instance)
    db.session.flush()
    audit.record(
        "instance_started",
        None,
        instance_id=instance.id,
        org_unit_id=unit.id,
        payload={
            "process_key": version.key,
            "version": version.version,
            "data": start_data,
            "scheduled": occurrence,
        },
    )
    holder: dict[str, engine.Runner] = {}

    def start() -> None:
        holder["runner"] = engine.Runner.start(
            definition,
            start_data,
            OperationContext(instance, unit, None),
            start_timer_fired=True,
        )

    run_engine(start)
    persist(instance, holder["runner"], None)
    return instance
