"""Moving running instances of one process version to another (audited, one by one)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .. import engine
from ..extensions import db
from ..models import HumanTask, ProcessInstance, ProcessVersion, TaskCandidate, User
from . import assignment, audit, designer, forms, notifications, substitution
from .deployment import definition_for
from .errors import ConcurrentUpdate, ServiceError, ValidationFailed
from .operations import OperationContext
from .progress import persist
from .uow import transaction


def _start_defaults(version: ProcessVersion, definition: engine.ProcessDefinition) -> dict:
    """Defaults of the new version's start parameters (added where an instance lacks them)."""
    schema = version.forms.get(definition.start_form or "")
    if not isinstance(schema, dict):
        return {}
    return forms.with_defaults(schema, {})


def _candidates(key: str, source: ProcessVersion, ids: list[int] | None) -> list[ProcessInstance]:
    query = (
        select(ProcessInstance)
        .where(
            ProcessInstance.process_key == key,
            ProcessInstance.process_version_id == source.id,
        )
        .order_by(ProcessInstance.id)
    )
    if ids:
        query = query.where(ProcessInstance.id.in_(ids))
    return list(db.session.execute(query).scalars())


def migrate_instances(
    actor: User | None,
    key: str,
    from_version: int,
    to_version: int,
    dry_run: bool = False,
    instance_ids: list[int] | None = None,
) -> dict[str, Any]:
    """Re-attach running instances of from_version to to_version where their state allows.

    An instance migrates when every step it has passed or waits at exists in the new version;
    the others are listed with the reason and stay on their version. Each instance moves in its
    own transaction with an `instance_migrated` audit event; human tasks keep their ids.
    """
    source = designer.get_version(actor, key, from_version)
    target = designer.get_version(actor, key, to_version)
    if to_version <= from_version:
        raise ValidationFailed(
            "Переносить экземпляры можно только на более новую версию.",
            {"to_version": ["Укажите версию новее исходной."]},
        )
    old_definition = definition_for(source)
    new_definition = definition_for(target)
    defaults = _start_defaults(target, new_definition)
    instances = _candidates(key, source, instance_ids)
    db.session.rollback()  # read phase done; every instance below is its own transaction
    migrated: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for instance_id in [i.id for i in instances]:
        try:
            outcome = _migrate_one(
                actor,
                instance_id,
                source,
                target,
                old_definition,
                new_definition,
                defaults,
                dry_run,
            )
        except engine.MigrationBlocked as exc:
            skipped.append(
                {
                    "id": instance_id,
                    "reason": f"Не перенесён: {exc}.",
                    "elements": [m.element_id for m in exc.missing],
                }
            )
            continue
        except ConcurrentUpdate:
            skipped.append(
                {
                    "id": instance_id,
                    "reason": "Экземпляр изменён одновременно с переносом.",
                    "elements": [],
                }
            )
            continue
        except (engine.EngineError, ServiceError) as exc:
            skipped.append({"id": instance_id, "reason": f"Не перенесён: {exc}", "elements": []})
            continue
        if outcome is None:
            skipped.append(
                {
                    "id": instance_id,
                    "reason": "Переносятся только выполняющиеся и ожидающие экземпляры.",
                    "elements": [],
                }
            )
        else:
            migrated.append(outcome)
    return {
        "key": key,
        "from_version": from_version,
        "to_version": to_version,
        "dry_run": dry_run,
        "migrated": migrated,
        "skipped": skipped,
    }


