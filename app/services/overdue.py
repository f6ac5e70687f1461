"""The overdue view for supervisors: open tasks past their due time, by municipality and process."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from ..extensions import db
from ..models import HumanTask, OrgUnit, ProcessInstance, User
from ..models.base import utcnow
from . import assignment
from .deployment import latest_versions
from .errors import NotAllowed
from .roles import ZONE_ROLES

# The heads who oversee the open work below the units where they hold the role (the inbox's
# «Все в моей зоне» tab), with admins and auditors: one definition in roles.ZONE_ROLES.
OVERDUE_ROLES = tuple(sorted(ZONE_ROLES))


@dataclass
class OverdueView:
    """Overdue open tasks in the actor's scope: one page of them and counts by group."""

    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    by_municipality: list[dict[str, Any]]
    by_process: list[dict[str, Any]]


def _municipality(unit_id: int, units: dict[int, OrgUnit]) -> OrgUnit:
    """The municipality a unit belongs to; units above that tier stand for themselves."""
    unit = units[unit_id]
    node: OrgUnit | None = unit
    while node is not None:
        if node.tier == "municipality":
            return node
        node = units.get(node.parent_id) if node.parent_id else None
    return unit


def overdue_tasks(
    actor: User,
    now: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
    *,
    municipality_id: int | None = None,
    process_key: str | None = None,
) -> OverdueView:
    """Open tasks past their due time in instances under the units the actor supervises.

    The counts by municipality and by process cover the whole scope; `municipality_id` and
    `process_key` narrow the listed tasks (and `total`) to one group.
    """
    roots = assignment.units_with_role(actor, OVERDUE_ROLES)
    if not roots:
        raise NotAllowed(
            "Просроченные задачи видят руководители, аудиторы и администраторы в своей зоне."
        )
    moment = now or utcnow()
    page, per_page = max(page, 1), min(max(per_page, 1), 200)
    scope = assignment.subtree_ids(roots)
    where = (
        HumanTask.status == "open",
        HumanTask.due_at.is_not(None),
        HumanTask.due_at < moment,
        ProcessInstance.org_unit_id.in_(scope),
    )
    units = {u.id: u for u in db.session.execute(select(OrgUnit)).scalars()}
    names = {v.key: v.name for v in latest_versions()}
    by_unit: dict[int, int] = {}
    by_process: dict[str, int] = {}
    total = 0
    for unit_id, key, count in db.session.execute(
        select(ProcessInstance.org_unit_id, HumanTask.process_key, func.count(HumanTask.id))
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(*where)
        .group_by(ProcessInstance.org_unit_id, HumanTask.process_key)
    ):
        group = _municipality(unit_id, units).id
        by_unit[group] = by_unit.get(group, 0) + count
        by_process[key] = by_process.get(key, 0) + count
        if municipality_id in (None, group) and process_key in (None, key):
            total += count
    narrow: list[Any] = []
    if municipality_id is not None:
        members = [u for u in scope if u in units and _municipality(u, units).id == municipality_id]
        narrow.append(ProcessInstance.org_unit_id.in_(members))
    if process_key is not None:
        narrow.append(HumanTask.process_key == process_key)
    rows = db.session.execute(
        select(HumanTask, ProcessInstance.org_unit_id)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(*where, *narrow)
        .order_by(HumanTask.due_at, HumanTask.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    items = [
        {
            "id": task.id,
            "instance_id": task.instance_id,
            "process_key": task.process_key,
            "bpmn_id": task.bpmn_id,
            "name": task.name,
            "lane": task.lane,
            "due_at": task.due_at,
            "overdue_days": (moment - task.due_at).days,
            "claimed_by": task.claimed_by_username,
            "org_unit_id": unit_id,
            "org_unit_name": units[unit_id].name,
            "municipality_id": _municipality(unit_id, units).id,
            "municipality_name": _municipality(unit_id, units).name,
            "process_name": names.get(task.process_key, task.process_key),
            "title": task.instance_title,
        }
        for task, unit_id in rows
    ]
    return OverdueView(
        items=items,
        total=total,
        page=page,
        per_page=per_page,
        by_municipality=[
            {
                "org_unit_id": uid,
                "slug": units[uid].slug,
                "name": units[uid].name,
                "tier": units[uid].tier,
                "count": count,
            }
            for uid, count in sorted(by_unit.items(), key=lambda kv: (-kv[1], units[kv[0]].name))
        ],
        by_process=[
            {"process_key": key, "name": names.get(key, key), "count": count}
            for key, count in sorted(by_process.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    )
