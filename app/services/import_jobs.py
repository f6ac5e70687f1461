"""Imports started from the UI run in a background thread; their progress is a small JSON file.

A file per job (under IMPORT_JOBS_DIR, mode 0600) rather than memory, so the progress poll may
land on any worker process of the same host. The one-time setup tokens of a finished import are
kept in the job file until the admin downloads them once; then they are erased.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from ..extensions import db
from ..models import User
from ..models.base import utcnow
from .errors import NotFound, ServiceError
from .org_import import import_csv

_LOCK = threading.Lock()


def _dir() -> Path:
    path = Path(current_app.config.get("IMPORT_JOBS_DIR") or "instance/import-jobs")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _path(job_id: str) -> Path:
    if not job_id.isalnum():
        raise NotFound("Импорт не найден.")
    return _dir() / f"{job_id}.json"


def _write(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    with _LOCK:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state, handle, ensure_ascii=False)
        tmp.replace(path)


def _read(path: Path) -> dict[str, Any]:
    with _LOCK:
        return dict(json.loads(path.read_text(encoding="utf-8")))


def start(actor: User, text: str, filename: str) -> str:
    """Start importing text as actor in a background thread; the job id to poll."""
    job_id = secrets.token_hex(12)
    path = _path(job_id)
    state: dict[str, Any] = {
        "id": job_id,
        "owner_id": actor.id,
        "filename": filename[:200],
        "state": "running",
        "stage": "очередь",
        "done": 0,
        "total": 0,
        "started_at": utcnow().isoformat(),
    }
    _write(path, state)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=_run, args=(app, path, actor.id, text), name=f"import-{job_id}", daemon=True
    )
    thread.start()
    return job_id


def _run(app: Flask, path: Path, actor_id: int, text: str) -> None:
    with app.app_context():
        state = _read(path)

        def progress(stage: str, done: int, total: int) -> None:
            state.update(stage=stage, done=done, total=total)
            _write(path, state)

        try:
            actor = db.session.get(User, actor_id)
            if actor is None:
                raise NotFound("Пользователь не найден.")
            report = import_csv(text, actor, progress=progress)
        except ServiceError as exc:
            state.update(state="failed", message=exc.message, errors=exc.errors)
        except Exception:  # a job must always end with a state the page can show
            app.logger.exception("Import job failed")
            state.update(state="failed", message="Внутренняя ошибка: импорт не выполнен.")
        else:
            state.update(
                state="done",
                users_created=report.users_created,
                units_created=report.units_created,
                grants_created=report.grants_created,
                setup_tokens=report.setup_tokens,
                tokens_count=len(report.setup_tokens),
            )
        finally:
            db.session.remove()
        state["finished_at"] = utcnow().isoformat()
        _write(path, state)


def status(actor: User, job_id: str) -> dict[str, Any]:
    """The job's progress for its owner (without the setup tokens)."""
    path = _path(job_id)
    if not path.exists():
        raise NotFound("Импорт не найден.")
    state = _read(path)
    if state.get("owner_id") != actor.id:
        raise NotFound("Импорт не найден.")
    shown = {k: v for k, v in state.items() if k not in ("setup_tokens", "owner_id")}
    total = int(state.get("total") or 0)
    shown["percent"] = (
        100
        if state["state"] != "running"
        else (int(100 * int(state.get("done") or 0) / total) if total else 0)
    )
    return shown


def take_tokens(actor: User, job_id: str) -> dict[str, str]:
    """The setup tokens of a finished job, once: they are erased from the job file."""
    path = _path(job_id)
    if not path.exists():
        raise NotFound("Импорт не найден.")
    state = _read(path)
    if state.get("owner_id") != actor.id or state.get("state") != "done":
        raise NotFound("Импорт не найден.")
    tokens = dict(state.get("setup_tokens") or {})
    state["setup_tokens"] = {}
    state["tokens_taken"] = True
    _write(path, state)
    return tokens
