"""Timers executed by the job runner, with a controlled clock: every timer kind we support."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, HumanTask, Notification
from app.services import operations, tasks, timers
from app.services.operations import OperationFailed

from .support import T0, audit_kinds, count_events, open_tasks, reload, start, user

ESCALATION = {"prepare_due_in": "P3D", "remind_after": "P2D", "escalate_after": "P5D"}


def _at(moment: datetime) -> time_machine.travel:
    return time_machine.travel(moment, tick=False)


def test_instance_waits_on_its_earliest_timer(jobs) -> None:
    with _at(T0):
        instance = start("test_escalation", ESCALATION)
    assert instance.status == "running"
    assert instance.next_timer_at == T0 + timedelta(days=2)
    [task] = open_tasks(instance.id)
    assert task.due_at == T0 + timedelta(days=3)
    with _at(T0 + timedelta(days=1)):
        report = timers.advance_due_instances()
    assert report.processed == 0
    assert count_events("timer_fired") == 0


def test_non_interrupting_boundary_timer_notifies_and_keeps_the_task(jobs) -> None:
    with _at(T0):
        instance = start("test_escalation", ESCALATION)
    [task] = open_tasks(instance.id)
    with _at(T0 + timedelta(days=2, minutes=1)):
        report = timers.advance_due_instances()
    assert report.fired == [instance.id]
    assert open_tasks(instance.id) == [task]  # the task stays with the methodist
    instance = reload(instance.id)
    assert instance.status == "running"
    assert instance.next_timer_at == T0 + timedelta(days=5)  # the escalation is next
    messages = db.session.execute(
        select(Notification).where(Notification.kind == "process_message")
    ).scalars()
    assert [(n.user.username, n.title) for n in messages] == [
        ("mms_methodist.gatchina", "Напоминание о подготовке документа")
    ]
    assert audit_kinds(instance.id)[-2:] == ["timer_fired", "notification_sent"]


def test_interrupting_boundary_timer_escalates_to_the_head(jobs) -> None:
    with _at(T0):
        instance = start("test_escalation", ESCALATION)
    [prepare] = open_tasks(instance.id)
    tasks.claim(user("mms_methodist.gatchina"), prepare.id)
    with _at(T0 + timedelta(days=5, minutes=1)):
        report = timers.advance_due_instances()
    assert report.fired == [instance.id]
    db.session.expire_all()
    assert db.session.get(HumanTask, prepare.id).status == "cancelled"
    [decide] = open_tasks(instance.id)
    assert (decide.bpmn_id, decide.lane) == ("decide", "mms_head")
    assert [c.user.username for c in decide.candidates] == ["mms_head.gatchina"]
    kinds = audit_kinds(instance.id)
    assert kinds.count("timer_fired") == 1
    assert kinds.index("timer_fired") < kinds.index("task_cancelled") < len(kinds) - 2
    assert kinds[-2:] == ["task_offered", "escalation"]
    offered = db.session.execute(
        select(Notification).where(
            Notification.kind == "task_offered", Notification.task_id == decide.id
        )
    ).scalar_one()
    assert offered.user.username == "mms_head.gatchina"
    assert "Решение по просроченной подготовке" in offered.title
    # The head decides; the instance completes through the escalation path.
    tasks.complete(user("mms_head.gatchina"), decide.id, {"comment": "Передано другому"})
    assert reload(instance.id).status == "completed"


def test_task_done_in_time_cancels_its_timers(jobs) -> None:
    with _at(T0):
        instance = start("test_escalation", ESCALATION)
        [prepare] = open_tasks(instance.id)
        tasks.complete(user("mms_methodist.gatchina"), prepare.id, {"comment": "Готово"})
    instance = reload(instance.id)
    assert instance.status == "completed" and instance.next_timer_at is None
    with _at(T0 + timedelta(days=6)):
        assert timers.advance_due_instances().processed == 0


def test_intermediate_duration_then_date_timer(jobs) -> None:
    until = T0 + timedelta(days=3)
    with _at(T0):
        instance = start("test_waits", {"wait_for": "PT12H", "wait_until": until.isoformat()})
    instance = reload(instance.id)
    assert instance.status == "waiting"
    assert instance.next_timer_at == T0 + timedelta(hours=12)
    with _at(T0 + timedelta(hours=12, seconds=1)):
        assert timers.advance_due_instances().fired == [instance.id]
    instance = reload(instance.id)
    assert (instance.status, instance.next_timer_at) == ("waiting", until)
    assert open_tasks(instance.id) == []
    with _at(until + timedelta(seconds=1)):
        assert timers.advance_due_instances().fired == [instance.id]
    instance = reload(instance.id)
    assert (instance.status, instance.next_timer_at) == ("running", None)
    assert [t.bpmn_id for t in open_tasks(instance.id)] == ["act"]
    assert count_events("timer_fired", instance.id) == 2


def test_cycle_timer_fires_each_round(jobs) -> None:
    with _at(T0):
        instance = start("test_cycle", {})
    for day in (1, 2):
        with _at(T0 + timedelta(days=day, seconds=1)):
            assert timers.advance_due_instances().fired == [instance.id]
    assert reload(instance.id).next_timer_at is None  # R2: two rounds, then no more
    with _at(T0 + timedelta(days=5)):
        assert timers.advance_due_instances().processed == 0
    sent = db.session.execute(
        select(Notification).where(Notification.kind == "process_message")
    ).scalars()
    assert len(list(sent)) == 2  # one per round, not deduplicated into one
    assert [t.bpmn_id for t in open_tasks(instance.id)] == ["act"]


def test_working_days_deadline_and_timer(jobs) -> None:
    # Friday 8 May 2026, 10:00 Moscow; 9-10 May weekend, 11 May a holiday (Victory Day moved).
    friday = datetime(2026, 5, 8, 7, 0, tzinfo=UTC)
    with _at(friday):
        instance = start("test_working", {"act_working_days": 3})
    end_of_14_may = datetime(2026, 5, 14, 20, 59, 59, tzinfo=UTC)  # 23:59:59 Moscow
    [act] = open_tasks(instance.id)
    assert act.due_at == end_of_14_may
    assert reload(instance.id).next_timer_at == end_of_14_may
    with _at(end_of_14_may - timedelta(minutes=1)):
        assert timers.advance_due_instances().processed == 0
    with _at(end_of_14_may + timedelta(seconds=2)):
        assert timers.advance_due_instances().fired == [instance.id]
    [late] = open_tasks(instance.id)
    assert (late.bpmn_id, late.lane) == ("overdue", "mms_head")


def test_selected_but_not_due_for_the_engine_changes_nothing(jobs) -> None:
    with _at(T0):
        instance = start("test_tick", {"wait_for": "PT1H"})
        state = reload(instance.id).state
        # Selecting with a later `now` than the engine's clock: nothing fires, nothing is written.
        report = timers.advance_due_instances(now=T0 + timedelta(hours=2))
    assert report.not_due == [instance.id] and report.fired == []
    assert reload(instance.id).state == state
    assert count_events("timer_fired") == 0


def test_engine_failure_marks_the_instance_and_stops_retrying(jobs, monkeypatch) -> None:
    with _at(T0):
        instance = start("test_escalation", ESCALATION)

    def broken(ctx, params, data):
        raise OperationFailed("Почтовый шлюз недоступен")

    monkeypatch.setitem(operations.OPERATIONS, "notify", broken)
    with _at(T0 + timedelta(days=2, minutes=1)):
        report = timers.advance_due_instances()
        assert report.failed == [instance.id]
        assert timers.advance_due_instances().processed == 0
    instance = reload(instance.id)
    assert instance.status == "error" and instance.next_timer_at is None
    assert "Почтовый шлюз недоступен" in (instance.error or "")
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.kind == "timer_failed")
    ).scalar_one()
    assert event.instance_id == instance.id
    assert count_events("timer_fired") == 0


def test_advance_instance_job_is_idempotent(jobs) -> None:
    with _at(T0):
        instance = start("test_tick", {"wait_for": "PT1H"})
    with _at(T0 + timedelta(hours=1, seconds=1)):
        assert timers.advance_instance(instance.id) == "fired"
        assert timers.advance_instance(instance.id) == "not_due"  # a duplicate message
    assert reload(instance.id).status == "completed"
    assert count_events("timer_fired", instance.id) == 1


@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_killed_runner_loses_nothing(jobs, monkeypatch, failure) -> None:
    with _at(T0):
        ids = [start("test_tick", {"wait_for": "PT1H"}).id for _ in range(4)]
    states = {i: reload(i).state for i in ids}
    victim = ids[1]
    real_persist = timers.persist

    def crash_on_victim(instance, runner, actor):
        if instance.id == victim:
            raise failure("runner killed mid-batch")
        real_persist(instance, runner, actor)

    monkeypatch.setattr(timers, "persist", crash_on_victim)
    later = T0 + timedelta(hours=1, seconds=1)
    with _at(later):
        if failure is KeyboardInterrupt:
            with pytest.raises(KeyboardInterrupt):
                timers.advance_due_instances()
            assert set(ids) - {victim} - set(_completed(ids))  # the batch stopped at the victim
        else:
            report = timers.advance_due_instances()
            assert report.skipped == [victim]
            assert sorted(report.fired) == sorted(set(ids) - {victim})
    # The victim's transaction was rolled back as a whole: state, timer, no audit event.
    victim_row = reload(victim)
    assert victim_row.state == states[victim] and victim_row.status == "waiting"
    assert count_events("timer_fired", victim) == 0
    monkeypatch.setattr(timers, "persist", real_persist)
    with _at(later):
        timers.advance_due_instances()
    assert sorted(_completed(ids)) == sorted(ids)
    assert all(count_events("timer_fired", i) == 1 for i in ids)


def _completed(ids: list[int]) -> list[int]:
    return [i for i in ids if reload(i).status == "completed"]


def test_timer_start_event_delays_the_start(jobs) -> None:
    start_at = T0 + timedelta(days=1)
    with _at(T0):
        instance = start("test_delayed", {"start_at": start_at.isoformat(), "wait_for": "PT1H"})
    instance = reload(instance.id)
    assert (instance.status, instance.next_timer_at) == ("waiting", start_at)
    with _at(start_at + timedelta(seconds=1)):
        assert timers.advance_due_instances().fired == [instance.id]
    # Started: now it waits on its intermediate timer, an hour after the start fired.
    assert reload(instance.id).next_timer_at == start_at + timedelta(hours=1, seconds=1)