def _migrate_one(
    actor: User | None,
    instance_id: int,
    source: ProcessVersion,
    target: ProcessVersion,
    old_definition: engine.ProcessDefinition,
    new_definition: engine.ProcessDefinition,
    defaults: dict[str, Any],
    dry_run: bool,
) -> dict[str, Any] | None:
    with transaction():
        instance = db.session.get(ProcessInstance, instance_id)
        if instance is None or instance.process_version_id != source.id:
            raise ConcurrentUpdate("Экземпляр изменён одновременно с переносом.")
        if instance.status not in designer.ACTIVE_STATUSES:
            return None
        context = OperationContext(instance, instance.org_unit, actor)
        runner = engine.migrate_state(
            old_definition, new_definition, instance.state, context, defaults
        )
        waiting = [{"id": t.id, "bpmn_id": t.bpmn_id, "name": t.name} for t in runner.ready_tasks()]
        outcome = {"id": instance.id, "title": instance.title, "waiting": waiting}
        if dry_run:
            db.session.rollback()
            return outcome
        added = sorted(k for k in defaults if k not in _known_keys(runner))
        instance.process_version_id = target.id
        instance.version = target
        reoffered = _refresh_open_tasks(instance, runner, actor, source, target)
        audit.record(
            "instance_migrated",
            actor,
            instance_id=instance.id,
            org_unit_id=instance.org_unit_id,
            payload={
                "process_key": instance.process_key,
                "from_version": source.version,
                "to_version": target.version,
                "waiting": [w["bpmn_id"] for w in waiting],
                "defaults_added": added,
                "reoffered": reoffered,
            },
        )
        persist(instance, runner, actor)
    return outcome


def _known_keys(runner: engine.Runner) -> set[str]:
    """Keys the instance had before defaults were added (those of its finished tasks)."""
    last = runner.workflow.last_task
    return set(last.data) if last is not None else set()


def _refresh_open_tasks(
    instance: ProcessInstance,
    runner: engine.Runner,
    actor: User | None,
    source: ProcessVersion,
    target: ProcessVersion,
) -> list[str]:
    """Bring open inbox rows in line with the new version; re-offer tasks whose lane changed.

    A re-offered task goes through the normal offer path: substitutes in force of the new
    candidates are added, everyone new is notified, and a `task_reoffered` event records the
    old offer and the new one.
    """
    ready = {t.id: t for t in runner.ready_tasks()}
    rows = db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == "open")
    ).scalars()
    reoffered = []
    for row in rows:
        task = ready.get(row.task_uuid)
        if task is None:
            continue  # persist() cancels it
        row.name = task.name
        row.form = task.properties.get("formJsonSchemaFilename")
        row.documentation = task.documentation
        if task.lane != row.lane:
            old_offer = _offer_of(row)
            row.lane = task.lane
            unit, users = (
                assignment.offer(task.lane, instance.org_unit) if task.lane else (None, [])
            )
            row.org_unit_id = (unit or instance.org_unit).id
            row.claimed_by_id = None
            row.candidates = [TaskCandidate(user_id=u.id, reason="role") for u in users]
            substitutes = substitution.add_substitute_candidates(row, users)
            db.session.flush()
            audit.record(
                "task_reoffered",
                actor,
                instance_id=instance.id,
                task_id=row.id,
                org_unit_id=row.org_unit_id,
                payload={
                    "bpmn_id": row.bpmn_id,
                    "name": row.name,
                    "reason": "migration",
                    "from_version": source.version,
                    "to_version": target.version,
                    "before": old_offer,
                    "after": {
                        "lane": row.lane,
                        "org_unit_id": row.org_unit_id,
                        "offered_to": [u.username for u in users],
                        "substitutes": {s.username: away.username for s, away in substitutes},
                        "claimed_by": None,
                    },
                    "offered_to": [u.username for u in users],
                    "legal_basis": row.documentation,
                },
            )
            notifications.task_offered(row, [*users, *(s for s, _ in substitutes)])
            reoffered.append(row.bpmn_id)
    return reoffered


def _offer_of(row: HumanTask) -> dict[str, Any]:
    """Who a task was offered to before a migration changed its lane."""
    return {
        "lane": row.lane,
        "org_unit_id": row.org_unit_id,
        "offered_to": sorted(c.user.username for c in row.candidates),
        "claimed_by": row.claimed_by_username,
    }
