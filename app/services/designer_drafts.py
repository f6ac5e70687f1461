"""Drafts edited in the browser: one working copy per process, validated and deployed from there."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import ProcessDraft, User
from ..models.base import utcnow
from . import deployment, designer
from .errors import NotFound, ValidationFailed
from .uow import transaction

_FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,150}\.(bpmn|dmn)$")
_FORM_PATH = re.compile(r"^[A-Za-z0-9_-]{1,100}(/[A-Za-z0-9_-]{1,100})*\.json$")


@dataclass
class Draft:
    """What the editor opens: the saved draft, or the latest version when there is none."""

    key: str
    name: str
    files: dict[str, str]
    forms: dict[str, str]
    main_file: str
    base_version: int | None
    saved: bool
    updated_by: str | None = None
    updated_at: datetime | None = None


def _stored(key: str) -> ProcessDraft | None:
    return db.session.execute(
        select(ProcessDraft).where(ProcessDraft.key == key)
    ).scalar_one_or_none()


def _form_text(schema: Any) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


def open_draft(actor: User | None, key: str) -> Draft:
    """The working copy of a process for the editor."""
    designer.require_designer(actor)
    latest = deployment.latest_version(key)
    if latest is None:
        raise NotFound(f"Процесс «{key}» не найден.")
    stored = _stored(key)
    if stored is not None:
        files, forms = dict(stored.files), dict(stored.forms)
        who = stored.updated_by.username if stored.updated_by else None
        return Draft(
            key,
            latest.name,
            files,
            forms,
            _main(files, key),
            stored.base_version,
            True,
            who,
            stored.updated_at,
        )
    files = dict(latest.files)
    forms = {path: _form_text(schema) for path, schema in latest.forms.items()}
    return Draft(key, latest.name, files, forms, _main(files, key), latest.version, False)


def _main(files: dict[str, str], key: str) -> str:
    for name, text in sorted(files.items()):
        if name.endswith(".bpmn") and f'id="{key}"' in text:
            return name
    return next((n for n in sorted(files) if n.endswith(".bpmn")), "")


def _check_entries(files: dict[str, str], forms: dict[str, str]) -> None:
    errors: dict[str, list[str]] = {}
    for name, text in files.items():
        if not _FILE_NAME.match(name):
            errors.setdefault("files", []).append(f"Недопустимое имя файла: {name}")
        elif len(text.encode("utf-8")) > deployment.MAX_FILE_BYTES:
            errors.setdefault("files", []).append(f"Файл {name} больше допустимого размера.")
    for path, text in forms.items():
        if not _FORM_PATH.match(path):
            errors.setdefault("forms", []).append(f"Недопустимый путь формы: {path}")
        elif len(text.encode("utf-8")) > deployment.MAX_FILE_BYTES:
            errors.setdefault("forms", []).append(f"Форма {path} больше допустимого размера.")
    if errors:
        raise ValidationFailed("Черновик не сохранён.", errors)


def save_draft(
    actor: User | None,
    key: str,
    files: dict[str, str] | None = None,
    forms: dict[str, str] | None = None,
) -> Draft:
    """Store edited files and forms (merged over the current working copy)."""
    current = open_draft(actor, key)
    files = {k: v for k, v in (files or {}).items() if isinstance(v, str)}
    forms = {k: v for k, v in (forms or {}).items() if isinstance(v, str)}
    _check_entries(files, forms)
    with transaction():
        stored = _stored(key)
        if stored is None:
            stored = ProcessDraft(key=key, base_version=current.base_version)
            db.session.add(stored)
        stored.files = {**current.files, **files}
        stored.forms = {**current.forms, **forms}
        stored.updated_by_id = actor.id if actor else None
        stored.updated_at = utcnow()
    return open_draft(actor, key)


def discard_draft(actor: User | None, key: str) -> None:
    """Forget the working copy; the editor opens the latest version again."""
    designer.require_designer(actor)
    with transaction():
        stored = _stored(key)
        if stored is not None:
            db.session.delete(stored)


def _bundle(draft: Draft) -> deployment.Bundle:
    return deployment.Bundle(
        sources={n: t.encode("utf-8") for n, t in draft.files.items()},
        forms={p: t.encode("utf-8") for p, t in draft.forms.items()},
    )


def validate_draft(actor: User | None, key: str) -> designer.DryRun:
    """The deployment report of the working copy; nothing is written."""
    return designer.validate_upload(actor, _bundle(open_draft(actor, key)))


def deploy_draft(actor: User | None, key: str) -> tuple[list[deployment.DeployOutcome], list[Any]]:
    """Deploy the working copy as a new version (raises DeploymentRejected with the report)."""
    draft = open_draft(actor, key)
    outcomes, problems = deployment.deploy(_bundle(draft), actor)
    discard_draft(actor, key)
    return outcomes, problems
