"""Use cases on process instances: start, read, history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .. import engine
from ..extensions import db
from ..models import AuditEvent, HumanTask, OrgUnit, ProcessInstance, TaskCandidate, User
from . import assignment, audit, forms, personal_data
from .deployment import definition_for, latest_version
from .errors import NotAllowed, NotFound, ValidationFailed
from .operations import OperationContext
from .progress import persist, run_engine
from .roles import SUPERVISORY_ROLES
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

        def start() -> None:
            holder["runner"] = engine.Runner.start(
                definition, start_data, OperationContext(instance, unit, actor)
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
    """Participants, holders of a lane role in scope, and auditors/admins above the unit."""
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
    if roles & SUPERVISORY_ROLES:
        return True
    definition = definition_for(instance.version)
    return bool(roles & set(definition.lanes))


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
