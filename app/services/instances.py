"""Use cases on process instances: start, read, history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .. import engine
from ..extensions import db
from ..models import AuditEvent, HumanTask, OrgUnit, ProcessInstance, TaskCandidate, User
from . import assignment, audit, forms, personal_data, user_fields
from .deployment import definition_for, latest_version
from .errors import NotAllowed, NotFound, ValidationFailed
from .operations import OperationContext
from .progress import persist, run_engine
from .roles import SUPERVISORY_ROLES, ZONE_ROLES
from .uow import transaction

_TIER_NAMES = {
    "region": "регион",
    "municipality": "муниципалитет",
    "institution": "образовательная организация",
}


def start_instance(
    actor: User, process_key: str, org_unit_id: int, data: dict[str, Any] | None
) -> ProcessInstance:
    """Start a process at an org unit if the actor holds its start role there."""
    version = latest_version(process_key)
    if version is None:
        raise NotFound(
            f"Процесс «{process_key}» не найден.",
            {"process_key": ["Нет развёрнутого процесса с таким ключом."]},
        )
    unit = db.session.get(OrgUnit, org_unit_id) if isinstance(org_unit_id, int) else None
    if unit is None or unit.closed_at is not None:
        raise NotFound("Организация не найдена.", {"org_unit_id": ["Нет такой организации."]})
    if version.scope_tier and unit.tier != version.scope_tier:
        raise ValidationFailed(
            "Процесс запускается на другом уровне.",
            {
                "org_unit_id": [
                    f"Процесс «{version.name}» запускается для уровня "
                    f"«{_TIER_NAMES.get(version.scope_tier, version.scope_tier)}»."
                ]
            },
        )
    # A municipal process may be started from a school of the municipality (the ММА applicant).
    starts_below = bool(
        version.start_role
        and assignment.units_with_role(actor, [version.start_role])
        & assignment.subtree_ids([unit.id])
    )
    if not version.start_role or not (
        starts_below or assignment.holds_role_on_path(actor, version.start_role, unit)
    ):
        raise NotAllowed(f"У вас нет права запускать «{version.name}» в «{unit.name}».")
    definition = definition_for(version)
    start_data = _start_data(version.forms, definition, data or {})
    if definition.start_form:
        user_fields.check(version.forms.get(definition.start_form), start_data, unit)
    with transaction():
        instance = ProcessInstance(
            process_version_id=version.id,
            process_key=version.key,
            org_unit_id=unit.id,
            status="running",
            title=f"{version.name} — {unit.name}",
            started_by_id=actor.id,
            state="",
        )
        instance.version = version
        instance.org_unit = unit
        db.session.add(instance)
        db.session.flush()
        holder: dict[str, engine.Runner] = {}
        # A scheduled process (timer start event with a literal date or cycle) started by hand
        # goes on at once: an extra instance, not one that waits for the schedule and repeats.
        from .scheduled_starts import schedule_of

        scheduled = schedule_of(version) is not None

        def start() -> None:
            holder["runner"] = engine.Runner.start(
                definition,
                start_data,
                OperationContext(instance, unit, actor),
                start_timer_fired=scheduled,
            )

        audit.record(
            "instance_started",
            actor,
            instance_id=instance.id,
            org_unit_id=unit.id,
            payload={"process_key": version.key, "version": version.version, "data": start_data},
        )
        run_engine(start)
        persist(instance, holder["runner"], actor)
    return instance


def _start_data(
    form_snapshot: dict[str, Any], definition: engine.ProcessDefinition, data: dict[str, Any]
) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationFailed(
            "Данные запуска должны быть объектом.", {"data": ["Ожидается объект."]}
        )
    if not definition.start_form or definition.start_form not in form_snapshot:
        return dict(data)
    schema = form_snapshot[definition.start_form]
    filled = forms.with_defaults(schema, data)
    forms.validate(schema, filled)
    allowed = forms.declared_fields(schema)
    return {k: v for k, v in filled.items() if k in allowed}


def may_view(actor: User, instance: ProcessInstance) -> bool:
    """Participants, lane roles in scope, auditors/admins above the unit and zone roles.

    Zone roles (roles.ZONE_ROLES: the heads who oversee the open work below them, as the
    inbox's «Все в моей зоне» tab lists it) read the instances of their zone; adding comments
    or files is left to participants and lane roles (documents.may_contribute).
    """
    if instance.started_by_id == actor.id:
        return True
    participant = db.session.execute(
        select(HumanTask.id)
        .join(TaskCandidate)
        .where(HumanTask.instance_id == instance.id, TaskCandidate.user_id == actor.id)
        .limit(1)
    ).first()
    if participant is not None:
        return True
    roles = assignment.roles_on_path(actor, instance.org_unit)
    if roles & (SUPERVISORY_ROLES | ZONE_ROLES):
        return True
    if holds_lane_role(instance, roles):
        return True
    return _task_in_zone(actor, instance)


def holds_lane_role(instance: ProcessInstance, roles: set[str]) -> bool:
    """True when one of the roles (held on the instance's path) names a lane of its process."""
    definition = definition_for(instance.version)
    return bool(roles & set(definition.lanes))


def _task_in_zone(actor: User, instance: ProcessInstance) -> bool:
    """A task of the instance sits in a unit under one where the actor holds a zone role.

    The inbox's zone tab lists a task by the task's unit as well as the instance's, so a
    regional instance with a step at a municipality is visible to that municipality's heads.
    """
    roots = assignment.units_with_role(actor, ZONE_ROLES)
    if not roots:
        return False
    zone = assignment.subtree_ids(roots)
    found = db.session.execute(
        select(HumanTask.id)
        .where(HumanTask.instance_id == instance.id, HumanTask.org_unit_id.in_(sorted(zone)))
        .limit(1)
    ).first()
    return found is not None


def get_instance(actor: User, instance_id: int) -> ProcessInstance:
    """An instance the actor may see; others look like they do not exist."""
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None or not may_view(actor, instance):
        raise NotFound("Экземпляр процесса не найден.")
    personal_data.record_view(actor, instance, resource="instance")
    return instance


def open_tasks(instance: ProcessInstance) -> list[HumanTask]:
    """Open human tasks of an instance."""
    return list(
        db.session.execute(
            select(HumanTask)
            .where(HumanTask.instance_id == instance.id, HumanTask.status == "open")
            .order_by(HumanTask.id)
        ).scalars()
    )


def history(actor: User, instance_id: int) -> list[dict[str, Any]]:
    """Audit events of an instance, oldest first."""
    instance = get_instance(actor, instance_id)
    events = db.session.execute(
        select(AuditEvent).where(AuditEvent.instance_id == instance.id).order_by(AuditEvent.seq)
    ).scalars()
    return [audit.serialize(e) for e in events]
