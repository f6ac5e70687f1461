"""Shared builders for the designer tests: the demo process (v1, v2) and the corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import OrgUnit, User
from app.services import deployment

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "designer"
CORPUS = DATA / "corpus"
KEY = "designer_demo"


def user(name: str) -> User:
    return db.session.execute(select(User).where(User.username == name)).scalar_one()


def unit(slug: str) -> OrgUnit:
    return db.session.execute(select(OrgUnit).where(OrgUnit.slug == slug)).scalar_one()


def demo_forms() -> dict[str, bytes]:
    base = DATA / "forms"
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*.json"))}


def corpus_forms(names: list[str]) -> dict[str, bytes]:
    return {name: (CORPUS / "forms" / name).read_bytes() for name in names}


def v1_source() -> str:
    return (DATA / "designer_demo.bpmn").read_text(encoding="utf-8")


def v2_source() -> str:
    """v2: the director's «Рассмотрение» step is replaced by «Проверка» with a deadline."""
    return (
        v1_source()
        .replace("Task_review", "Task_check")
        .replace("Рассмотрение заявки", "Проверка заявки")
        .replace("designer_demo/review.json", "designer_demo/check.json")
        .replace(
            '<spiffworkflow:property name="formJsonSchemaFilename" '
            'value="designer_demo/check.json" />',
            '<spiffworkflow:property name="formJsonSchemaFilename" '
            'value="designer_demo/check.json" />\n'
            '          <spiffworkflow:property name="dueIn" value="=check_due_in" />',
        )
    )


def v2_start_form() -> bytes:
    schema: dict[str, Any] = json.loads((DATA / "forms" / KEY / "start.json").read_text("utf-8"))
    schema["properties"]["check_due_in"] = {
        "type": "string",
        "title": "Срок проверки",
        "default": "P3D",
    }
    return json.dumps(schema, ensure_ascii=False).encode("utf-8")


def v1_bundle() -> deployment.Bundle:
    return deployment.Bundle(sources={f"{KEY}.bpmn": v1_source().encode()}, forms=demo_forms())


def v2_bundle() -> deployment.Bundle:
    forms = demo_forms()
    forms[f"{KEY}/start.json"] = v2_start_form()
    return deployment.Bundle(sources={f"{KEY}.bpmn": v2_source().encode()}, forms=forms)


def multipart(bundle: deployment.Bundle) -> dict[str, Any]:
    """A bundle as the multipart body of POST /api/v1/processes(/validate).

    Encoded in memory: the test client would spool a large body to a temporary file that
    nobody closes (a ResourceWarning, an error under our warning filters).
    """
    files = [(n, c) for n, c in bundle.sources.items()]
    files += [(f"forms/{n}", c) for n, c in bundle.forms.items()]
    return encode_files(files)


def encode_files(files: list[tuple[str, bytes]]) -> dict[str, Any]:
    """Keyword arguments for the test client: field `files`, repeated."""
    boundary = "----designer-test-boundary-7f3a"
    body = b""
    for name, content in files:
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}
