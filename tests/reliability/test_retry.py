"""The service retries a use case that lost an optimistic-lock race, deterministically: another
transaction commits between our read and our write (on both SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, HumanTask, OrgUnit, ProcessInstance, User
from app.services import deployment, instances, tasks
from app.services.errors import Conflict
from tests.factories import mo_plan

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "reliability"
SCHOOL = "gatchina-school-1"


def _user(name: str) -> User:
    return db.session.execute(select(User).where(User.username == name)).scalar_one()


def _school() -> OrgUnit:
    return db.session.execute(select(OrgUnit).where(OrgUnit.slug == SCHOOL)).scalar_one()


def _deploy_parallel() -> None:
    bundle = deployment.Bundle()
    bundle.sources["parallel_review.bpmn"] = (DATA_DIR / "parallel_review.bpmn").read_bytes()
    for path in (DATA_DIR / "reliability_parallel").glob("*.json"):
        bundle.forms[f"reliability_parallel/{path.name}"] = path.read_bytes()
    deployment.deploy(bundle, _user("designer"))


def _open_tasks(instance_id: int) -> dict[str, int]:
    rows = db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == "open")
    ).scalars()
    return {row.bpmn_id: row.id for row in rows}


@pytest.fixture()
def interleave(ctx: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Calls queued here run once, in a separate session that commits, right after the next
    use case has loaded the workflow (i.e. between its read and its write)."""
    queued: list[Any] = []
    real_load = tasks.load_runner

    def load_then_interleave(instance: ProcessInstance, actor: User | None) -> Any:
        runner = real_load(instance, actor)
        while queued:
            action = queued.pop(0)
            with ctx.app_context():  # a new app context has its own session and transaction
                action()
                db.session.remove()
        return runner

    monkeypatch.setattr(tasks, "load_runner", load_then_interleave)
    yield queued


def _count_completed(task_id: int) -> int:
    return db.session.execute(
        select(func.count(AuditEvent.seq)).where(
            AuditEvent.kind == "task_completed", AuditEvent.task_id == task_id
        )
    ).scalar_one()


def test_parallel_branch_is_retried_and_both_land(
    ctx: Flask,
    interleave: list[Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _deploy_parallel()
    instance = instances.start_instance(
        _user(f"director.{SCHOOL}"), "reliability_parallel", _school().id, {}
    )
    instance_id = instance.id
    open_ = _open_tasks(instance_id)
    interleave.append(
        lambda: tasks.complete(
            _user(f"deputy_director.{SCHOOL}"),
            open_["review_deputy"],
            {"deputy_note": "согласовано"},
        )
    )
    # Alembic's fileConfig (run by the session fixture) disables loggers that existed before.
    monkeypatch.setattr(logging.getLogger("app.services.uow"), "disabled", False)
    with caplog.at_level(logging.WARNING, logger="app.services.uow"):
        tasks.complete(
            _user(f"methodical_council.{SCHOOL}"),
            open_["review_council"],
            {"council_note": "замечаний нет"},
        )
    assert any("concurrent update" in r.getMessage() for r in caplog.records)

    db.session.expire_all()
    now = _open_tasks(instance_id)
    assert list(now) == ["final"]
    _task, _form, data = tasks.get_task(_user(f"director.{SCHOOL}"), now["final"])
    assert data["council_note"] == "замечаний нет"
    assert data["deputy_note"] == "согласовано"
    assert _count_completed(open_["review_council"]) == 1
    assert _count_completed(open_["review_deputy"]) == 1
    offered_final = db.session.execute(
        select(func.count(AuditEvent.seq)).where(
            AuditEvent.kind == "task_offered", AuditEvent.instance_id == instance_id
        )
    ).scalar_one()
    assert offered_final == 3  # two branches and the final task, each once


def test_retry_of_a_task_completed_meanwhile_is_a_conflict(
    ctx: Flask, interleave: list[Any]
) -> None:
    me = f"mo_head.{SCHOOL}"
    instance = instances.start_instance(_user(me), "mo_plan_approval", _school().id, {})
    task_id = _open_tasks(instance.id)["Task_draft"]
    interleave.append(lambda: tasks.complete(_user(me), task_id, mo_plan(theme="первая")))
    with pytest.raises(Conflict) as caught:
        tasks.complete(_user(me), task_id, mo_plan(theme="вторая"))
    assert "уже выполнена" in caught.value.message
    db.session.expire_all()
    assert _count_completed(task_id) == 1
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.kind == "task_completed", AuditEvent.task_id == task_id)
    ).scalar_one()
    assert event.payload["data"]["theme"] == "первая"
    assert list(_open_tasks(instance.id)) == ["Task_council_review"]
