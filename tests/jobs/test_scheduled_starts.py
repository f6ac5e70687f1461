"""Timer start events as schedules: the runner creates instances, once per occurrence and unit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import work
from app.models import AuditEvent, HumanTask, ProcessInstance, ScheduledStart
from app.services import audit, deployment, scheduled_starts
from app.services.scheduled_starts import ScheduleError, parse_schedule

from .support import DATA, audit_kinds, open_tasks, start, unit

SCHEDULED = DATA / "scheduled"
# 1 September 2026, 09:00 Moscow time.
SEPT_1 = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)
SCHOOLS = ["gatchina-school-1", "gatchina-school-2", "luga-school-1", "luga-school-2"]


def _at(moment: datetime) -> time_machine.travel:
    return time_machine.travel(moment, tick=False)


def _deploy(*names: str) -> None:
    bundle = deployment.Bundle(
        sources={n: (SCHEDULED / n).read_bytes() for n in names},
        forms={"test_jobs/task.json": (DATA / "forms" / "test_jobs" / "task.json").read_bytes()},
    )
    outcomes, problems = deployment.deploy(bundle, None)
    assert not [p for p in problems if p.severity == "error"], problems


def _instances(key: str) -> list[ProcessInstance]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(ProcessInstance)
            .where(ProcessInstance.process_key == key)
            .order_by(ProcessInstance.id)
        ).scalars()
    )


# --- reading the schedule --------------------------------------------------------------------


def test_a_yearly_cycle_is_stepped_by_the_calendar() -> None:
    schedule = parse_schedule("timeCycle", '"R/2026-09-01T09:00:00+03:00/P1Y"')
    never = datetime(2000, 1, 1, tzinfo=UTC)
    assert schedule.latest(SEPT_1 - timedelta(seconds=1), never) is None
    assert schedule.latest(SEPT_1, never) == SEPT_1
    # Ten years on it is still 1 September 09:00, not drifting by leap days.
    later = schedule.latest(datetime(2036, 8, 31, tzinfo=UTC), never)
    assert later == datetime(2035, 9, 1, 6, 0, tzinfo=UTC)
    assert schedule.latest(SEPT_1 + timedelta(days=30), SEPT_1 + timedelta(days=1)) is None


def test_cycle_with_repetitions_and_month_ends() -> None:
    monthly = parse_schedule("timeCycle", '"R3/2026-01-31T00:00:00+00:00/P1M"')
    never = datetime(2000, 1, 1, tzinfo=UTC)
    assert monthly.latest(datetime(2026, 3, 1, tzinfo=UTC), never) == datetime(
        2026, 2, 28, tzinfo=UTC
    )
    # R3: the third occurrence (31 March) is the last one.
    assert monthly.latest(datetime(2027, 1, 1, tzinfo=UTC), never) == datetime(
        2026, 3, 31, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("kind", "expression"),
    [
        ("timeDate", "start_at"),  # a data key: a delayed start, not a schedule
        ("timeDuration", '"P1D"'),
        ("timeDate", '"2026-09-01T09:00:00"'),  # no zone
        ("timeCycle", '"R/P1D"'),  # no start
        ("timeCycle", '"R/2026-09-01T09:00:00+03:00/P0D"'),
    ],
)
def test_what_is_not_a_schedule(kind: str, expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(kind, expression)


# --- creating instances ----------------------------------------------------------------------


def test_every_school_gets_one_instance_each_first_of_september(jobs) -> None:
    with _at(datetime(2026, 8, 20, tzinfo=UTC)):
        _deploy("school_year_plan.bpmn")
    with _at(SEPT_1 - timedelta(minutes=1)):
        assert work.start_scheduled().started == []
    with _at(SEPT_1 + timedelta(minutes=1)):
        report = work.tick()
        assert len(report.scheduled.started) == 4 and report.scheduled.failed == []
        assert "плановые запуски: 4" in report.summary()
        assert work.start_scheduled().started == []  # the next run: nothing new
    made = _instances("test_school_year_plan")
    assert sorted(i.org_unit.slug for i in made) == SCHOOLS
    assert [(i.started_by_id, i.status, i.error) for i in made] == [(None, "running", None)] * 4
    assert audit_kinds(made[0].id) == ["instance_started", "task_offered"]
    tasks = db.session.execute(
        select(HumanTask).where(HumanTask.instance_id.in_([i.id for i in made]))
    ).scalars()
    for task in tasks:
        assert (task.bpmn_id, task.lane, task.status) == (
            "Task_test_school_year_plan",
            "director",
            "open",
        )
        assert [c.user.username for c in task.candidates] == [
            f"director.{task.instance.org_unit.slug}"
        ]
        assert task.due_at == SEPT_1 + timedelta(minutes=1, days=14)
    started = db.session.execute(
        select(AuditEvent).where(AuditEvent.kind == "instance_started")
    ).scalars()
    for event in started:
        assert event.actor_username is None  # the system started it
        assert event.payload["scheduled"] == {
            "occurs_at": SEPT_1.isoformat(),
            "timer": "R/2026-09-01T09:00:00+03:00/P1Y",
        }
    # The cycle does not repeat inside an instance: no timer is left waiting there.
    assert all(i.next_timer_at is None for i in made)
    # A year later: four more, one per school again.
    next_year = datetime(2027, 9, 1, 6, 0, tzinfo=UTC)
    with _at(next_year + timedelta(hours=3)):
        assert len(work.start_scheduled().started) == 4
    rows = db.session.execute(
        select(ScheduledStart.occurs_at, func.count(ScheduledStart.id)).group_by(
            ScheduledStart.occurs_at
        )
    ).all()
    assert sorted(rows) == [(SEPT_1, 4), (next_year, 4)]
    assert audit.verify()["ok"] is True


def test_listed_units_only_and_no_catch_up_before_deployment(jobs) -> None:
    occurs = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    with _at(occurs + timedelta(days=1)):
        _deploy("school_year_plan.bpmn")  # 1 September 2026 is before this deployment
    with _at(occurs - timedelta(days=1)):
        _deploy("listed_units.bpmn")
    with _at(occurs + timedelta(days=2)):
        report = work.start_scheduled()
    [made] = _instances("test_listed_units")
    assert report.started == [made.id]
    assert made.org_unit_id == unit("luga").id and made.started_by_id is None
    assert _instances("test_school_year_plan") == []


def test_a_start_that_fails_is_recorded_once(jobs, monkeypatch) -> None:
    with _at(datetime(2026, 8, 20, tzinfo=UTC)):
        _deploy("school_year_plan.bpmn")

    def broken(*args, **kwargs):
        raise scheduled_starts.ValidationFailed("Нет обязательных данных запуска.")

    monkeypatch.setattr(scheduled_starts, "_create", broken)
    with _at(SEPT_1 + timedelta(minutes=1)):
        assert len(work.start_scheduled().failed) == 4
        assert work.start_scheduled().failed == []  # not retried every run
    failures = db.session.execute(
        select(AuditEvent).where(AuditEvent.kind == "scheduled_start_failed")
    ).scalars()
    assert sorted(e.org_unit_id for e in failures) == sorted(unit(s).id for s in SCHOOLS)
    assert _instances("test_school_year_plan") == []


def test_two_runners_create_each_instance_exactly_once(jobs, monkeypatch) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip(
            "Needs PostgreSQL: two runners at once; SQLite has a single writer and runs one "
            "runner (the unique key is still what dedups there)."
        )
    with _at(datetime(2026, 8, 20, tzinfo=UTC)):
        _deploy("school_year_plan.bpmn")
    db.session.remove()
    real_create = scheduled_starts._create
    gate = threading.Barrier(2)

    def slow_create(*args, **kwargs):
        # Both runners hold their claim of a unit open for a moment: they really overlap.
        threading.Event().wait(0.05)
        return real_create(*args, **kwargs)

    monkeypatch.setattr(scheduled_starts, "_create", slow_create)
    reports: dict[str, scheduled_starts.ScheduleReport] = {}
    errors: list[BaseException] = []

    def runner(name: str) -> None:
        try:
            with jobs.app_context():
                gate.wait(timeout=10)
                reports[name] = scheduled_starts.start_due()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    with _at(SEPT_1 + timedelta(minutes=1)):
        threads = [threading.Thread(target=runner, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not errors, errors
    started = reports["a"].started + reports["b"].started
    made = _instances("test_school_year_plan")
    assert sorted(started) == [i.id for i in made]
    assert sorted(i.org_unit.slug for i in made) == SCHOOLS
    assert db.session.execute(select(func.count(ScheduledStart.id))).scalar_one() == 4
    assert audit.verify()["ok"] is True


def test_started_by_hand_it_goes_on_at_once(jobs) -> None:
    with _at(datetime(2026, 8, 20, tzinfo=UTC)):
        _deploy("school_year_plan.bpmn")
        start(
            "test_school_year_plan",
            {},
            slug="gatchina-school-1",
            username="director.gatchina-school-1",
        )
    made = _instances("test_school_year_plan")[0]
    assert made.started_by.username == "director.gatchina-school-1"
    # Not waiting for 1 September, and no yearly cycle inside the instance.
    assert (made.status, made.next_timer_at) == ("running", None)
    assert [t.bpmn_id for t in open_tasks(made.id)] == ["Task_test_school_year_plan"]
