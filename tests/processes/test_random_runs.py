"""Random valid form data never leaves an instance stuck.

Each process is driven many times with a seeded RNG: start data and every task's data are
generated from the forms' JSON Schemas, the task is completed by a user it was offered to,
and now and then the clock jumps past the next timer and the timer job runs. Every run must
end, or still have an open task offered to someone, or wait on a timer; an instance with no
open task and no timer that is not completed is stuck, and an instance in `error` failed.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from random import Random
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import OrgUnit, ProcessInstance, User
from app.models.base import utcnow
from app.services import deployment, instances, tasks, timers
from tests.processes.formdata import FormData
from tests.processes.support import Clock

RUNS = 25
STEP_CAP = 60
MUNICIPAL_STARTERS = {
    "tripartite_agreement": "mms_methodist",
    "roadmap_approval": "mms_methodist",
}
TIMED = {"tripartite_agreement", "attestation_support"}  # the others have due dates only
SCHOOLS = {"gatchina": ["gatchina-school-1", "gatchina-school-2"], "luga": ["luga-school-1"]}


def _user(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def _unit(slug: str) -> OrgUnit:
    return db.session.execute(select(OrgUnit).where(OrgUnit.slug == slug)).scalar_one()


class Run:
    """One randomly driven instance: where it starts and the context a UI would fill in."""

    def __init__(self, key: str, seed: int) -> None:
        self.key = key
        self.rng = Random(f"{key}:{seed}")
        self.data = FormData(self.rng, first_bias=0.5)
        self.municipality = self.rng.choice(sorted(SCHOOLS))
        self.school = self.rng.choice(SCHOOLS[self.municipality])

    def starter(self) -> tuple[str, str]:
        """(username, unit slug) of whoever starts the process."""
        if self.key in MUNICIPAL_STARTERS:
            return f"{MUNICIPAL_STARTERS[self.key]}.{self.municipality}", self.municipality
        if self.key == "mma_selection":
            return f"teacher.{self.school}", self.municipality
        return f"teacher.{self.school}", self.school

    def fill(self, form: str, schema: dict[str, Any]) -> dict[str, Any]:
        """Random valid data, with the user names and file ids a UI would fill in itself."""
        data = self.data.form(schema)
        name = form.rsplit("/", 1)[-1]
        if self.key == "mma_selection" and name in ("start.json", "clarify.json"):
            if self.rng.random() < 0.5:
                # Half the applicants meet every criterion, so that runs get past the DMN.
                data.update(has_higher_pedagogical_education=True, qualification_category="highest")
                data["pedagogical_experience_years"] = self.rng.randint(5, 40)
                data["contributions"] = data["contributions"] or ["gia_expert"]
            if name == "start.json":
                data["applicant_username"] = f"teacher.{self.school}"
                # Named users are checked (x-user): the UI offers real ones, never random text.
                nominated = data["application_kind"] == "nomination"
                data["nominator_username"] = f"director.{self.school}" if nominated else ""
        if self.key == "attestation_support":
            if name == "start.json":
                data["teacher_username"] = f"teacher.{self.school}"
            if name == "plan.json":
                data["expert_username"] = f"mo_head.{self.school}"
            if name == "portfolio.json":
                data["portfolio_attachments"] = []  # ids of uploaded files
        return data


def _drive(app: Flask, run: Run, clock: Clock) -> tuple[str, list[str]]:
    """Drive one instance; returns its final status and the steps taken."""
    username, slug = run.starter()
    version = deployment.latest_version(run.key)
    assert version is not None
    start_form = deployment.definition_for(version).start_form
    assert start_form is not None
    data = run.fill(start_form, version.forms[start_form])
    instance = instances.start_instance(_user(username), run.key, _unit(slug).id, data)
    steps: list[str] = []
    for _ in range(STEP_CAP):
        assert instance.status != "error", (run.key, steps, instance.error)
        if instance.status == "completed":
            break
        open_tasks = instances.open_tasks(instance)
        if open_tasks and (instance.next_timer_at is None or run.rng.random() > 0.15):
            task = run.rng.choice(open_tasks)
            offered = [db.session.get(User, c.user_id) for c in task.candidates]
            assert offered, (run.key, task.bpmn_id, "offered to nobody", steps)
            actor = run.rng.choice(offered)
            assert actor is not None and task.form is not None
            tasks.complete(actor, task.id, run.fill(task.form, instance.version.forms[task.form]))
            steps.append(task.bpmn_id)
        elif instance.next_timer_at is not None:
            due = instance.next_timer_at - utcnow() - Clock.offset + timedelta(minutes=1)
            clock.move(seconds=max(due.total_seconds(), 0))
            with app.app_context():
                timers.advance_due_instances(now=clock.now())
            steps.append("timer")
            db.session.expire_all()
        else:
            pytest.fail(f"{run.key}: stuck in {instance.status} after {steps}")
        instance = db.session.get(ProcessInstance, instance.id)  # type: ignore[assignment]
    if instance.status != "completed":
        # Step cap reached: the instance must still be able to go on.
        assert instances.open_tasks(instance) or instance.next_timer_at is not None, steps
    return instance.status, steps


@pytest.mark.parametrize(
    "key", ["tripartite_agreement", "mma_selection", "roadmap_approval", "attestation_support"]
)
def test_random_valid_data_never_gets_stuck(ctx: Flask, clock: Clock, key: str) -> None:
    outcomes: Counter[str] = Counter()
    visited: Counter[str] = Counter()
    for seed in range(RUNS):
        status, steps = _drive(ctx, Run(key, seed), clock)
        outcomes[status] += 1
        visited.update(steps)
    assert sum(outcomes.values()) == RUNS
    assert outcomes["completed"] >= RUNS // 2, outcomes
    if key in TIMED:
        assert visited["timer"] > 0, visited  # timers fired at random points along the way
    version = deployment.latest_version(key)
    assert version is not None
    user_tasks = set(deployment.definition_for(version).user_tasks)
    assert user_tasks <= set(visited), user_tasks - set(visited)  # the runs reach every step
