"""The embedded runner and `flask jobs …` commands."""

from __future__ import annotations

import threading
from datetime import timedelta

import time_machine
from sqlalchemy import select

from app.extensions import db
from app.jobs import work
from app.jobs.runner import run_loop
from app.models import Notification

from .support import T0, count_events, open_tasks, reload, start, user


def test_flask_jobs_run_once_advances_due_timers(jobs) -> None:
    with time_machine.travel(T0, tick=False):
        instance = start("test_tick", {"wait_for": "PT1H"})
    runner = jobs.test_cli_runner()
    with time_machine.travel(T0 + timedelta(hours=1, seconds=1), tick=False):
        result = runner.invoke(args=["jobs", "run", "--once", "--inline"])
    assert result.exit_code == 0, result.output
    assert "таймеры: сработало 1" in result.output
    assert reload(instance.id).status == "completed"
    assert count_events("timer_fired", instance.id) == 1


def test_tick_does_timers_then_reminders_and_notifications(jobs) -> None:
    with time_machine.travel(T0, tick=False):
        instance = start(
            "test_escalation",
            {"prepare_due_in": "P1D", "remind_after": "P20D", "escalate_after": "P2D"},
        )
    with time_machine.travel(T0 + timedelta(days=1, seconds=1), tick=False):
        report = work.tick()
    assert report.advanced.processed == 0 and report.reminders.due == 1
    with time_machine.travel(T0 + timedelta(days=2, seconds=1), tick=False):
        report = work.tick()
    assert report.advanced.fired == [instance.id]
    [decide] = open_tasks(instance.id)
    assert decide.lane == "mms_head"
    kinds = sorted(db.session.execute(select(Notification.kind)).scalars())
    assert kinds == ["task_due", "task_offered", "task_offered"]


def test_run_loop_in_a_thread_stops_on_request(jobs) -> None:
    with time_machine.travel(T0, tick=False):
        instance = start("test_tick", {"wait_for": "PT1H"})
    # The instance is due for real: its timer was set an hour after a moment long past.
    stop = threading.Event()
    ticks: list[int] = []
    thread = threading.Thread(
        target=lambda: ticks.append(run_loop(jobs, 0.05, stop=stop, echo=lambda line: stop.set()))
    )
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the runner did not stop"
    assert ticks and ticks[0] >= 1
    assert reload(instance.id).status == "completed"


def test_failed_tick_does_not_end_the_runner(jobs, monkeypatch) -> None:
    calls = []

    def failing_tick():
        calls.append(1)
        raise RuntimeError("database away")

    monkeypatch.setattr(work, "tick", failing_tick)
    stop = threading.Event()
    thread = threading.Thread(target=lambda: run_loop(jobs, 0.01, stop=stop))
    thread.start()
    for _ in range(500):
        if len(calls) >= 3:
            break
        threading.Event().wait(0.01)
    stop.set()
    thread.join(timeout=30)
    assert len(calls) >= 3 and not thread.is_alive()


def test_jobs_deadline_and_status_commands(jobs) -> None:
    runner = jobs.test_cli_runner()
    result = runner.invoke(args=["jobs", "deadline", "2026-05-08", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("2026-05-14 23:59:59 MSK")
    with time_machine.travel(T0, tick=False):
        start("test_tick", {"wait_for": "PT1H"})
    result = runner.invoke(args=["jobs", "status"])
    assert "Экземпляров с наступившим таймером: 1" in result.output


def test_enqueue_needs_a_broker(jobs) -> None:
    result = jobs.test_cli_runner().invoke(args=["jobs", "run", "--once", "--enqueue"])
    assert result.exit_code != 0 and "CELERY_BROKER_URL" in result.output
    assert user("mms_methodist.gatchina")  # the app is unharmed
