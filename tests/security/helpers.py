"""Shared helpers of the security suite."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, HumanTask, ProcessInstance, ProcessVersion
from tests.conftest import ApiClient

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "reliability"


def upload(api: ApiClient, user: str | None, files: list[tuple[str, bytes]]) -> Any:
    """POST /api/v1/processes with every file in the multipart field `files`."""
    headers = {"Authorization": f"Bearer {api.token(user)}"} if user else {}
    # Encoded here: the test client spools big bodies to temp files it never closes.
    boundary = uuid.uuid4().hex
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
        for name, content in files
    )
    return api.client.post(
        "/api/v1/processes",
        data=body + f"--{boundary}--\r\n".encode(),
        headers=headers,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def parallel_bundle(name_suffix: str = "") -> list[tuple[str, bytes]]:
    """The small valid process of tests/data/reliability with its forms (a different name
    suffix makes a new version)."""
    bpmn = (DATA_DIR / "parallel_review.bpmn").read_text(encoding="utf-8")
    title = 'name="Параллельное рассмотрение (тест надёжности)"'
    bpmn = bpmn.replace(title, title[:-1] + name_suffix + '"')
    files = [("parallel_review.bpmn", bpmn.encode("utf-8"))]
    files += [
        (p.name, p.read_bytes()) for p in sorted((DATA_DIR / "reliability_parallel").glob("*"))
    ]
    return files


def counts(app: Any) -> dict[str, int]:
    """Row counts of the tables an attack must not change."""
    with app.app_context():
        result = {
            model.__tablename__: db.session.execute(
                select(func.count()).select_from(model)
            ).scalar_one()
            for model in (AuditEvent, ProcessVersion, ProcessInstance, HumanTask)
        }
        db.session.remove()
        return result
