"""Signatures of generated documents: recorded when a signing task is completed.

A user task signs a document when it carries the extension property `signatureOf`, naming the
data key where `generate_document` stored `{attachment_id, sha256, filename}`. Completing the
task records who signed, in which role, and the SHA-256 of the document the signer was shown.
A signature counts only while that document is still the process's current one: when the
process generates the document again (a new attachment), earlier signatures are void.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import Attachment, HumanTask, ProcessInstance, Signature, User
from . import audit
from .deployment import definition_by_id
from .errors import ValidationFailed
from .instances import get_instance
from .progress import load_runner

SIGNATURE_PROPERTY = "signatureOf"


def signed_document_key(instance: ProcessInstance, bpmn_id: str) -> str | None:
    """The data key of the document a task signs, or None for ordinary tasks."""
    info = definition_by_id(instance.process_version_id).user_tasks.get(bpmn_id)
    if info is None:
        return None
    return info.properties.get(SIGNATURE_PROPERTY) or None


def _shown_data(instance: ProcessInstance, task: HumanTask, actor: User) -> dict[str, Any]:
    """The task data the signer saw (the stored state is still the one before completion)."""
    runner = load_runner(instance, actor)
    for ready in runner.ready_tasks():
        if ready.id == task.task_uuid:
            return dict(ready.data)
    return {}


def record_if_signing(actor: User, task: HumanTask, instance: ProcessInstance) -> Signature | None:
    """Record the signature of a completed signing task (caller's transaction, before persist)."""
    key = signed_document_key(instance, task.bpmn_id)
    if key is None:
        return None
    document = _shown_data(instance, task, actor).get(key)
    attachment = None
    if isinstance(document, dict) and isinstance(document.get("attachment_id"), int):
        attachment = db.session.get(Attachment, document["attachment_id"])
    if (
        attachment is None
        or attachment.instance_id != instance.id
        or attachment.sha256 != document.get("sha256")  # type: ignore[union-attr]
    ):
        raise ValidationFailed(
            "Нечего подписывать: документ не сформирован или изменён.",
            {"document": [f"Документ «{key}» не найден среди файлов процесса."]},
        )
    signature = Signature(
        instance_id=instance.id,
        attachment_id=attachment.id,
        document_key=key,
        document_sha256=attachment.sha256,
        signer_id=actor.id,
        role=task.lane or "",
        human_task_id=task.id,
    )
    db.session.add(signature)
    db.session.flush()
    audit.record_task(
        "signature_given",
        actor,
        task,
        signature_id=signature.id,
        document_key=key,
        attachment_id=attachment.id,
        filename=attachment.filename,
        sha256=attachment.sha256,
        role=signature.role,
    )
    return signature


@dataclass
class SignatureView:
    """A signature with whether it still confirms the process's current document."""

    id: int
    instance_id: int
    document_key: str
    attachment_id: int
    filename: str
    sha256: str
    signer: str
    signer_name: str
    role: str
    task_id: int | None
    signed_at: datetime
    valid: bool
    reason: str


def _verdict(signature: Signature, current: Any) -> tuple[bool, str]:
    if signature.attachment.sha256 != signature.document_sha256:
        return False, "Содержимое подписанного файла не совпадает с подписанным хэшем."
    if not isinstance(current, dict):
        return False, "Подписанного документа больше нет в данных процесса."
    if (
        current.get("attachment_id") != signature.attachment_id
        or current.get("sha256") != signature.document_sha256
    ):
        return False, "Документ сформирован заново: подпись относится к прежней редакции."
    return True, ""


def list_signatures(actor: User, instance_id: int) -> list[SignatureView]:
    """Signatures of an instance the actor may see, each with its validity now."""
    instance = get_instance(actor, instance_id)
    rows = list(
        db.session.execute(
            select(Signature)
            .where(Signature.instance_id == instance.id)
            .order_by(Signature.signed_at, Signature.id)
        ).scalars()
    )
    if not rows:
        return []
    data = load_runner(instance, actor).data
    result = []
    for row in rows:
        valid, reason = _verdict(row, data.get(row.document_key))
        result.append(
            SignatureView(
                id=row.id,
                instance_id=row.instance_id,
                document_key=row.document_key,
                attachment_id=row.attachment_id,
                filename=row.attachment.filename,
                sha256=row.document_sha256,
                signer=row.signer.username,
                signer_name=row.signer.full_name,
                role=row.role,
                task_id=row.human_task_id,
                signed_at=row.signed_at,
                valid=valid,
                reason=reason,
            )
        )
    return result
