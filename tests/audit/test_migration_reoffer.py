"""A migration that moves a waiting task to another lane re-offers it as a normal offer does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Notification, ProcessInstance
from app.models.base import utcnow
from app.services import audit, deployment, instance_migration, instances, substitution, tasks
from app.services.timeline import timeline
from tests.designer.helpers import KEY, unit, user, v1_bundle

TEACHER = "teacher.gatchina-school-1"
DIRECTOR = "director.gatchina-school-1"
DEPUTY = "deputy_director.gatchina-school-1"
STAND_IN = "teacher.gatchina-school-2"


def _lane_moved_bundle() -> deployment.Bundle:
    bundle = v1_bundle()
    source = bundle.sources[f"{KEY}.bpmn"].decode()
    bundle.sources[f"{KEY}.bpmn"] = source.replace(
        'name="director"', 'name="deputy_director"'
    ).encode()
    return bundle


def test_reoffered_task_is_audited_with_old_and_new_offer_and_notified(ctx: Any) -> None:
    deployment.deploy(v1_bundle(), user("designer"))
    school = unit("gatchina-school-1").id
    started = instances.start_instance(user(TEACHER), KEY, school, {})
    tasks.complete(user(TEACHER), instances.open_tasks(started)[0].id, {"request_text": "Б"})
    (waiting,) = instances.open_tasks(started)
    tasks.claim(user(DIRECTOR), waiting.id)
    now = utcnow()
    substitution.create(
        user("admin"),
        user(DEPUTY).id,
        user(STAND_IN).id,
        now - timedelta(hours=1),
        now + timedelta(days=5),
        "Отпуск заместителя",
    )
    deployment.deploy(_lane_moved_bundle(), user("designer"))

    result = instance_migration.migrate_instances(user("designer"), KEY, 1, 2)
    assert [m["id"] for m in result["migrated"]] == [started.id]

    (event,) = db.session.execute(
        select(AuditEvent).where(
            AuditEvent.task_id == waiting.id, AuditEvent.kind == "task_reoffered"
        )
    ).scalars()
    payload = event.payload
    assert event.actor_username == "designer"
    assert (payload["from_version"], payload["to_version"], payload["reason"]) == (
        1,
        2,
        "migration",
    )
    assert payload["before"]["lane"] == "director"
    assert payload["before"]["offered_to"] == [DIRECTOR]
    assert payload["before"]["claimed_by"] == DIRECTOR
    assert payload["after"]["lane"] == "deputy_director"
    assert payload["after"]["offered_to"] == [DEPUTY]
    assert payload["after"]["substitutes"] == {STAND_IN: DEPUTY}
    migrated = db.session.execute(
        select(AuditEvent).where(
            AuditEvent.instance_id == started.id, AuditEvent.kind == "instance_migrated"
        )
    ).scalar_one()
    assert migrated.payload["reoffered"] == [waiting.bpmn_id]

    told = set(
        db.session.execute(
            select(Notification.user_id).where(
                Notification.task_id == waiting.id, Notification.kind == "task_offered"
            )
        ).scalars()
    )
    assert {user(DEPUTY).id, user(STAND_IN).id} <= told
    # The substitute finds the task in their inbox, as after a normal offer.
    assert waiting.id in {t.id for t in tasks.inbox(user(STAND_IN)).items}
    assert audit.verify()["ok"]

    story = timeline(user("admin"), started.id).as_dict()
    step = next(s for s in story["steps"] if s["task_id"] == waiting.id)
    assert step["offered_to"] == [DEPUTY] and step["claimed_by"] is None
    assert db.session.get(ProcessInstance, started.id).version.version == 2
