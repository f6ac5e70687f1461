"""Drafts of task forms: «Сохранить черновик» keeps what a user entered, valid or not.

A draft belongs to one task and one user (the one who may fill the form in now: its claimant,
or a candidate while nobody has claimed it). It is shown again when that user opens the task
and removed when the task is completed. The audit event names the fields saved and the hash
of the values, not the values themselves: drafts hold personal data that the completion event
records once, when it becomes the process's data.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import delete, select

from ..extensions import db
from ..models import HumanTask, TaskDraft, User
from ..models.base import utcnow
from . import audit, forms
from .deployment import form_schema
from .errors import ValidationFailed
from .uow import transaction

MAX_DRAFT_BYTES = 256 * 1024


def _canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _task_to_fill(actor: User, task_id: int) -> HumanTask:
    """The task the actor may fill in now (tasks.task_to_fill: the same rule as completing)."""
    from .tasks import task_to_fill  # tasks → progress → task_drafts: import when called

    return task_to_fill(actor, task_id)


def _kept_fields(task: HumanTask, data: dict[str, Any]) -> dict[str, Any]:
    schema = form_schema(task.instance.process_version_id, task.form)
    if schema is None:
        return {}
    allowed = forms.declared_fields(schema)
    return {k: v for k, v in data.items() if k in allowed}


def save(actor: User, task_id: int, data: Any) -> TaskDraft:
    """Keep the entered values of the task's form for the actor (no validation of content)."""
    if not isinstance(data, dict):
        raise ValidationFailed(
            "Данные формы должны быть объектом.", {"data": ["Ожидается объект."]}
        )
    with transaction():
        task = _task_to_fill(actor, task_id)
        kept = _kept_fields(task, data)
        text = _canonical(kept)
        if len(text.encode()) > MAX_DRAFT_BYTES:
            raise ValidationFailed(
                "Черновик слишком большой.",
                {"data": [f"Не более {MAX_DRAFT_BYTES // 1024} КБ данных формы."]},
            )
        draft = db.session.execute(
            select(TaskDraft).where(
                TaskDraft.human_task_id == task.id, TaskDraft.user_id == actor.id
            )
        ).scalar_one_or_none()
        if draft is None:
            draft = TaskDraft(human_task_id=task.id, user_id=actor.id, data=kept)
            db.session.add(draft)
        else:
            draft.data = kept
        draft.saved_at = utcnow()
        db.session.flush()
        audit.record_task(
            "task_draft_saved",
            actor,
            task,
            fields=sorted(kept),
            sha256=hashlib.sha256(text.encode()).hexdigest(),
        )
    return draft


def own_draft(actor: User, task: HumanTask) -> TaskDraft | None:
    """The actor's draft of an open task, if one was saved."""
    if task.status != "open":
        return None
    return db.session.execute(
        select(TaskDraft).where(TaskDraft.human_task_id == task.id, TaskDraft.user_id == actor.id)
    ).scalar_one_or_none()


def get(actor: User, task_id: int) -> TaskDraft | None:
    """The actor's draft of a task they may fill in now (None when nothing was saved)."""
    return own_draft(actor, _task_to_fill(actor, task_id))


def discard(actor: User, task_id: int) -> bool:
    """Delete the actor's draft of a task they may fill in; False when there was none."""
    with transaction():
        task = _task_to_fill(actor, task_id)
        draft = own_draft(actor, task)
        if draft is None:
            return False
        db.session.delete(draft)
        audit.record_task("task_draft_discarded", actor, task)
    return True


def discard_for_task(task: HumanTask) -> None:
    """Remove every draft of a task that is done (caller's transaction)."""
    db.session.execute(delete(TaskDraft).where(TaskDraft.human_task_id == task.id))
